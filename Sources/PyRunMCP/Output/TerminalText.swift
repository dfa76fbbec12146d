/// Turns what a program wrote for a terminal into the text a terminal would show: colours
/// and other escape sequences removed, and each line in its final state after carriage
/// returns, backspaces and erase-line codes (a tqdm bar that redrew itself 500 times is one
/// line, as it ends).
///
/// It works on a stream: `feed` returns the lines completed so far, and the line still being
/// drawn stays open (see `openLine`) because a later `\r` may redraw it. An escape sequence
/// split across chunks is handled. A line longer than `maximumOpenLine` scalars is passed on
/// unfinished, so memory stays bounded; a `\r` after that redraws only what was kept.
public struct TerminalTextRenderer: Sendable {
    /// The longest open line kept for redrawing, in Unicode scalars.
    public static let maximumOpenLine = 1 << 16

    private var line: [Unicode.Scalar] = []
    private var cursor = 0
    private var escape = EscapeState.none

    private enum EscapeState: Sendable {
        case none
        /// After ESC.
        case escape
        /// Inside `ESC [`: the parameter bytes so far.
        case controlSequence(String)
        /// Inside `ESC ]` (a title, a hyperlink target) until BEL or `ESC \`.
        case operatingSystemCommand
        /// After ESC inside an operating system command.
        case operatingSystemCommandEscape
        /// After `ESC (` and the like: one more scalar names a character set.
        case characterSetDesignation
    }

    public init() {}

    /// The whole text rendered at once.
    public static func render(_ text: String) -> String {
        var renderer = TerminalTextRenderer()
        return renderer.feed(text) + renderer.finish()
    }

    /// Takes the next chunk and returns the lines it completed (each with its `\n`).
    public mutating func feed(_ chunk: String) -> String {
        if case .none = escape, line.isEmpty, !chunk.utf8.contains(where: Self.needsRendering) {
            return takePlainChunk(chunk)
        }
        var completed = String.UnicodeScalarView()
        for scalar in chunk.unicodeScalars {
            consume(scalar, into: &completed)
        }
        return String(completed)
    }

    /// The line still being drawn, as the terminal shows it now.
    public var openLine: String {
        var view = String.UnicodeScalarView()
        Self.appendVisible(line, to: &view)
        return String(view)
    }

    /// Ends the stream: the open line, without a newline (a program's last line may have none).
    public mutating func finish() -> String {
        let last = openLine
        line = []
        cursor = 0
        escape = .none
        return last
    }

    // MARK: - Rendering

    /// ESC, `\r` and backspace are the only bytes that need more than copying.
    private static func needsRendering(_ byte: UInt8) -> Bool {
        byte == 0x1B || byte == 0x0D || byte == 0x08
    }

    /// A chunk with nothing to render: its complete lines pass through, the rest stays open.
    private mutating func takePlainChunk(_ chunk: String) -> String {
        guard let lastNewline = chunk.utf8.lastIndex(of: 0x0A) else {
            line.append(contentsOf: chunk.unicodeScalars)
            cursor = line.count
            return flushIfTooLong()
        }
        let afterNewline = chunk.utf8.index(after: lastNewline)
        line.append(contentsOf: chunk[afterNewline...].unicodeScalars)
        cursor = line.count
        return String(chunk[..<afterNewline]) + flushIfTooLong()
    }

    private mutating func consume(_ scalar: Unicode.Scalar, into completed: inout String.UnicodeScalarView) {
        switch escape {
        case .none:
            break
        case .escape:
            switch scalar {
            case "[": escape = .controlSequence("")
            case "]": escape = .operatingSystemCommand
            case "(", ")", "*", "+", "#", "%": escape = .characterSetDesignation
            default: escape = .none  // a two-scalar sequence such as ESC 7 or ESC M
            }
            return
        case .controlSequence(let parameters):
            if (0x40...0x7E).contains(scalar.value) {
                escape = .none
                if scalar == "K" { eraseInLine(parameters) }
            } else {
                escape = .controlSequence(parameters + String(scalar))
            }
            return
        case .operatingSystemCommand:
            if scalar == "\u{07}" {
                escape = .none
            } else if scalar == "\u{1B}" {
                escape = .operatingSystemCommandEscape
            }
            return
        case .operatingSystemCommandEscape:
            escape = scalar == "\\" ? .none : .operatingSystemCommand
            return
        case .characterSetDesignation:
            escape = .none
            return
        }
        switch scalar {
        case "\u{1B}":
            escape = .escape
        case "\n":
            Self.appendVisible(line, to: &completed)
            completed.append("\n")
            line.removeAll(keepingCapacity: true)
            cursor = 0
        case "\r":
            cursor = 0
        case "\u{08}":
            cursor = max(0, cursor - 1)
        default:
            if cursor < line.count {
                line[cursor] = scalar
            } else {
                line.append(scalar)
            }
            cursor += 1
            if line.count > Self.maximumOpenLine, cursor == line.count {
                Self.appendVisible(line, to: &completed)
                line.removeAll(keepingCapacity: true)
                cursor = 0
            }
        }
    }

    /// `ESC [ n K`: 0 (or none) erases from the cursor to the end, 1 from the start to the
    /// cursor, 2 the whole line; the cursor stays where it is.
    private mutating func eraseInLine(_ parameters: String) {
        switch parameters {
        case "", "0":
            if cursor < line.count { line.removeSubrange(cursor...) }
        case "1":
            for index in 0..<min(cursor + 1, line.count) { line[index] = " " }
        case "2":
            line = Array(repeating: Self.erased, count: min(cursor, line.count))
        default:
            break
        }
    }

    /// A cell that `ESC [ 2 K` blanked and nothing has written since: shown as nothing, so a
    /// shorter redraw does not leave trailing blanks.
    private static let erased: Unicode.Scalar = "\u{0}"

    private static func appendVisible(_ line: [Unicode.Scalar], to view: inout String.UnicodeScalarView) {
        if line.contains(erased) {
            view.append(contentsOf: line.lazy.filter { $0 != erased })
        } else {
            view.append(contentsOf: line)
        }
    }

    private mutating func flushIfTooLong() -> String {
        guard line.count > Self.maximumOpenLine else { return "" }
        let text = openLine
        line.removeAll(keepingCapacity: true)
        cursor = 0
        return text
    }
}
