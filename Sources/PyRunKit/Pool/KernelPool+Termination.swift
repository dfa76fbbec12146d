import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Watches the host's termination signals for a pool; `cancel()` restores the default
/// handling.
///
/// How a host makes sure every kernel is gone when it ends:
/// - **SIGINT / SIGTERM**: `pool.shutdownAllOnTermination()` shuts every kernel down, then
///   lets the signal end the host as it would have (same exit status). A host that uses
///   swift-service-lifecycle calls `await pool.shutdownAll()` from its service's graceful
///   shutdown instead.
/// - **Normal exit**: `await pool.shutdownAll()` before returning from `main`.
/// - **SIGKILL or a crash of the host**: nothing in the host runs; each runner sees its
///   request pipe close (end of input) and exits on its own, and the kernel's process group
///   takes the runner's children with it where the runner could reach them.
public final class TerminationWatch: Sendable {
    /// The signal sources; kept so they stay alive until `cancel()`.
    private let sources: Mutex<[any DispatchSourceSignal]>
    private let signals: [Int32]

    init(sources: sending [any DispatchSourceSignal], signals: [Int32]) {
        self.sources = Mutex(sources)
        self.signals = signals
    }

    /// Stops watching and gives the signals their default behaviour back.
    public func cancel() {
        let stopped = sources.withLock { sources in
            defer { sources = [] }
            return sources
        }
        for source in stopped { source.cancel() }
        for signalNumber in signals { signal(signalNumber, SIG_DFL) }
    }
}

extension KernelPool {
    /// On SIGINT or SIGTERM of the host, shuts every kernel down, then ends the host with
    /// that signal (when `thenExit` is true) as if it had not been caught.
    /// - Parameters:
    ///   - signals: the signals to handle; SIGINT and SIGTERM by default.
    ///   - thenExit: re-raise the signal with its default action once the kernels are gone.
    /// - Returns: a watch whose `cancel()` stops it.
    @discardableResult
    public nonisolated func shutdownAllOnTermination(
        signals: [Int32] = [SIGINT, SIGTERM], thenExit: Bool = true
    ) -> TerminationWatch {
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in signals {
            // The default action must not run first: ignore it, and let the source see it.
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                Task {
                    await self.shutdownAll()
                    guard thenExit else { return }
                    signal(signalNumber, SIG_DFL)
                    raise(signalNumber)
                }
            }
            source.resume()
            sources.append(source)
        }
        return TerminationWatch(sources: sources, signals: signals)
    }
}
