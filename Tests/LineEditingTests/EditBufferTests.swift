import Testing

@testable import LineEditing

/// The editing operations on the text and cursor.
@Suite struct EditBufferTests {
    @Test func insertingInTheMiddle() {
        var buffer = EditBuffer("print(12)")
        buffer.moveLeft()
        buffer.moveLeft()
        buffer.insert("3")
        #expect(buffer.text == "print(132)")
        #expect(buffer.cursor == 8)
    }

    @Test func aCombiningMarkJoinsTheLetterBeforeIt() {
        var buffer = EditBuffer("cafe")
        buffer.insert("\u{301}")
        #expect(buffer.characters.count == 4)
        #expect(buffer.text == "cafe\u{301}")
        #expect(buffer.cursor == 4)
        #expect(buffer.deleteBackward() == true)
        #expect(buffer.text == "caf")
    }

    @Test func deletingBothWays() {
        var buffer = EditBuffer("abc", cursor: 1)
        #expect(buffer.deleteForward() == true)
        #expect(buffer.text == "ac")
        #expect(buffer.deleteBackward() == true)
        #expect(buffer.text == "c")
        #expect(buffer.deleteBackward() == false)
        buffer.moveToEnd()
        #expect(buffer.deleteForward() == false)
    }

    @Test func killsReturnWhatTheyRemoved() {
        var buffer = EditBuffer("x = math.sqrt(2)", cursor: 4)
        #expect(buffer.killToLineEnd() == "math.sqrt(2)")
        #expect(buffer.text == "x = ")
        #expect(buffer.killToLineStart() == "x = ")
        #expect(buffer.isEmpty)

        var words = EditBuffer("print(x) and more  ")
        #expect(words.killWordBackward() == "more  ")
        #expect(words.text == "print(x) and ")

        var identifiers = EditBuffer("obj.attribute")
        #expect(identifiers.killIdentifierBackward() == "attribute")
        identifiers.moveToLineStart()
        #expect(identifiers.killIdentifierForward() == "obj")
        #expect(identifiers.text == ".")
    }

    @Test func wordMotionStopsAtIdentifiers() {
        var buffer = EditBuffer("total = first_value + 2")
        buffer.moveWordLeft()
        #expect(buffer.cursor == 22)
        buffer.moveWordLeft()
        #expect(buffer.cursor == 8)
        buffer.moveWordRight()
        #expect(buffer.cursor == 19)
    }

    @Test func homeEndAndKillsStayOnTheCursorsLine() {
        var buffer = EditBuffer("def f():\n    return 1", cursor: 14)
        buffer.moveToLineStart()
        #expect(buffer.cursor == 9)
        buffer.moveToLineEnd()
        #expect(buffer.cursor == 21)
        buffer.moveToLineStart()
        #expect(buffer.killToLineEnd() == "    return 1")
        #expect(buffer.text == "def f():\n")
    }

    @Test func upAndDownMoveBetweenLinesKeepingTheColumn() {
        var buffer = EditBuffer("first\nab\nthird", cursor: 4)
        #expect(buffer.isOnFirstLine)
        #expect(buffer.moveLineUp() == false)
        #expect(buffer.moveLineDown() == true)
        #expect(buffer.cursor == 8)  // "ab" is shorter: its end
        #expect(buffer.moveLineDown() == true)
        #expect(buffer.cursor == 11)
        #expect(buffer.isOnLastLine)
        #expect(buffer.moveLineDown() == false)
    }

    @Test func transposeSwapsTheTwoCharactersAtTheCursor() {
        var buffer = EditBuffer("teh", cursor: 2)
        #expect(buffer.transpose() == true)
        #expect(buffer.text == "the")
        var atEnd = EditBuffer("ab")
        #expect(atEnd.transpose() == true)
        #expect(atEnd.text == "ba")
    }

    @Test func replacingByScalarOffsetsWithWideCharacters() {
        // "é" as e + combining accent is two scalars but one character.
        var buffer = EditBuffer("e\u{301} = 名前.up")
        #expect(buffer.scalarCursor == 10)
        buffer.replace(scalarOffsets: 5..<10, with: "名前.upper")
        #expect(buffer.text == "e\u{301} = 名前.upper")
        #expect(buffer.isAtEnd)
    }
}
