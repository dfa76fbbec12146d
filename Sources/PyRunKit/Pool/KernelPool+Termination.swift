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
/// - **Normal exit**: `withPool { }` shuts everything down when its body returns; a pool made
///   with `KernelPool(…)` needs `await pool.shutdownAll()` before `main` returns.
/// - **SIGKILL or a crash of the host**: nothing in the host runs; each runner sees its
///   request pipe close (end of input) and exits on its own, and takes its process group's
///   children with it.
public final class TerminationWatch: Sendable {
    private let id: Int

    init(id: Int) {
        self.id = id
    }

    /// Stops watching; a signal nobody watches any more gets its earlier disposition back.
    public func cancel() {
        TerminationShutdowns.remove(watcher: id)
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
        let id = TerminationShutdowns.add(
            TerminationShutdowns.Watcher(signals: Set(signals), thenExit: thenExit) { [weak self] in
                await self?.shutdownAll(because: .hostExit)
            })
        return TerminationWatch(id: id)
    }
}

/// The pools watching termination signals, run together when one arrives, on top of
/// `ProcessSignals` (one subscription covers every signal any watcher wants).
enum TerminationShutdowns {
    struct Watcher: Sendable {
        var signals: Set<Int32>
        var thenExit: Bool
        var shutdown: @Sendable () async -> Void
    }

    private struct State {
        var nextID = 0
        var watchers: [Int: Watcher] = [:]
        var subscription: SignalSubscription?
        var subscribedSignals: Set<Int32> = []
    }

    private static let state = Mutex(State())

    static func add(_ watcher: Watcher) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.watchers[state.nextID] = watcher
            resubscribe(&state)
            return state.nextID
        }
    }

    static func remove(watcher id: Int) {
        state.withLock { state in
            guard state.watchers.removeValue(forKey: id) != nil else { return }
            resubscribe(&state)
        }
    }

    /// Keeps one subscription for exactly the signals the watchers want.
    private static func resubscribe(_ state: inout State) {
        let wanted = state.watchers.values.reduce(into: Set<Int32>()) { $0.formUnion($1.signals) }
        guard wanted != state.subscribedSignals else { return }
        // Subscribe before cancelling, so a signal both cover is never left at its default.
        let previous = state.subscription
        state.subscription = wanted.isEmpty ? nil : ProcessSignals.handle(wanted) { deliver($0) }
        state.subscribedSignals = wanted
        previous?.cancel()
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
            ProcessSignals.terminateAsIfUncaught(by: signalNumber)
        }
    }
}
