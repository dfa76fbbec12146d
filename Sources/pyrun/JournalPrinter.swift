import PyRunKit

/// Turns a shared session's journal into text for a person at a terminal, as `pyrun attach`
/// shows it: every client's input marked with who sent it, the output as python prints it,
/// and the kernel's life (starts, deaths and their cause, resets, interrupts) as `pyrun:` lines.
final class JournalPrinter {
    /// A piece of text and the stream it belongs on.
    enum Piece: Equatable {
        case output(String)
        case errors(String)
    }

    /// This client's label: its own inputs are not repeated while live (the terminal shows
    /// them as typed).
    let ownClient: String
    /// Executions this client submitted.
    var ownExecutionIDs: Set<String> = []
    /// True until the replay is complete.
    var replaying = true
    /// The execution count the next input will likely get, for its `In [n]` prompt.
    private(set) var nextExecutionCount = 1
    /// Executions that started and have not finished.
    private(set) var runningExecutions: Set<String> = []
    private let displays: DisplayWriter

    init(ownClient: String, displays: DisplayWriter) {
        self.ownClient = ownClient
        self.displays = displays
    }

    /// Whether something runs in the session, as far as the journal shows.
    var sessionIsBusy: Bool { !runningExecutions.isEmpty }

    /// The text for one entry.
    func render(_ entry: JournalEntry) -> [Piece] {
        switch entry.event {
        case .input(let id, let code, let client):
            runningExecutions.insert(id)
            let own = client == ownClient || ownExecutionIDs.contains(id)
            if own, !replaying { return [] }
            return [.output(Self.inputText(code, client: client, executionCount: nextExecutionCount))]
        case .execution(let id, let event):
            return render(event, of: id)
        case .kernelStarted(let hello, let previous):
            nextExecutionCount = 1
            if let previous {
                return [
                    .errors(
                        "pyrun: kernel restarted: pid \(hello.pid) replaces \(previous), Python \(hello.pythonVersion); earlier state is gone\n"
                    )
                ]
            }
            return [
                .errors(
                    "pyrun: kernel started: pid \(hello.pid), Python \(hello.pythonVersion) (\(hello.executable))\n")
            ]
        case .kernelDied(let death):
            return [.errors("pyrun: kernel died: \(death); it restarts on next use\n")]
        case .kernelStopped(let reason):
            return [.errors("pyrun: kernel stopped: \(reason)\n")]
        case .interruptRequested(let client):
            return [.errors("pyrun: [\(client)] interrupted\n")]
        case .reset(let client):
            return [.errors("pyrun: [\(client)] reset the session\n")]
        }
    }

    /// The text for a gap in the replay.
    func render(_ gap: JournalGap) -> [Piece] {
        [.errors("pyrun: \(gap)\n")]
    }

    private func render(_ event: ExecutionEvent, of id: String) -> [Piece] {
        switch event {
        case .started(let count):
            nextExecutionCount = count + 1
            return []
        case .stdout(let text):
            return [.output(text)]
        case .stderr(let text):
            return [.errors(text)]
        case .display(let bundle, _):
            return renderDisplay(bundle)
        case .result(let bundle, let count):
            if DisplayWriter.hasImage(bundle) { return renderDisplay(bundle) }
            return [.output("Out[\(count)]: \(bundle.plainText ?? "")\n")]
        case .error(let error):
            if error.name == "SystemExit" {
                return SystemExitCode(exceptionValue: error.value).message.map { [.errors($0 + "\n")] } ?? []
            }
            let traceback = error.traceback.isEmpty ? [error.description] : error.traceback
            return [.errors(traceback.joined(separator: "\n") + "\n")]
        case .inputRequest(let prompt, _):
            return [.output(prompt)]
        case .hostCallStarted, .hostCallEnded:
            // Calls into the host are the session's plumbing, not its output.
            return []
        case .notice(let notice):
            // Deaths, resets and shutdowns have lifecycle entries of their own.
            switch notice.kind {
            case .died, .reset, .shutDown, .shutDownBeforeStart: return []
            default: return [.errors("pyrun: \(notice)\n")]
            }
        case .unknown(let json):
            if json["type"]?.stringValue == "notice", let description = json["description"]?.stringValue {
                return [.errors("pyrun: \(description)\n")]
            }
            return []
        case .finished(let outcome):
            runningExecutions.remove(id)
            if let count = outcome.executionCount, outcome.status != .kernelDied { nextExecutionCount = count + 1 }
            if outcome.status == .failedToStart {
                return [
                    .errors(
                        "pyrun: execution \(id) could not run: \(outcome.startFailure?.message ?? "the kernel did not start")\n"
                    )
                ]
            }
            return []
        }
    }

    private func renderDisplay(_ bundle: MIMEBundle) -> [Piece] {
        if bundle["application/vnd.pyrun.status+json"] != nil {
            return bundle.plainText.map { [.errors($0 + "\n")] } ?? []
        }
        if DisplayWriter.hasImage(bundle) {
            do {
                if let saved = try displays.saveImage(of: bundle) {
                    return [.output("[\(saved.mimeType) saved to \(saved.path)]\n")]
                }
            } catch {
                return [.errors("pyrun: could not save an image display: \(error)\n")]
            }
        }
        return bundle.plainText.map { [.output($0 + "\n")] } ?? []
    }

    /// `[alice] In [3]: for i in range(2):` and its continuation lines under it.
    static func inputText(_ code: String, client: String, executionCount: Int) -> String {
        let head = "[\(client)] In [\(executionCount)]: "
        let continuation = String(repeating: " ", count: max(0, head.count - 5)) + "...: "
        let lines = code.split(separator: "\n", omittingEmptySubsequences: false)
        var text = ""
        for (index, line) in lines.enumerated() {
            text += (index == 0 ? head : continuation) + line + "\n"
        }
        return text
    }
}
