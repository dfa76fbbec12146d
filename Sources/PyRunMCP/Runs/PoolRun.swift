import PyRunKit

/// A pool execution seen as a run: the adapter between `KernelPool.execute` and the
/// `RunRegistry`.
///
/// Events are pulled from the execution one at a time as the registry takes them, so the
/// kernel's back-pressure reaches the code when the registry falls behind, and nothing is
/// buffered here. The registry's own task consumes them; a cancelled MCP request never
/// cancels that task, so the run always reaches its outcome.
public struct PoolRun: RunningExecution {
    private let execution: Execution
    private let session: String

    /// Wraps `execution`, which runs on the pool key named `session`.
    public init(_ execution: Execution, session: String) {
        self.execution = execution
        self.session = session
    }

    public func events() -> AsyncStream<RunEvent> {
        let execution = self.execution
        let session = self.session
        return AsyncStream {
            // The execution's iterators all read its one channel; each event comes once.
            var iterator = execution.makeAsyncIterator()
            while let event = await iterator.next() {
                if let mapped = Self.runEvents(for: event, session: session) { return mapped }
            }
            return nil
        }
    }

    /// Interrupts the code as Ctrl-C does; the kernel kills it if it does not stop within
    /// its interrupt grace, and the events end with what happened.
    public func interrupt() async {
        await execution.cancel()
    }

    /// The run event for a kernel event; nil for the ones a model has no use for.
    static func runEvents(for event: ExecutionEvent, session: String) -> RunEvent? {
        switch event {
        case .notice(let notice): .notice(ExecutionReport.Notice(notice, session: session))
        case .started(let count): .started(executionCount: count)
        case .stdout(let text): .stdout(text)
        case .stderr(let text): .stderr(text)
        case .display(let bundle, _): .display(bundle)
        case .result(let bundle, _): .result(bundle)
        case .error(let error): .error(error)
        // No stdin handler is set, so `input()` raises EOFError in the code at once.
        case .inputRequest, .unknown: nil
        // Host calls are the code's plumbing; what they returned shows in its output.
        case .hostCallStarted, .hostCallEnded: nil
        case .finished(let outcome): .finished(RunOutcome(outcome))
        }
    }
}

extension RunOutcome {
    /// The run's final status for a kernel outcome.
    init(_ outcome: ExecutionOutcome) {
        let status: ExecutionReport.Status =
            switch outcome.status {
            case .ok: .ok
            case .error, .failedToStart: .error
            case .cancelled: .interrupted
            case .timedOut: .timeout
            case .kernelDied: .died
            }
        self.init(
            status: status, cpuSeconds: outcome.report.map { $0.cpuMs / 1000 },
            peakRSSBytes: outcome.report?.peakRssBytes ?? outcome.death?.memory.peakResidentBytes,
            startFailure: outcome.startFailure?.message, interpreterEnded: outcome.death != nil)
    }
}
