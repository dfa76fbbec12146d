import Foundation
import PyRunKit

/// An image to send as MCP image content.
public struct InlineImage: Sendable, Hashable {
    public var mimeType: String
    /// The image, base64-encoded as MCP image content carries it.
    public var base64: String
}

/// One look at a run: its state and what it produced since the previous look.
public struct RunSnapshot: Sendable, Hashable {
    public var report: ExecutionReport
    /// The images of `report.images` that are `inline`, in the same order.
    public var inlineImages: [InlineImage]
}

/// Every run the server started, by run id: running or finished, what each produced since the
/// model last looked, and its whole output in a file under the server's run directory.
///
/// A run is anything that gives `RunEvent`s (see `RunningExecution`); the registry consumes
/// them as they come. Memory stays bounded whatever a run prints: per stream it keeps only
/// the start and the end of what the model has not seen (`OutputWindow`), a line is at most
/// 64 Ki characters, unseen images beyond what one reply sends inline go to files at once,
/// and only the newest `maximumRuns` runs are remembered (older finished ones are forgotten
/// and their files deleted).
public actor RunRegistry {
    public struct Configuration: Sendable {
        /// Where output files and saved images go (created if missing, owner-only).
        public var directory: String
        /// How much output one reply shows.
        public var budget: OutputBudget
        /// Applied to everything a run produces before it is stored or shown.
        public var redactor: SecretRedactor
        /// Runs remembered; older finished runs are forgotten.
        public var maximumRuns = 100
        /// The largest output file per run.
        public var maximumFileBytes = 256 << 20
        /// Images one reply carries inline, and the largest decoded size of one.
        public var maximumInlineImages = 4
        public var maximumInlineImageBytes = 1 << 20

        public init(directory: String, budget: OutputBudget = OutputBudget(), redactor: SecretRedactor) {
            self.directory = directory
            self.budget = budget
            self.redactor = redactor
        }
    }

    /// What `start` did.
    public enum StartOutcome: Sendable, Hashable {
        case started(runID: String)
        /// The session already runs this run; nothing was started.
        case busy(runID: String)
    }

    public nonisolated let configuration: Configuration
    private var runs: [String: RunRecord] = [:]
    /// Run ids in the order they started.
    private var order: [String] = []
    /// The run each busy session runs (from the moment it is being launched until it ends).
    private var running: [String: String] = [:]
    private var runCounter = 0
    /// What each session's next run must say first (how a run whose call was cancelled ended).
    private var sessionNotices: [String: [ExecutionReport.Notice]] = [:]

    /// - Throws: `RunRegistryError` when the directory cannot be created.
    public init(configuration: Configuration) throws(RunRegistryError) {
        self.configuration = configuration
        do {
            try FileManager.default.createDirectory(
                atPath: configuration.directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw RunRegistryError(.storage, "cannot create the run directory \(configuration.directory): \(error)")
        }
    }

    // MARK: - Starting and looking

    /// A run just launched: its execution, and the number of the session's interpreter it
    /// runs in (known only once the launch has found or started that interpreter).
    public struct Launch: Sendable {
        public var execution: any RunningExecution
        public var generation: Int

        public init(execution: any RunningExecution, generation: Int) {
            self.execution = execution
            self.generation = generation
        }
    }

    /// Starts a run on the session, unless the session already has one going, and returns
    /// at once: the launch (finding or starting the session's interpreter, which a slow
    /// prelude can make long) goes on in the background, so a caller's `wait(for:atMost:)`
    /// bounds it like the code's own run time.
    ///
    /// The session counts as busy from the moment this is called, so two calls that race for
    /// a free session never both submit code: the second is told `busy` with the first's run
    /// id, and its `launch` is never called. A launch that throws ends the run as an `error`
    /// whose reason is its `startFailure`, and frees the session.
    /// - Parameters:
    ///   - launch: submits the code and returns its running execution and generation.
    /// - Throws: `RunRegistryError` when the output file cannot be created.
    public func start(session: String, launch: @escaping @Sendable () async throws -> Launch) throws(RunRegistryError)
        -> StartOutcome
    {
        try start(session: session, cancellation: nil, launch: launch)
    }

    /// `start(session:launch:)` for a call the client may cancel: once `cancellation` is
    /// set, the run counts as being interrupted (`isBeingInterrupted`).
    func start(
        session: String, cancellation: CallCancellation?, launch: @escaping @Sendable () async throws -> Launch
    ) throws(RunRegistryError) -> StartOutcome {
        if let running = runningRun(in: session) { return .busy(runID: running) }
        runCounter += 1
        let id = "r\(runCounter)"
        let spool = try OutputSpool(
            path: "\(configuration.directory)/\(id).txt", maximumBytes: configuration.maximumFileBytes)
        let record = RunRecord(id: id, session: session, generation: 0, spool: spool, configuration: configuration)
        record.ownerCancellation = cancellation
        for notice in sessionNotices.removeValue(forKey: session) ?? [] { record.handle(.notice(notice)) }
        runs[id] = record
        order.append(id)
        running[session] = id
        Task { await self.launch(id, with: launch) }
        forgetOldRuns()
        return .started(runID: id)
    }

    /// Awaits the launch, then feeds the run its execution's events until they end.
    private func launch(_ id: String, with launch: @Sendable () async throws -> Launch) async {
        let launched: Launch
        do {
            launched = try await launch()
        } catch {
            handle(.finished(RunOutcome(status: .error, startFailure: "\(error)")), for: id)
            return
        }
        guard let record = runs[id] else { return }
        let execution = launched.execution
        record.generation = launched.generation
        let interruptedMeanwhile = record.attach(execution)
        let events = execution.events()
        if interruptedMeanwhile { await execution.interrupt() }
        for await event in events { handle(event, for: id) }
        handleEndOfEvents(for: id)
    }

    /// Starts a run on a session whose generation is known beforehand (see
    /// `start(session:launch:)`).
    public func start(
        session: String, generation: Int, launch: @escaping @Sendable () async throws -> any RunningExecution
    ) throws(RunRegistryError) -> StartOutcome {
        try start(session: session) { Launch(execution: try await launch(), generation: generation) }
    }

    /// Starts a run whose execution already exists (see `start(session:launch:)`).
    public func start(session: String, generation: Int, execution: some RunningExecution) throws(RunRegistryError)
        -> StartOutcome
    {
        try start(session: session, generation: generation, launch: { execution })
    }

    /// Waits until the run ends or `timeout` passes, then returns its state and what it
    /// produced since the last look (which this look then counts as seen).
    /// - Throws: `RunRegistryError` for an unknown run id.
    public func wait(for runID: String, atMost timeout: Duration) async throws(RunRegistryError) -> RunSnapshot {
        let completion = try record(runID).completion
        _ = await completion.wait(atMost: timeout)
        return try record(runID).look()
    }

    /// Waits until the run ends or `timeout` passes, without taking anything the model has
    /// not seen: the outcome, or nil while it still runs.
    /// - Throws: `RunRegistryError` for an unknown run id.
    public func outcome(of runID: String, waitingAtMost timeout: Duration = .zero) async throws(RunRegistryError)
        -> RunOutcome?
    {
        let completion = try record(runID).completion
        if timeout > .zero { _ = await completion.wait(atMost: timeout) }
        return try record(runID).outcome
    }

    /// The session a run belongs to.
    /// - Throws: `RunRegistryError` for an unknown run id.
    public func session(of runID: String) throws(RunRegistryError) -> String {
        try record(runID).session
    }

    /// The line the run's code is writing now, or else the last one it wrote (redacted, as
    /// the terminal shows it); nil before any output. For progress messages.
    /// - Throws: `RunRegistryError` for an unknown run id.
    public func latestLine(of runID: String) throws(RunRegistryError) -> String? {
        try record(runID).latestLine
    }

    /// The run the session is busy with, if any.
    public func runningRun(in session: String) -> String? {
        running[session]
    }

    /// Who asked for an interrupt.
    public enum InterruptRequester: Sendable, Hashable {
        /// The model, with `python_interrupt`.
        case model
        /// The client cancelled the call that waited for the run: nobody sees its outcome, so
        /// the session's next run starts with a notice that says how it ended.
        case clientCancellation
    }

    /// Interrupts a run that is still going (its events then end with the outcome); a run
    /// still being launched is interrupted as soon as it has started.
    /// - Throws: `RunRegistryError` for an unknown run id.
    public func interrupt(_ runID: String, by requester: InterruptRequester = .model) async throws(RunRegistryError) {
        let record = try record(runID)
        guard record.outcome == nil else { return }
        record.interruptRequested = true
        if requester == .clientCancellation { record.cancelledByClient = true }
        guard let execution = record.execution else {
            record.interruptWhenAttached = true
            return
        }
        await execution.interrupt()
    }

    /// Whether an interrupt was sent to the run and it has not ended yet.
    public func isBeingInterrupted(_ runID: String) -> Bool {
        guard let record = runs[runID] else { return false }
        return (record.interruptRequested || record.ownerCancellation?.isSet == true) && record.outcome == nil
    }

    /// Waits until every run has ended (for shutdown, after the kernels were told to stop).
    public func waitUntilAllFinished() async {
        for id in order {
            if let completion = runs[id]?.completion { _ = await completion.wait(atMost: .seconds(3600)) }
        }
    }

    // MARK: - Paging

    /// A page of the run's whole output, by line; with `grep`, of the lines that match.
    /// - Throws: `RunRegistryError` for an unknown run, a bad pattern or an unreadable file.
    public func page(of runID: String, offset: Int = 0, limit: Int = 200, grep: String? = nil) throws(RunRegistryError)
        -> OutputPage
    {
        let record = try record(runID)
        guard offset >= 0, limit >= 1 else {
            throw RunRegistryError(.invalidArgument, "offset must be 0 or more and limit 1 or more")
        }
        let pattern: Regex<AnyRegexOutput>?
        do {
            pattern = try grep.map { try Regex($0) }
        } catch {
            throw RunRegistryError(.invalidPattern, "grep is not a valid regular expression: \(error)")
        }
        let maximumLine = 2_000
        var room = configuration.budget.limit
        var lines: [OutputPage.Line] = []
        var shortened: [Int] = []
        var matched = 0
        var nextOffset: Int?
        try record.spool.forEachLine(from: pattern == nil ? offset + 1 : 1) { number, text in
            if let pattern {
                guard text.contains(pattern) else { return true }
                matched += 1
                if matched <= offset { return true }
            }
            let index = pattern == nil ? number - 1 : matched - 1
            if lines.count == limit || room <= 0 {
                nextOffset = nextOffset ?? index
                return pattern != nil  // with grep, go on counting matches
            }
            var shown = text
            if text.unicodeScalars.count > min(maximumLine, max(room, 80)) {
                shown = OutputBudget.prefix(of: text, atMost: min(maximumLine, max(room, 80)))
                shortened.append(number)
            }
            room -= shown.unicodeScalars.count + 1
            lines.append(OutputPage.Line(number: number, text: String(shown)))
            return true
        }
        return OutputPage(
            runID: runID, running: record.outcome == nil, offset: offset, lines: lines,
            totalLines: record.spool.writtenLines, matchingLines: pattern == nil ? nil : matched,
            nextOffset: nextOffset, shortenedLines: shortened, path: record.spool.path)
    }

    // MARK: - Events

    private func handle(_ event: RunEvent, for id: String) {
        guard let record = runs[id] else { return }
        record.handle(event)
        guard case .finished(let outcome) = event else { return }
        if running[record.session] == id { running[record.session] = nil }
        if record.cancelledByClient {
            sessionNotices[record.session, default: []].append(Self.cancellationNotice(runID: id, outcome: outcome))
        }
    }

    /// What the session's next reply says about a run whose call the client cancelled.
    private static func cancellationNotice(runID: String, outcome: RunOutcome) -> ExecutionReport.Notice {
        let call = "the previous call (run \(runID)) was cancelled by the client"
        let output = "its output: python_output(run_id: \"\(runID)\")"
        let message: String
        switch outcome.interpreterEnded ? .died : outcome.status {
        case .interrupted, .timeout:
            message = "\(call) and stopped on KeyboardInterrupt; the session's state is kept; \(output)"
        case .died:
            message =
                "\(call); the code did not stop when interrupted, so its interpreter was ended (see the next notice); \(output)"
        case .ok, .error, .running, .busy:
            message =
                "\(call), but the code ended (\(outcome.status.rawValue)) without stopping on KeyboardInterrupt: it finished first, or caught it; \(output)"
        }
        return ExecutionReport.Notice(kind: "cancelled", stateLost: false, message: message)
    }

    private func handleEndOfEvents(for id: String) {
        guard let record = runs[id], record.outcome == nil else { return }
        record.handle(
            .notice(
                .init(
                    kind: "lost_track", stateLost: false,
                    message: "the server lost track of this run: its events ended without an outcome")))
        handle(.finished(RunOutcome(status: .died)), for: id)
    }

    private func record(_ runID: String) throws(RunRegistryError) -> RunRecord {
        guard let record = runs[runID] else {
            throw RunRegistryError(
                .unknownRun, "no run \(runID) (it never existed, or it is too old and was forgotten)")
        }
        return record
    }

    /// Forgets the oldest finished runs past `maximumRuns`, and deletes their files.
    private func forgetOldRuns() {
        var excess = order.count - configuration.maximumRuns
        guard excess > 0 else { return }
        order.removeAll { id in
            guard excess > 0, let record = runs[id], record.outcome != nil else { return false }
            excess -= 1
            runs[id] = nil
            record.deleteFiles()
            return true
        }
    }
}
