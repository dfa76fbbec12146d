/// What the terminal side should do after a key.
public enum EditorAction: Hashable, Sendable {
    /// Show the changed line (the buffer, the cursor, or the search changed).
    case redraw
    /// Enter: the line is done.
    case submit(String)
    /// Ctrl-C: drop the line.
    case interrupt
    /// Ctrl-D on an empty line: no more input.
    case endOfInput
    /// Tab: ask the completion source about the buffer, then call `applyCompletions(_:)`.
    case complete
    /// Ctrl-L: clear the screen and show the line at the top.
    case clearScreen
    /// Ctrl-Z: give the terminal back and stop the process until it is continued.
    case suspend
    /// Nothing to do here (the start of the history, a deletion at the end, …): ring the bell.
    case bell
    /// A key that does nothing.
    case nothing
}

/// A Ctrl-R search through the history, newest first.
public struct HistorySearch: Hashable, Sendable {
    /// What was typed since Ctrl-R.
    public internal(set) var query = ""
    /// The history entry shown, if any matched.
    public internal(set) var matchIndex: Int?
    /// True when the query matches no (further) entry.
    public internal(set) var failed = false
    /// The line as it was before Ctrl-R, for Ctrl-G to put back.
    let original: EditBuffer
}

/// The editor's whole state for one line, and what every key does to it. Pure: keys in,
/// state and an action out, so the editing rules are tested without a terminal.
public struct EditorState: Sendable {
    /// How many spaces Tab inserts at the start of a line (where there is nothing to complete).
    public static let indentWidth = 4

    public private(set) var buffer: EditBuffer
    /// The Ctrl-R search in progress, if any.
    public private(set) var search: HistorySearch?

    /// Earlier entries, oldest first.
    private let history: [String]
    /// Which entry the buffer shows; `history.count` is the line being typed.
    private var historyPosition: Int
    /// The line being typed, kept while the history is browsed.
    private var draft = EditBuffer()
    /// The text the last kill removed, for Ctrl-Y.
    private var killed = ""

    /// - Parameters:
    ///   - history: earlier entries, oldest first, for Up, Down and Ctrl-R.
    ///   - text: what the line starts with.
    public init(history: [String] = [], text: String = "") {
        self.history = history
        self.historyPosition = history.count
        self.buffer = EditBuffer(text)
    }

    /// Applies one key.
    public mutating func handle(_ key: Key) -> EditorAction {
        if search != nil { return handleDuringSearch(key) }
        switch key {
        case .text(let text):
            buffer.insert(text)
            return .redraw
        case .enter:
            return .submit(buffer.text)
        case .tab:
            // At the start of a line there is nothing to complete: indent, as a Python prompt should.
            let before = buffer.textBeforeCursorOnLine
            guard before.allSatisfy({ $0 == " " }) else { return .complete }
            buffer.insert(String(repeating: " ", count: Self.indentWidth - before.count % Self.indentWidth))
            return .redraw
        case .backspace, .control("h"):
            return buffer.deleteBackward() ? .redraw : .bell
        case .delete:
            return buffer.deleteForward() ? .redraw : .bell
        case .control("d"):
            if buffer.isEmpty { return .endOfInput }
            return buffer.deleteForward() ? .redraw : .bell
        case .left, .control("b"):
            return buffer.moveLeft() ? .redraw : .bell
        case .right, .control("f"):
            return buffer.moveRight() ? .redraw : .bell
        case .home, .control("a"):
            buffer.moveToLineStart()
            return .redraw
        case .end, .control("e"):
            buffer.moveToLineEnd()
            return .redraw
        case .wordLeft:
            buffer.moveWordLeft()
            return .redraw
        case .wordRight:
            buffer.moveWordRight()
            return .redraw
        case .up, .control("p"):
            return buffer.moveLineUp() ? .redraw : showHistoryEntry(at: historyPosition - 1)
        case .down, .control("n"):
            return buffer.moveLineDown() ? .redraw : showHistoryEntry(at: historyPosition + 1)
        case .control("k"):
            return kill(buffer.killToLineEnd())
        case .control("u"):
            return kill(buffer.killToLineStart())
        case .control("w"):
            return kill(buffer.killWordBackward())
        case .deleteWordBackward:
            return kill(buffer.killIdentifierBackward())
        case .deleteWordForward:
            return kill(buffer.killIdentifierForward())
        case .control("y"):
            guard !killed.isEmpty else { return .bell }
            buffer.insert(killed)
            return .redraw
        case .control("t"):
            return buffer.transpose() ? .redraw : .bell
        case .control("r"):
            search = HistorySearch(original: buffer)
            return .redraw
        case .control("c"):
            return .interrupt
        case .control("l"):
            return .clearScreen
        case .control("z"):
            return .suspend
        case .control, .unknown:
            return .nothing
        }
    }

    /// Applies what the completion source offered for the buffer as it was when `.complete`
    /// was returned: one candidate replaces the text; several extend it to what they share,
    /// or, when that adds nothing, are returned to be listed.
    public mutating func applyCompletions(_ completions: Completions) -> CompletionOutcome {
        guard !completions.matches.isEmpty else { return .nothing }
        let current = String(
            buffer.text.unicodeScalars.dropFirst(completions.replacing.lowerBound)
                .prefix(completions.replacing.count))
        if completions.matches.count == 1 {
            let only = completions.matches[0]
            guard only != current else { return .nothing }
            buffer.replace(scalarOffsets: completions.replacing, with: only)
            return .inserted
        }
        let shared = completions.commonPrefix
        if shared.count > current.count, shared.hasPrefix(current) {
            buffer.replace(scalarOffsets: completions.replacing, with: shared)
            return .inserted
        }
        return .ambiguous(completions.matches)
    }

    // MARK: - History

    private mutating func showHistoryEntry(at position: Int) -> EditorAction {
        guard position >= 0, position <= history.count, position != historyPosition else { return .bell }
        if historyPosition == history.count { draft = buffer }
        historyPosition = position
        buffer = position == history.count ? draft : EditBuffer(history[position])
        return .redraw
    }

    private mutating func kill(_ removed: String) -> EditorAction {
        guard !removed.isEmpty else { return .bell }
        killed = removed
        return .redraw
    }

    // MARK: - Ctrl-R

    private mutating func handleDuringSearch(_ key: Key) -> EditorAction {
        guard var current = search else { return .nothing }
        switch key {
        case .text(let text):
            current.query += text
            search = current
            return findMatch(searchingFrom: current.matchIndex ?? history.count - 1)
        case .backspace, .control("h"):
            guard !current.query.isEmpty else { return .bell }
            current.query.removeLast()
            current.matchIndex = nil
            search = current
            if current.query.isEmpty {
                buffer = current.original
                search?.failed = false
                return .redraw
            }
            return findMatch(searchingFrom: history.count - 1)
        case .control("r"):
            guard !current.query.isEmpty else { return .bell }
            return findMatch(searchingFrom: (current.matchIndex ?? history.count) - 1)
        case .control("g"):
            buffer = current.original
            search = nil
            return .redraw
        case .control("c"):
            search = nil
            return .interrupt
        default:
            // Any other key takes the entry found and then does what it does, as in a shell.
            search = nil
            if let index = current.matchIndex { historyPosition = index }
            return handle(key)
        }
    }

    /// Shows the newest entry at or before `start` that contains the query, the cursor on
    /// the match; when none does, keeps what is shown and marks the search failed.
    private mutating func findMatch(searchingFrom start: Int) -> EditorAction {
        guard let query = search?.query else { return .nothing }
        var index = min(start, history.count - 1)
        while index >= 0 {
            if let range = history[index].firstRange(of: query) {
                let entry = history[index]
                buffer = EditBuffer(entry, cursor: entry[..<range.lowerBound].count)
                search?.matchIndex = index
                search?.failed = false
                return .redraw
            }
            index -= 1
        }
        search?.failed = true
        return .bell
    }
}
