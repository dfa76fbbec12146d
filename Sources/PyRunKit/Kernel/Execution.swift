/// One submitted piece of code: iterate it for events as they happen, or await `result()`
/// for everything collected. Cancelling the task that does either interrupts the code.
public struct Execution: AsyncSequence, Sendable {
    public typealias Element = ExecutionEvent
    public typealias Failure = Never

    /// The request id, unique within its kernel.
    public let id: String
    let events: AsyncStream<ExecutionEvent>
    let completion: SetOnceValue<Result<ExecutionResult, KernelError>>
    let kernel: PythonKernel

    /// Waits for the end and returns everything the execution produced.
    /// - Throws: `KernelError` when the kernel could not be started for it.
    public func result() async throws -> ExecutionResult {
        let kernel = self.kernel
        let id = self.id
        if let outcome = await withTaskCancellationHandler(
            operation: { await completion.wait() },
            onCancel: { Task { await kernel.cancel(executionID: id) } })
        {
            return try outcome.get()
        }
        // This task was cancelled: the interrupt is on its way, and the execution still ends
        // with its own outcome (and the output before it), which a fresh task waits for.
        let pendingCompletion = self.completion
        let outcome = await Task { await pendingCompletion.wait() }.value
        guard let outcome else { throw KernelError(.shutDown, "execution \(id) was abandoned") }
        return try outcome.get()
    }

    /// Interrupts the code if it runs, or withdraws it if it still waits its turn.
    public func cancel() async {
        await kernel.cancel(executionID: id)
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: events.makeAsyncIterator(), id: id, kernel: kernel)
    }

    /// Yields events until the execution ends.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<ExecutionEvent>.Iterator
        let id: String
        let kernel: PythonKernel

        public mutating func next() async -> ExecutionEvent? {
            let kernel = self.kernel
            let id = self.id
            return await withTaskCancellationHandler(
                operation: { await base.next() },
                onCancel: { Task { await kernel.cancel(executionID: id) } })
        }
    }
}
