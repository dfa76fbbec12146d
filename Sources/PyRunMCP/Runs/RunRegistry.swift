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
    private var runCounter = 0

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

    /// Starts a run on the session, unless the session already has one going.
    ///
    /// The session counts as busy from the moment this is called, before `launch` is awaited,
    /// so two calls that race for a free session never both submit code: the second is told
    /// `busy` with the first's run id, and its `launch` is never called.
    /// - Parameters:
    ///   - generation: the session's interpreter number, for the report.
    ///   - launch: submits the code and returns its running execution.
    /// - Throws: `RunRegistryError` when the output file cannot be created, or what `launch`
    ///   throws (the run is then forgotten).
    public func start(
        session: String, generation: Int, launch: @Sendable () async throws -> any RunningExecution
    ) async throws -> StartOutcome {
        if let running = runningRun(in: session) { return .busy(runID: running) }
        runCounter += 1
        let id = "r\(runCounter)"
        let spool = try OutputSpool(
            path: "\(configuration.directory)/\(id).txt", maximumBytes: configuration.maximumFileBytes)
        let record = RunRecord(id: id, session: session, generation: generation, spool: spool, configuration: configuration)
        runs[id] = record
        order.append(id)
        let execution: any RunningExecution
        do {
            execution = try await launch()
        } catch {
            runs[id] = nil
            order.removeAll { $0 == id }
            record.deleteFiles()
            throw error
        }
        let interruptedMeanwhile = record.attach(execution)
        let events = execution.events()
        Task {
            for await event in events { self.handle(event, for: id) }
            self.handleEndOfEvents(for: id)
        }
        if interruptedMeanwhile { await execution.interrupt() }
        forgetOldRuns()
        return .started(runID: id)
    }

    /// Starts a run whose execution already exists (see `start(session:generation:launch:)`).
    public func start(session: String, generation: Int, execution: some RunningExecution) async throws -> StartOutcome {
        try await start(session: session, generation: generation, launch: { execution })
    }

    /// Waits until the run ends or `timeout` passes, then returns its state and what it
    /// produced since the last look (which this look then counts as seen).
    /// - Throws: `RunRegistryError` for an unknown run id.
    public func wait(for runID: String, atMost timeout: Duration) async throws(RunRegistryError) -> RunSnapshot {
        let completion = try record(runID).completion
        _ = await completion.wait(atMost: timeout)
        return try record(runID).look()
    }

    /// The run the session is busy with, if any.
    public func runningRun(in session: String) -> String? {
        order.last { runs[$0]?.session == session && runs[$0]?.outcome == nil }
    }

    /// Interrupts a run that is still going (its events then end with the outcome); a run
    /// still being launched is interrupted as soon as it has started.
    public func interrupt(_ runID: String) async throws(RunRegistryError) {
        let record = try record(runID)
        guard record.outcome == nil else { return }
        guard let execution = record.execution else {
            record.interruptWhenAttached = true
            return
        }
        await execution.interrupt()
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
        runs[id]?.handle(event)
    }

    private func handleEndOfEvents(for id: String) {
        guard let record = runs[id], record.outcome == nil else { return }
        record.handle(
            .notice(
                .init(
                    kind: "lost_track", stateLost: false,
                    message: "the server lost track of this run: its events ended without an outcome")))
        record.handle(.finished(RunOutcome(status: .died)))
    }

    private func record(_ runID: String) throws(RunRegistryError) -> RunRecord {
        guard let record = runs[runID] else {
            throw RunRegistryError(.unknownRun, "no run \(runID) (it never existed, or it is too old and was forgotten)")
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
