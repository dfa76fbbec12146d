import Logging

/// Runs `body` with a kernel whose process, and everything it started, is gone when `body`
/// returns, throws, or its task is cancelled.
///
/// The kernel starts on first use inside `body` (or with `kernel.start()`); executions run
/// one at a time in submission order. When `body` ends, the kernel is shut down (an `exit`
/// request, then SIGTERM, then SIGKILL, `shutdownGrace` apart) before `withKernel` returns,
/// and it is closed: an execution submitted to it afterwards ends at once as
/// `failedToStart`. Don't let the kernel escape `body`.
///
/// ```swift
/// let answer = try await withKernel { kernel in
///     try await kernel.run("6 * 7").resultText
/// }
/// ```
/// - Parameters:
///   - configuration: how the kernel's process starts (interpreter, directory, environment,
///     prelude, limits).
///   - logger: where the kernel logs; the library never bootstraps logging.
///   - shutdownGrace: how long each step of the final shutdown may take.
///   - isolation: the actor `body` runs on; the caller's, by default.
///   - body: what to do with the kernel; valid only for the duration of the call.
/// - Returns: what `body` returns.
/// - Throws: what `body` throws (a `KernelError` when the kernel cannot start, if `body`
///   lets it through).
public func withKernel<Result: Sendable>(
    configuration: KernelConfiguration = KernelConfiguration(),
    logger: Logger = Logger(label: "pyrun.kernel"),
    shutdownGrace: Duration = .seconds(2),
    isolation: isolated (any Actor)? = #isolation,
    _ body: (PythonKernel) async throws -> Result
) async throws -> Result {
    let kernel = PythonKernel(configuration: configuration, logger: logger)
    let outcome: Swift.Result<Result, any Error>
    do {
        outcome = .success(try await body(kernel))
    } catch {
        outcome = .failure(error)
    }
    // In a task of its own, which the caller's cancellation does not reach: the process is
    // gone before this returns, whatever happened to the caller.
    await Task { await kernel.close(grace: shutdownGrace) }.value
    return try outcome.get()
}
