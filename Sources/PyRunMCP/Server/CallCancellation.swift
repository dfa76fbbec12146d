import Synchronization

/// Whether the client cancelled a call, set synchronously inside `Task.cancel()` (by a
/// cancellation handler), so that a call the router reads next already sees it: the run the
/// cancelled call started is then waited for rather than reported busy, even before the
/// cancelled call's task has got as far as interrupting it.
final class CallCancellation: Sendable {
    private let cancelled = Mutex(false)

    func set() { cancelled.withLock { $0 = true } }

    var isSet: Bool { cancelled.withLock { $0 } }
}
