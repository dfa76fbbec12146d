import Testing

@testable import LineEditing

/// Where text lands on the screen, and what redraws it: wrapping at the edge, wide
/// characters, multi-line entries, a width that changes.
@Suite struct ScreenLayoutTests {
    private typealias Position = ScreenLayout.Position

    private func layout(_ prompt: String, _ text: String, cursor: Int? = nil, width: Int) -> ScreenLayout {
        let buffer = cursor.map { EditBuffer(text, cursor: $0) } ?? EditBuffer(text)
        return ScreenLayout(prompt: prompt, continuationPrompt: "...: ", buffer: buffer, width: width)
    }

    @Test func aShortLineIsOneRow() {
        let shown = layout("> ", "abc", cursor: 1, width: 80)
        #expect(shown.text == "> abc")
        #expect(shown.cursor == Position(row: 0, column: 3))
        #expect(shown.end == Position(row: 0, column: 5))
    }

    @Test func aLongLineWrapsAtTheEdge() {
        let shown = layout("> ", "abcdefghij", width: 8)
        #expect(shown.text == "> abcdefghij")  // the terminal wraps it
        #expect(shown.end == Position(row: 1, column: 4))
        #expect(layout("> ", "abcdefghij", cursor: 6, width: 8).cursor == Position(row: 1, column: 0))
    }

    @Test func aLineThatFillsTheRowExactlyMovesTheCursorToTheNextOne() {
        let shown = layout("> ", "abcdef", width: 8)
        #expect(shown.text == "> abcdef\r\n")
        #expect(shown.endsWithWrap)
        #expect(shown.cursor == Position(row: 1, column: 0))
    }

    @Test func wideCharactersTakeTwoColumnsAndNeverStraddleTheEdge() {
        let shown = layout("> ", "名前は", width: 7)
        // "> 名前" fills six columns; "は" does not fit in the seventh.
        #expect(shown.text == "> 名前\r\nは")
        #expect(shown.end == Position(row: 1, column: 2))
        #expect(layout("> ", "名前は", cursor: 2, width: 7).cursor == Position(row: 1, column: 0))
    }

    @Test func columnWidthsOfCharacters() {
        #expect(Character("a").terminalColumns == 1)
        #expect(Character("名").terminalColumns == 2)
        #expect(Character("한").terminalColumns == 2)
        #expect(Character("😀").terminalColumns == 2)
        #expect(Character("e\u{301}").terminalColumns == 1)
        #expect(Character("Ａ").terminalColumns == 2)  // full-width A
    }

    @Test func aMultiLineEntryShowsContinuationPrompts() {
        let shown = layout("In: ", "def f():\n    return 5", cursor: 3, width: 80)
        #expect(shown.text == "In: def f():\r\n...:     return 5")
        #expect(shown.cursor == Position(row: 0, column: 7))
        #expect(shown.end == Position(row: 1, column: 17))
    }

    // MARK: - Redrawing

    @Test func typingAtTheEndWritesOnlyTheNewText() {
        var renderer = LineRenderer()
        let first = renderer.draw(prompt: "> ", continuationPrompt: "", buffer: EditBuffer("ab"), width: 80)
        #expect(first == "\r\u{1B}[J> ab")
        #expect(renderer.draw(prompt: "> ", continuationPrompt: "", buffer: EditBuffer("abc"), width: 80) == "c")
        #expect(renderer.draw(prompt: "> ", continuationPrompt: "", buffer: EditBuffer("abc"), width: 80) == "")
    }

    @Test func anEditInTheMiddleRedrawsFromTheFirstRowAndPlacesTheCursor() {
        var renderer = LineRenderer()
        _ = renderer.draw(prompt: "> ", continuationPrompt: "", buffer: EditBuffer("abcdefghij"), width: 8)
        let redraw = renderer.draw(
            prompt: "> ", continuationPrompt: "", buffer: EditBuffer("abcdefghij", cursor: 3), width: 8)
        // Up one row (the cursor was on the second), clear, write, then back up to column 5.
        #expect(redraw == "\u{1B}[1A\r\u{1B}[J> abcdefghij\u{1B}[1A\r\u{1B}[5C")
    }

    @Test func leavingMovesBelowTheWholeDrawing() {
        var renderer = LineRenderer()
        _ = renderer.draw(prompt: "> ", continuationPrompt: "", buffer: EditBuffer("abcdefghij", cursor: 0), width: 8)
        #expect(renderer.leave() == "\u{1B}[1B\r\u{1B}[4C\r\n")
        // Forgotten: the next drawing starts where the cursor is.
        #expect(renderer.draw(prompt: "> ", continuationPrompt: "", buffer: EditBuffer(), width: 8) == "\r\u{1B}[J> ")
    }

    @Test func afterTheWindowNarrowsTheRedrawGoesUpTheRewrappedRows() {
        var renderer = LineRenderer()
        _ = renderer.draw(prompt: "> ", continuationPrompt: "", buffer: EditBuffer("abcdefghijkl"), width: 20)
        // Fourteen columns re-wrapped at five are three rows: the cursor is two rows down.
        let redraw = renderer.draw(prompt: "> ", continuationPrompt: "", buffer: EditBuffer("abcdefghijkl"), width: 5)
        #expect(redraw.hasPrefix("\u{1B}[2A\r\u{1B}[J"))
    }

    // MARK: - Completion lists

    @Test func candidatesFillColumnsDownThenAcross() {
        let rows = CompletionList.rows(for: ["alpha", "beta", "gamma", "delta", "epsilon"], width: 24)
        #expect(rows == ["alpha    delta", "beta     epsilon", "gamma"])
    }

    @Test func aLongListIsCut() {
        let many = (0..<150).map { "name\($0)" }
        let rows = CompletionList.rows(for: many, width: 80)
        #expect(rows.last == "(50 more not shown)")
        #expect(!rows.joined(separator: "\n").contains("name100"))
    }
}
