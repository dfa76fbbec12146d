/// Where the prompt and the text land on a terminal `width` columns wide, written from the
/// start of a row, and the text that draws them. Pure, so wrapping is tested without a
/// terminal.
///
/// Wrapping follows what terminals do: after a character fills the last column the cursor
/// stays there until the next character is written (a "pending wrap"), and a wide character
/// that does not fit in the columns left starts the next row.
struct ScreenLayout: Hashable {
    /// A place on the screen, counted from the row the drawing starts on.
    struct Position: Hashable {
        var row: Int
        var column: Int
    }

    /// What to write: the prompts and text, lines joined by CR LF and continuation prompts.
    private(set) var text = ""
    /// Where the editing cursor belongs.
    private(set) var cursor = Position(row: 0, column: 0)
    /// Where the terminal's cursor is once `text` is written.
    private(set) var end = Position(row: 0, column: 0)
    /// True when the last row was filled to the edge and `text` ends with the line break
    /// that takes the cursor off it.
    private(set) var endsWithWrap = false

    init(prompt: String, continuationPrompt: String, buffer: EditBuffer, width: Int) {
        let width = max(width, 1)
        var position = Position(row: 0, column: 0)
        var pendingWrap = false

        /// Where `character` starts when written next.
        func start(of character: Character) -> Position {
            let fits = position.column + character.terminalColumns <= width
            return pendingWrap || !fits ? Position(row: position.row + 1, column: 0) : position
        }

        func place(_ character: Character) {
            let next = start(of: character)
            // A wide character that does not fit in the columns left: move it ourselves,
            // rather than rely on every terminal to.
            if next.row > position.row, !pendingWrap { text += "\r\n" }
            position = next
            pendingWrap = false
            text.append(character)
            position.column += character.terminalColumns
            pendingWrap = position.column >= width
        }

        func breakLine() {
            text += "\r\n"
            position = Position(row: position.row + 1, column: 0)
            pendingWrap = false
        }

        prompt.forEach(place)
        for (index, character) in buffer.characters.enumerated() {
            if index == buffer.cursor {
                cursor = character == "\n" ? start(of: " ") : start(of: character)
            }
            if character == "\n" {
                breakLine()
                continuationPrompt.forEach(place)
            } else {
                place(character)
            }
        }
        if pendingWrap {
            // Leave no wrap pending: where the cursor stands would be up to the terminal.
            breakLine()
            endsWithWrap = true
        }
        end = position
        if buffer.isAtEnd { cursor = end }
    }
}

/// Draws a line again and again in place: remembers where the last drawing left the
/// cursor, so the next one can go back to its first row and replace it.
struct LineRenderer {
    private struct Drawn {
        var prompt: String
        var continuationPrompt: String
        var buffer: EditBuffer
        var width: Int
        var layout: ScreenLayout
    }

    private var drawn: Drawn?

    /// The text that replaces the last drawing (or, the first time, draws at the cursor,
    /// which must be at the start of a row) with this one.
    mutating func draw(prompt: String, continuationPrompt: String, buffer: EditBuffer, width: Int) -> String {
        let layout = ScreenLayout(prompt: prompt, continuationPrompt: continuationPrompt, buffer: buffer, width: width)
        defer {
            drawn = Drawn(
                prompt: prompt, continuationPrompt: continuationPrompt, buffer: buffer, width: width, layout: layout)
        }
        if let drawn, drawn.prompt == prompt, drawn.continuationPrompt == continuationPrompt,
            drawn.buffer == buffer, drawn.width == width
        {
            return ""  // already on the screen
        }
        if let drawn,
            let appended = Self.appendedText(
                from: drawn, to: buffer, prompt: prompt, continuationPrompt: continuationPrompt, width: width)
        {
            return appended
        }
        var output = ""
        if let drawn {
            // Back to the first row. After a resize the terminal may have re-wrapped the old
            // drawing; assume it did, as most do, and count rows at the new width.
            var cursorRow = drawn.layout.cursor.row
            if drawn.width != width {
                let rewrapped = ScreenLayout(
                    prompt: drawn.prompt, continuationPrompt: drawn.continuationPrompt, buffer: drawn.buffer,
                    width: width)
                // A row filled to the new edge ends in a break the old drawing never wrote;
                // going up one row too few leaves a stale row, one too many erases output.
                cursorRow = rewrapped.cursor.row - (rewrapped.endsWithWrap && drawn.buffer.isAtEnd ? 1 : 0)
            }
            output += Self.up(cursorRow)
        }
        output += "\r\u{1B}[J" + layout.text
        output += Self.move(from: layout.end, to: layout.cursor)
        return output
    }

    /// Moves the cursor below the last drawing, so what is written next starts on a fresh
    /// row, and forgets the drawing.
    mutating func leave() -> String {
        defer { drawn = nil }
        guard let drawn else { return "" }
        return Self.move(from: drawn.layout.cursor, to: drawn.layout.end) + (drawn.layout.endsWithWrap ? "" : "\r\n")
    }

    /// Erases the last drawing, leaving the cursor at the start of its first row, and forgets
    /// it: what is written next takes the line's place.
    mutating func erase() -> String {
        defer { drawn = nil }
        guard let drawn else { return "" }
        return Self.up(drawn.layout.cursor.row) + "\r\u{1B}[J"
    }

    /// Forgets the last drawing: the next one starts at the cursor (after the screen was
    /// cleared, or something else was written below).
    mutating func forget() {
        drawn = nil
    }

    /// When the only change is text typed at the end of the line and it fits on the row,
    /// just that text: typing then costs no redraw.
    private static func appendedText(
        from drawn: Drawn, to buffer: EditBuffer, prompt: String, continuationPrompt: String, width: Int
    ) -> String? {
        guard drawn.prompt == prompt, drawn.width == width, drawn.buffer.isAtEnd, buffer.isAtEnd,
            buffer.characters.count > drawn.buffer.characters.count,
            buffer.characters.starts(with: drawn.buffer.characters),
            drawn.continuationPrompt == continuationPrompt, !drawn.layout.endsWithWrap
        else { return nil }
        let added = buffer.characters[drawn.buffer.characters.count...]
        let addedColumns = added.reduce(0) { $0 + $1.terminalColumns }
        guard !added.contains("\n"), drawn.layout.end.column + addedColumns < width else { return nil }
        return String(added)
    }

    private static func up(_ rows: Int) -> String {
        rows > 0 ? "\u{1B}[\(rows)A" : ""
    }

    private static func move(from: ScreenLayout.Position, to: ScreenLayout.Position) -> String {
        var output = ""
        if from.row > to.row { output += up(from.row - to.row) }
        if from.row < to.row { output += "\u{1B}[\(to.row - from.row)B" }
        if from.column != to.column || from.row != to.row {
            output += "\r"
            if to.column > 0 { output += "\u{1B}[\(to.column)C" }
        }
        return output
    }
}
