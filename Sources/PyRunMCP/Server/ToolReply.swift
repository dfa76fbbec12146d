import PyRunKit

/// A `tools/call` result: `content` for the model to read, the same facts as
/// `structuredContent` (matching the tool's declared `outputSchema`), and `isError`.
struct ToolResult: Sendable, Hashable {
    var content: [JSONValue]
    var structuredContent: JSONValue?
    var isError: Bool

    /// The `result` member of the JSON-RPC response.
    var json: JSONValue {
        var result: [String: JSONValue] = ["content": .array(content), "isError": .bool(isError)]
        if let structuredContent { result["structuredContent"] = structuredContent }
        return .object(result)
    }

    /// The text content items, joined (what a model reads first).
    var text: String {
        content.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined(separator: "\n")
    }

    static func text(_ text: String) -> JSONValue {
        .object(["type": .string("text"), "text": .string(text)])
    }

    static func image(base64: String, mimeType: String) -> JSONValue {
        .object(["type": .string("image"), "data": .string(base64), "mimeType": .string(mimeType)])
    }
}

/// The results the tools send: a summary line first, then what the code printed, its error
/// or value, and images as image content.
enum ToolReply {
    /// A `python` or `python_wait` reply. `isError` for every status but ok and running.
    static func execution(_ snapshot: RunSnapshot) throws -> ToolResult {
        let report = snapshot.report
        let images = snapshot.inlineImages.map { ToolResult.image(base64: $0.base64, mimeType: $0.mimeType) }
        return ToolResult(
            content: [ToolResult.text(text(of: report))] + images,
            structuredContent: try JSONValueEncoder.encode(report),
            isError: report.status.isError)
    }

    /// The text of an execution reply.
    static func text(of report: ExecutionReport) -> String {
        var text = report.summaryLine
        for notice in report.notices { text += "\n[pyrun notice: \(notice.message)]" }
        func section(_ body: String, heading: String? = nil) {
            guard !body.isEmpty else { return }
            if let heading { text += "\n" + heading }
            text += "\n" + (body.hasSuffix("\n") ? String(body.dropLast()) : body)
        }
        section(report.stdout)
        section(report.stderr, heading: report.stdout.isEmpty ? nil : "[stderr]")
        if let error = report.error {
            // The traceback ends with the exception line; without one, say the exception.
            section(
                error.traceback.isEmpty ? "\(error.type): \(error.message)" : error.traceback.joined(separator: "\n"))
        }
        if let result = report.result {
            section(report.executionCount.map { "Out[\($0)]: \(result)" } ?? result)
        }
        if report.status == .running, report.stdout.isEmpty, report.stderr.isEmpty {
            text += "\n(no new output)"
        }
        return text
    }

    /// A `python_interrupt` reply; `isError` when the session's state was lost.
    static func interrupt(_ report: InterruptReport) throws -> ToolResult {
        ToolResult(
            content: [ToolResult.text(report.message)], structuredContent: try JSONValueEncoder.encode(report),
            isError: report.outcome == .restarted)
    }

    /// A `python_sessions` reply.
    static func sessions(_ report: SessionsReport) throws -> ToolResult {
        var lines: [String] = []
        if let message = report.message { lines.append(message) }
        if report.sessions.isEmpty {
            lines.append("No sessions are running; the python tool starts one on first use.")
        }
        for session in report.sessions {
            var parts = [session.status.rawValue]
            if let pid = session.pid { parts.append("pid \(pid)") }
            if let version = session.pythonVersion { parts.append("Python \(version)") }
            if let interpreter = session.interpreter { parts.append(interpreter) }
            if let cwd = session.cwd { parts.append("cwd \(cwd)") }
            parts.append("\(session.executionCount) executions")
            parts.append("generation \(session.generation)")
            if let memory = session.memoryBytes { parts.append("\(memory / (1 << 20)) MiB resident") }
            if let run = session.runningRunID {
                parts.append("running \(run)")
            } else {
                parts.append("idle \(ExecutionReport.formatSeconds(session.idleSeconds))")
            }
            lines.append("\"\(session.session)\": " + parts.joined(separator: ", "))
        }
        return ToolResult(
            content: [ToolResult.text(lines.joined(separator: "\n"))],
            structuredContent: try JSONValueEncoder.encode(report),
            isError: false)
    }

    /// A `python_output` reply: a header, then the lines numbered as in the full output.
    static func output(_ page: OutputPage) throws -> ToolResult {
        var header = "run \(page.runID)\(page.running ? " (still running)" : ""): "
        if let matching = page.matchingLines {
            header += "\(matching.grouped) of \(page.totalLines.grouped) lines match"
        } else {
            header += "\(page.totalLines.grouped) lines"
        }
        if let first = page.lines.first, let last = page.lines.last {
            header += "; showing \(first.number.grouped)–\(last.number.grouped)"
        } else {
            header += "; nothing at offset \(page.offset)"
        }
        if let next = page.nextOffset {
            header += "; next page: python_output(run_id: \"\(page.runID)\", offset: \(next))"
        }
        if !page.shortenedLines.isEmpty {
            header += "; \(page.shortenedLines.count) long lines were cut to fit (the file \(page.path) has them whole)"
        }
        var text = header
        for line in page.lines { text += "\n\(line.number): \(line.text)" }
        return ToolResult(
            content: [ToolResult.text(text)], structuredContent: try JSONValueEncoder.encode(page), isError: false)
    }

    /// A call that could not be served: the reason, for the model to correct the call.
    static func failure(_ message: String) -> ToolResult {
        ToolResult(content: [ToolResult.text(message)], structuredContent: nil, isError: true)
    }
}
