import Dispatch
import Synchronization

/// Flow control between a kernel's frame-pipe reader thread and the one task that handles
/// its events.
///
/// The reader charges each batch it decodes with the bytes of its lines and, once more than
/// `highWaterBytes` are charged and not yet handled, stops reading until the consumer has
/// handled the backlog down to `resumeBytes`. The pipe then fills and the runner's write
/// blocks, so code that prints faster than the host's consumer reads is held back instead of
/// growing the host. A batch counts as handled when the consumer asks for the next one.
///
/// After the process has exited the gate is opened for good: the exit path reads what is left
/// in the pipe (or abandons it at its deadline) without waiting for a consumer.
final class FrameIntake: Sendable {
    /// Charged bytes past which the reader thread waits.
    static let highWaterBytes = 4 << 20
    /// Charged bytes at or under which a waiting reader thread goes on.
    static let resumeBytes = 1 << 20

    private struct State {
        var chargedBytes = 0
        var isOpen = false
        var readerWaits = false
    }

    private let state = Mutex(State())
    /// Only the reader thread ever waits on it, and only after setting `readerWaits`, which
    /// is cleared by whoever signals: one signal per wait.
    private let readerWake = DispatchSemaphore(value: 0)
    private let continuation: AsyncStream<ChargedBatch>.Continuation

    private init(continuation: AsyncStream<ChargedBatch>.Continuation) {
        self.continuation = continuation
    }

    /// A new intake, and the sequence its one consumer iterates.
    static func make() -> (FrameIntake, Batches) {
        let (stream, continuation) = AsyncStream<ChargedBatch>.makeStream()
        let intake = FrameIntake(continuation: continuation)
        return (intake, Batches(base: stream, intake: intake))
    }

    /// A batch of events with the bytes it was charged.
    struct ChargedBatch: Sendable {
        let events: [ProcessEvent]
        let bytes: Int
    }

    /// Hands `events`, decoded from `bytes` of the pipe, to the consumer; on the reader
    /// thread, returns only once the backlog is under the high-water mark (or the gate is open).
    func deliver(_ events: [ProcessEvent], bytes: Int) {
        let mustWait = state.withLock { state in
            state.chargedBytes += bytes
            guard !state.isOpen, state.chargedBytes > Self.highWaterBytes else { return false }
            state.readerWaits = true
            return true
        }
        continuation.yield(ChargedBatch(events: events, bytes: bytes))
        if mustWait { readerWake.wait() }
    }

    /// The last events (no charge, never waits), then the end of the sequence.
    func finish(with events: [ProcessEvent]) {
        open()
        continuation.yield(ChargedBatch(events: events, bytes: 0))
        continuation.finish()
    }

    /// From now on the reader never waits; a waiting reader goes on at once.
    func open() {
        let wake = state.withLock { state in
            state.isOpen = true
            defer { state.readerWaits = false }
            return state.readerWaits
        }
        if wake { readerWake.signal() }
    }

    fileprivate func handled(_ bytes: Int) {
        guard bytes > 0 else { return }
        let wake = state.withLock { state in
            state.chargedBytes -= bytes
            guard state.readerWaits, state.chargedBytes <= Self.resumeBytes else { return false }
            state.readerWaits = false
            return true
        }
        if wake { readerWake.signal() }
    }

    /// The events of one process in batches (every frame decoded from one read is one
    /// element), in order; ends after the process's exit. Asking for the next batch marks the
    /// previous one handled, which is what lets the reader go on.
    struct Batches: AsyncSequence, Sendable {
        typealias Element = [ProcessEvent]
        typealias Failure = Never

        fileprivate let base: AsyncStream<ChargedBatch>
        fileprivate let intake: FrameIntake

        func makeAsyncIterator() -> Iterator {
            Iterator(base: base.makeAsyncIterator(), intake: intake)
        }

        struct Iterator: AsyncIteratorProtocol {
            fileprivate var base: AsyncStream<ChargedBatch>.AsyncIterator
            fileprivate let intake: FrameIntake
            private var unhandledBytes = 0

            fileprivate init(base: AsyncStream<ChargedBatch>.AsyncIterator, intake: FrameIntake) {
                self.base = base
                self.intake = intake
            }

            mutating func next() async -> [ProcessEvent]? {
                intake.handled(unhandledBytes)
                unhandledBytes = 0
                guard let batch = await base.next() else { return nil }
                unhandledBytes = batch.bytes
                return batch.events
            }
        }
    }
}
