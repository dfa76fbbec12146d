import Logging

/// Runs `body` with a pool whose kernels, warm spares and everything they started are gone
/// when `body` returns, throws, or its task is cancelled.
///
/// When `body` ends, every kernel is shut down in parallel (an `exit` request, then SIGTERM,
/// then SIGKILL, `PoolConfiguration.shutdownGrace` apart) before `withPool` returns, and the
/// pool is closed: later calls fail at once, and a kernel handed out by `kernel(for:)` never
/// starts again. Don't let the pool escape `body`.
///
/// ```swift
/// try await withPool { pool in
///     for await event in await pool.execute("print('hi')", key: "agent-1") {
///         print(event)
///     }
/// }
/// ```
/// - Parameters:
///   - configuration: lifetimes (idle timeout, cap, warm spares) and the default kernel
///     configuration of new keys.
///   - logger: where the pool and its kernels log; the library never bootstraps logging.
///   - isolation: the actor `body` runs on; the caller's, by default.
///   - body: what to do with the pool; valid only for the duration of the call.
/// - Returns: what `body` returns.
/// - Throws: what `body` throws.
public func withPool<Result: Sendable>(
    configuration: PoolConfiguration = PoolConfiguration(),
    logger: Logger = Logger(label: "pyrun.pool"),
    isolation: isolated (any Actor)? = #isolation,
    _ body: (KernelPool) async throws -> Result
) async throws -> Result {
    let pool = KernelPool(configuration: configuration, logger: logger)
    let outcome: Swift.Result<Result, any Error>
    do {
        outcome = .success(try await body(pool))
    } catch {
        outcome = .failure(error)
    }
    // In a task of its own, which the caller's cancellation does not reach: everything is
    // gone before this returns, whatever happened to the caller.
    await Task { await pool.close() }.value
    return try outcome.get()
}
