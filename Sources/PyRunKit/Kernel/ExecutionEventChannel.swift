import Synchronization

/// Carries one execution's events from the kernel to the one who iterates them.
///
/// Unlike an `AsyncStream`, a waiting consumer whose task is cancelled keeps its place: the
/// cancellation interrupts the code (see `Execution`), and the events up to `finished` still
/// arrive, so every stream ends with its outcome. A consumer that drops the execution
/// (`ConsumerToken`) makes later events be discarded instead of buffered.
final class ExecutionEventChannel: Sendable {
    private struct State {
        var buffer: [ExecutionEvent] = []
        var head = 0
        var closed = false
        var abandoned = false
        var cancelRequested = false
        var waiters: [CheckedContinuation<ExecutionEvent?, Never>] = []
    }

    private let state = Mutex(State())
    /// Set when `finished` is sent; what `outcome()` waits for.
    let outcome = SetOnceValue<ExecutionOutcome>()

    init() {}

    /// Delivers `event`, unless the stream has ended or nobody will read it.
    func send(_ event: ExecutionEvent) {
        let waiter: CheckedContinuation<ExecutionEvent?, Never>? = state.withLock { state in
            guard !state.closed, !state.abandoned else { return nil }
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.buffer.append(event)
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// Sends `finished(outcome)` as the last event and ends the stream; later calls do nothing.
    func finish(_ outcome: ExecutionOutcome) {
        guard self.outcome.fulfill(outcome) else { return }
        send(.finished(outcome))
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// The next event; nil once `finished` has been read.
    func next() async -> ExecutionEvent? {
        await withCheckedContinuation { continuation in
            let ready: ExecutionEvent?? = state.withLock { state in
                if state.head < state.buffer.count {
                    let event = state.buffer[state.head]
                    state.head += 1
                    if state.head == state.buffer.count {
                        state.buffer.removeAll(keepingCapacity: true)
                        state.head = 0
                    }
                    return .some(event)
                }
                if state.closed { return .some(nil) }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// True the first time it is called: a consumer's cancellation interrupts the code once,
    /// however many events it still reads afterwards.
    func claimCancellation() -> Bool {
        state.withLock { state in
            defer { state.cancelRequested = true }
            return !state.cancelRequested
        }
    }

    /// Nobody will read the events any more: drop what is buffered and what comes.
    func abandon() {
        state.withLock { state in
            state.abandoned = true
            state.buffer.removeAll()
            state.head = 0
        }
    }

    /// Held by every copy of an `Execution` and its iterators; when the last is released,
    /// the channel stops buffering.
    final class ConsumerToken: Sendable {
        let channel: ExecutionEventChannel

        init(_ channel: ExecutionEventChannel) {
            self.channel = channel
        }

        deinit {
            channel.abandon()
        }
    }
}
