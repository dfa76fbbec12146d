/// An execution the kernel owns from submission to its end; confined to the kernel actor.
///
/// Its events go either to a channel (a caller iterates them) or into a collector (`run`, where
/// nobody iterates and no event is buffered); never both, so a streaming caller pays for no
/// collected copy.
final class PendingExecution {
    let id: String
    let code: String
    let options: ExecutionOptions
    /// Where the events go when someone iterates them.
    let channel: ExecutionEventChannel?
    /// Where the events go when the result is collected instead.
    private var collector: ExecutionCollector?
    /// The collected result, when collecting.
    let collectedResult = SetOnceValue<ExecutionResult>()

    var startedAt: ContinuousClock.Instant?
    var timeoutTask: Task<Void, Never>?
    /// What is left of `options.timeout`: it counts down only while no host call runs.
    var timeoutRemaining: Duration?
    /// Since when the timeout counts down; nil while it is paused (or there is none).
    var timeoutRunningSince: ContinuousClock.Instant?
    /// Bumped whenever the countdown restarts, so an outdated one never fires.
    var timeoutGeneration = 0
    /// Host calls of this execution whose handlers run, by call id.
    var hostCalls: [String: ActiveHostCall] = [:]
    var escalation: Task<Void, Never>?
    /// The timeout fired.
    var timedOut = false
    /// The host interrupted it (SIGINT sent, or held until `started`).
    var interruptSent = false
    /// The runner said `started`: its SIGINT handler is armed for this execution.
    var hasStarted = false
    /// An interrupt came before `started`, when the runner would have ignored SIGINT; it is
    /// sent when `started` arrives (the runner sends it within milliseconds).
    var interruptHeld = false
    /// Set when its send found the process already dead: it never ran, and waits for the next.
    var submittedAfterDeath = false
    private(set) var executionCount: Int?
    private(set) var error: PythonError?
    private(set) var report: DoneReport?
    private(set) var ended = false

    init(id: String, code: String, options: ExecutionOptions, streamed: Bool) {
        self.id = id
        self.code = code
        self.options = options
        if streamed {
            channel = ExecutionEventChannel()
        } else {
            channel = nil
            collector = ExecutionCollector(limit: options.collectedOutputLimit)
        }
    }

    deinit {
        // The kernel went away with this still pending (its process was killed with it): the
        // caller still gets an end.
        if !ended { end(.kernelDied) }
    }

    /// Passes one event on, and remembers what the outcome needs.
    /// - Returns: true when the consumer lags so far behind that the producer should wait
    ///   for it (see `ExecutionEventChannel.waitForSpace()`).
    @discardableResult
    func deliver(_ event: ExecutionEvent) -> Bool {
        switch event {
        case .started(let count): executionCount = count
        case .error(let raised): error = raised
        default: break
        }
        if let channel { return channel.send(event) }
        collector?.add(event)
        return false
    }

    /// Records the runner's `done`.
    func recordDone(_ done: DoneReport) {
        report = done
        executionCount = done.executionCount
    }

    /// Ends it with `status`: `finished` goes out (or the collected result is ready); later
    /// calls do nothing.
    func end(_ status: ExecutionStatus, death: KernelDeath? = nil, startFailure: KernelError? = nil) {
        guard !ended else { return }
        ended = true
        timeoutTask?.cancel()
        escalation?.cancel()
        let outcome = ExecutionOutcome(
            status: status, executionCount: status == .failedToStart ? nil : executionCount, error: error,
            death: death, startFailure: startFailure, report: report,
            duration: startedAt.map { $0.duration(to: .now) } ?? .zero)
        if let channel {
            channel.finish(outcome)
        } else if let collector {
            collectedResult.fulfill(collector.result(id: id, outcome: outcome))
        }
    }
}
