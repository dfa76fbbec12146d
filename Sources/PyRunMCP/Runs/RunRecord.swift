import Foundation
import PyRunKit

/// One run's state inside the `RunRegistry` (which alone touches it): what came in, what the
/// model has not seen yet, and the output file.
final class RunRecord {
    let id: String
    let session: String
    /// The session's interpreter number; known once the run was launched.
    var generation: Int
    /// Nil while the run is being launched.
    private(set) var execution: (any RunningExecution)?
    /// An interrupt that came while the run was being launched.
    var interruptWhenAttached = false
    /// An interrupt was sent (or is waiting for the launch).
    var interruptRequested = false
    /// Set when the client cancels the call that started the run (its interrupt follows).
    var ownerCancellation: CallCancellation?
    /// The interrupt came from the client cancelling the call that waited for the run.
    var cancelledByClient = false
    let spool: OutputSpool
    let completion = RunCompletion()
    private let configuration: RunRegistry.Configuration
    private let started = ContinuousClock.now
    private var ended: ContinuousClock.Instant?

    private(set) var outcome: RunOutcome?
    private var executionCount: Int?
    private var stdout: StreamCapture
    private var stderr: StreamCapture
    private var unseenStdout: OutputWindow
    private var unseenStderr: OutputWindow
    private var result: [NumberedLine] = []
    private var error: (type: String, message: String, traceback: [NumberedLine])?
    private var unseenNotices: [ExecutionReport.Notice] = []
    private var unseenImages: [(report: ExecutionReport.Image, inline: InlineImage?)] = []
    private var imageCount = 0
    private var savedFiles: [String] = []
    /// The last non-empty line the code finished writing, for progress messages.
    private var lastFinishedLine: String?

    init(id: String, session: String, generation: Int, spool: OutputSpool, configuration: RunRegistry.Configuration) {
        self.id = id
        self.session = session
        self.generation = generation
        self.spool = spool
        self.configuration = configuration
        stdout = StreamCapture(redactor: configuration.redactor)
        stderr = StreamCapture(redactor: configuration.redactor)
        // Each end of a window covers the most one reply can show of it.
        unseenStdout = OutputWindow(keepingAtEachEnd: configuration.budget.limit)
        unseenStderr = OutputWindow(keepingAtEachEnd: configuration.budget.limit)
    }

    /// Gives the launched execution; returns whether an interrupt came meanwhile.
    func attach(_ execution: any RunningExecution) -> Bool {
        self.execution = execution
        return interruptWhenAttached
    }

    // MARK: - Events

    func handle(_ event: RunEvent) {
        guard outcome == nil else { return }
        switch event {
        case .started(let count):
            executionCount = count
        case .stdout(let text):
            store(stdout.feed(text), in: &unseenStdout)
        case .stderr(let text):
            store(stderr.feed(text), in: &unseenStderr)
        case .display(let bundle):
            display(bundle)
        case .result(let bundle):
            // A final expression that is an image (a figure, a PIL image) is shown as one too.
            storeImage(of: bundle)
            result = spoolText(bundle.plainText ?? bundle.mimeTypes.joined(separator: ", "))
        case .error(let exception):
            let redactor = configuration.redactor
            error = (
                redactor.redact(exception.name), redactor.redact(exception.value),
                spoolText(exception.traceback.joined(separator: "\n"))
            )
        case .notice(let notice):
            var redacted = notice
            redacted.message = configuration.redactor.redact(notice.message)
            unseenNotices.append(redacted)
        case .finished(let final):
            if let failure = final.startFailure {
                let message = configuration.redactor.redact("the Python interpreter could not be started: \(failure)")
                unseenNotices.append(.init(kind: "failed_to_start", stateLost: false, message: message))
            }
            store(stdout.finish(), in: &unseenStdout)
            store(stderr.finish(), in: &unseenStderr)
            outcome = final
            ended = .now
            spool.close()
            completion.finish()
        }
    }

    private func store(_ lines: [StreamCapture.Line], in window: inout OutputWindow) {
        for line in lines {
            if !line.text.isEmpty { lastFinishedLine = line.text }
            let number = spool.append(line.text)
            window.append(NumberedLine(number: number, text: line.text[...], hasNewline: line.hasNewline))
        }
    }

    /// Writes redacted text to the file and returns its numbered lines.
    private func spoolText(_ text: String) -> [NumberedLine] {
        let redacted = configuration.redactor.redact(TerminalTextRenderer.render(text))
        return NumberedLine.split(redacted[...], firstNumber: 1).map { line in
            NumberedLine(number: spool.append(String(line.text)), text: line.text, hasNewline: line.hasNewline)
        }
    }

    private func display(_ bundle: MIMEBundle) {
        if !storeImage(of: bundle), let text = bundle.plainText { store(stdout.feed(text + "\n"), in: &unseenStdout) }
    }

    /// Keeps the bundle's PNG or JPEG image, if it has one, inline or in a file, with a line
    /// in the output that says where it went; returns whether it had one.
    @discardableResult
    private func storeImage(of bundle: MIMEBundle) -> Bool {
        guard let mimeType = ["image/png", "image/jpeg"].first(where: { bundle[$0] != nil }),
            let data = bundle.binaryData(for: mimeType)
        else { return false }
        imageCount += 1
        let inlineSoFar = unseenImages.filter { $0.inline != nil }.count
        var report = ExecutionReport.Image(mimeType: mimeType, bytes: data.count, inline: false)
        var inline: InlineImage?
        if data.count <= configuration.maximumInlineImageBytes, inlineSoFar < configuration.maximumInlineImages {
            report.inline = true
            inline = InlineImage(mimeType: mimeType, base64: data.base64EncodedString())
        } else {
            let path = "\(configuration.directory)/\(id)-image-\(imageCount).\(mimeType == "image/png" ? "png" : "jpg")"
            if FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) {
                report.path = path
                savedFiles.append(path)
            }
        }
        unseenImages.append((report, inline))
        let where_ = report.path.map { ", saved to \($0)" } ?? ""
        store(
            stdout.feed("[pyrun: image \(imageCount) (\(mimeType), \(data.count.grouped) bytes)\(where_)]\n"),
            in: &unseenStdout)
        return true
    }

    // MARK: - Looking

    /// The line the code is writing now, or else the last one it wrote; nil before any output.
    var latestLine: String? {
        stderr.openLine ?? stdout.openLine ?? lastFinishedLine
    }

    /// The run's state and everything unseen, fitted to the budget; marks it seen.
    func look() -> RunSnapshot {
        var stdoutLines = unseenStdout
        var stderrLines = unseenStderr
        unseenStdout = OutputWindow(keepingAtEachEnd: configuration.budget.limit)
        unseenStderr = OutputWindow(keepingAtEachEnd: configuration.budget.limit)
        if outcome == nil {
            // A line still being drawn (a progress bar) is shown as it stands, and again later.
            let next = spool.lineCount + 1
            if let open = stdout.openLine {
                stdoutLines.append(NumberedLine(number: next, text: open[...], hasNewline: false))
            }
            if let open = stderr.openLine {
                stderrLines.append(NumberedLine(number: next, text: open[...], hasNewline: false))
            }
        }
        let finalResult = outcome == nil ? [] : result
        let traceback = outcome == nil ? [] : (error?.traceback ?? [])
        let needs =
            [stdoutLines, stderrLines].map(OutputBudget.wholeLength(of:))
            + [finalResult, traceback].map(OutputBudget.wholeLength(of:))
        let shares = OutputBudget.shares(of: configuration.budget.limit, for: needs)
        let reference = FullOutputReference(path: spool.path, runID: id)
        func budget(_ share: Int) -> OutputBudget {
            OutputBudget(limit: max(share, 1), headShare: configuration.budget.headShare)
        }
        let shownStdout = budget(shares[0]).fit(stdoutLines, fullOutput: reference)
        let shownStderr = budget(shares[1]).fit(stderrLines, fullOutput: reference)
        let shownResult = budget(shares[2]).fit(lines: finalResult, fullOutput: reference)
        let shownTraceback = budget(shares[3]).fit(lines: traceback, fullOutput: reference)

        let images = unseenImages
        unseenImages = []
        var notices = unseenNotices
        unseenNotices = []
        if outcome == nil, execution == nil {
            // Said on each look while it lasts, so a slow "1+1" is not a mystery.
            notices.append(
                .init(
                    kind: "starting", stateLost: false,
                    message:
                        "the session's interpreter is still starting (a prelude or a slow start); the code has not begun yet"
                ))
        }
        let notInline = images.filter { !$0.report.inline }.count
        let truncation: ExecutionReport.Truncation? =
            [shownStdout, shownStderr, shownResult, shownTraceback].allSatisfy(\.isWhole) && notInline == 0
            ? nil
            : ExecutionReport.Truncation(
                stdout: Self.truncation(shownStdout), stderr: Self.truncation(shownStderr),
                fullOutputPath: spool.path, imagesNotInline: notInline)
        let report = ExecutionReport(
            status: outcome?.status ?? .running, session: session, runID: id, generation: generation,
            executionCount: executionCount, durationSeconds: ((ended ?? .now) - started).seconds,
            cpuSeconds: outcome?.cpuSeconds, peakRSSBytes: outcome?.peakRSSBytes, stdout: shownStdout.text,
            stderr: shownStderr.text, result: finalResult.isEmpty ? nil : shownResult.text,
            error: outcome == nil
                ? nil
                : error.map {
                    .init(type: $0.type, message: Self.capped($0.message), traceback: Self.lines(shownTraceback.text))
                },
            images: images.map(\.report), truncation: truncation, notices: notices)
        return RunSnapshot(report: report, inlineImages: images.compactMap(\.inline))
    }

    /// Deletes the output file and saved images (when the run is forgotten).
    func deleteFiles() {
        spool.close()
        for path in [spool.path] + savedFiles { try? FileManager.default.removeItem(atPath: path) }
    }

    /// The most of an exception's message a reply carries (it also heads the summary line);
    /// the whole message is the traceback's last line, paged like any output.
    static let messageLimit = 1_000

    /// `message`, cut to `messageLimit` characters with a count of what was left out.
    static func capped(_ message: String) -> String {
        guard message.count > messageLimit else { return message }
        return "\(message.prefix(messageLimit))… (\(message.count - messageLimit) more characters; see python_output)"
    }

    private static func truncation(_ fitted: FittedOutput) -> ExecutionReport.StreamTruncation? {
        guard !fitted.isWhole else { return nil }
        return ExecutionReport.StreamTruncation(
            elidedCharacters: fitted.elision?.characters ?? 0, firstLine: fitted.elision?.firstLine ?? 0,
            lastLine: fitted.elision?.lastLine ?? 0, squashedLines: fitted.squashedLines)
    }

    private static func lines(_ text: String) -> [String] {
        NumberedLine.split(text[...], firstNumber: 1).map { String($0.text) }
    }
}
