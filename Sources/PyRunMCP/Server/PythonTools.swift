import Foundation
import PyRunKit

/// Sends one progress notification for the call being served: progress so far (seconds
/// elapsed) and a message.
typealias ProgressSink = @Sendable (_ progress: Double, _ message: String) async -> Void

/// What each tool does, over the pool (one key per session), the run registry and the
/// session generations. `ToolCallRouter` brings the calls; this holds no protocol code.
struct PythonTools: Sendable {
    let pool: KernelPool
    /// The sessions as a console sees them (`pyrun mcp --http`): code runs through them, so
    /// their journals show it; nil runs it on the pool directly.
    let sessions: SessionHost?
    let registry: RunRegistry
    let generations: SessionGenerations
    let limits: ToolCatalog.Limits
    /// How long an interrupted run may take to end before the kernel kills it.
    let interruptGrace: Duration
    /// Seconds between progress notifications.
    var progressInterval: Duration = .seconds(2)

    /// Serves one `tools/call`.
    /// - Throws: `JSONRPCError` for a tool that does not exist, and `CancellationError` when
    ///   the client cancelled the call (no reply is then sent).
    func call(_ name: String, _ arguments: [String: JSONValue]?, progress: ProgressSink?) async throws -> ToolResult {
        guard let tool = ToolCatalog.Name(rawValue: name) else {
            let known = ToolCatalog.Name.allCases.map(\.rawValue).joined(separator: ", ")
            throw JSONRPCError(.invalidParams, "Unknown tool: \(name) (this server has \(known))")
        }
        do {
            switch tool {
            case .python: return try await python(arguments, progress: progress)
            case .pythonWait: return try await pythonWait(arguments, progress: progress)
            case .pythonInterrupt: return try await pythonInterrupt(arguments)
            case .pythonSessions: return try await pythonSessions(arguments)
            case .pythonOutput: return try await pythonOutput(arguments)
            }
        } catch let error as ToolCallError {
            return ToolReply.failure(error.message)
        } catch let error as RunRegistryError {
            return ToolReply.failure(error.message)
        } catch let error as KernelError {
            return ToolReply.failure("pyrun could not do that: \(error.message)")
        } catch let error as ServeError {
            return ToolReply.failure("pyrun could not do that: \(error.message)")
        }
    }

    // MARK: - python

    private func python(_ values: [String: JSONValue]?, progress: ProgressSink?) async throws -> ToolResult {
        let arguments = try ToolArguments(
            values, tool: "python", allowed: ["code", "session", "timeout_s", "wait_s", "reset"])
        let code = try arguments.requiredString("code")
        let session = try arguments.session()
        let timeout =
            try arguments.number("timeout_s", in: 0...limits.maximumTimeoutSeconds, excludingLowerBound: true)
            ?? limits.defaultTimeoutSeconds
        let wait = try arguments.number("wait_s", in: 0...limits.maximumWaitSeconds) ?? limits.defaultWaitSeconds
        let reset = try arguments.bool("reset") ?? false

        // Set within the client's cancellation itself, before the router reads its next call.
        let cancellation = CallCancellation()
        return try await withTaskCancellationHandler {
            try await python(
                code, in: session, timeout: timeout, wait: wait, reset: reset, progress: progress,
                cancellation: cancellation)
        } onCancel: {
            cancellation.set()
        }
    }

    /// The `python` tool once its arguments are read.
    private func python(
        _ code: String, in session: String, timeout: Double, wait: Double, reset: Bool, progress: ProgressSink?,
        cancellation: CallCancellation
    ) async throws -> ToolResult {
        try Task.checkCancellation()
        var started = try await start(code, in: session, timeout: timeout, reset: reset, cancellation: cancellation)
        if case .busy(let running) = started, await registry.isBeingInterrupted(running) {
            // The session is only busy until a run that was told to stop (a cancelled call,
            // python_interrupt) ends, which the kernel bounds: wait for that, not for code
            // that is still meant to run.
            _ = try await registry.outcome(of: running, waitingAtMost: interruptGrace + .seconds(10))
            try Task.checkCancellation()
            started = try await start(code, in: session, timeout: timeout, reset: reset, cancellation: cancellation)
        }
        switch started {
        case .busy(let running):
            let report = ExecutionReport(
                status: .busy, session: session, runID: running, generation: await generations.generation(of: session),
                durationSeconds: 0)
            return try ToolReply.execution(RunSnapshot(report: report, inlineImages: []))
        case .started(let runID):
            return try ToolReply.execution(try await follow(runID, in: session, waiting: wait, progress: progress))
        }
    }

    /// Starts `code` on the session's kernel unless the session is busy.
    private func start(
        _ code: String, in session: String, timeout: Double, reset: Bool, cancellation: CallCancellation
    ) async throws -> RunRegistry.StartOutcome {
        let pool = self.pool
        let sessions = self.sessions
        let generations = self.generations
        let options = ExecutionOptions(timeout: .milliseconds(Int64((timeout * 1000).rounded(.up))))
        return try await registry.start(session: session, cancellation: cancellation) {
            let execution: Execution
            if let shared = try await sessions?.session(named: session) {
                if reset { try await shared.reset(client: MCPConsole.agentLabel) }
                execution = await shared.execute(code, client: MCPConsole.agentLabel, options: options)
            } else {
                if reset { try await pool.reset(session) }
                execution = await pool.execute(code, key: session, options: options)
            }
            let generation = await generations.observe(await pool.processID(of: session), in: session)
            return RunRegistry.Launch(execution: PoolRun(execution, session: session), generation: generation)
        }
    }

    // MARK: - python_wait

    private func pythonWait(_ values: [String: JSONValue]?, progress: ProgressSink?) async throws -> ToolResult {
        let arguments = try ToolArguments(values, tool: "python_wait", allowed: ["run_id", "wait_s"])
        let runID = try arguments.requiredString("run_id")
        let wait = try arguments.number("wait_s", in: 0...limits.maximumWaitSeconds) ?? limits.defaultWaitSeconds
        let session = try await registry.session(of: runID)
        return try ToolReply.execution(try await follow(runID, in: session, waiting: wait, progress: progress))
    }

    /// Waits for the run to end, at most `seconds`, sending progress meanwhile if asked, and
    /// returns what it produced since the last look. If the client cancels the call, the
    /// run is interrupted (its state is kept when the code stops; the session's next reply
    /// says how it ended) and `CancellationError` is thrown.
    private func follow(_ runID: String, in session: String, waiting seconds: Double, progress: ProgressSink?)
        async throws -> RunSnapshot
    {
        let registry = self.registry
        let snapshot = try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                if let progress {
                    group.addTask { await reportProgress(of: runID, to: progress) }
                }
                defer { group.cancelAll() }
                return try await registry.wait(for: runID, atMost: .milliseconds(Int64((seconds * 1000).rounded())))
            }
        } onCancel: {
            Task { try? await registry.interrupt(runID, by: .clientCancellation) }
        }
        try Task.checkCancellation()
        return snapshot
    }

    /// Every `progressInterval` until cancelled: the time the call has waited, and the
    /// run's latest output line.
    private func reportProgress(of runID: String, to progress: ProgressSink) async {
        let clock = ContinuousClock()
        let start = clock.now
        while true {
            do {
                try await Task.sleep(for: progressInterval)
            } catch {
                return
            }
            let elapsed = (clock.now - start).seconds
            var message = "running for \(Int(elapsed.rounded())) s"
            if let line = try? await registry.latestLine(of: runID) {
                let shown = line.count > 200 ? line.prefix(200) + "…" : Substring(line)
                message += "; last output: \(shown)"
            }
            guard !Task.isCancelled else { return }
            await progress(elapsed, message)
        }
    }

    // MARK: - python_interrupt

    private func pythonInterrupt(_ values: [String: JSONValue]?) async throws -> ToolResult {
        let arguments = try ToolArguments(values, tool: "python_interrupt", allowed: ["session"])
        let session = try arguments.session()
        guard let runID = await registry.runningRun(in: session) else {
            return try ToolReply.interrupt(
                InterruptReport(
                    session: session, outcome: .nothingRunning, stateKept: true,
                    message: "nothing is running in session \"\(session)\"; nothing was interrupted"))
        }
        try await registry.interrupt(runID)
        // The kernel kills code that ignores the interrupt after its grace, so the end comes.
        let outcome = try await registry.outcome(of: runID, waitingAtMost: interruptGrace + .seconds(10))
        let output = "python_wait(run_id: \"\(runID)\") returns the run's last output"
        let report: InterruptReport
        switch outcome.map({ $0.interpreterEnded ? .died : $0.status }) {
        case nil:
            report = InterruptReport(
                session: session, outcome: .stillRunning, stateKept: true, runID: runID,
                message:
                    "interrupted run \(runID) in session \"\(session)\", but it has not ended yet; \(output) when it does"
            )
        case .interrupted?, .timeout?:
            report = InterruptReport(
                session: session, outcome: .interrupted, stateKept: true, runID: runID,
                message:
                    "run \(runID) in session \"\(session)\" stopped on KeyboardInterrupt; the session's state is kept; \(output)"
            )
        case .died?:
            report = InterruptReport(
                session: session, outcome: .restarted, stateKept: false, runID: runID,
                message:
                    "run \(runID) in session \"\(session)\" did not stop within \(ExecutionReport.formatSeconds(interruptGrace.seconds)) of the interrupt, so its interpreter was ended: the session's state is lost and the next call starts a fresh interpreter; \(output)"
            )
        case let status?:
            report = InterruptReport(
                session: session, outcome: .finished, stateKept: true, runID: runID,
                message:
                    "run \(runID) in session \"\(session)\" ended (\(status.rawValue)) without stopping on KeyboardInterrupt: it finished before the interrupt arrived, or the code caught the KeyboardInterrupt; the session's state is kept; \(output)"
            )
        }
        return try ToolReply.interrupt(report)
    }

    // MARK: - python_sessions

    private func pythonSessions(_ values: [String: JSONValue]?) async throws -> ToolResult {
        let arguments = try ToolArguments(values, tool: "python_sessions", allowed: ["action", "session"])
        let actionName = try arguments.string("action") ?? SessionsReport.Action.list.rawValue
        guard let action = SessionsReport.Action(rawValue: actionName) else {
            throw ToolCallError("action must be list, reset or close; got \(String(reflecting: actionName))")
        }
        var message: String?
        if action != .list {
            guard try arguments.string("session") != nil else {
                throw ToolCallError(
                    "python_sessions(action: \"\(action.rawValue)\") needs the session to \(action.rawValue)")
            }
            let session = try arguments.session()
            guard await pool.keys.contains(session) else {
                let live = await pool.keys.map { "\"\($0)\"" }.joined(separator: ", ")
                throw ToolCallError("there is no session \"\(session)\" (running: \(live.isEmpty ? "none" : live))")
            }
            let running = await registry.runningRun(in: session)
            let stopped = running.map { "; the call \($0) that was running was stopped" } ?? ""
            switch action {
            case .reset:
                if let shared = try await sessions?.session(named: session) {
                    try await shared.reset(client: MCPConsole.agentLabel)
                } else {
                    try await pool.reset(session)
                }
                let generation = await generations.observe(await pool.processID(of: session), in: session)
                message =
                    "session \"\(session)\" was reset: a fresh interpreter (generation \(generation)); earlier state is gone\(stopped)"
            case .close:
                await pool.shutdown(session)
                message =
                    "session \"\(session)\" was closed: its interpreter ended; the next call on it starts a fresh one\(stopped)"
            case .list:
                break
            }
        }
        return try ToolReply.sessions(SessionsReport(action: action, sessions: await listSessions(), message: message))
    }

    private func listSessions() async -> [SessionsReport.Session] {
        var sessions: [SessionsReport.Session] = []
        let now = Date()
        for listing in await pool.list() {
            let running = await registry.runningRun(in: listing.key)
            let busy = listing.busy || running != nil
            // No process but a call under way: the call is waiting for the interpreter's start.
            let status: SessionsReport.Session.Status =
                switch (listing.pid, busy) {
                case (nil, true): .starting
                case (nil, false): .dead
                case (_, true): .busy
                case (_, false): .idle
                }
            sessions.append(
                SessionsReport.Session(
                    session: listing.key, status: status, pid: listing.pid.map(Int.init),
                    interpreter: listing.interpreter?.executable,
                    pythonVersion: listing.interpreter.map { "\($0.version)" }, cwd: listing.workingDirectory,
                    generation: await generations.observe(listing.pid, in: listing.key),
                    executionCount: listing.executionCount, memoryBytes: listing.residentMemoryBytes,
                    idleSeconds: busy ? 0 : max(0, now.timeIntervalSince(listing.lastUsed)), runningRunID: running))
        }
        return sessions
    }

    // MARK: - python_output

    private func pythonOutput(_ values: [String: JSONValue]?) async throws -> ToolResult {
        let arguments = try ToolArguments(
            values, tool: "python_output", allowed: ["run_id", "offset", "limit", "grep"])
        let runID = try arguments.requiredString("run_id")
        let offset = try arguments.integer("offset", in: 0...Int.max) ?? 0
        let limit = try arguments.integer("limit", in: 1...limits.maximumPageLines) ?? limits.defaultPageLines
        let grep = try arguments.string("grep")
        return try ToolReply.output(try await registry.page(of: runID, offset: offset, limit: limit, grep: grep))
    }
}
