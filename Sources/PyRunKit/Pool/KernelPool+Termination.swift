import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Watches the host's termination signals for a pool until `cancel()`.
///
/// How a host makes sure every kernel is gone when it ends:
/// - **SIGINT / SIGTERM**: `pool.shutdownAllOnTermination()` shuts every kernel down, then
///   lets the signal end the host as it would have (same exit status). A host that uses
///   swift-service-lifecycle calls `await pool.shutdownAll()` from its service's graceful
///   shutdown instead.
/// - **Normal exit**: `await pool.shutdownAll()` before returning from `main`.
/// - **SIGKILL or a crash of the host**: nothing in the host runs; each runner sees its
///   request pipe close (end of input) and exits on its own, and takes its process group's
///   children with it.
public final class TerminationWatch: Sendable {
    private let id: Int

    init(id: Int) {
        self.id = id
    }

    /// Stops watching; a signal nobody watches any more gets its default action back.
    public func cancel() {
        TerminationSignals.remove(watcher: id)
    }
}

extension KernelPool {
    /// On SIGINT or SIGTERM of the host, shuts every kernel down, then (when `thenExit` is
    /// true) ends the host with that signal as if it had not been caught. Several pools may
    /// watch at once; the host ends after all of them are shut down.
    /// - Parameters:
    ///   - signals: the signals to handle; SIGINT and SIGTERM by default.
    ///   - thenExit: re-send the signal with its default action once the kernels are gone.
    /// - Returns: a watch whose `cancel()` stops it.
    @discardableResult
    public nonisolated func shutdownAllOnTermination(
        signals: [Int32] = [SIGINT, SIGTERM], thenExit: Bool = true
    ) -> TerminationWatch {
        let id = TerminationSignals.add(
            TerminationSignals.Watcher(signals: Set(signals), thenExit: thenExit) { [weak self] in
                await self?.shutdownAll()
            })
        return TerminationWatch(id: id)
    }
}

/// Turns signals into work on an ordinary thread. A signal handler may do almost nothing
/// safely, so it only writes the signal number to a pipe (a self-pipe); a thread reads it
/// and runs the watchers. (A Dispatch signal source is not used: on Linux it only sees a
/// signal that every thread blocks, which a library cannot arrange.)
enum TerminationSignals {
    struct Watcher: Sendable {
        var signals: Set<Int32>
        var thenExit: Bool
        var shutdown: @Sendable () async -> Void
    }

    private struct State {
        var nextID = 0
        var watchers: [Int: Watcher] = [:]
        /// Signals whose handler is `forwardSignalToPipe`.
        var handled: Set<Int32> = []
        var readerStarted = false
    }

    private static let state = Mutex(State())
    /// The pipe's write end, read by the signal handler: an atomic, since a handler may not lock.
    static let pipeWriteEnd = Atomic<Int32>(-1)

    static func add(_ watcher: Watcher) -> Int {
        let (id, newSignals, startReader) = state.withLock { state in
            state.nextID += 1
            state.watchers[state.nextID] = watcher
            let newSignals = watcher.signals.subtracting(state.handled)
            state.handled.formUnion(newSignals)
            let startReader = !state.readerStarted
            state.readerStarted = true
            return (state.nextID, newSignals, startReader)
        }
        if startReader { startReaderThread() }
        for signalNumber in newSignals { signal(signalNumber, forwardSignalToPipe) }
        return id
    }

    static func remove(watcher id: Int) {
        let released = state.withLock { state -> Set<Int32> in
            state.watchers.removeValue(forKey: id)
            let stillWatched = state.watchers.values.reduce(into: Set<Int32>()) { $0.formUnion($1.signals) }
            let released = state.handled.subtracting(stillWatched)
            state.handled = stillWatched
            return released
        }
        for signalNumber in released { signal(signalNumber, SIG_DFL) }
    }

    private static func startReaderThread() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let readEnd = ends[0]
        pipeWriteEnd.store(ends[1], ordering: .releasing)
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count == 1 {
                    deliver(Int32(byte))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
        thread.name = "pyrun termination signals"
        thread.start()
    }

    /// Runs every watcher of `signalNumber` at once; then, if one of them asked for it (or
    /// nobody watches it any more), ends the process with the signal's default action.
    private static func deliver(_ signalNumber: Int32) {
        let watchers = state.withLock { state in state.watchers.values.filter { $0.signals.contains(signalNumber) } }
        Task {
            await withTaskGroup(of: Void.self) { group in
                for watcher in watchers { group.addTask { await watcher.shutdown() } }
            }
            guard watchers.isEmpty || watchers.contains(where: \.thenExit) else { return }
            signal(signalNumber, SIG_DFL)
            // To the process, not one thread: a worker thread may block the signal.
            kill(getpid(), signalNumber)
        }
    }
}

/// The signal handler: async-signal-safe (an atomic load and `write`), and errno is kept.
private func forwardSignalToPipe(_ signalNumber: Int32) {
    let savedErrno = errno
    defer { errno = savedErrno }
    let writeEnd = TerminationSignals.pipeWriteEnd.load(ordering: .acquiring)
    guard writeEnd >= 0 else { return }
    var byte = UInt8(truncatingIfNeeded: signalNumber)
    _ = write(writeEnd, &byte, 1)
}
