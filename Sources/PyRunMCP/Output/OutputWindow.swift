/// Lines that were dropped from the middle of an `OutputWindow` to bound its memory.
public struct OmittedStretch: Sendable, Hashable {
    /// Characters (Unicode scalars, newlines included).
    public var characters = 0
    public var lineCount = 0
    /// The first and last dropped line's number in the full output.
    public var firstLine = 0
    public var lastLine = 0
}

/// A bounded view of a stream of numbered lines: the first lines up to `headCharacters`, the
/// last lines up to `tailCharacters`, and a count of what fell between.
///
/// This is what a reply needs to know of output it has not shown yet: the budget keeps less
/// than either part, so the lines in between can go as they arrive (the run's output file has
/// them all) and a run that prints gigabytes holds a few budgets' worth of memory.
public struct OutputWindow: Sendable {
    public let headCharacters: Int
    public let tailCharacters: Int
    public private(set) var head: [NumberedLine] = []
    public private(set) var omitted: OmittedStretch?
    /// The tail, oldest first.
    public var tail: [NumberedLine] { Array(tailLines[tailStart...]) }

    private var headUsed = 0
    private var tailLines: [NumberedLine] = []
    private var tailStart = 0
    private var tailUsed = 0

    /// A window that keeps at least `characters` from each end (one line more, if a line is
    /// longer than that).
    public init(keepingAtEachEnd characters: Int) {
        headCharacters = characters
        tailCharacters = characters
    }

    public var isEmpty: Bool { head.isEmpty && tailStart == tailLines.count && omitted == nil }

    /// Adds the next line.
    public mutating func append(_ line: NumberedLine) {
        let length = line.originalLength
        if omitted == nil, tailStart == tailLines.count, headUsed < headCharacters {
            head.append(line)
            headUsed += length
            return
        }
        tailLines.append(line)
        tailUsed += length
        // Drop the oldest tail lines while the rest still covers the tail's share.
        while tailStart < tailLines.count - 1, tailUsed - tailLines[tailStart].originalLength >= tailCharacters {
            let dropped = tailLines[tailStart]
            tailUsed -= dropped.originalLength
            tailStart += 1
            var stretch = omitted ?? OmittedStretch(firstLine: dropped.number)
            stretch.characters += dropped.originalLength
            stretch.lineCount += 1
            stretch.lastLine = dropped.number
            omitted = stretch
        }
        if tailStart > 1024, tailStart * 2 > tailLines.count {
            tailLines.removeFirst(tailStart)
            tailStart = 0
        }
    }

    /// Every line kept, for a caller that shows the window whole.
    public var keptLines: [NumberedLine] { head + tail }
}
