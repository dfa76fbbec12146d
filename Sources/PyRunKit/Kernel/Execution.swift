/// One submitted piece of code. Iterate it for its events as they happen (the last one is
/// always `finished`), or await `result()` for everything collected; not both, since events
/// are delivered once. Cancelling the task that does either interrupts the code, and the
/// events up to `finished` still arrive.
public struct Execution: AsyncSequence, Sendable {
    public typealias Element = ExecutionEvent
    public typealias Failure = Never

    /// The request id, unique within its kernel.
    public let id: String
    let channel: ExecutionEventChannel
    private let consumer: ExecutionEventChannel.ConsumerToken
    let cancelAction: @Sendable () async -> Void
    let collectedOutputLimit: Int

    init(
        id: String, channel: ExecutionEventChannel, collectedOutputLimit: Int,
        cancelAction: @escaping @Sendable () async -> Void
    ) {
        self.id = id
        self.channel = channel
        self.consumer = ExecutionEventChannel.ConsumerToken(channel)
        self.cancelAction = cancelAction
        self.collectedOutputLimit = collectedOutputLimit
    }

    /// An execution that ended before it began: its only event is `finished(outcome)`.
    static func ended(id: String, outcome: ExecutionOutcome, leadingNotices: [KernelNotice] = []) -> Execution {
        let channel = ExecutionEventChannel()
        for notice in leadingNotices { channel.send(.notice(notice)) }
        channel.finish(outcome)
        return Execution(id: id, channel: channel, collectedOutputLimit: 2) {}
    }

    /// Consumes the events and returns them collected: output within
    /// `ExecutionOptions.collectedOutputLimit`, every notice, and the outcome. Events already
    /// taken by iterating are not in it.
    /// - Throws: `KernelError` when the kernel could not be started for it.
    public func result() async throws -> ExecutionResult {
        let channel = self.channel
        let limit = collectedOutputLimit
        let id = self.id
        // Collected in a task of its own, which this task's cancellation does not reach: the
        // cancellation interrupts the code, and the result still ends with its outcome.
        let collecting = Task {
            var collector = ExecutionCollector(limit: limit)
            while let event = await channel.next() { collector.add(event) }
            // Set before `finished` is sent, so also known when an iterator took that event.
            let outcome = await channel.outcome.wait() ?? ExecutionOutcome(status: .cancelled)
            return collector.result(id: id, outcome: outcome)
        }
        let cancel = cancelAction
        let result = await withTaskCancellationHandler {
            await collecting.value
        } onCancel: {
            if channel.claimCancellation() { Task { await cancel() } }
        }
        if result.status == .failedToStart, let failure = result.outcome.startFailure { throw failure }
        return result
    }

    /// Waits for the end without collecting anything: the outcome `finished` carries. Works
    /// alongside a task that iterates the events.
    public func outcome() async -> ExecutionOutcome {
        let channel = self.channel
        let outcome = channel.outcome
        let cancel = cancelAction
        if let ended = await withTaskCancellationHandler(
            operation: { await outcome.wait() },
            onCancel: { if channel.claimCancellation() { Task { await cancel() } } })
        {
            return ended
        }
        // Cancelled: the interrupt is on its way; the end still comes, and a fresh task waits.
        return await Task { await outcome.wait() }.value ?? ExecutionOutcome(status: .cancelled)
    }

    /// Interrupts the code if it runs, or withdraws it if it still waits its turn.
    public func cancel() async {
        await cancelAction()
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(channel: channel, consumer: consumer, cancelAction: cancelAction)
    }

    /// Yields events until `finished`, which is the last.
    public struct Iterator: AsyncIteratorProtocol {
        let channel: ExecutionEventChannel
        let consumer: ExecutionEventChannel.ConsumerToken
        let cancelAction: @Sendable () async -> Void

        public mutating func next() async -> ExecutionEvent? {
            let channel = self.channel
            let cancel = cancelAction
            return await withTaskCancellationHandler {
                await channel.next()
            } onCancel: {
                if channel.claimCancellation() { Task { await cancel() } }
            }
        }
    }
}
