import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a shutdown ended.
public enum ShutdownOutcome: String, Sendable, Hashable {
    /// The runner exited on the `exit` request.
    case graceful
    /// It needed SIGTERM (a remote kernel: the in-band `kill` request).
    case terminated
    /// It needed SIGKILL (a remote kernel: the local launcher was killed, cutting the connection).
    case killed
    /// There was no process to stop.
    case notRunning
}

/// One live Python interpreter: executions run one at a time in submission order, output
/// streams as it is produced, and the process and everything it started are cleaned up
/// however it ends. The process starts on first use (or `start()`), and again after a
/// death or a kill, with fresh state.
///
/// Prefer `withKernel(configuration:) { kernel in … }`, which guarantees that nothing of the
/// kernel outlives the body.
public actor PythonKernel {
    /// Where the kernel is in its life. Each transition between these happens in exactly one
    /// method (see *Transitions*), so the lifecycle reads in one place.
    private enum State {
        /// No process; the next use starts one.
        case notStarted
        /// A process is being started (interpreter resolved, spawned, waiting for `hello`).
        case starting(StartAttempt)
        /// The process said hello and runs nothing.
        case ready(RunnerProcess)
        /// The process runs `PendingExecution`.
        case busy(RunnerProcess, PendingExecution)
        /// pyrun is stopping the process (a shutdown, or an escalation); what was running
        /// may still finish on its own.
        case dying(RunnerProcess, PendingExecution?)
        /// The process ended; the next use starts a fresh one.
        case dead(KernelDeath)
        /// The kernel's scope ended (`withKernel`): it never starts again.
        case closed
    }

    /// One start in progress: the task that runs it, and its process once spawned.
    private final class StartAttempt {
        var task: Task<KernelHello, any Error>?
        var runner: RunnerProcess? {
            didSet { if isAbandoned { failWaitingForHello() } }
        }
        /// A shutdown came while it started: it fails at once instead of waiting for `hello`.
        private(set) var isAbandoned = false

        static let abandonedError = KernelError(.shutDown, "the kernel was shut down while it started")

        /// Ends the wait for `hello` now, or as soon as the process is spawned.
        func abandon() {
            isAbandoned = true
            failWaitingForHello()
        }

        private func failWaitingForHello() {
            runner?.helloWaiter.fulfill(.failure(Self.abandonedError))
        }
    }

    /// How this kernel starts its process.
    public nonisolated let configuration: KernelConfiguration
    var logger: Logger
    /// Told of every process end that the host did not ask for (the pool's hook).
    private let deathObserver: (@Sendable (PythonKernel, KernelDeath) -> Void)?

    private var state: State = .notStarted
    /// Set while `close()` runs: nothing starts any more.
    private var closing = false
    /// Executions waiting their turn, oldest first.
    private var queue: [PendingExecution] = []
    private var replyWaiters: [String: CheckedContinuation<Frame, any Error>] = [:]
    private var lateOutput: [LateOutput] = []
    private var lateOutputBytes = 0
    private var requestCounter = 0
    /// Numbers the processes, so the events of one are routed to it.
    private var spawnCounter = 0
    /// The newest process, for `deinit` alone (which cannot read `state`); signalling it once
    /// it is reaped does nothing.
    private var lastSpawnedProcess: KernelProcess?
    /// The host functions that serve calls, by name: the configuration's, with the handlers
    /// the pool passed last (see `replaceHostFunctionHandlers`).
    var hostFunctions: [String: HostFunction]
    /// The pool key this kernel serves (for `HostCall.kernelKey`); nil when used on its own.
    var poolKey: String?

    /// The interpreter, once resolved.
    public private(set) var interpreter: PythonInterpreter?
    /// How the previous process ended (nil before any ended), whoever ended it.
    public private(set) var lastDeath: KernelDeath?
    /// How many processes this kernel has started.
    public private(set) var processStarts = 0
    /// The execution count the runner reported last: how many non-silent executions the
    /// current process has run (0 for a fresh one).
    public private(set) var executionCount = 0

    /// How long a process whose frame channel closed may take to exit on its own before it
    /// is killed.
    static let frameChannelGrace: Duration = .seconds(1)

    /// Creates a kernel; nothing starts until `start()` or the first execution.
    public init(configuration: KernelConfiguration = .init(), logger: Logger = Logger(label: "pyrun.kernel")) {
        self.init(configuration: configuration, logger: logger, deathObserver: nil)
    }

    init(
        configuration: KernelConfiguration, logger: Logger,
        deathObserver: (@Sendable (PythonKernel, KernelDeath) -> Void)?
    ) {
        self.configuration = configuration
        self.logger = logger
        self.deathObserver = deathObserver
        self.hostFunctions = Dictionary(
            configuration.hostFunctions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    deinit {
        // Released without a shutdown: nothing may outlive the kernel.
        lastSpawnedProcess?.signalGroup(SIGKILL)
    }

    /// The process, while one is up and has said hello.
    var liveRunner: RunnerProcess? {
        switch state {
        case .ready(let runner), .busy(let runner, _), .dying(let runner, _): runner
        case .notStarted, .starting, .dead, .closed: nil
        }
    }

    /// The execution the process runs, if any.
    var running: PendingExecution? {
        switch state {
        case .busy(_, let pending): pending
        case .dying(_, let pending): pending
        case .notStarted, .starting, .ready, .dead, .closed: nil
        }
    }

    /// What the current process said when it started.
    public var hello: KernelHello? { liveRunner?.hello }

    /// The pid of the live runner process, if there is one.
    public var pid: Int32? { liveRunner?.pid }

    /// True while a process is up and has said hello.
    public var isRunning: Bool { liveRunner != nil }

    /// True while an execution runs or waits its turn.
    public var isBusy: Bool { running != nil || !queue.isEmpty }

    // MARK: - Start

    /// Starts the process if it is not running and waits for its `hello`.
    /// - Throws: `KernelError` when no interpreter fits or the runner cannot start.
    @discardableResult
    public func start() async throws -> KernelHello {
        try await ensureStarted()
    }

    private func ensureStarted() async throws(KernelError) -> KernelHello {
        while true {
            switch state {
            case .ready(let runner), .busy(let runner, _):
                // A process is only ready once it said hello.
                guard let hello = runner.hello else {
                    throw KernelError(.startupFailed, "the runner has not said hello")
                }
                return hello
            case .dying(let runner, _):
                // Being stopped: the next process starts once this one is gone.
                let exited = runner.exited
                _ = await Task { await exited.wait() }.value
                continue
            case .starting(let attempt):
                do {
                    return try await attempt.task!.value
                } catch let error as KernelError {
                    throw error
                } catch {
                    throw KernelError(.startupFailed, "\(error)")
                }
            case .notStarted, .dead:
                if closing { throw Self.closedError }
                beginStart()
            case .closed:
                throw Self.closedError
            }
        }
    }

    private static let closedError = KernelError(
        .shutDown, "this kernel was closed (its withKernel or withPool body ended); make a new one")

    // MARK: - Executions

    /// Queues `code` and returns its execution, whose events stream as they happen; it runs
    /// after those submitted before it.
    public func execute(_ code: String, options: ExecutionOptions = .init()) -> Execution {
        execute(code, options: options, leadingNotices: [])
    }

    /// Runs `code` and returns everything it produced, collected (see
    /// `ExecutionOptions.collectedOutputLimit`).
    /// - Throws: `KernelError` when the kernel could not be started.
    public func run(_ code: String, options: ExecutionOptions = .init()) async throws -> ExecutionResult {
        try await run(code, options: options, leadingNotices: [])
    }

    /// `execute` with notices that go first (the pool's, about the key).
    func execute(_ code: String, options: ExecutionOptions, leadingNotices: [KernelNotice]) -> Execution {
        let pending = enqueue(code, options: options, streamed: true, leadingNotices: leadingNotices)
        let id = pending.id
        return Execution(
            id: id, channel: pending.channel!, collectedOutputLimit: options.collectedOutputLimit
        ) { [self] in
            await self.cancel(executionID: id)
        }
    }

    /// `run` with notices that go first (the pool's, about the key).
    func run(_ code: String, options: ExecutionOptions, leadingNotices: [KernelNotice]) async throws(KernelError)
        -> ExecutionResult
    {
        // Nobody iterates the events, so none are made: the result alone is collected.
        let pending = enqueue(code, options: options, streamed: false, leadingNotices: leadingNotices)
        let id = pending.id
        let collected = pending.collectedResult
        var result = await withTaskCancellationHandler {
            await collected.wait()
        } onCancel: {
            Task { await self.cancel(executionID: id) }
        }
        if result == nil {
            // This task was cancelled: the interrupt is on its way, and the execution still
            // ends with its own outcome (and the output before it), which a fresh task waits for.
            result = await Task { await collected.wait() }.value
        }
        guard let result else { throw KernelError(.shutDown, "execution \(id) was abandoned") }
        if result.status == .failedToStart, let failure = result.outcome.startFailure { throw failure }
        return result
    }

    private func enqueue(
        _ code: String, options: ExecutionOptions, streamed: Bool, leadingNotices: [KernelNotice]
    ) -> PendingExecution {
        requestCounter += 1
        let pending = PendingExecution(id: "e\(requestCounter)", code: code, options: options, streamed: streamed)
        for notice in leadingNotices { pending.deliver(.notice(notice)) }
        queue.append(pending)
        advanceQueue()
        return pending
    }

    /// Interrupts the execution if it runs; withdraws it if it waits its turn.
    func cancel(executionID id: String) {
        if running?.id == id {
            interrupt()
        } else if let index = queue.firstIndex(where: { $0.id == id }) {
            let pending = queue.remove(at: index)
            pending.deliver(.notice(KernelNotice(.cancelledBeforeStart)))
            pending.end(.cancelled)
        }
    }

    /// Interrupts the running execution with SIGINT, as Ctrl-C does (with the in-band
    /// `interrupt` request for a remote kernel, which no signal reaches). If it has not ended
    /// within the interrupt grace, the kernel is killed and starts afresh on next use.
    public func interrupt() {
        guard case .busy(let runner, let running) = state else { return }
        running.interruptSent = true
        if running.hasStarted {
            runner.interrupt()
        } else {
            // The runner ignores SIGINT between executions: the signal waits for `started`.
            running.interruptHeld = true
        }
        guard running.escalation == nil else { return }
        let id = running.id
        let grace = configuration.interruptGrace
        running.escalation = Task {
            try? await Task.sleep(for: grace)
            guard !Task.isCancelled else { return }
            self.interruptNotHonoured(executionID: id)
        }
    }

    /// Starts (or resumes) the countdown of `pending`'s timeout with what is left of it.
    func armTimeout(of pending: PendingExecution) {
        guard let remaining = pending.timeoutRemaining, pending.timeoutRunningSince == nil, !pending.ended else {
            return
        }
        pending.timeoutRunningSince = .now
        pending.timeoutGeneration += 1
        let generation = pending.timeoutGeneration
        let id = pending.id
        pending.timeoutTask = Task {
            try? await Task.sleep(for: max(remaining, .zero))
            guard !Task.isCancelled else { return }
            self.timeoutFired(executionID: id, generation: generation)
        }
    }

    /// Stops the countdown of `pending`'s timeout, keeping what is left (while host calls run).
    func pauseTimeout(of pending: PendingExecution) {
        guard let since = pending.timeoutRunningSince, let remaining = pending.timeoutRemaining else { return }
        pending.timeoutRemaining = remaining - since.duration(to: .now)
        pending.timeoutRunningSince = nil
        pending.timeoutTask?.cancel()
        pending.timeoutTask = nil
    }

    private func timeoutFired(executionID id: String, generation: Int) {
        guard let running, running.id == id, running.timeoutGeneration == generation,
            running.timeoutRunningSince != nil,
            case .busy = state
        else { return }
        running.timedOut = true
        running.deliver(.notice(KernelNotice(.timedOut(after: running.options.timeout ?? .zero))))
        interrupt()
    }

    private func interruptNotHonoured(executionID id: String) {
        guard case .busy(let runner, let running) = state, running.id == id else { return }
        logger.warning("interrupt not honoured; killing the kernel", metadata: ["request.id": "\(id)"])
        let reason: KernelDeath.StopReason =
            running.timedOut
            ? .timeout(after: running.options.timeout ?? .zero)
            : .interruptNotHonoured(grace: configuration.interruptGrace)
        beginStopping(runner, because: reason)
        runner.process.signalGroup(SIGKILL)
    }

    // MARK: - Requests answered while code runs

    /// Completions for `code` at `cursor` (Unicode scalars; default: the end).
    public func complete(code: String, cursor: Int? = nil) async throws -> CompletionResult {
        let frame = try await request { .complete(id: $0, code: code, cursor: cursor ?? code.unicodeScalars.count) }
        guard case .completeReply(_, let result) = frame else { throw unexpected(frame) }
        return result
    }

    /// Whether `code` is complete, needs more lines, or cannot be valid.
    public func isComplete(code: String) async throws -> CodeCompleteness {
        let frame = try await request { .isComplete(id: $0, code: code) }
        guard case .isCompleteReply(_, let result) = frame else { throw unexpected(frame) }
        return result
    }

    /// What the runner says about itself (pid, version, cwd, execution count, busy).
    public func info() async throws -> RunnerInfo {
        let frame = try await request { .info(id: $0) }
        guard case .infoReply(_, let result) = frame else { throw unexpected(frame) }
        return result
    }

    private func unexpected(_ frame: Frame) -> KernelError {
        if case .errorReply(_, let message) = frame { return KernelError(.runnerRejected, message) }
        return KernelError(.runnerRejected, "unexpected answer \(frame)")
    }

    private func request(_ make: (String) -> Request) async throws(KernelError) -> Frame {
        _ = try await ensureStarted()
        guard let runner = liveRunner else { throw KernelError(.kernelDied, "the kernel is not running") }
        requestCounter += 1
        let id = "q\(requestCounter)"
        let request = make(id)
        do {
            return try await withCheckedThrowingContinuation { continuation in
                replyWaiters[id] = continuation
                do {
                    try runner.process.send(request)
                } catch {
                    replyWaiters.removeValue(forKey: id)
                    continuation.resume(throwing: KernelError(.kernelDied, "the kernel stopped reading requests"))
                }
            }
        } catch let error as KernelError {
            throw error
        } catch {
            throw KernelError(.kernelDied, "\(error)")
        }
    }

    // MARK: - Late output

    /// Output that arrived outside any execution, oldest first, and forgets it: what a
    /// thread or child process wrote after `done`, `atexit` handlers at shutdown, and what
    /// the interpreter wrote before the runner said hello (start-up noise, as stderr). At most
    /// `lateOutputLimit` bytes are kept; older text goes first.
    public func takeLateOutput() -> [LateOutput] {
        defer {
            lateOutput.removeAll()
            lateOutputBytes = 0
        }
        return lateOutput
    }

    /// How many bytes of late output are kept for `takeLateOutput()`.
    public static let lateOutputLimit = 1 << 20

    private func keepLateOutput(_ chunk: LateOutput) {
        lateOutput.append(chunk)
        lateOutputBytes += chunk.text.utf8.count
        while lateOutputBytes > Self.lateOutputLimit, lateOutput.count > 1 {
            lateOutputBytes -= lateOutput.removeFirst().text.utf8.count
        }
    }

    // MARK: - Shutdown

    /// Stops the process: an `exit` request, then SIGTERM, then SIGKILL, waiting `grace`
    /// between steps (a remote kernel: `exit`, the in-band `kill`, then the local launcher is
    /// killed). Nothing the kernel started survives it. Executions still waiting end
    /// as cancelled. A start in progress is abandoned at once, not waited for: `start()` then
    /// throws `KernelError` with code `.shutDown`. The kernel starts afresh on next use.
    @discardableResult
    public func shutdown(grace: Duration = .seconds(2)) async -> ShutdownOutcome {
        await stop(because: .shutdown, grace: grace)
    }

    /// Shuts the process down and starts a fresh one.
    @discardableResult
    public func restart(grace: Duration = .seconds(2)) async throws -> KernelHello {
        await shutdown(grace: grace)
        return try await ensureStarted()
    }

    /// Stops the process for `reason` (see `shutdown`). Returns only once the process is gone,
    /// even when the calling task is cancelled (cancellation only skips the waiting between
    /// steps).
    @discardableResult
    func stop(because reason: KernelDeath.StopReason, grace: Duration) async -> ShutdownOutcome {
        let waiting = queue
        queue.removeAll()
        for pending in waiting {
            pending.deliver(.notice(KernelNotice(.shutDownBeforeStart)))
            pending.end(.cancelled)
        }
        if case .starting(let attempt) = state, let task = attempt.task {
            // Abandoned rather than waited for: a launcher that never answers would otherwise
            // hold the shutdown (and a Ctrl-C) for the whole start-up timeout. The failed start
            // kills what it spawned.
            attempt.abandon()
            _ = try? await task.value
        }
        guard let runner = liveRunner else { return .notRunning }
        beginStopping(runner, because: reason)
        let exited = runner.exited
        if runner.isRemote { return await stopRemote(runner, grace: grace) }
        try? runner.process.send(.exit)
        runner.process.closeInput()
        if await exited.wait(timeout: grace) != nil { return .graceful }
        runner.process.signalGroup(SIGTERM)
        if await exited.wait(timeout: grace) != nil { return .terminated }
        runner.process.signalGroup(SIGKILL)
        _ = await Task { await exited.wait() }.value
        return .killed
    }

    /// Stops a remote runner, which no signal reaches: `exit`, then the in-band `kill` (the
    /// runner kills its family from inside), then the local launcher is killed, which cuts the
    /// connection (the far side's runner sees its parent go, and ends its family). Input stays
    /// open until then: closing it first would leave no way to send `kill`.
    private func stopRemote(_ runner: RunnerProcess, grace: Duration) async -> ShutdownOutcome {
        let exited = runner.exited
        try? runner.process.send(.exit)
        if await exited.wait(timeout: grace) != nil { return .graceful }
        try? runner.process.send(.kill)
        if await exited.wait(timeout: grace) != nil { return .terminated }
        runner.process.signal(SIGKILL)
        _ = await Task { await exited.wait() }.value
        return .killed
    }

    /// Shuts the process down for good: the kernel never starts again, and whatever is
    /// submitted later fails at once. What `withKernel` does when its body ends.
    func close(grace: Duration) async {
        closing = true
        _ = await stop(because: .shutdown, grace: grace)
        // Anything submitted while it stopped never runs.
        failQueued(with: Self.closedError)
        state = .closed
    }

    // MARK: - Transitions

    /// notStarted/dead → starting.
    private func beginStart() {
        let attempt = StartAttempt()
        attempt.task = Task { try await self.runStart(attempt) }
        state = .starting(attempt)
    }

    private func runStart(_ attempt: StartAttempt) async throws(KernelError) -> KernelHello {
        do {
            let hello = try await launch(attempt)
            try startSucceeded(attempt, hello: hello)
            return hello
        } catch {
            startFailed(attempt, error: error)
            throw error
        }
    }

    /// starting → ready.
    private func startSucceeded(_ attempt: StartAttempt, hello: KernelHello) throws(KernelError) {
        guard case .starting(let current) = state, current === attempt, let runner = attempt.runner else {
            throw KernelError(.startupFailed, "the start was abandoned")
        }
        if let death = runner.exited.currentValue {
            throw KernelError(
                .startupFailed, "the runner \(death.status) right after saying hello\(Self.detail(death.diagnostics))")
        }
        runner.hello = hello
        runner.preludeNoticeDue = !hello.preludeFailures.isEmpty
        executionCount = 0
        if let problem = hello.hostFunctionsError {
            logger.warning("the runner did not take every host function: \(problem)")
        }
        if !runner.startupNoise.isEmpty {
            keepLateOutput(LateOutput(executionID: nil, stream: .stderr, text: runner.startupNoiseText))
        }
        state = .ready(runner)
        logger.debug("kernel started", metadata: ["python": "\(hello.pythonVersion)"])
        advanceQueue()
    }

    /// starting → notStarted: what waited for this start fails with `error`.
    private func startFailed(_ attempt: StartAttempt, error: KernelError) {
        guard case .starting(let current) = state, current === attempt else { return }
        attempt.runner?.process.signalGroup(SIGKILL)
        state = .notStarted
        failQueued(with: error)
    }

    private func failQueued(with error: KernelError) {
        let failed = queue
        queue.removeAll()
        for pending in failed { pending.end(.failedToStart, startFailure: error) }
    }

    /// Sends the next queued execution if the process is ready (ready → busy), or starts a
    /// process for it.
    private func advanceQueue() {
        guard !queue.isEmpty else { return }
        switch state {
        case .ready(let runner):
            sendNext(to: runner)
        case .notStarted, .dead:
            if closing {
                failQueued(with: Self.closedError)
            } else {
                beginStart()
            }
        case .closed:
            failQueued(with: Self.closedError)
        case .starting, .busy, .dying:
            break  // the end of what happens now advances the queue
        }
    }

    /// ready → busy.
    private func sendNext(to runner: RunnerProcess) {
        let next = queue.removeFirst()
        next.startedAt = .now
        logger.trace("execute", metadata: ["request.id": "\(next.id)"])
        do {
            try runner.process.send(.execute(id: next.id, code: next.code, options: next.options.flags))
        } catch {
            // The process died before this code reached it, and its exit is not handled yet:
            // the code never ran, so it waits for the fresh process that exit will lead to.
            next.startedAt = nil
            next.submittedAfterDeath = true
            queue.insert(next, at: 0)
            return
        }
        state = .busy(runner, next)
        runner.lastExecutionID = next.id
        if runner.preludeNoticeDue, !next.options.silent, let hello = runner.hello {
            // The first result a caller sees says the helpers it may expect are not all there
            // (a host's silent set-up would swallow it).
            runner.preludeNoticeDue = false
            next.deliver(.notice(KernelNotice(.preludeFailed(hello.preludeFailures))))
        }
        next.timeoutRemaining = next.options.timeout
        armTimeout(of: next)
    }

    /// busy → ready (or dying with it → dying without it): the runner said `done`.
    private func executionEnded(_ pending: PendingExecution, _ status: ExecutionStatus) {
        endHostCalls(of: pending)
        pending.end(status)
        switch state {
        case .busy(let runner, let running) where running === pending:
            state = .ready(runner)
            advanceQueue()
        case .dying(let runner, let running) where running === pending:
            state = .dying(runner, nil)
        default:
            break
        }
    }

    /// ready/busy → dying: pyrun is about to stop the process for `reason`.
    private func beginStopping(_ runner: RunnerProcess, because reason: KernelDeath.StopReason) {
        if runner.stopReason == nil { runner.stopReason = reason }
        switch state {
        case .ready(let current) where current === runner:
            state = .dying(runner, nil)
        case .busy(let current, let running) where current === runner:
            state = .dying(runner, running)
        default:
            break
        }
    }

    /// ready/busy/dying → dead (or a failed start): the process is gone and reaped.
    private func processExited(_ runner: RunnerProcess, _ exit: ProcessExit) {
        runner.frameChannelLossCheck?.cancel()
        let running = runner === liveRunner ? self.running : nil
        let death = makeDeath(of: runner, exit, running: running)
        runner.exited.fulfill(death)
        if case .starting(let attempt) = state, attempt.runner === runner {
            // The start (`runStart`) fails with this; it makes the transition.
            runner.helloWaiter.fulfill(.failure(startError(for: death, of: runner)))
            return
        }
        guard runner === liveRunner else { return }
        state = .dead(death)
        lastDeath = death
        logger.log(level: death.wasRequested ? .debug : .warning, "kernel process ended: \(death)")

        let waiters = replyWaiters
        replyWaiters.removeAll()
        for waiter in waiters.values { waiter.resume(throwing: KernelError(.kernelDied, "\(death)")) }

        if let running {
            endHostCalls(of: running)
            running.deliver(.notice(KernelNotice(.died(death))))
            let status: ExecutionStatus
            switch death.cause {
            case .stoppedByPyrun(.interruptNotHonoured), .stoppedByPyrun(.timeout), .stoppedByPyrun(.interrupted):
                status = running.timedOut ? .timedOut : .cancelled
            case _ where death.wasRequested:
                status = .cancelled
            default:
                status = .kernelDied
            }
            running.end(status, death: death)
        }
        // Executions the dead process had been given end with it; those that reached a
        // process already dead never ran, and go to the next one.
        let lost = queue.filter { !$0.submittedAfterDeath }
        queue.removeAll { !$0.submittedAfterDeath }
        for pending in lost {
            pending.deliver(.notice(KernelNotice(.died(death))))
            pending.end(.kernelDied, death: death)
        }
        if !death.wasRequested { deathObserver?(self, death) }
        advanceQueue()
    }

    private func makeDeath(of runner: RunnerProcess, _ exit: ProcessExit, running: PendingExecution?) -> KernelDeath {
        let memoryLimit = configuration.limits.memoryBytes
        let peak = exit.peakResidentBytes ?? runner.reportedPeakResidentBytes
        var interruptReason: KernelDeath.StopReason?
        if let running, running.interruptSent {
            interruptReason = running.timedOut ? .timeout(after: running.options.timeout ?? .zero) : .interrupted
        }
        let evidence = KernelDeath.Evidence(
            status: exit.status, hostSignal: exit.hostSignal, stopReason: runner.stopReason,
            interruptReason: interruptReason, selfSignal: runner.selfSignal, memoryLimitBytes: memoryLimit,
            peakResidentBytes: peak, outOfMemoryKills: exit.outOfMemoryKills, diagnostics: exit.diagnostics,
            templateDeath: exit.templateDeath)
        return KernelDeath(
            cause: KernelDeath.classify(evidence), status: exit.status, processID: runner.pid,
            executionID: running?.id,
            memory: KernelMemory(
                lastResidentBytes: exit.lastResidentBytes, peakResidentBytes: peak, limitBytes: memoryLimit),
            diagnostics: exit.diagnostics)
    }

    // MARK: - Process events

    /// Starts handing `runner`'s events to the actor; the task ends with the process. It holds
    /// the kernel weakly, so a kernel that is released is not kept alive by its process.
    private func watch(_ runner: RunnerProcess) {
        let process = runner.process
        let number = runner.number
        Task { [weak self] in
            for await batch in process.events {
                guard let self else {
                    process.signalGroup(SIGKILL)
                    return
                }
                // A consumer that lags holds the next batch back (outside the actor, which
                // stays free for interrupts and requests).
                if let congested = await self.handle(batch, fromProcessNumber: number) {
                    await congested.waitForSpace()
                }
            }
        }
    }

    /// The process numbered `number`, while the kernel still tracks it.
    private func runner(numbered number: Int) -> RunnerProcess? {
        switch state {
        case .starting(let attempt): attempt.runner?.number == number ? attempt.runner : nil
        case .ready(let runner), .busy(let runner, _), .dying(let runner, _): runner.number == number ? runner : nil
        case .notStarted, .dead, .closed: nil
        }
    }

    /// Routes a batch of `runner`'s events.
    /// - Returns: the channel of an execution whose consumer lags, if one does.
    private func handle(_ batch: [ProcessEvent], fromProcessNumber number: Int) -> ExecutionEventChannel? {
        var congested: ExecutionEventChannel?
        for event in batch {
            // A process the kernel gave up on (a start that timed out) is no longer heard.
            guard let runner = runner(numbered: number) else { return congested }
            switch event {
            case .frame(let frame):
                if route(frame, from: runner), let running { congested = running.channel }
            case .malformedLine(let preview, let reason):
                if runner.hello == nil {
                    // Before hello: what the interpreter's start printed. Empty lines are the
                    // runner's own separator before its hello.
                    if !preview.isEmpty { runner.keepStartupNoise(preview) }
                } else if !preview.isEmpty {
                    logger.warning("skipped a malformed line from the runner: \(reason): \(preview)")
                }
            case .frameChannelClosed:
                frameChannelClosed(runner)
            case .exited(let exit):
                processExited(runner, exit)
            }
        }
        return congested
    }

    /// Nothing can be heard from `runner` any more while it still lives: unless it exits on
    /// its own within `frameChannelGrace` (a process that is exiting closes its channel
    /// first), it is killed, and its death says why.
    private func frameChannelClosed(_ runner: RunnerProcess) {
        guard runner.frameChannelLossCheck == nil, runner.exited.currentValue == nil else { return }
        runner.frameChannelLossCheck = Task {
            try? await Task.sleep(for: Self.frameChannelGrace)
            guard !Task.isCancelled else { return }
            self.frameChannelLost(runner)
        }
    }

    private func frameChannelLost(_ runner: RunnerProcess) {
        guard runner.exited.currentValue == nil else { return }
        // Said only now: a runner that exits closes its channel first, which is no news.
        logger.warning("the runner's frame channel closed and it still ran \(Self.frameChannelGrace) later: killed")
        if case .starting(let attempt) = state, attempt.runner === runner {
            runner.stopReason = .frameChannelLost
        } else {
            beginStopping(runner, because: .frameChannelLost)
        }
        runner.process.signalGroup(SIGKILL)
    }

    /// Routes one frame of `runner`.
    /// - Returns: true when the running execution's consumer lags behind.
    private func route(_ frame: Frame, from runner: RunnerProcess) -> Bool {
        switch frame {
        case .hello(let hello):
            runner.helloWaiter.fulfill(.success(hello))
            return false
        case .selfSignal(_, let signal):
            runner.selfSignal = signal
            return false
        default:
            break
        }
        guard runner.hello != nil || liveRunner === runner else {
            // Before hello, a JSON line that is no frame of ours is start-up noise too.
            if case .unknown(let json) = frame { runner.keepStartupNoise(json.serialized()) }
            return false
        }
        let running = liveRunner === runner ? self.running : nil
        guard let id = frame.id else {
            if case .errorReply(_, let message) = frame { logger.warning("runner error: \(message)") }
            if let running, case .unknown(let json) = frame { return running.deliver(.unknown(json)) }
            return false
        }
        if let running, running.id == id {
            return apply(frame, to: running, from: runner)
        } else if case .call(_, let callID, _, _) = frame {
            // From a thread whose execution already ended: answered at once, never left waiting.
            try? runner.process.send(.callReply(callID: callID, answer: .failure(.noExecution(id))))
        } else if let waiter = replyWaiters.removeValue(forKey: id) {
            waiter.resume(returning: frame)
        } else if case .errorReply(_, let message) = frame {
            logger.warning("runner error: \(message)")
        } else if case .output(_, let stream, let text) = frame {
            keepLateOutput(LateOutput(executionID: id, stream: stream, text: text))
        } else {
            logger.debug("frame for a finished request", metadata: ["request.id": "\(id)"])
        }
        return false
    }

    /// Applies a frame of the running execution.
    /// - Returns: true when its consumer lags behind.
    private func apply(_ frame: Frame, to pending: PendingExecution, from runner: RunnerProcess) -> Bool {
        switch frame {
        case .started(_, let count):
            executionCount = count
            pending.hasStarted = true
            pending.deliver(.started(executionCount: count))
            if pending.interruptHeld {
                pending.interruptHeld = false
                runner.interrupt()
            }
        case .output(_, let stream, let text):
            return pending.deliver(stream == .stdout ? .stdout(text) : .stderr(text))
        case .display(_, let bundle, let metadata):
            return pending.deliver(.display(bundle, metadata: metadata))
        case .result(_, let bundle, let count):
            pending.deliver(.result(bundle, executionCount: count))
        case .error(_, let error):
            pending.deliver(.error(error))
        case .inputRequest(_, let prompt, let password):
            pending.deliver(.inputRequest(prompt: prompt, password: password))
            answerInput(InputPrompt(prompt: prompt, password: password), for: pending)
        case .done(_, let report):
            pending.recordDone(report)
            if report.executionCount > 0 { executionCount = report.executionCount }
            runner.reportedPeakResidentBytes = max(runner.reportedPeakResidentBytes ?? 0, report.peakRssBytes)
            // Kept by the process layer for the exit report (last and peak resident memory).
            _ = runner.process.sampleResidentMemory()
            let status: ExecutionStatus =
                pending.timedOut ? .timedOut : report.cancelled ? .cancelled : report.ok ? .ok : .error
            executionEnded(pending, status)
        case .errorReply(_, let message):
            pending.deliver(.notice(KernelNotice(.runnerRejected(message: message))))
            executionEnded(pending, .error)
        case .unknown(let json):
            return pending.deliver(.unknown(json))
        case .call(_, let callID, let name, let arguments):
            return startHostCall(callID, function: name, arguments: arguments, of: pending, runner: runner)
        case .callCancel(_, let callID):
            endHostCall(callID, of: pending, outcome: .cancelled)
        case .hello, .completeReply, .isCompleteReply, .infoReply, .selfSignal:
            break
        }
        return false
    }

    private func answerInput(_ prompt: InputPrompt, for pending: PendingExecution) {
        let id = pending.id
        let handler = pending.options.stdinHandler
        Task {
            // A handler that throws has no more input: `input()` raises EOFError, as at the
            // end of a real stdin.
            var answer: String?
            if let handler {
                do {
                    answer = try await handler(prompt)
                } catch {
                    self.logger.debug("stdin handler ended input: \(error)", metadata: ["request.id": "\(id)"])
                }
            }
            self.sendInputReply(id: id, value: answer)
        }
    }

    private func sendInputReply(id: String, value: String?) {
        guard let running, running.id == id, let runner = liveRunner else { return }
        try? runner.process.send(.inputReply(id: id, value: value))
    }

    // MARK: - Starting a process

    /// Resolves the interpreter, spawns the runner and waits for its `hello`.
    private func launch(_ attempt: StartAttempt) async throws(KernelError) -> KernelHello {
        if let problem = configuration.hostFunctionsProblem { throw KernelError(.invalidConfiguration, problem) }
        if configuration.launcher.isRemote { return try await launchRemote(attempt) }
        let environment = try configuration.runnerEnvironment(base: ProcessInfo.processInfo.environment)
        // A real interpreter binary starts without a probe: its hello says what it is. A
        // script (a shim) is probed once per process for the binary behind it. Later starts
        // of this kernel spawn the real executable either way.
        let executable: String
        let locatedPath: String
        let source: InterpreterSource
        if let known = self.interpreter {
            executable = known.executable
            locatedPath = known.path
            source = known.source
        } else {
            let (path, foundIn) = try InterpreterResolver.locate(
                configuration.interpreter, workingDirectory: configuration.workingDirectory,
                environment: environment)
            source = foundIn
            locatedPath = path
            if InterpreterResolver.isScript(path) {
                let resolved = try await InterpreterResolver.probeOnce(
                    path: path, source: foundIn, workingDirectory: configuration.workingDirectory,
                    environment: environment)
                executable = resolved.executable
            } else {
                executable = path
            }
        }
        let runnerInstallation = try RunnerInstallation.current()
        let process: KernelProcess
        if configuration.usesTemplate,
            let forked = await fork(executable: executable, environment: environment, runner: runnerInstallation)
        {
            process = forked
        } else {
            let command = LaunchCommand.local(python: executable, runner: runnerInstallation)
            process = try spawn(command, environment: environment, bootstrapLine: nil)
        }
        let (hello, version) = try await awaitHello(attempt, from: process, isRemote: false, describing: executable)
        if self.interpreter == nil {
            self.interpreter = PythonInterpreter(
                path: locatedPath, executable: hello.executable.isEmpty ? executable : hello.executable,
                version: version, source: source)
        }
        return hello
    }

    /// Starts the runner on the far side of the configured launcher: its `python -u -c
    /// LOADER`, sent the runner's source and start options as its first line. A template
    /// would run on this machine, so a remote kernel never forks from one (`usesTemplate`
    /// does not apply).
    private func launchRemote(_ attempt: StartAttempt) async throws(KernelError) -> KernelHello {
        templateUnavailable = nil
        let launcher = configuration.launcher
        let hostEnvironment = ProcessInfo.processInfo.environment
        let program = launcher.prefix[0]
        let searchPath = hostEnvironment["PATH"] ?? "/usr/bin:/bin"
        let executable: String
        if program.contains("/") {
            executable = InterpreterResolver.absolutePath(program, relativeTo: nil)
        } else if let found = InterpreterResolver.findOnPath(program, searchPath: searchPath) {
            executable = found
        } else {
            throw KernelError(.spawnFailed, "the launcher \(program) is not on PATH (\(searchPath))")
        }
        let commandLine = launcher.commandLine(loader: RunnerBootstrap.loader)
        let command = LaunchCommand(executable: executable, arguments: Array(commandLine.dropFirst()))
        let (keepOnly, variables) = configuration.remoteEnvironment()
        let line = RunnerBootstrap.startLine(
            source: RunnerInstallation.source, keepOnly: keepOnly, set: variables,
            prelude: try configuration.prelude.sentRunnerEntries(), codeCache: launcher.codeCache)
        // The launcher itself runs with the host's environment (ssh needs HOME, its agent).
        let process = try spawn(command, environment: hostEnvironment, bootstrapLine: line)
        let (hello, version) = try await awaitHello(
            attempt, from: process, isRemote: true,
            describing: "\(launcher.python) via \(launcher.prefix.joined(separator: " "))")
        if self.interpreter == nil {
            self.interpreter = PythonInterpreter(
                path: launcher.python, executable: hello.executable.isEmpty ? launcher.python : hello.executable,
                version: version, source: .farSide)
        }
        return hello
    }

    /// Spawns `command` (a local runner, or a launcher sent `bootstrapLine` first).
    private func spawn(_ command: LaunchCommand, environment: [String: String], bootstrapLine: [UInt8]?)
        throws(KernelError) -> KernelProcess
    {
        do {
            return try KernelProcess(
                command: command, environment: environment, bootstrapLine: bootstrapLine, logger: logger)
        } catch {
            throw KernelError(.spawnFailed, error.description)
        }
    }

    /// Watches a started `process`, waits for the runner's `hello` within the start-up timeout
    /// and checks its Python version; `describing` names the runner in errors.
    private func awaitHello(
        _ attempt: StartAttempt, from process: KernelProcess, isRemote: Bool, describing executable: String
    ) async throws(KernelError) -> (KernelHello, PythonVersion) {
        processStarts += 1
        spawnCounter += 1
        lastSpawnedProcess = process
        let runner = RunnerProcess(process: process, number: spawnCounter, isRemote: isRemote)
        attempt.runner = runner
        logger[metadataKey: "kernel.pid"] = "\(process.pid)"
        watch(runner)
        guard let outcome = await runner.helloWaiter.wait(timeout: configuration.startupTimeout) else {
            let stderrTail = process.diagnosticsSoFar
            process.signalGroup(SIGKILL)
            throw KernelError(
                .startupTimedOut,
                "the runner (\(executable)) did not say hello within \(configuration.startupTimeout.formattedSeconds)\(Self.noiseDetail(runner))\(Self.stderrDetail(stderrTail))"
            )
        }
        let hello = try outcome.get()
        guard let version = PythonVersion(parsing: hello.pythonVersion), version >= .minimumSupported else {
            process.signalGroup(SIGKILL)
            throw KernelError(
                .interpreterTooOld,
                "\(executable) is Python \(hello.pythonVersion); pyrun needs Python \(PythonVersion.minimumSupported.major).\(PythonVersion.minimumSupported.minor) or newer"
            )
        }
        return (hello, version)
    }

    /// A process forked from the template for this configuration, or nil (with
    /// `templateUnavailable` saying why) when it must start the ordinary way.
    private func fork(
        executable: String, environment: [String: String], runner: RunnerInstallation
    ) async -> KernelProcess? {
        templateUnavailable = nil
        #if os(Linux)
        var shared = environment
        var options: [String: String] = [:]
        for name in KernelTemplate.perKernelOptions {
            if let value = shared.removeValue(forKey: name) { options[name] = value }
        }
        let key = KernelTemplate.Key(executable: executable, environment: shared, preload: configuration.preload)
        do {
            let template = try await KernelTemplates.shared.template(
                for: key, runner: runner, timeout: configuration.startupTimeout, logger: logger)
            return try KernelProcess(forkingFrom: template, options: options, logger: logger)
        } catch {
            logger.warning("starting the kernel the ordinary way: \(error)")
            templateUnavailable = error.description
            return nil
        }
        #else
        templateUnavailable = "kernel templates need Linux"
        return nil
        #endif
    }

    /// Why the current process was started the ordinary way although the configuration asks
    /// for a template (it could not start, it died, the platform has none); nil when it was
    /// forked, or no template was asked for.
    public private(set) var templateUnavailable: String?

    /// Why a start failed, from how the process ended before its `hello`.
    private func startError(for death: KernelDeath, of runner: RunnerProcess) -> KernelError {
        if death.status == .exited(KernelDeath.memoryLimitTooLowStatus) {
            let limit = configuration.limits.memoryBytes.map { " (\(ByteFormat.text($0)))" } ?? ""
            // The runner's own line says what it needs; its "pyrun: " prefix is ours already.
            let said = death.diagnostics.split(separator: "\n").last.map {
                $0.hasPrefix("pyrun: ") ? String($0.dropFirst("pyrun: ".count)) : String($0)
            }
            return KernelError(
                .memoryLimitTooLow,
                "the memory limit\(limit) leaves too little memory for the runner itself; raise it\(said.map { ": \($0)" } ?? "")"
            )
        }
        if case .stoppedByPyrun(.frameChannelLost) = death.cause {
            return KernelError(
                .startupFailed,
                "the interpreter closed or replaced the runner's frame channel before it said hello\(Self.detail(death.diagnostics))\(Self.noiseDetail(runner))"
            )
        }
        // Behind a launcher its status is the launcher's: ssh's 255 is ssh failing, not Python.
        let who =
            runner.isRemote ? "the launcher (\(configuration.launcher.programName))" : "the runner"
        let ready = runner.isRemote ? "the runner was" : "it was"
        return KernelError(
            .startupFailed,
            "\(who) \(death.status) before \(ready) ready\(Self.detail(death.diagnostics))\(Self.noiseDetail(runner))"
        )
    }

    private static func detail(_ diagnostics: String) -> String {
        let trimmed = diagnostics.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? "" : ": \(trimmed.split(separator: "\n").suffix(5).joined(separator: "\n"))"
    }

    /// What the runner printed before its hello, a few lines cut short: a terminal between
    /// here and a remote runner (`ssh -t`) echoes the start line, the runner's whole source.
    private static func noiseDetail(_ runner: RunnerProcess) -> String {
        let lines = runner.startupNoise.suffix(5).map { line in
            line.count <= noiseLineLimit ? line : "\(line.prefix(noiseLineLimit))…"
        }
        guard !lines.isEmpty else { return "" }
        var text = "; before its hello it printed:\n" + lines.joined(separator: "\n")
        if runner.isRemote, runner.startupNoise.contains(where: { $0.contains(RunnerBootstrap.echoMark) }) {
            text +=
                "\n(that is pyrun's start line coming back: a terminal between here and the runner echoes and rewrites the stream; run the launcher without one, e.g. `ssh -T`, not `ssh -t`)"
        }
        return text
    }

    /// The last lines a start that never said hello wrote to stderr (a launcher's password
    /// prompt, a login banner, a hanging command's complaint), for its timeout error.
    private static func stderrDetail(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(5).map { line in
            line.count <= noiseLineLimit ? String(line) : "\(line.prefix(noiseLineLimit))…"
        }
        guard !lines.isEmpty else { return "" }
        return "; on stderr it said:\n" + lines.joined(separator: "\n")
    }

    /// How much of each line of start-up noise a start error shows.
    static let noiseLineLimit = 200
}
