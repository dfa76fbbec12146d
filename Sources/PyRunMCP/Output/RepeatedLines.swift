/// One line of output with its number in the run's full output (1-based).
public struct NumberedLine: Sendable, Hashable {
    public var number: Int
    /// The text, without its newline.
    public var text: Substring
    /// False only for a last line that has no newline (yet).
    public var hasNewline: Bool

    public init(number: Int, text: Substring, hasNewline: Bool = true) {
        self.number = number
        self.text = text
        self.hasNewline = hasNewline
    }

    /// The lines of `text`, numbered from `firstNumber`; the empty piece after a final newline
    /// is not a line.
    public static func split(_ text: Substring, firstNumber: Int) -> [NumberedLine] {
        var pieces = text.split(separator: "\n", omittingEmptySubsequences: false)
        let endsWithNewline = text.utf8.last == 0x0A
        if endsWithNewline || text.isEmpty { pieces.removeLast() }
        return pieces.enumerated().map { offset, piece in
            NumberedLine(
                number: firstNumber + offset, text: piece, hasNewline: endsWithNewline || offset < pieces.count - 1)
        }
    }

    /// Characters (Unicode scalars) it stands for in the full output, newline included.
    var originalLength: Int { text.unicodeScalars.count + (hasNewline ? 1 : 0) }
}

/// A line as the budget sees it: text to show (or a stretch that is never shown), with the
/// lines of the full output it stands for.
struct OutputLine: Equatable {
    /// The text shown, without its newline.
    var text: Substring
    /// The first and last line of the full output it stands for.
    var firstLine: Int
    var lastLine: Int
    /// Characters (Unicode scalars, newlines included) of the full output it stands for.
    var originalLength: Int
    /// How many lines of the full output it stands for.
    var lineCount = 1
    /// True when `text` is a note of ours rather than the program's output.
    var isNote = false
    /// True for a stretch already left out before the budget saw the text: never shown.
    var isOmitted = false

    init(_ line: NumberedLine) {
        text = line.text
        firstLine = line.number
        lastLine = line.number
        originalLength = line.originalLength
    }

    init(note: String, firstLine: Int, lastLine: Int, lineCount: Int, originalLength: Int, isOmitted: Bool = false) {
        text = Substring(note)
        self.firstLine = firstLine
        self.lastLine = lastLine
        self.lineCount = lineCount
        self.originalLength = originalLength
        isNote = true
        self.isOmitted = isOmitted
    }
}

/// Squashes runs of identical lines (a warning printed in a loop) into the first line and a
/// note that says how many more times it came, and which lines those were.
enum RepeatedLines {
    /// A line that comes this many times in a row, or more, is squashed.
    static let minimumRun = 3

    static func squash(_ lines: [NumberedLine]) -> [OutputLine] {
        var squashed: [OutputLine] = []
        var index = 0
        while index < lines.count {
            var runEnd = index + 1
            while runEnd < lines.count, lines[runEnd].text == lines[index].text { runEnd += 1 }
            if runEnd - index >= minimumRun {
                let repeats = lines[(index + 1)..<runEnd]
                squashed.append(OutputLine(lines[index]))
                let first = repeats.first!.number
                let last = repeats.last!.number
                let span =
                    last - first + 1 == repeats.count
                    ? "lines \(first.grouped)–\(last.grouped)" : "between lines \(first.grouped) and \(last.grouped)"
                squashed.append(
                    OutputLine(
                        note: "[pyrun: the line above repeats \(repeats.count.grouped) more times, \(span)]",
                        firstLine: first, lastLine: last, lineCount: repeats.count,
                        originalLength: repeats.reduce(0) { $0 + $1.originalLength }))
            } else {
                squashed += lines[index..<runEnd].map(OutputLine.init)
            }
            index = runEnd
        }
        return squashed
    }
}

extension Int {
    /// With thousands separators, as the notes print counts (locale-independent).
    var grouped: String {
        let digits = String(magnitude)
        var grouped = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0, (digits.count - offset) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return self < 0 ? "-" + grouped : grouped
    }
}
