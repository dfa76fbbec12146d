import Synchronization

/// Carries one execution's events from the kernel to the one who iterates them.
///
/// Unlike an `AsyncStream`, a waiting consumer whose task is cancelled keeps its place: the
/// cancellation interrupts the code (see `Execution`), and the events up to `finished` still
/// arrive, so every stream ends with its outcome. A consumer that drops the execution
/// (`ConsumerToken`) makes later events be discarded instead of buffered. A consumer that
/// iterates more slowly than the code prints holds the producer back (`send` reports the
/// congestion, `waitForSpace()` waits it out), so the buffer stays bounded; one that never
/// iterates (it only awaits `outcome()`) does not, and the buffer keeps what comes.
final class ExecutionEventChannel: Sendable {
    private struct State {
        var buffer: [ExecutionEvent] = []
        var head = 0
        /// About how many bytes the buffered events hold.
        var bufferedBytes = 0
        /// A consumer has asked for an event: from then on, a full buffer holds the producer
        /// back rather than growing.
        var iterating = false
        var closed = false
        var abandoned = false
        var cancelRequested = false
        var waiters: [CheckedContinuation<ExecutionEvent?, Never>] = []
        var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Past this many buffered bytes, a producer should wait (`waitForSpace()`) until the
    /// consumer has taken the buffer down to `resumeBytes`.
    static let highWaterBytes = 4 << 20
    static let resumeBytes = 1 << 20

    private let state = Mutex(State())
    /// Set when `finished` is sent; what `outcome()` waits for.
    let outcome = SetOnceValue<ExecutionOutcome>()

    init() {}

    /// Delivers `event`, unless the stream has ended or nobody will read it.
    /// - Returns: true when the buffer is past `highWaterBytes` while a consumer iterates:
    ///   the producer should `waitForSpace()` before it produces more.
    @discardableResult
    func send(_ event: ExecutionEvent) -> Bool {
        let (waiter, congested): (CheckedContinuation<ExecutionEvent?, Never>?, Bool) = state.withLock { state in
            guard !state.closed, !state.abandoned else { return (nil, false) }
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), false) }
            state.buffer.append(event)
            state.bufferedBytes += event.approximateSize
            return (nil, state.iterating && state.bufferedBytes > Self.highWaterBytes)
        }
        waiter?.resume(returning: event)
        return congested
    }

    /// Returns once the consumer has taken the buffer down to `resumeBytes`, or the stream
    /// ended, or nobody reads it any more.
    func waitForSpace() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                guard state.bufferedBytes > Self.resumeBytes, !state.closed, !state.abandoned else { return true }
                state.spaceWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Sends `finished(outcome)` as the last event and ends the stream; later calls do nothing.
    func finish(_ outcome: ExecutionOutcome) {
        guard self.outcome.fulfill(outcome) else { return }
        send(.finished(outcome))
        let (waiters, spaceWaiters) = state.withLock { state in
            state.closed = true
            defer {
                state.waiters.removeAll()
                state.spaceWaiters.removeAll()
            }
            return (state.waiters, state.spaceWaiters)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        for waiter in spaceWaiters { waiter.resume() }
    }

    /// The next event; nil once `finished` has been read.
    func next() async -> ExecutionEvent? {
        await withCheckedContinuation { continuation in
            let (ready, relieved): (ExecutionEvent??, [CheckedContinuation<Void, Never>]) = state.withLock { state in
                state.iterating = true
                if state.head < state.buffer.count {
                    let event = state.buffer[state.head]
                    state.head += 1
                    state.bufferedBytes -= event.approximateSize
                    if state.head == state.buffer.count {
                        state.buffer.removeAll(keepingCapacity: true)
                        state.head = 0
                        state.bufferedBytes = 0
                    }
                    var relieved: [CheckedContinuation<Void, Never>] = []
                    if state.bufferedBytes <= Self.resumeBytes, !state.spaceWaiters.isEmpty {
                        relieved = state.spaceWaiters
                        state.spaceWaiters.removeAll()
                    }
                    return (.some(event), relieved)
                }
                if state.closed { return (.some(nil), []) }
                state.waiters.append(continuation)
                return (nil, [])
            }
            for waiter in relieved { waiter.resume() }
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
        let spaceWaiters = state.withLock { state in
            state.abandoned = true
            state.buffer.removeAll()
            state.head = 0
            state.bufferedBytes = 0
            defer { state.spaceWaiters.removeAll() }
            return state.spaceWaiters
        }
        for waiter in spaceWaiters { waiter.resume() }
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

extension ExecutionEvent {
    /// Roughly the memory an event holds, for flow control: its text, or a bundle's values.
    var approximateSize: Int {
        switch self {
        case .stdout(let text), .stderr(let text): text.utf8.count + 64
        case .display(let bundle, _), .result(let bundle, _):
            bundle.values.values.reduce(64) { $0 + ($1.stringValue?.utf8.count ?? 16) }
        case .error(let error): error.traceback.reduce(error.value.utf8.count + 64) { $0 + $1.utf8.count }
        case .hostCallStarted(let start): start.function.utf8.count + 256
        case .notice, .started, .inputRequest, .hostCallEnded, .unknown, .finished: 64
        }
    }
}
