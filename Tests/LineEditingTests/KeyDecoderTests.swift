import Testing

@testable import LineEditing

/// Bytes as a terminal sends them, to keys.
@Suite struct KeyDecoderTests {
    private func keys(_ chunks: [UInt8]...) -> [Key] {
        var decoder = KeyDecoder()
        var keys: [Key] = []
        for chunk in chunks {
            decoder.append(chunk)
            while let key = decoder.nextKey() { keys.append(key) }
        }
        return keys
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func printableRunsBecomeOneTextKey() {
        #expect(keys(bytes("abc")) == [.text("abc")])
        #expect(keys(bytes("ab\rc")) == [.text("ab"), .enter, .text("c")])
    }

    @Test func controlBytesAreNamedByTheirLetter() {
        #expect(
            keys([0x01, 0x05, 0x0B, 0x15, 0x17, 0x03, 0x04, 0x12, 0x00, 0x1F]) == [
                .control("a"), .control("e"), .control("k"), .control("u"), .control("w"), .control("c"),
                .control("d"), .control("r"), .control("@"), .control("_"),
            ])
        #expect(keys([0x09, 0x0A, 0x0D, 0x7F, 0x08]) == [.tab, .enter, .enter, .backspace, .backspace])
    }

    @Test func arrowsHomeEndAndDeleteInBothEncodings() {
        #expect(keys(bytes("\u{1B}[A\u{1B}[B\u{1B}[C\u{1B}[D")) == [.up, .down, .right, .left])
        #expect(keys(bytes("\u{1B}OA\u{1B}OD\u{1B}OH\u{1B}OF")) == [.up, .left, .home, .end])
        #expect(
            keys(bytes("\u{1B}[H\u{1B}[F\u{1B}[1~\u{1B}[4~\u{1B}[7~\u{1B}[8~\u{1B}[3~")) == [
                .home, .end, .home, .end, .home, .end, .delete,
            ])
    }

    @Test func modifiedArrowsAndAltKeysMoveByWords() {
        #expect(keys(bytes("\u{1B}[1;5D\u{1B}[1;5C\u{1B}[1;3D")) == [.wordLeft, .wordRight, .wordLeft])
        #expect(keys(bytes("\u{1B}b\u{1B}f\u{1B}d")) == [.wordLeft, .wordRight, .deleteWordForward])
        #expect(keys([0x1B, 0x7F]) == [.deleteWordBackward])
    }

    @Test func unboundSequencesAreSkippedWhole() {
        // Page Up, F5, then text: nothing of the sequences leaks into the line.
        #expect(keys(bytes("\u{1B}[5~\u{1B}[15~x")) == [.unknown, .unknown, .text("x")])
    }

    @Test func aSequenceCutBetweenReadsWaitsForTheRest() {
        #expect(keys([0x1B], bytes("[D")) == [.left])
        #expect(keys(bytes("\u{1B}["), bytes("1;5"), bytes("C")) == [.wordRight])
    }

    @Test func aCharacterCutBetweenReadsWaitsForTheRest() {
        let euro = bytes("€")  // three bytes
        #expect(keys(bytes("a") + euro.prefix(2), Array(euro.suffix(1))) == [.text("a"), .text("€")])
        let emoji = bytes("😀")  // four bytes
        #expect(keys([emoji[0]], [emoji[1], emoji[2]], [emoji[3]]) == [.text("😀")])
    }

    @Test func invalidUTF8ShowsAsAReplacementCharacter() {
        #expect(keys([0x61, 0xFF, 0x62]) == [.text("a\u{FFFD}b")])
    }

    @Test func undecodedBytesAreHandedBack() {
        var decoder = KeyDecoder()
        decoder.append(bytes("x\rnext line\n"))
        #expect(decoder.nextKey() == .text("x"))
        #expect(decoder.nextKey() == .enter)
        #expect(decoder.takeUndecoded() == bytes("next line\n"))
        #expect(decoder.nextKey() == nil)
    }
}
