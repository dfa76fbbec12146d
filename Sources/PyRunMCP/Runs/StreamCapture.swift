/// Turns one output stream's chunks into finished lines for the run's output file and the
/// model: rendered as a terminal shows them, secrets redacted (also when a secret is split
/// between chunks), split at newlines. A line longer than `maximumLineLength` is wrapped, so
/// no line held in memory is longer than that.
struct StreamCapture: Sendable {
    static let maximumLineLength = TerminalTextRenderer.maximumOpenLine

    /// A finished line, without its newline.
    struct Line: Equatable {
        var text: String
        /// False only for the last line of a stream that ended without a newline.
        var hasNewline: Bool
    }

    private var renderer = TerminalTextRenderer()
    private var redaction: StreamingRedactor
    /// Redacted text of the line being written, before the renderer's open line.
    private var partialLine = ""

    init(redactor: SecretRedactor) {
        redaction = StreamingRedactor(redactor)
    }

    /// Takes a chunk; returns the lines it finished.
    mutating func feed(_ chunk: String) -> [Line] {
        lines(from: redaction.feed(renderer.feed(chunk)))
    }

    /// Ends the stream: the rest, as lines (the last one without a newline).
    mutating func finish() -> [Line] {
        var finished = lines(from: redaction.feed(renderer.finish()))
        let rest = partialLine + redaction.finish()
        partialLine = ""
        if !rest.isEmpty { finished.append(Line(text: rest, hasNewline: false)) }
        return finished
    }

    /// The line being written now, as the terminal shows it and redacted; nil if none.
    var openLine: String? {
        let text = redaction.redactor.redact(partialLine + redaction.pending + renderer.openLine)
        return text.isEmpty ? nil : text
    }

    private mutating func lines(from text: String) -> [Line] {
        guard !text.isEmpty else { return [] }
        var pieces = (partialLine + text).split(separator: "\n", omittingEmptySubsequences: false)
        var rest = String(pieces.removeLast())
        var lines = pieces.map { Line(text: String($0), hasNewline: true) }
        while rest.unicodeScalars.count > Self.maximumLineLength {
            let cut = rest.unicodeScalars.index(rest.unicodeScalars.startIndex, offsetBy: Self.maximumLineLength)
            // Wrap on a character boundary, so no character is split between two lines.
            var boundary = cut
            while boundary > rest.startIndex, String.Index(boundary, within: rest) == nil {
                boundary = rest.unicodeScalars.index(before: boundary)
            }
            if boundary == rest.startIndex { boundary = cut }
            lines.append(Line(text: String(rest[..<boundary]), hasNewline: true))
            rest = String(rest[boundary...])
        }
        partialLine = rest
        return lines
    }
}
