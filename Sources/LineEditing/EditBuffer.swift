/// The text being edited and the cursor in it, with the editing operations of a shell's
/// line editor. Pure: no terminal, so every operation can be tested on its own.
///
/// The text is a sequence of `Character`s (grapheme clusters): the cursor never lands inside
/// an accented letter or an emoji. It may hold several lines (a recalled multi-line cell);
/// "line" in the method names means the line the cursor is on.
public struct EditBuffer: Hashable, Sendable {
    public private(set) var characters: [Character]
    /// Index into `characters`: the cursor stands before `characters[cursor]`.
    public private(set) var cursor: Int

    /// A buffer holding `text`, with the cursor at its end.
    public init(_ text: String = "") {
        characters = Array(text)
        cursor = characters.count
    }

    /// A buffer holding `text` with the cursor at `cursor` (clamped to the text).
    public init(_ text: String, cursor: Int) {
        self.init(text)
        self.cursor = max(0, min(cursor, characters.count))
    }

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }
    public var isAtEnd: Bool { cursor == characters.count }

    // MARK: - Lines

    /// Where the cursor's line starts.
    public var lineStart: Int {
        characters[..<cursor].lastIndex(of: "\n").map { $0 + 1 } ?? 0
    }

    /// Where the cursor's line ends (the index of its line break, or the end).
    public var lineEnd: Int {
        characters[cursor...].firstIndex(of: "\n") ?? characters.count
    }

    /// The text from the start of the cursor's line up to the cursor.
    public var textBeforeCursorOnLine: String {
        String(characters[lineStart..<cursor])
    }

    public var isOnFirstLine: Bool { !characters[..<cursor].contains("\n") }
    public var isOnLastLine: Bool { !characters[cursor...].contains("\n") }

    // MARK: - Inserting and deleting

    /// Inserts `text` at the cursor and moves the cursor past it.
    public mutating func insert(_ text: String) {
        guard !text.isEmpty else { return }
        // Rebuilt from strings, because a combining mark typed after a letter joins it into
        // one character rather than standing alone.
        let before = String(characters[..<cursor]) + text
        let combined = Array(before + String(characters[cursor...]))
        cursor = min(Array(before).count, combined.count)
        characters = combined
    }

    /// Deletes the character before the cursor; false when there is none.
    @discardableResult
    public mutating func deleteBackward() -> Bool {
        guard cursor > 0 else { return false }
        cursor -= 1
        characters.remove(at: cursor)
        return true
    }

    /// Deletes the character under the cursor; false when the cursor is at the end.
    @discardableResult
    public mutating func deleteForward() -> Bool {
        guard cursor < characters.count else { return false }
        characters.remove(at: cursor)
        return true
    }

    /// Deletes from the cursor to the end of its line (or, at the end of a line that is not
    /// the last, the line break, joining the next line); returns what was deleted.
    public mutating func killToLineEnd() -> String {
        let end = lineEnd
        let range = end == cursor && end < characters.count ? cursor..<end + 1 : cursor..<end
        return remove(range)
    }

    /// Deletes from the start of the cursor's line to the cursor; returns what was deleted.
    public mutating func killToLineStart() -> String {
        remove(lineStart..<cursor)
    }

    /// Deletes the whitespace-separated word before the cursor, as a shell's Ctrl-W does.
    public mutating func killWordBackward() -> String {
        var start = cursor
        while start > 0, characters[start - 1].isWhitespace { start -= 1 }
        while start > 0, !characters[start - 1].isWhitespace { start -= 1 }
        return remove(start..<cursor)
    }

    /// Deletes back to the start of the identifier-like word before the cursor (Alt-Backspace).
    public mutating func killIdentifierBackward() -> String {
        remove(wordStart(before: cursor)..<cursor)
    }

    /// Deletes forward to the end of the next identifier-like word (Alt-d).
    public mutating func killIdentifierForward() -> String {
        remove(cursor..<wordEnd(after: cursor))
    }

    /// Swaps the two characters around the cursor (at the end of a line, the last two), and
    /// moves past them; false when there are not two.
    @discardableResult
    public mutating func transpose() -> Bool {
        guard characters.count >= 2, cursor > 0 else { return false }
        let right = cursor < characters.count && characters[cursor] != "\n" ? cursor : cursor - 1
        let left = right - 1
        guard left >= 0, characters[left] != "\n", characters[right] != "\n" else { return false }
        characters.swapAt(left, right)
        cursor = right + 1
        return true
    }

    /// Replaces the text between two offsets counted in Unicode scalars (the unit the kernel's
    /// completion uses), and puts the cursor after the replacement.
    public mutating func replace(scalarOffsets: Range<Int>, with replacement: String) {
        let start = characterIndex(atScalarOffset: scalarOffsets.lowerBound)
        let end = max(start, characterIndex(atScalarOffset: scalarOffsets.upperBound))
        let before = String(characters[..<start]) + replacement
        characters = Array(before + String(characters[end...]))
        cursor = min(Array(before).count, characters.count)
    }

    // MARK: - Moving

    @discardableResult
    public mutating func moveLeft() -> Bool {
        guard cursor > 0 else { return false }
        cursor -= 1
        return true
    }

    @discardableResult
    public mutating func moveRight() -> Bool {
        guard cursor < characters.count else { return false }
        cursor += 1
        return true
    }

    public mutating func moveToLineStart() { cursor = lineStart }
    public mutating func moveToLineEnd() { cursor = lineEnd }
    public mutating func moveToEnd() { cursor = characters.count }
    public mutating func moveWordLeft() { cursor = wordStart(before: cursor) }
    public mutating func moveWordRight() { cursor = wordEnd(after: cursor) }

    /// Moves to the same column of the line above; false on the first line.
    @discardableResult
    public mutating func moveLineUp() -> Bool {
        guard !isOnFirstLine else { return false }
        let column = cursor - lineStart
        let previousLineEnd = lineStart - 1
        let previousLineStart = characters[..<previousLineEnd].lastIndex(of: "\n").map { $0 + 1 } ?? 0
        cursor = min(previousLineStart + column, previousLineEnd)
        return true
    }

    /// Moves to the same column of the line below; false on the last line.
    @discardableResult
    public mutating func moveLineDown() -> Bool {
        guard !isOnLastLine else { return false }
        let column = cursor - lineStart
        let nextLineStart = lineEnd + 1
        let nextLineEnd = characters[nextLineStart...].firstIndex(of: "\n") ?? characters.count
        cursor = min(nextLineStart + column, nextLineEnd)
        return true
    }

    // MARK: - Offsets

    /// The cursor counted in Unicode scalars from the start of the text.
    public var scalarCursor: Int {
        characters[..<cursor].reduce(0) { $0 + $1.unicodeScalars.count }
    }

    /// The index of the character that starts at (or, inside a character, contains) the
    /// given scalar offset.
    private func characterIndex(atScalarOffset offset: Int) -> Int {
        var scalars = 0
        for (index, character) in characters.enumerated() {
            if scalars >= offset { return index }
            scalars += character.unicodeScalars.count
            if scalars > offset { return index }
        }
        return characters.count
    }

    // MARK: - Words

    /// Letters, digits and `_`: what Python calls an identifier, and so a word here.
    private static func isWordCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_"
    }

    private func wordStart(before index: Int) -> Int {
        var start = index
        while start > 0, !Self.isWordCharacter(characters[start - 1]) { start -= 1 }
        while start > 0, Self.isWordCharacter(characters[start - 1]) { start -= 1 }
        return start
    }

    private func wordEnd(after index: Int) -> Int {
        var end = index
        while end < characters.count, !Self.isWordCharacter(characters[end]) { end += 1 }
        while end < characters.count, Self.isWordCharacter(characters[end]) { end += 1 }
        return end
    }

    private mutating func remove(_ range: Range<Int>) -> String {
        let removed = String(characters[range])
        characters.removeSubrange(range)
        cursor = range.lowerBound
        return removed
    }
}
