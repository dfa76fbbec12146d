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
    /// It needed SIGTERM.
    case terminated
    /// It needed SIGKILL.
    case killed
    /// There was no process to stop.
    case notRunning
}

/// One live Python interpreter: executions run one at a time in submission order, output
/// streams as it is produced, and the process and everything it started are cleaned up
/// however it ends. The process starts on first use (or `start()`), and again after a
/// death or a kill, with fresh state.
public actor PythonKernel {
    /// How this kernel starts its process.
    public nonisolated let configuration: KernelConfiguration
    private var logger: Logger

    private var process: KernelProcess?
    /// Increments per process, so events of a process that was replaced are ignored.
    private var generation = 0
    /// What the current process said when it started.
    public private(set) var hello: KernelHello?
    /// The interpreter, once resolved.
    public private(set) var interpreter: PythonInterpreter?
    /// Why the previous process died, if it did without being asked to.
    public private(set) var lastDeath: KernelDeathCause?
    /// How many processes this kernel has started.
    public private(set) var processStarts = 0

    private var starting: Task<KernelHello, any Error>?
    private var helloWaiter: SetOnceValue<Result<KernelHello, KernelError>>?
    private var exitWaiter: SetOnceValue<TerminationStatus>?
    private var shuttingDown = false

    private var queue: [PendingExecution] = []
    private var running: PendingExecution?
    private var replyWaiters: [String: CheckedContinuation<Frame, any Error>] = [:]
    private var lateOutput: [LateOutput] = []
    private var lateOutputBytes = 0
    private var requestCounter = 0

    /// Creates a kernel; nothing starts until `start()` or the first execution.
    public init(configuration: KernelConfiguration = .init(), logger: Logger = Logger(label: "pyrun.kernel")) {
        self.configuration = configuration
        self.logger = logger
    }

    deinit {
        process?.signalGroup(SIGKILL)
    }

    /// The pid of the live runner process, if there is one.
    public var pid: Int32? { hello == nil ? nil : process?.pid }

    /// True while a process is up and has said hello.
    public var isRunning: Bool { process != nil && hello != nil }

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
        if let hello, process != nil { return hello }
        let task: Task<KernelHello, any Error>
        if let starting {
            task = starting
        } else {
            task = Task { try await self.launch() }
            starting = task
        }
        do {
            return try await task.value
        } catch let error as KernelError {
            throw error
        } catch {
            throw KernelError(.startupFailed, "\(error)")
        }
    }

    private func launch() async throws(KernelError) -> KernelHello {
        defer { starting = nil }
        let baseEnvironment = ProcessInfo.processInfo.environment
        let environment = configuration.runnerEnvironment(base: baseEnvironment)
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
        let runner = try RunnerInstallation.current()
        let command = LaunchCommand.local(python: executable, runner: runner)
        let process: KernelProcess
        do {
            process = try KernelProcess(command: command, environment: environment, logger: logger)
        } catch {
            throw KernelError(.spawnFailed, error.description)
        }
        generation += 1
        processStarts += 1
        let helloWaiter = SetOnceValue<Result<KernelHello, KernelError>>()
        self.process = process
        self.hello = nil
        self.helloWaiter = helloWaiter
        self.exitWaiter = SetOnceValue()
        logger[metadataKey: "kernel.pid"] = "\(process.pid)"
        let generation = self.generation
        Task { [weak self] in
            for await batch in process.events {
                guard let self else {
                    process.signalGroup(SIGKILL)
                    return
                }
                await self.handle(batch, generation: generation)
            }
        }
        guard let outcome = await helloWaiter.wait(timeout: configuration.startupTimeout) else {
            process.signalGroup(SIGKILL)
            throw KernelError(
                .startupTimedOut,
                "the runner (\(executable)) did not say hello within \(configuration.startupTimeout)")
        }
        let hello = try outcome.get()
        guard let version = PythonVersion(parsing: hello.pythonVersion), version >= .minimumSupported else {
            process.signalGroup(SIGKILL)
            throw KernelError(
                .interpreterTooOld,
                "\(executable) is Python \(hello.pythonVersion); pyrun needs Python \(PythonVersion.minimumSupported.major).\(PythonVersion.minimumSupported.minor) or newer"
            )
        }
        if self.interpreter == nil {
            self.interpreter = PythonInterpreter(
                path: locatedPath, executable: hello.executable.isEmpty ? executable : hello.executable,
                version: version, source: source)
        }
        self.hello = hello
        logger.debug("kernel started", metadata: ["python": "\(hello.pythonVersion)"])
        return hello
    }

    // MARK: - Executions

    /// Queues `code` and returns its execution; it runs after those submitted before it.
    public func execute(_ code: String, options: ExecutionOptions = .init()) -> Execution {
        enqueue(code, options: options, streamingEvents: true)
    }

    /// Runs `code` and returns everything it produced.
    /// - Throws: `KernelError` when the kernel could not be started.
    public func run(_ code: String, options: ExecutionOptions = .init()) async throws -> ExecutionResult {
        // Nobody iterates these events, so none are made: only the collected result.
        try await enqueue(code, options: options, streamingEvents: false).result()
    }

    private func enqueue(_ code: String, options: ExecutionOptions, streamingEvents: Bool) -> Execution {
        requestCounter += 1
        let id = "e\(requestCounter)"
        let (stream, continuation) = AsyncStream<ExecutionEvent>.makeStream()
        if !streamingEvents { continuation.finish() }
        let pending = PendingExecution(
            id: id, code: code, options: options, events: streamingEvents ? continuation : nil)
        queue.append(pending)
        advanceQueue()
        return Execution(id: id, events: stream, completion: pending.completion, kernel: self)
    }

    /// Sends the next queued execution if nothing runs; starts the process if needed.
    private func advanceQueue() {
        guard running == nil, !queue.isEmpty else { return }
        guard let process, hello != nil else {
            if starting == nil { startThenAdvance() }
            return
        }
        let next = queue.removeFirst()
        running = next
        next.startedAt = .now
        logger.trace("execute", metadata: ["request.id": "\(next.id)"])
        do {
            try process.send(.execute(id: next.id, code: next.code, options: next.options.flags))
        } catch {
            // The process died before this code reached it, and its exit is not handled yet:
            // the code never ran, so it waits for the fresh process that exit will lead to.
            running = nil
            next.startedAt = nil
            next.submittedAfterDeath = true
            queue.insert(next, at: 0)
            return
        }
        if let timeout = next.options.timeout {
            let id = next.id
            next.timeoutTask = Task {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                self.timeoutFired(executionID: id)
            }
        }
    }

    private func startThenAdvance() {
        Task {
            do throws(KernelError) {
                _ = try await self.ensureStarted()
                self.advanceQueue()
            } catch {
                self.failQueued(with: error)
            }
        }
    }

    private func failQueued(with error: KernelError) {
        let failed = queue
        queue.removeAll()
        for pending in failed {
            pending.events?.finish()
            pending.completion.fulfill(.failure(error))
        }
    }

    /// Interrupts the execution if it runs; withdraws it if it waits its turn.
    func cancel(executionID id: String) {
        if running?.id == id {
            interrupt()
        } else if let index = queue.firstIndex(where: { $0.id == id }) {
            let pending = queue.remove(at: index)
            pending.result.notices.append("cancelled before it started")
            finish(pending, status: .cancelled)
        }
    }

    private func timeoutFired(executionID id: String) {
        guard let running, running.id == id else { return }
        running.timedOut = true
        running.result.notices.append("timed out after \(running.options.timeout ?? .zero); interrupted")
        interrupt()
    }

    /// Interrupts the running execution with SIGINT to the kernel's process group, as
    /// Ctrl-C does. If it has not ended within the interrupt grace, the kernel is killed
    /// and starts afresh on next use.
    public func interrupt() {
        guard let running, let process else { return }
        process.signalGroup(SIGINT)
        guard running.escalation == nil else { return }
        let id = running.id
        let grace = configuration.interruptGrace
        running.escalation = Task {
            try? await Task.sleep(for: grace)
            guard !Task.isCancelled else { return }
            self.escalateInterrupt(executionID: id)
        }
    }

    private func escalateInterrupt(executionID id: String) {
        guard let running, running.id == id, let process else { return }
        logger.warning("interrupt not honoured; killing the kernel", metadata: ["request.id": "\(id)"])
        running.killedAfterInterrupt = true
        process.signalGroup(SIGKILL)
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
        guard let process else { throw KernelError(.kernelDied, "the kernel is not running") }
        requestCounter += 1
        let id = "q\(requestCounter)"
        let request = make(id)
        do {
            return try await withCheckedThrowingContinuation { continuation in
                replyWaiters[id] = continuation
                do {
                    try process.send(request)
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

    /// Output that arrived after its execution ended, oldest first, and forgets it: what a
    /// thread or child process wrote after `done`, or `atexit` handlers at shutdown. At most
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

    /// Stops the process: an `exit` request, then SIGTERM, then SIGKILL to its process
    /// group, waiting `grace` between steps. Nothing the kernel started survives it.
    /// Executions still waiting end as cancelled. The kernel starts afresh on next use.
    @discardableResult
    public func shutdown(grace: Duration = .seconds(2)) async -> ShutdownOutcome {
        for pending in queue {
            pending.result.notices.append("the kernel was shut down before this execution ran")
            finish(pending, status: .cancelled)
        }
        queue.removeAll()
        if let starting { _ = try? await starting.value }
        guard let process, let exitWaiter else { return .notRunning }
        shuttingDown = true
        defer { shuttingDown = false }
        try? process.send(.exit)
        process.closeInput()
        if await exitWaiter.wait(timeout: grace) != nil { return .graceful }
        process.signalGroup(SIGTERM)
        if await exitWaiter.wait(timeout: grace) != nil { return .terminated }
        process.signalGroup(SIGKILL)
        _ = await exitWaiter.wait()
        return .killed
    }

    /// Shuts the process down and starts a fresh one.
    @discardableResult
    public func restart(grace: Duration = .seconds(2)) async throws -> KernelHello {
        await shutdown(grace: grace)
        return try await ensureStarted()
    }

    // MARK: - Frames

    private func handle(_ batch: [ProcessEvent], generation: Int) {
        for event in batch {
            guard generation == self.generation else { return }
            switch event {
            case .frame(let frame):
                route(frame)
            case .malformedLine(let preview, let reason):
                logger.warning("skipped a malformed line from the runner: \(reason): \(preview)")
            case .frameChannelClosed:
                // Nothing can be heard from this process any more; its exit follows.
                logger.warning("the runner's frame channel closed while it still ran")
            case .exited(let exit):
                processExited(exit.status, diagnostics: exit.diagnostics)
            }
        }
    }

    private func route(_ frame: Frame) {
        if case .hello(let hello) = frame {
            helloWaiter?.fulfill(.success(hello))
            return
        }
        guard let id = frame.id else {
            if let running, case .unknown(let json) = frame { running.events?.yield(.unknown(json)) }
            return
        }
        if let running, running.id == id {
            apply(frame, to: running)
        } else if let waiter = replyWaiters.removeValue(forKey: id) {
            waiter.resume(returning: frame)
        } else if case .errorReply(_, let message) = frame {
            logger.warning("runner error: \(message)")
        } else if case .output(_, let stream, let text) = frame {
            keepLateOutput(LateOutput(executionID: id, stream: stream, text: text))
        } else {
            logger.debug("frame for a finished request", metadata: ["request.id": "\(id)"])
        }
    }

    private func apply(_ frame: Frame, to pending: PendingExecution) {
        switch frame {
        case .started(_, let count):
            pending.result.executionCount = count
            pending.events?.yield(.started(executionCount: count))
        case .output(_, let stream, let text):
            if stream == .stdout {
                pending.result.stdout += text
                pending.events?.yield(.stdout(text))
            } else {
                pending.result.stderr += text
                pending.events?.yield(.stderr(text))
            }
        case .display(_, let bundle, let metadata):
            pending.result.displays.append(DisplayOutput(bundle: bundle, metadata: metadata))
            pending.events?.yield(.display(bundle, metadata: metadata))
        case .result(_, let bundle, let count):
            pending.result.result = bundle
            pending.events?.yield(.result(bundle, executionCount: count))
        case .error(_, let error):
            pending.result.error = error
            pending.events?.yield(.error(error))
        case .inputRequest(_, let prompt, let password):
            pending.events?.yield(.inputRequest(prompt: prompt, password: password))
            answerInput(InputPrompt(prompt: prompt, password: password), for: pending)
        case .done(_, let report):
            pending.result.report = report
            pending.result.executionCount = report.executionCount
            let status: ExecutionStatus =
                pending.timedOut ? .timedOut : report.cancelled ? .cancelled : report.ok ? .ok : .error
            finish(pending, status: status)
        case .errorReply(_, let message):
            pending.result.notices.append("the runner rejected the request: \(message)")
            finish(pending, status: .error)
        case .unknown(let json):
            pending.events?.yield(.unknown(json))
        case .hello, .completeReply, .isCompleteReply, .infoReply, .selfSignal:
            break
        }
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
        guard running?.id == id else { return }
        try? process?.send(.inputReply(id: id, value: value))
    }

    private func finish(_ pending: PendingExecution, status: ExecutionStatus) {
        pending.timeoutTask?.cancel()
        pending.escalation?.cancel()
        pending.result.status = status
        if let startedAt = pending.startedAt { pending.result.duration = startedAt.duration(to: .now) }
        pending.events?.finish()
        pending.completion.fulfill(.success(pending.result))
        if running === pending {
            running = nil
            advanceQueue()
        }
    }

    private func processExited(_ status: TerminationStatus, diagnostics: String) {
        let cause = KernelDeathCause(exitStatus: status, runningExecutionID: running?.id, diagnostics: diagnostics)
        let expected = shuttingDown || running?.killedAfterInterrupt == true
        process = nil
        hello = nil
        if !expected { lastDeath = cause }
        logger.log(level: expected ? .debug : .warning, "kernel process ended: \(cause)")
        exitWaiter?.fulfill(status)
        helloWaiter?.fulfill(
            .failure(KernelError(.startupFailed, "the runner \(status) before it was ready\(detail(diagnostics))")))
        let waiters = replyWaiters
        replyWaiters.removeAll()
        for waiter in waiters.values {
            waiter.resume(throwing: KernelError(.kernelDied, "\(cause)"))
        }
        // Executions the dead process had been given end with it; those that reached a
        // process already dead never ran, and go to the next one.
        let queued = queue.filter { !$0.submittedAfterDeath }
        queue.removeAll { !$0.submittedAfterDeath }
        if let running {
            self.running = nil
            running.result.deathCause = cause
            if running.killedAfterInterrupt {
                running.result.notices.append(
                    "the code did not stop within \(configuration.interruptGrace) of the interrupt, so the kernel was killed; it restarts on next use and its state is lost"
                )
                finish(running, status: running.timedOut ? .timedOut : .cancelled)
            } else if shuttingDown {
                running.result.notices.append("the kernel was shut down while this execution ran")
                finish(running, status: .cancelled)
            } else {
                running.result.notices.append("\(cause); its state is lost")
                finish(running, status: .kernelDied)
            }
        }
        for pending in queued {
            pending.result.deathCause = cause
            pending.result.notices.append("not run: \(cause)")
            finish(pending, status: .kernelDied)
        }
        advanceQueue()
    }

    private func detail(_ diagnostics: String) -> String {
        let trimmed = diagnostics.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? "" : ": \(trimmed.split(separator: "\n").suffix(5).joined(separator: "\n"))"
    }
}

/// An execution the kernel owns until it ends; confined to the kernel actor.
private final class PendingExecution {
    let id: String
    let code: String
    let options: ExecutionOptions
    /// Nil when nobody will iterate the events (`run`): the result alone is collected.
    let events: AsyncStream<ExecutionEvent>.Continuation?
    let completion = SetOnceValue<Result<ExecutionResult, KernelError>>()
    var result: ExecutionResult
    var startedAt: ContinuousClock.Instant?
    var timeoutTask: Task<Void, Never>?
    var escalation: Task<Void, Never>?
    var timedOut = false
    var killedAfterInterrupt = false
    /// Set when its send found the process already dead.
    var submittedAfterDeath = false

    init(id: String, code: String, options: ExecutionOptions, events: AsyncStream<ExecutionEvent>.Continuation?) {
        self.id = id
        self.code = code
        self.options = options
        self.events = events
        self.result = ExecutionResult(id: id, status: .ok)
    }
}
