import Foundation
import LineEditing
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The interactive side of `pyrun attach`: the journal replayed, then everything live, and
/// lines read like `pyrun repl` reads them (the line editor on a terminal; plain lines from a
/// pipe), each complete cell run in the shared session.
actor AttachSession {
    private let target: SessionTarget
    private let label: String
    private let printer: JournalPrinter
    private let interactive: Bool
    private var client: ServeClient?
    private var editor: LineEditor?

    /// The observation's end, once it ended (closed session, lost connection).
    private var observationEnded = false
    /// Set when the replay is complete.
    private var caughtUp = false
    private var caughtUpWaiters: [CheckedContinuation<Void, Never>] = []
    /// Our executions whose `finished` the journal has not shown yet.
    private var awaitedEnds: [String: CheckedContinuation<Void, Never>] = [:]
    private var finishedIDs: Set<String> = []
    /// The cell being run, once accepted.
    private var runningCell: String?
    private var cellInProgress = false
    private var pendingLines: [String] = []
    /// The line being read from a pipe, cancelled when the session ends.
    private var plainRead: Task<String?, Never>?
    /// An `input()` answer being read for our cell.
    private var inputRead: Task<String?, Never>?
    private var historyProblemReported = false
    private var exitStatus: Int32?
    /// Set when leaving: the connection's end is then no news.
    private var detaching = false

    /// Text for the screen while the line editor is in use, written by one task in order.
    private let screenTexts: AsyncStream<String>
    private let screenText: AsyncStream<String>.Continuation
    private let output = OutputSink.standardOutput
    private let errors = OutputSink.standardError

    init(target: SessionTarget, label: String, displayDir: String?) {
        self.target = target
        self.label = label
        self.printer = JournalPrinter(ownClient: label, displays: DisplayWriter(directory: displayDir))
        self.interactive = StandardInput.shared.isTerminal
        (screenTexts, screenText) = AsyncStream.makeStream()
    }

    /// Attaches, runs until Ctrl-D (or end of input, or the session's end), and detaches;
    /// returns the exit status.
    func run() async -> Int32 {
        let client: ServeClient
        do {
            client = try await ServeClient.connect(server: target.server)
        } catch {
            errors.writeLine("pyrun attach: \(error.message)")
            return PyrunExit.usage
        }
        self.client = client
        if interactive {
            editor = LineEditor.forInteractiveSession { [weak self] text, cursor in
                await self?.completions(for: text, cursor: cursor)
            }
            do { try await editor?.loadHistory() } catch { reportHistoryProblem(error) }
        }
        // One task writes to the screen, in the order the text came.
        let screenWriter = Task { [editor, screenTexts] in
            for await text in screenTexts {
                if let editor { await editor.printAbove(text) } else { output.write(text) }
            }
        }
        let interrupts = ProcessSignals.handle([SIGINT]) { _ in Task { await self.interruptPressed() } }
        let terminations = ProcessSignals.handle([SIGTERM, SIGHUP]) { signalNumber in
            Task {
                await client.close()
                exit(128 + signalNumber)
            }
        }
        defer {
            interrupts.cancel()
            terminations.cancel()
        }
        // From the first entry, so a replay that misses dropped ones says how many.
        let watching = Task { await self.watch(from: 1, journal: nil) }
        await waitUntilCaughtUp()
        if !observationEnded {
            note(
                "attached to '\(target.session)' on '\(client.server.name)' as \(label); Ctrl-D detaches, the kernel keeps running"
            )
        }
        while exitStatus == nil, !observationEnded {
            let next = await nextLine()
            // The session's end wakes the read: that is no line of the user's.
            if observationEnded { break }
            switch next {
            case .line(let line): await handle(line)
            case .interrupted:
                pendingLines.removeAll()
                if printer.sessionIsBusy { await interruptSession() } else { output.write("KeyboardInterrupt\n") }
            case .endOfInput:
                if !pendingLines.isEmpty { await runCell(pendingLines.joined(separator: "\n")) }
                exitStatus = PyrunExit.ok
            }
        }
        if observationEnded, exitStatus == nil {
            note("the session ended (the server stopped or the connection was lost)")
            exitStatus = PyrunExit.pythonException
        } else {
            note("detached; the kernel keeps running")
        }
        detaching = true
        watching.cancel()
        await client.close()
        screenText.finish()
        await screenWriter.value
        return exitStatus ?? PyrunExit.ok
    }

    // MARK: - The journal

    /// Shows the journal from `sequence`, following live; re-observes after falling behind.
    private func watch(from sequence: Int?, journal: String?) async {
        guard let client else { return }
        var from = sequence
        var journalID = journal
        while true {
            var resumeFrom: Int?
            for await message in await client.observe(session: target.session, from: from, journal: journalID) {
                switch message {
                case .entry(let entry): show(printer.render(entry), ending: entry)
                case .gap(let gap): show(printer.render(gap), ending: nil)
                case .live(_, let id):
                    journalID = id
                    printer.replaying = false
                    markCaughtUp()
                case .observeEnd(.fellBehind(let resume)):
                    resumeFrom = resume
                case .error(let error) where !detaching:
                    errors.writeLine("pyrun attach: \(error.message)")
                default:
                    break
                }
            }
            guard let resume = resumeFrom, !Task.isCancelled else { break }
            note("this terminal fell behind the session; catching up from #\(resume)")
            from = resume
        }
        observationEnded = true
        markCaughtUp()
        for (_, waiter) in awaitedEnds { waiter.resume() }
        awaitedEnds.removeAll()
        if let editor { _ = await editor.interrupt() }
        plainRead?.cancel()
        inputRead?.cancel()
    }

    private func show(_ pieces: [JournalPrinter.Piece], ending entry: JournalEntry?) {
        write(pieces)
        guard let entry else { return }
        if case .execution(let id, .inputRequest(_, let password)) = entry.event, id == runningCell {
            answerInput(for: id, password: password)
        }
        if case .execution(let id, .finished) = entry.event {
            finishedIDs.insert(id)
            awaitedEnds.removeValue(forKey: id)?.resume()
        }
    }

    private func write(_ pieces: [JournalPrinter.Piece]) {
        guard !pieces.isEmpty else { return }
        if editor != nil {
            // Everything goes above the prompt line, in order, stdout and stderr alike.
            let text = pieces.map { piece -> String in
                switch piece {
                case .output(let text), .errors(let text): text
                }
            }.joined()
            screenText.yield(text)
            return
        }
        for piece in pieces {
            switch piece {
            case .output(let text): output.write(text)
            case .errors(let text): errors.write(text)
            }
        }
    }

    private func note(_ text: String) {
        write([.errors("pyrun: \(text)\n")])
    }

    private func markCaughtUp() {
        caughtUp = true
        let waiters = caughtUpWaiters
        caughtUpWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    private func waitUntilCaughtUp() async {
        guard !caughtUp else { return }
        await withCheckedContinuation { caughtUpWaiters.append($0) }
    }

    // MARK: - Lines

    private static let continuationPrompt = "   ...: "

    private var prompt: String {
        pendingLines.isEmpty ? "In [\(printer.nextExecutionCount)]: " : Self.continuationPrompt
    }

    private func nextLine() async -> LineEditor.Outcome {
        if let editor {
            return await editor.readLine(prompt: prompt, continuationPrompt: Self.continuationPrompt)
        }
        let read = Task { await StandardInput.shared.nextLine() }
        plainRead = read
        defer { plainRead = nil }
        return await read.value.map { .line($0) } ?? .endOfInput
    }

    private func completions(for text: String, cursor: Int) async -> Completions? {
        guard let client, let result = try? await client.complete(session: target.session, code: text, cursor: cursor)
        else { return nil }
        return Completions(result)
    }

    private func handle(_ line: String) async {
        if pendingLines.isEmpty {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return }
            if trimmed.hasPrefix("/") {
                await remember(trimmed)
                await runCommand(trimmed)
                return
            }
        }
        pendingLines.append(line)
        let code = pendingLines.joined(separator: "\n")
        let completeness = (try? await client?.isComplete(session: target.session, code: code + "\n")) ?? .complete
        if case .incomplete = completeness { return }
        if ReplSession.blockAwaitsBlankLine(pendingLines) { return }
        pendingLines.removeAll()
        await remember(code)
        await runCell(code)
    }

    private func remember(_ entry: String) async {
        guard let editor else { return }
        do { try await editor.addHistory(entry.trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
            reportHistoryProblem(error)
        }
    }

    private func reportHistoryProblem(_ error: any Error) {
        guard !historyProblemReported else { return }
        historyProblemReported = true
        errors.writeLine("pyrun: history is not saved: \(error)")
    }

    /// Runs a cell and returns once the journal has shown all of it.
    private func runCell(_ code: String) async {
        guard let client else { return }
        cellInProgress = true
        defer {
            cellInProgress = false
            runningCell = nil
            inputRead?.cancel()
            inputRead = nil
        }
        let execution: RemoteExecution
        do {
            execution = try await client.execute(
                code, session: target.session, client: label, stream: false,
                options: RemoteExecutionOptions(allowStdin: true))
        } catch {
            errors.writeLine("pyrun attach: \(error.message)")
            return
        }
        printer.ownExecutionIDs.insert(execution.id)
        runningCell = execution.id
        // Only `finished` comes this way; the output comes through the journal, and the cell
        // is over once the journal has shown its end.
        let reply = Task { for try await _ in execution {} }
        await waitForJournalEnd(of: execution.id)
        reply.cancel()
    }

    private func waitForJournalEnd(of id: String) async {
        guard !finishedIDs.contains(id), !observationEnded else { return }
        await withCheckedContinuation { awaitedEnds[id] = $0 }
    }

    /// Reads the answer to an `input()` prompt of our running cell and sends it.
    private func answerInput(for id: String, password: Bool) {
        guard let client else { return }
        let session = target.session
        let read = Task { await OneShotRun.readInputLine(password: password) }
        inputRead = read
        Task {
            let answer = await read.value
            await client.sendInput(answer, session: session, executionID: id)
        }
    }

    // MARK: - Ctrl-C

    private func interruptPressed() async {
        // The editor holds the terminal raw, so this came from elsewhere (`kill -INT`).
        if let editor, await editor.interrupt() { return }
        if cellInProgress || printer.sessionIsBusy {
            await interruptSession()
        } else if !interactive {
            pendingLines.removeAll()
        }
    }

    private func interruptSession() async {
        try? await client?.interrupt(session: target.session, client: label)
    }

    // MARK: - Commands

    static let helpText = """
        Session commands:
          /reset      give the session a fresh interpreter (everyone's state is lost)
          /sessions   the server's sessions
          /detach     leave; the kernel keeps running (also Ctrl-D)
          /help       this list
        Ctrl-C interrupts what runs in the session; at the prompt it clears the line.
        """

    private func runCommand(_ line: String) async {
        guard let client else { return }
        switch line.split(separator: " ").first.map(String.init) ?? "" {
        case "/help", "/?":
            output.writeLine(Self.helpText)
        case "/reset":
            do { try await client.reset(session: target.session, client: label) } catch {
                errors.writeLine("pyrun attach: \(error.message)")
            }
        case "/sessions":
            do {
                for status in try await client.sessions() { output.writeLine(status.description) }
            } catch {
                errors.writeLine("pyrun attach: \(error.message)")
            }
        case "/detach":
            exitStatus = PyrunExit.ok
        default:
            errors.writeLine("unknown command \(line); /help lists the session commands")
        }
    }
}
