/// A line of output as the budget sees it: kept text with the line numbers it stands for in
/// the run's full output.
struct OutputLine: Equatable {
    /// The text shown, without its newline.
    var text: Substring
    /// The first line (1-based) of the full output this stands for.
    var firstLine: Int
    /// How many lines of the full output it stands for (more than 1 for a repetition note).
    var lineCount = 1
    /// How many characters (Unicode scalars) of the full output it stands for, newlines
    /// included.
    var originalLength: Int
    /// True when `text` is a note of ours rather than the program's output.
    var isNote = false
}

/// Squashes runs of identical lines (a warning printed in a loop) into the first line and a
/// note that says how many more times it came, and which lines those were.
enum RepeatedLines {
    /// A line that comes this many times in a row, or more, is squashed.
    static let minimumRun = 3

    /// The lines of `text` (split at `\n`), numbered from `firstLineNumber`, with runs squashed.
    /// Whether `text` ended with a newline does not change the result's shape: the empty
    /// piece after a final newline is not a line.
    static func squash(_ text: Substring, firstLineNumber: Int) -> [OutputLine] {
        var pieces = text.split(separator: "\n", omittingEmptySubsequences: false)
        let endsWithNewline = text.utf8.last == 0x0A
        if endsWithNewline { pieces.removeLast() }
        var lines: [OutputLine] = []
        var index = 0
        while index < pieces.count {
            var runEnd = index + 1
            while runEnd < pieces.count, pieces[runEnd] == pieces[index] { runEnd += 1 }
            let number = firstLineNumber + index
            let hasNewline = endsWithNewline || runEnd < pieces.count
            let length = pieces[index].unicodeScalars.count
            let runLength = runEnd - index
            if runLength >= minimumRun {
                let repeats = runLength - 1
                lines.append(OutputLine(text: pieces[index], firstLine: number, originalLength: length + 1))
                let note = "[pyrun: the line above repeats \(repeats.grouped) more times, lines \((number + 1).grouped)–\((number + repeats).grouped)]"
                lines.append(
                    OutputLine(
                        text: Substring(note), firstLine: number + 1, lineCount: repeats,
                        originalLength: (length + 1) * repeats - (hasNewline ? 0 : 1), isNote: true))
            } else {
                for offset in 0..<runLength {
                    let isLast = index + offset == pieces.count - 1
                    lines.append(
                        OutputLine(
                            text: pieces[index + offset], firstLine: number + offset,
                            originalLength: length + (isLast && !hasNewline ? 0 : 1)))
                }
            }
            index = runEnd
        }
        return lines
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
