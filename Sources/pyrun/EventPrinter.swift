import PyRunKit

/// How the value of a final expression is shown.
enum ResultStyle {
    /// Its text alone, as `ipython -c` prints it without decoration in a pipe.
    case plain
    /// `Out[N]: text`, as IPython's prompt shows it.
    case numbered
    /// Not at all (`--no-result`, or a program file).
    case hidden
}

/// Shows an execution the way python and IPython do: output as it arrives, stdout to stdout
/// and stderr to stderr, tracebacks on stderr, images saved as files with their path shown.
final class EventPrinter {
    private let output: OutputSink
    private let errors: OutputSink
    private let displays: DisplayWriter
    private let resultStyle: ResultStyle

    init(output: OutputSink, errors: OutputSink, displays: DisplayWriter, resultStyle: ResultStyle) {
        self.output = output
        self.errors = errors
        self.displays = displays
        self.resultStyle = resultStyle
    }

    /// Shows one event.
    func show(_ event: ExecutionEvent) {
        switch event {
        case .started, .unknown, .notice, .finished, .hostCallStarted, .hostCallEnded:
            break
        case .stdout(let text):
            output.write(text)
        case .stderr(let text):
            errors.write(text)
        case .display(let bundle, _):
            showDisplay(bundle)
        case .result(let bundle, let executionCount):
            showResult(bundle, executionCount: executionCount)
        case .error(let error):
            showError(error)
        case .inputRequest(let prompt, _):
            // The stdin handler reads the answer; the prompt goes where python puts it.
            output.write(prompt)
        }
    }

    /// Says what the host knows about the end that the events did not show: a timeout, a
    /// kill, a kernel that died.
    /// - Parameter quietWhenExited: say nothing about a kernel that exited by itself with a
    ///   status (`os._exit(N)` ends a one-shot as python would, without comment).
    func showNotices(_ notices: [KernelNotice], outcome: ExecutionOutcome, quietWhenExited: Bool) {
        if quietWhenExited, outcome.status == .kernelDied, case .exited = outcome.death?.cause {
            return
        }
        for notice in notices {
            errors.writeLine("pyrun: \(notice)")
        }
    }

    private func showDisplay(_ bundle: MIMEBundle) {
        if let status = HelperStatus(bundle) {
            // Progress from prelude helpers is commentary, not output.
            errors.writeLine(status.text)
            return
        }
        if DisplayWriter.hasImage(bundle) {
            showImage(bundle)
            return
        }
        // HTML and Markdown fall back to their plain text, which every bundle has.
        if let text = bundle.plainText { output.writeLine(text) }
    }

    private func showImage(_ bundle: MIMEBundle) {
        do {
            if let saved = try displays.saveImage(of: bundle) {
                output.writeLine("[\(saved.mimeType) saved to \(saved.path)]")
            }
        } catch {
            errors.writeLine("pyrun: could not save an image display: \(error)")
            if let text = bundle.plainText { output.writeLine(text) }
        }
    }

    private func showResult(_ bundle: MIMEBundle, executionCount: Int) {
        guard resultStyle != .hidden else { return }
        if DisplayWriter.hasImage(bundle) {
            showImage(bundle)
            return
        }
        let text = bundle.plainText ?? ""
        switch resultStyle {
        case .plain: output.writeLine(text)
        case .numbered: output.writeLine("Out[\(executionCount)]: \(text)")
        case .hidden: break
        }
    }

    private func showError(_ error: PythonError) {
        if error.name == "SystemExit" {
            // Python prints no traceback for SystemExit, only a message argument.
            if let message = SystemExitCode(exceptionValue: error.value).message { errors.writeLine(message) }
            return
        }
        let traceback = error.traceback.isEmpty ? [error.description] : error.traceback
        errors.writeLine(traceback.joined(separator: "\n"))
    }
}
