import Foundation

/// One live kernel that several clients share, with a journal of everything that happens in it.
///
/// Clients submit code with `execute(_:client:options:)`; executions run one at a time in the
/// order they arrived, whoever sent them. Each submitter gets its own execution's events (an
/// `Execution`, as from a kernel or a pool), and every event is also recorded in `journal`,
/// with the input and the client's label, so that everyone can see everything:
/// `journal.observe(from:)` replays what is kept and then follows live. The kernel's life is
/// recorded too: each start with its pid, each death with its cause, resets and interrupts.
/// A kernel that died starts again on the next execution, with fresh state.
///
/// The session is a key of a `KernelPool` (the pool decides the kernel's configuration,
/// limits and lifetime); it does no I/O of its own, so a host can show a person a live,
/// read-only view of an agent's kernel in the same process, and a server can hand the same
/// journal to any number of remote clients.
///
/// ```swift
/// let session = SharedSession(name: "analysis", pool: pool)
/// let watcher = Task { for await item in session.journal.observe() { print(item) } }
/// let result = try await session.run("x = 6 * 7; x", client: "agent")
/// ```
/// Code run on the pool key directly, not through the session, is not recorded.
public actor SharedSession {
    /// The session's name, as clients address it.
    public nonisolated let name: String
    /// The pool key whose kernel the session runs.
    public nonisolated let key: String
    /// Everything that happened, bounded; observe it for a replay and then live entries.
    public nonisolated let journal: SessionJournal

    private let pool: KernelPool
    private let configuration: KernelConfiguration?

    /// Submissions waiting their turn, oldest first.
    private var queue: [Submission] = []
    /// The submission running now.
    private var current: Submission?
    private var executionCounter = 0
    /// The pid of the last kernel process the journal recorded as started.
    private var recordedPID: Int32?
    /// Processes whose end the journal already recorded.
    private var recordedEnds: Set<Int32> = []
    /// Deaths the pool reported while an execution ran: recorded after its own events, unless
    /// its outcome recorded them first.
    private var deferredDeaths: [KernelDeath] = []
    /// The pool's lifecycle events, subscribed at creation.
    private let poolEvents: AsyncStream<PoolEvent>
    /// Reads `poolEvents` from the first execution on.
    private var poolWatch: Task<Void, Never>?
    /// The task running `current`; `close()` waits for it so its last entries are recorded.
    private var performing: Task<Void, Never>?
    private var closed = false

    /// Creates a session on `pool`'s key `key` (the name, if not given). Nothing starts until
    /// the first execution.
    /// - Parameters:
    ///   - name: how clients name the session.
    ///   - pool: the pool that owns the kernel.
    ///   - key: the pool key; defaults to `name`.
    ///   - configuration: the kernel configuration the key must have; nil keeps the pool's default.
    ///   - journalLimits: how much the journal keeps, and how far an observer may lag.
    public init(
        name: String, pool: KernelPool, key: String? = nil, configuration: KernelConfiguration? = nil,
        journalLimits: JournalLimits = JournalLimits()
    ) {
        self.name = name
        self.key = key ?? name
        self.pool = pool
        self.configuration = configuration
        self.journal = SessionJournal(limits: journalLimits)
        // Subscribed now, so no event about the key is missed; read once the kernel is used.
        self.poolEvents = pool.events
    }

    deinit {
        poolWatch?.cancel()
    }

    // MARK: - Running code

    /// Queues `code` from `client` and returns its execution: its events stream to the caller
    /// as they happen (ending with `finished`), and go to the journal too. It runs after every
    /// execution submitted before it, from any client.
    /// - Parameters:
    ///   - code: Python source.
    ///   - client: a label for who sent it, shown to everyone who observes the session.
    ///   - options: timeout, stdin handler and the like; the submitter's `stdinHandler` answers
    ///     `input()`.
    public func execute(_ code: String, client: String, options: ExecutionOptions = ExecutionOptions()) -> Execution {
        executionCounter += 1
        let id = "\(executionCounter)"
        let channel = ExecutionEventChannel()
        let execution = Execution(id: id, channel: channel, collectedOutputLimit: options.collectedOutputLimit) {
            [weak self] in
            await self?.cancel(executionID: id)
        }
        guard !closed else {
            channel.finish(
                ExecutionOutcome(
                    status: .failedToStart,
                    startFailure: KernelError(.shutDown, "the session '\(name)' was closed")))
            return execution
        }
        queue.append(Submission(id: id, code: code, client: client, options: options, channel: channel))
        advance()
        return execution
    }

    /// Runs `code` from `client` and returns everything it produced, collected (see
    /// `ExecutionOptions.collectedOutputLimit`).
    /// - Throws: `KernelError` when the kernel could not be started.
    public func run(_ code: String, client: String, options: ExecutionOptions = ExecutionOptions()) async throws
        -> ExecutionResult
    {
        try await execute(code, client: client, options: options).result()
    }

    /// Interrupts the running execution, whoever submitted it, as Ctrl-C does; the journal
    /// records who asked. Does nothing while nothing runs.
    public func interrupt(client: String) async {
        guard let current else { return }
        journal.append(.interruptRequested(client: client))
        current.interruptRequested = true
        await current.poolExecution?.cancel()
    }

    /// Gives the session a fresh interpreter (what runs is cancelled; what waits runs on the
    /// fresh one). The journal records who asked, and the new process.
    /// - Throws: `KernelError` when the fresh kernel could not be started.
    public func reset(client: String) async throws {
        guard !closed else { return }
        watchPool()
        journal.append(.reset(client: client))
        try await pool.reset(key)
        if let kernel = try? await pool.kernel(for: key, configuration: configuration) {
            await recordProcess(of: kernel)
        }
    }

    /// Completions for `code` at `cursor` (Unicode scalars; nil: the end), from the session's
    /// kernel (started if needed), answered even while code runs; not recorded.
    /// - Throws: `KernelError` when the kernel could not be started or did not answer.
    public func complete(code: String, cursor: Int? = nil) async throws -> CompletionResult {
        try await startedKernel().complete(code: code, cursor: cursor)
    }

    /// Whether `code` is complete in the session's kernel (started if needed); not recorded.
    /// - Throws: `KernelError` when the kernel could not be started or did not answer.
    public func isComplete(code: String) async throws -> CodeCompleteness {
        try await startedKernel().isComplete(code: code)
    }

    /// The session's kernel, started, its process recorded.
    private func startedKernel() async throws -> PythonKernel {
        guard !closed else { throw KernelError(.shutDown, "the session '\(name)' was closed") }
        watchPool()
        let kernel = try await pool.kernel(for: key, configuration: configuration)
        await recordProcess(of: kernel)
        return kernel
    }

    /// Stops the session for good: what waits is cancelled, the kernel is shut down, the
    /// journal records it and closes (observations end after what they were given).
    public func close() async {
        guard !closed else { return }
        closed = true
        let waiting = queue
        queue.removeAll()
        for submission in waiting {
            submission.channel.send(.notice(KernelNotice(.shutDownBeforeStart, key: key)))
            submission.channel.finish(ExecutionOutcome(status: .cancelled))
        }
        await current?.poolExecution?.cancel()
        let outcome = await pool.shutdown(key)
        await performing?.value
        if outcome != .notRunning, let pid = recordedPID, !recordedEnds.contains(pid) {
            recordedEnds.insert(pid)
            journal.append(.kernelStopped(.shutdown))
        }
        poolWatch?.cancel()
        journal.close()
    }

    // MARK: - Status

    /// How the session stands now: its kernel, its queue, its observers, its journal.
    public func status() async -> SessionStatus {
        let listing = await pool.list().first { $0.key == key }
        return SessionStatus(
            name: name, pid: listing?.pid, pythonVersion: listing?.interpreter?.version.description,
            busy: current != nil || !queue.isEmpty, queuedExecutions: queue.count,
            submittedExecutions: executionCounter,
            kernelExecutionCount: listing?.executionCount ?? 0, residentMemoryBytes: listing?.residentMemoryBytes,
            startedAt: listing?.startedAt, journal: journal.status)
    }

    // MARK: - The queue

    /// Starts the next submission if none runs.
    private func advance() {
        guard current == nil, !queue.isEmpty else { return }
        watchPool()
        let next = queue.removeFirst()
        current = next
        performing = Task { await self.perform(next) }
    }

    /// Runs one submission to its end, recording everything.
    private func perform(_ submission: Submission) async {
        defer {
            current = nil
            advance()
        }
        let kernel: PythonKernel
        do {
            kernel = try await pool.kernel(for: key, configuration: configuration)
        } catch {
            let failure = error as? KernelError ?? KernelError(.startupFailed, "\(error)")
            journal.append(.input(executionID: submission.id, code: submission.code, client: submission.client))
            let outcome = ExecutionOutcome(status: .failedToStart, startFailure: failure)
            journal.append(.execution(executionID: submission.id, .finished(outcome)))
            submission.channel.finish(outcome)
            return
        }
        // Before the code is sent, while the process is surely up; and again after, in case
        // the pool had to start another.
        await recordProcess(of: kernel)
        let execution = await pool.execute(
            submission.code, key: key, configuration: configuration, options: submission.options)
        submission.poolExecution = execution
        await recordProcess(of: kernel)
        journal.append(.input(executionID: submission.id, code: submission.code, client: submission.client))
        if submission.cancelRequested || submission.interruptRequested { await execution.cancel() }
        let outcome = await Self.forward(
            execution, executionID: submission.id, to: submission.channel, journal: journal)
        if let death = outcome.death { recordEnd(death) }
        for death in deferredDeaths { recordEnd(death) }
        deferredDeaths.removeAll()
        journal.append(.execution(executionID: submission.id, .finished(outcome)))
        submission.channel.finish(outcome)
    }

    /// Passes the pool execution's events to the submitter and the journal, all but `finished`,
    /// whose outcome it returns. A submitter that reads slowly holds the kernel back (it is its
    /// own output); observers never do.
    private nonisolated static func forward(
        _ execution: Execution, executionID: String, to channel: ExecutionEventChannel, journal: SessionJournal
    ) async -> ExecutionOutcome {
        for await event in execution {
            if case .finished(let outcome) = event { return outcome }
            journal.append(.execution(executionID: executionID, event))
            if channel.send(event) { await channel.waitForSpace() }
        }
        return await execution.outcome()
    }

    /// Interrupts the submission if it runs; withdraws it if it waits.
    private func cancel(executionID id: String) async {
        if let current, current.id == id {
            current.cancelRequested = true
            journal.append(.interruptRequested(client: current.client))
            await current.poolExecution?.cancel()
        } else if let index = queue.firstIndex(where: { $0.id == id }) {
            let submission = queue.remove(at: index)
            submission.channel.send(.notice(KernelNotice(.cancelledBeforeStart, key: key)))
            submission.channel.finish(ExecutionOutcome(status: .cancelled))
        }
    }

    // MARK: - The kernel's life

    /// Records a process of `kernel` that the journal has not seen: the end of the one
    /// before (if the kernel knows how it ended), then the start of this one.
    private func recordProcess(of kernel: PythonKernel) async {
        let hello = await kernel.hello
        let lastDeath = await kernel.lastDeath
        guard let hello, hello.pid != recordedPID else { return }
        if let lastDeath, lastDeath.processID == recordedPID { recordEnd(lastDeath) }
        let previous = recordedPID
        recordedPID = hello.pid
        journal.append(.kernelStarted(hello, previousPID: previous))
    }

    /// Starts reading the pool's events about the key, once.
    private func watchPool() {
        guard poolWatch == nil else { return }
        let events = poolEvents
        let key = self.key
        poolWatch = Task { [weak self] in
            for await event in events where event.key == key {
                guard let self else { return }
                await self.poolEvent(event)
            }
        }
    }

    /// Records how a process ended, once per process.
    private func recordEnd(_ death: KernelDeath) {
        guard recordedEnds.insert(death.processID).inserted else { return }
        journal.append(.kernelDied(death))
    }

    /// What the pool says about the key: a death while idle is recorded at once; one while
    /// an execution runs waits for that execution's own events.
    private func poolEvent(_ event: PoolEvent) {
        switch event.kind {
        case .died(let death):
            if current != nil {
                deferredDeaths.append(death)
            } else {
                recordEnd(death)
            }
        case .evicted: recordStop(.eviction)
        case .culled: recordStop(.idleCull)
        case .shutDown: if !closed { recordStop(.shutdown) }
        case .started, .restarted, .templateUnavailable: break  // recorded when the session next uses the kernel
        }
    }

    private func recordStop(_ reason: KernelDeath.StopReason) {
        guard let pid = recordedPID, recordedEnds.insert(pid).inserted else { return }
        journal.append(.kernelStopped(reason))
    }
}

/// One execution submitted to a shared session; confined to the session actor.
private final class Submission {
    let id: String
    let code: String
    let client: String
    let options: ExecutionOptions
    let channel: ExecutionEventChannel
    /// The pool's execution, once the code was handed over.
    var poolExecution: Execution?
    /// The submitter cancelled it before the pool had it.
    var cancelRequested = false
    /// Someone interrupted it before the pool had it.
    var interruptRequested = false

    init(id: String, code: String, client: String, options: ExecutionOptions, channel: ExecutionEventChannel) {
        self.id = id
        self.code = code
        self.client = client
        self.options = options
        self.channel = channel
    }
}
