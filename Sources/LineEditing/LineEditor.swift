import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a line editor's bytes come from: the terminal's input, shared with whoever reads
/// it between lines (the program's own `input()`), so bytes typed ahead are never lost.
public protocol TerminalInput: Sendable {
    /// The bytes that have arrived: any buffered, else the next read. Nil at the end of
    /// input, or when the calling task is cancelled (bytes that arrive then stay buffered).
    func nextChunk() async -> [UInt8]?
    /// Puts bytes back in front, for the next reader.
    func unread(_ bytes: [UInt8]) async
}

/// Reads lines from a terminal with editing, history and completion, the way a shell's
/// prompt does: arrows, Home/End, Ctrl-A/E/K/U/W/Y/T/L, Backspace/Delete, Up/Down through
/// the history, Ctrl-R to search it, Tab to complete (or to indent at the start of a line).
///
/// The terminal is in raw mode only inside `readLine`; between lines it is as it was, so
/// Ctrl-C while a program runs is the usual SIGINT. Ctrl-C at the prompt drops the line
/// (`.interrupted`) and Ctrl-D on an empty line ends the input (`.endOfInput`).
///
/// Use it only when `Terminal.supportsEditing` is true; otherwise read lines plainly.
public actor LineEditor {
    /// How a `readLine` ended.
    public enum Outcome: Hashable, Sendable {
        /// Enter: the text typed (several lines when a multi-line entry was recalled).
        case line(String)
        /// Ctrl-C, or `interrupt()`: the line was dropped.
        case interrupted
        /// Ctrl-D on an empty line, or the terminal's input ended.
        case endOfInput
    }

    /// Offers completions for `text` with the cursor at `cursor` (in Unicode scalars); nil
    /// when it cannot say.
    public typealias CompletionSource = @Sendable (_ text: String, _ cursor: Int) async -> Completions?

    /// The entries Up, Down and Ctrl-R reach, oldest first.
    public private(set) var history: History

    private let terminal: Terminal
    private let input: any TerminalInput
    private let historyStore: (any HistoryStore)?
    private let completionSource: CompletionSource?

    private var decoder = KeyDecoder()
    private var renderer = LineRenderer()
    private var isReading = false
    private var interruptRequested = false
    private var windowResized = false
    /// The prompts of the line being read: before its first line, and before the others.
    private var prompts = (first: "", continuation: "")
    /// The line as last drawn, while a line is read in raw mode (for `printAbove`).
    private var shownState: EditorState?
    /// The read in flight, cancelled to wake `readLine` for an interrupt or a resize.
    private var pendingRead: Task<[UInt8]?, Never>?

    /// - Parameters:
    ///   - terminal: where keys come from and the line is drawn.
    ///   - input: the terminal's input, shared with other readers of it.
    ///   - historyStore: where entries are kept between sessions; nil keeps them in memory.
    ///   - historyLimit: the most entries kept.
    ///   - completions: what Tab asks; nil makes Tab only indent.
    public init(
        terminal: Terminal = .standard, input: any TerminalInput, historyStore: (any HistoryStore)?,
        historyLimit: Int = History.defaultLimit, completions: CompletionSource?
    ) {
        self.terminal = terminal
        self.input = input
        self.historyStore = historyStore
        self.history = History(limit: historyLimit)
        self.completionSource = completions
    }

    /// Loads the saved history (the entries already added stay after it).
    public func loadHistory() throws {
        guard let historyStore else { return }
        let added = history.entries
        history = History(try historyStore.load() + added, limit: history.limit)
    }

    /// Adds an entry to the history and saves it; a blank entry, or one equal to the last,
    /// is not added.
    public func addHistory(_ entry: String) throws {
        guard history.add(entry) else { return }
        try historyStore?.append(entry)
    }

    /// Ends the `readLine` in progress as Ctrl-C would (for a SIGINT from elsewhere); false
    /// when no line is being read.
    public func interrupt() -> Bool {
        guard isReading else { return false }
        interruptRequested = true
        pendingRead?.cancel()
        return true
    }

    /// Writes `text` above the line being read and draws the line again below it, so output
    /// that arrives while someone types (another client of a shared session) leaves the line
    /// whole. Text that does not end a line is ended, since the line is drawn on a row of its
    /// own. With no line being read, writes `text` as it is.
    public func printAbove(_ text: String) {
        guard !text.isEmpty else { return }
        guard isReading, let shownState else {
            terminal.write(text)
            return
        }
        terminal.write(renderer.erase() + text + (text.hasSuffix("\n") ? "" : "\n"))
        draw(shownState)
    }

    /// Reads one line.
    /// - Parameters:
    ///   - prompt: shown before the line.
    ///   - continuationPrompt: shown before the second and later lines of a multi-line entry.
    public func readLine(prompt: String, continuationPrompt: String = "") async -> Outcome {
        precondition(!isReading, "LineEditor reads one line at a time")
        isReading = true
        interruptRequested = false
        defer { isReading = false }
        guard RawMode.enter(terminal.inputDescriptor) else {
            return await readPlainLine(prompt: prompt)
        }
        defer {
            shownState = nil
            RawMode.leave()
        }
        let resizeWatch = Self.watchWindowSize { Task { await self.noteWindowResized() } }
        defer { resizeWatch.cancel() }

        prompts = (prompt, continuationPrompt)
        var state = EditorState(history: history.entries)
        draw(state)
        while true {
            if interruptRequested {
                return await finish(state, with: .interrupted)
            }
            var needsDrawing = false
            while let key = decoder.nextKey() {
                switch state.handle(key) {
                case .submit(let text):
                    return await finish(state, with: .line(text))
                case .interrupt:
                    return await finish(state, with: .interrupted)
                case .endOfInput:
                    return await finish(state, with: .endOfInput)
                case .complete:
                    draw(state)
                    needsDrawing = await complete(&state)
                case .clearScreen:
                    terminal.write("\u{1B}[H\u{1B}[2J")
                    renderer.forget()
                    needsDrawing = true
                case .suspend:
                    suspend()
                    needsDrawing = true
                case .bell:
                    terminal.write("\u{7}")
                case .redraw:
                    needsDrawing = true
                case .nothing:
                    break
                }
            }
            if needsDrawing || windowResized {
                windowResized = false
                draw(state)
            }
            guard let chunk = await readChunk() else {
                if interruptRequested || windowResized { continue }
                return await finish(state, with: .endOfInput)
            }
            decoder.append(chunk)
        }
    }

    // MARK: - Drawing

    private func draw(_ state: EditorState) {
        shownState = state
        let prompt = state.search.map(Self.searchPrompt) ?? prompts.first
        terminal.write(
            renderer.draw(
                prompt: prompt, continuationPrompt: prompts.continuation, buffer: state.buffer,
                width: terminal.columns))
    }

    private static func searchPrompt(_ search: HistorySearch) -> String {
        "(\(search.failed ? "failed " : "")reverse-i-search)`\(search.query)': "
    }

    /// Shows the final line, moves below it, and hands bytes read past it back to the input.
    private func finish(_ state: EditorState, with outcome: Outcome) async -> Outcome {
        draw(state)
        terminal.write(renderer.leave())
        shownState = nil
        let unread = decoder.takeUndecoded()
        if !unread.isEmpty { await input.unread(unread) }
        return outcome
    }

    // MARK: - Keys

    /// Asks the completion source and applies the answer; true when the line must be drawn again.
    private func complete(_ state: inout EditorState) async -> Bool {
        guard let completionSource,
            let offered = await completionSource(state.buffer.text, state.buffer.scalarCursor)
        else {
            terminal.write("\u{7}")
            return false
        }
        switch state.applyCompletions(offered) {
        case .inserted:
            return true
        case .nothing:
            terminal.write("\u{7}")
            return false
        case .ambiguous(let matches):
            let rows = CompletionList.rows(for: matches, width: terminal.columns)
            terminal.write(renderer.leave() + rows.joined(separator: "\r\n") + "\r\n")
            return true
        }
    }

    /// Ctrl-Z: the terminal as it was, the process stopped as by the shell's own Ctrl-Z;
    /// raw mode again when the shell continues it.
    private func suspend() {
        terminal.write(renderer.leave())
        RawMode.leave()
        raise(SIGTSTP)
        _ = RawMode.enter(terminal.inputDescriptor)
    }

    /// Calls `changed` on every SIGWINCH, the signal a terminal sends when its size changes.
    /// Its default action is to do nothing, so unlike SIGINT it needs no disposition change.
    private nonisolated static func watchWindowSize(
        _ changed: @escaping @Sendable () -> Void
    ) -> any DispatchSourceSignal {
        let source = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
        source.setEventHandler(handler: changed)
        source.resume()
        return source
    }

    private func noteWindowResized() {
        guard isReading else { return }
        windowResized = true
        pendingRead?.cancel()
    }

    private func readChunk() async -> [UInt8]? {
        let read = Task { await input.nextChunk() }
        pendingRead = read
        defer { pendingRead = nil }
        return await withTaskCancellationHandler {
            await read.value
        } onCancel: {
            read.cancel()
        }
    }

    /// Without raw mode (the terminal refused it): the prompt, then bytes up to a line break.
    private func readPlainLine(prompt: String) async -> Outcome {
        terminal.write(prompt)
        var bytes = decoder.takeUndecoded()
        while true {
            if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
                let rest = Array(bytes[(newline + 1)...])
                if !rest.isEmpty { await input.unread(rest) }
                return .line(String(decoding: bytes[..<newline], as: UTF8.self))
            }
            guard let chunk = await readChunk() else {
                if interruptRequested { return .interrupted }
                return bytes.isEmpty ? .endOfInput : .line(String(decoding: bytes, as: UTF8.self))
            }
            bytes += chunk
        }
    }
}
