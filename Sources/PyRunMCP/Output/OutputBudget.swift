/// Where the whole output of a run can be read, for the note that says what was elided.
public struct FullOutputReference: Sendable, Hashable {
    /// The file under the server's run directory that holds every line.
    public var path: String
    /// The run to page through with `python_output`.
    public var runID: String

    public init(path: String, runID: String) {
        self.path = path
        self.runID = runID
    }
}

/// The part of an output that a budget left out: always one stretch in the middle.
public struct Elision: Sendable, Hashable {
    /// Characters (Unicode scalars, newlines included) of the full output left out.
    public var characters: Int
    /// The first line (1-based) wholly or partly left out.
    public var firstLine: Int
    /// The last line wholly or partly left out.
    public var lastLine: Int
    /// The stretch starts inside `firstLine`: its beginning is shown.
    public var startsInsideLine: Bool
    /// The stretch ends inside `lastLine`: its end is shown.
    public var endsInsideLine: Bool
}

/// Output cut down to a budget.
public struct FittedOutput: Sendable, Hashable {
    /// What to show: the start, a note where the middle was, the end.
    public var text: String
    /// The stretch left out; nil when everything (but squashed repetitions) is shown.
    public var elision: Elision?
    /// Lines folded into "repeats N more times" notes.
    public var squashedLines: Int

    /// True when `text` is the output itself, whole.
    public var isWhole: Bool { elision == nil && squashedLines == 0 }
}

/// How much of a program's output a model sees in one reply, and which part.
///
/// Output is fitted by lines: runs of a repeated line are squashed first, then, if it is still
/// too long, the start and the end are kept (most of the room goes to the end, where
/// tracebacks and final results are) and one note in the middle says how many characters and
/// which lines were left out and where the whole output is. A cut inside a line never splits
/// a character (nor a UTF-8 sequence, nor a grapheme cluster) and never splits a run of
/// base64 characters: the whole run is left out instead, since half a payload is of no use.
///
/// Lengths are counted in Unicode scalars ("characters" in the notes).
public struct OutputBudget: Sendable, Hashable {
    /// The default length of one reply's output.
    public static let defaultLimit = 20_000

    /// The most characters the fitted text may have, note included.
    public var limit: Int
    /// The share of the room (after the note) given to the start; the rest goes to the end.
    public var headShare: Double

    /// A partial line is only worth showing when at least this many characters of room are
    /// left for it; otherwise the cut falls between lines.
    static let minimumPartialLine = 80

    public init(limit: Int = OutputBudget.defaultLimit, headShare: Double = 0.25) {
        precondition(limit > 0, "the output budget must be positive")
        precondition((0...1).contains(headShare), "the head share is a fraction")
        self.limit = limit
        self.headShare = headShare
    }

    /// Fits `text` into the budget.
    /// - Parameters:
    ///   - text: output already rendered as a terminal would show it (see
    ///     `TerminalTextRenderer`) and redacted.
    ///   - firstLineNumber: the line number of its first line in the run's full output, so
    ///     the notes name lines that `python_output` can find.
    ///   - fullOutput: where the whole output is, for the note.
    public func fit(_ text: String, firstLineNumber: Int = 1, fullOutput: FullOutputReference? = nil) -> FittedOutput {
        fit(lines: NumberedLine.split(text[...], firstNumber: firstLineNumber), fullOutput: fullOutput)
    }

    /// Fits numbered lines (not necessarily consecutive: stdout's lines among stderr's).
    public func fit(lines: [NumberedLine], fullOutput: FullOutputReference? = nil) -> FittedOutput {
        fit(RepeatedLines.squash(lines), endsWithNewline: lines.last?.hasNewline ?? false, fullOutput: fullOutput)
    }

    /// Fits a window whose middle was already dropped; the dropped stretch is always part of
    /// what the note reports.
    public func fit(_ window: OutputWindow, fullOutput: FullOutputReference? = nil) -> FittedOutput {
        var lines = RepeatedLines.squash(window.head)
        if let omitted = window.omitted {
            lines.append(
                OutputLine(
                    note: "", firstLine: omitted.firstLine, lastLine: omitted.lastLine, lineCount: omitted.lineCount,
                    originalLength: omitted.characters, isOmitted: true))
        }
        let tail = window.tail
        lines += RepeatedLines.squash(tail)
        let last = tail.last ?? window.head.last
        return fit(lines, endsWithNewline: last?.hasNewline ?? false, fullOutput: fullOutput)
    }

    private func fit(_ lines: [OutputLine], endsWithNewline: Bool, fullOutput: FullOutputReference?) -> FittedOutput {
        let squashed = lines.filter { $0.isNote && !$0.isOmitted }.reduce(0) { $0 + $1.lineCount }
        // An omitted stretch can never be shown: its length is more than any room.
        let shownLengths = lines.indices.map { index in
            lines[index].isOmitted
                ? Int.max / 4
                : lines[index].text.unicodeScalars.count + (index < lines.count - 1 || endsWithNewline ? 1 : 0)
        }
        if shownLengths.reduce(0, +) <= limit {
            return FittedOutput(text: Self.join(lines[...], endsWithNewline), elision: nil, squashedLines: squashed)
        }
        let totalCharacters = lines.reduce(0) { $0 + $1.originalLength }
        let lastLineNumber = lines.map(\.lastLine).max() ?? 1
        // The note is sized for the largest numbers and the longest wording it can have, so the
        // room is never overrun.
        let longestNote = [lastLineNumber, lastLineNumber + 1].map { last in
            Self.note(
                for: Elision(
                    characters: totalCharacters, firstLine: lastLineNumber, lastLine: last, startsInsideLine: true,
                    endsInsideLine: true), fullOutput: fullOutput
            ).unicodeScalars.count
        }.max()!
        let room = max(0, limit - longestNote - 2)
        let head = takeHead(lines, shownLengths, room: Int(Double(room) * headShare))
        let tail = takeTail(lines, shownLengths, room: room - head.used, after: head)
        let kept = head.originalKept + tail.originalKept
        let elision = Elision(
            characters: totalCharacters - kept,
            firstLine: lines[head.wholeLines].firstLine,
            lastLine: lines[tail.firstWholeLine - 1].lastLine,
            startsInsideLine: !head.partial.isEmpty, endsInsideLine: !tail.partial.isEmpty)
        var result = Self.join(lines[..<head.wholeLines], true)
        result += head.partial
        if !head.partial.isEmpty { result += "\n" }
        result += Self.note(for: elision, fullOutput: fullOutput) + "\n"
        result += tail.partial
        if !tail.partial.isEmpty, tail.firstWholeLine < lines.count || endsWithNewline { result += "\n" }
        result += Self.join(lines[tail.firstWholeLine...], endsWithNewline)
        return FittedOutput(text: result, elision: elision, squashedLines: squashed)
    }

    /// The note that stands where the middle was.
    public static func note(for elision: Elision, fullOutput: FullOutputReference?) -> String {
        let where_: String
        if elision.firstLine == elision.lastLine {
            where_ =
                (elision.startsInsideLine || elision.endsInsideLine ? "part of line " : "line ")
                + elision.firstLine.grouped
        } else {
            let partly = elision.startsInsideLine || elision.endsInsideLine ? ", the first or last partly" : ""
            where_ = "lines \(elision.firstLine.grouped)–\(elision.lastLine.grouped)\(partly)"
        }
        var note = "[pyrun: \(elision.characters.grouped) characters left out here (\(where_))."
        if let fullOutput {
            note +=
                " All output is in \(fullOutput.path); read it with python_output(run_id: \"\(fullOutput.runID)\", offset: \(elision.firstLine - 1))."
        }
        return note + "]"
    }

    // MARK: - Taking the start and the end

    private struct Head {
        /// Lines taken whole from the start.
        var wholeLines = 0
        /// The beginning of the next line, if any of it was taken.
        var partial: Substring = ""
        var used = 0
        var originalKept = 0
    }

    private struct Tail {
        /// Index of the first line taken whole at the end (`lines.count` if none).
        var firstWholeLine: Int
        /// The end of the line before it, if any of it was taken.
        var partial: Substring = ""
        var originalKept = 0
    }

    private func takeHead(_ lines: [OutputLine], _ lengths: [Int], room: Int) -> Head {
        var head = Head()
        while head.wholeLines < lines.count, head.used + lengths[head.wholeLines] <= room {
            head.used += lengths[head.wholeLines]
            head.originalKept += lines[head.wholeLines].originalLength
            head.wholeLines += 1
        }
        // A payload wrapped over lines (76-column base64) is not cut between its lines either.
        if head.wholeLines < lines.count, Self.isPayloadLine(lines[head.wholeLines]) {
            while head.wholeLines > 0, Self.isPayloadLine(lines[head.wholeLines - 1]) {
                head.wholeLines -= 1
                head.used -= lengths[head.wholeLines]
                head.originalKept -= lines[head.wholeLines].originalLength
            }
            return head
        }
        let left = room - head.used - 1  // the partial line ends with a newline of ours
        if head.wholeLines < lines.count, !lines[head.wholeLines].isNote, left >= Self.minimumPartialLine {
            head.partial = Self.prefix(of: lines[head.wholeLines].text, atMost: left)
            let count = head.partial.unicodeScalars.count
            head.used += count + 1
            head.originalKept += count
        }
        return head
    }

    private func takeTail(_ lines: [OutputLine], _ lengths: [Int], room: Int, after head: Head) -> Tail {
        // The line the head cut into may still give its end, but no line may be taken twice.
        let boundary = head.wholeLines + (head.partial.isEmpty ? 0 : 1)
        var tail = Tail(firstWholeLine: lines.count)
        var used = 0
        while tail.firstWholeLine > boundary, used + lengths[tail.firstWholeLine - 1] <= room {
            tail.firstWholeLine -= 1
            used += lengths[tail.firstWholeLine]
            tail.originalKept += lines[tail.firstWholeLine].originalLength
        }
        if tail.firstWholeLine > boundary, Self.isPayloadLine(lines[tail.firstWholeLine - 1]) {
            while tail.firstWholeLine < lines.count {
                let line = lines[tail.firstWholeLine]
                let isLast = !Self.isPayloadLine(line)
                // The payload's last line is shorter than the others, and still part of it.
                guard
                    !isLast
                        || (!line.isNote && !line.text.isEmpty && line.text.unicodeScalars.allSatisfy(Self.isBase64))
                else { break }
                tail.originalKept -= line.originalLength
                tail.firstWholeLine += 1
                if isLast { break }
            }
            return tail
        }
        let candidate = tail.firstWholeLine - 1
        let left = room - used - 1
        guard candidate >= head.wholeLines, !lines[candidate].isNote, left >= Self.minimumPartialLine else {
            return tail
        }
        var text = lines[candidate].text
        if candidate == head.wholeLines, !head.partial.isEmpty {
            // One line holds the cut: only what follows the head's part of it is left.
            text = text[head.partial.endIndex...]
        }
        tail.partial = Self.suffix(of: text, atMost: left)
        tail.originalKept += tail.partial.unicodeScalars.count
        return tail
    }

    // MARK: - Cutting inside a line

    /// The longest beginning of `line` with at most `count` scalars that ends on a character
    /// boundary and not inside a run of base64 characters.
    static func prefix(of line: Substring, atMost count: Int) -> Substring {
        let scalars = line.unicodeScalars
        guard count < scalars.count else { return line }
        var cut = scalars.index(scalars.startIndex, offsetBy: max(0, count))
        while cut > line.startIndex, String.Index(cut, within: line) == nil { cut = scalars.index(before: cut) }
        if let payload = payloadRun(in: line, around: cut) { cut = payload.lowerBound }
        return line[..<cut]
    }

    /// The longest end of `line` with at most `count` scalars that starts on a character
    /// boundary and not inside a run of base64 characters.
    static func suffix(of line: Substring, atMost count: Int) -> Substring {
        let scalars = line.unicodeScalars
        guard count < scalars.count else { return line }
        var cut = scalars.index(scalars.endIndex, offsetBy: -max(0, count))
        while cut < line.endIndex, String.Index(cut, within: line) == nil { cut = scalars.index(after: cut) }
        if let payload = payloadRun(in: line, around: cut) { cut = payload.upperBound }
        return line[cut...]
    }

    /// The run of base64 characters that a cut at `cut` would split, when it looks like an
    /// encoded payload (see `looksEncoded`); nil for a cut between runs, or inside a run such
    /// as `xxxx…`, a ruler or a hex digest, which may be cut like any text.
    private static func payloadRun(in line: Substring, around cut: String.Index) -> Range<String.Index>? {
        let scalars = line.unicodeScalars
        guard cut > line.startIndex, cut < line.endIndex, isBase64(scalars[scalars.index(before: cut)]),
            isBase64(scalars[cut])
        else { return nil }
        var start = cut
        while start > line.startIndex, isBase64(scalars[scalars.index(before: start)]) {
            start = scalars.index(before: start)
        }
        var end = cut
        while end < line.endIndex, isBase64(scalars[end]) { end = scalars.index(after: end) }
        return looksEncoded(scalars[start..<end]) ? start..<end : nil
    }

    /// A line that is all base64 (40 characters or more, with capitals, small letters and
    /// digits): one line of a wrapped payload.
    static func isPayloadLine(_ line: OutputLine) -> Bool {
        guard !line.isNote, line.text.unicodeScalars.count >= 40 else { return false }
        return line.text.unicodeScalars.allSatisfy(isBase64) && looksEncoded(line.text.unicodeScalars)
    }

    /// Capitals, small letters and digits all present, as in encoded bytes (and rarely in
    /// text that merely uses base64's alphabet).
    private static func looksEncoded(_ scalars: some Sequence<Unicode.Scalar>) -> Bool {
        var upper = false
        var lower = false
        var digit = false
        for scalar in scalars {
            switch scalar {
            case "A"..."Z": upper = true
            case "a"..."z": lower = true
            case "0"..."9": digit = true
            default: break
            }
            if upper && lower && digit { return true }
        }
        return false
    }

    /// The alphabets of base64 and base64url, padding included.
    static func isBase64(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "+", "/", "=", "-", "_": true
        default: false
        }
    }

    private static func join(_ lines: ArraySlice<OutputLine>, _ finalNewline: Bool) -> String {
        var text = lines.map(\.text).joined(separator: "\n")
        if finalNewline, !lines.isEmpty { text += "\n" }
        return text
    }
}

extension OutputBudget {
    /// The characters `fit` needs to show `lines` whole: their own length, or more when
    /// squashing adds notes longer than the short repeated lines they stand for. Ask
    /// `shares(of:for:)` for this much, not for the lines' own length.
    public static func wholeLength(of lines: [NumberedLine]) -> Int {
        let original = lines.reduce(0) { $0 + $1.originalLength }
        return max(original, shownLength(of: RepeatedLines.squash(lines)))
    }

    /// `wholeLength(of:)` for a window; a window whose middle was dropped can never be shown
    /// whole, and needs at least all it stands for.
    public static func wholeLength(of window: OutputWindow) -> Int {
        let original = (window.head + window.tail).reduce(window.omitted?.characters ?? 0) { $0 + $1.originalLength }
        let shown =
            shownLength(of: RepeatedLines.squash(window.head)) + shownLength(of: RepeatedLines.squash(window.tail))
        return max(original, shown + (window.omitted?.characters ?? 0))
    }

    /// Each line's text and a newline (an upper bound on what `fit` shows of them).
    private static func shownLength(of lines: [OutputLine]) -> Int {
        lines.reduce(0) { $0 + $1.text.unicodeScalars.count + 1 }
    }

    /// Divides `total` characters among parts that need `needs` characters: a part that needs
    /// less than an equal share gets what it needs, and what it leaves goes to the others
    /// (so a short stderr does not cost a long stdout its room).
    public static func shares(of total: Int, for needs: [Int]) -> [Int] {
        var shares = Array(repeating: 0, count: needs.count)
        var open = Set(needs.indices.filter { needs[$0] > 0 })
        var left = total
        while !open.isEmpty, left > 0 {
            let equal = left / open.count
            let satisfied = open.filter { needs[$0] - shares[$0] <= equal }
            if satisfied.isEmpty {
                for index in open.sorted() { shares[index] += equal }
                // The remainder of the division goes to the last parts (the end matters most).
                for index in open.sorted().suffix(left - equal * open.count) { shares[index] += 1 }
                break
            }
            for index in satisfied {
                left -= needs[index] - shares[index]
                shares[index] = needs[index]
                open.remove(index)
            }
        }
        return shares
    }
}
