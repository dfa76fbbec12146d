import Testing

@testable import PyRunMCP

@Suite struct TerminalTextTests {
    private func render(_ text: String) -> String { TerminalTextRenderer.render(text) }

    // MARK: - Escape sequences

    @Test func plainTextPassesUnchanged() {
        let text = "héllo ✓ 😀 wörld\n\tindented\nno newline at the end"
        #expect(render(text) == text)
    }

    @Test func coloursAreRemoved() {
        #expect(render("\u{1B}[1;31mError\u{1B}[0m: \u{1B}[38;5;208mbad\u{1B}[m\n") == "Error: bad\n")
    }

    @Test func hyperlinksKeepTheirTextAndTitlesVanish() {
        let link = "\u{1B}]8;;https://example.com\u{1B}\\the docs\u{1B}]8;;\u{1B}\\\n"
        #expect(render(link) == "the docs\n")
        #expect(render("\u{1B}]0;window title\u{07}after\n") == "after\n")
    }

    @Test func otherEscapesAndCharacterSetsVanish() {
        #expect(render("\u{1B}7saved\u{1B}8 \u{1B}(Bascii\u{1B}[?25l\u{1B}[2J\n") == "saved ascii\n")
    }

    @Test func anEscapeSplitAcrossChunksIsStillRemoved() {
        var renderer = TerminalTextRenderer()
        var shown = renderer.feed("a\u{1B}")
        shown += renderer.feed("[3")
        shown += renderer.feed("1mred\u{1B}]8;;http://x\u{1B}")
        shown += renderer.feed("\\b\n")
        #expect(shown == "aredb\n")
    }

    // MARK: - Carriage returns

    @Test func aProgressBarCollapsesToItsLastState() {
        let bar = (0...100).map { "\rprogress: \($0)%" }.joined() + "\ndone\n"
        #expect(render(bar) == "progress: 100%\ndone\n")
    }

    @Test func aShorterRedrawOverwritesOnlyWhatItCovers() {
        #expect(render("abcdef\rXY\n") == "XYcdef\n")
    }

    @Test func eraseInLineClearsWhatARedrawDoesNotCover() {
        #expect(render("abcdef\r\u{1B}[2KXY\n") == "XY\n")
        #expect(render("abcdef\u{1B}[2K\rXY\n") == "XY\n")
        #expect(render("abcdef\rXY\u{1B}[K\n") == "XY\n")
        #expect(render("abcdef\u{1B}[1K\n") == "      \n")
    }

    @Test func backspacesMoveBack() {
        #expect(render("ab\u{8}c\n") == "ac\n")
        #expect(render("\u{8}\u{8}x\n") == "x\n")
    }

    @Test func windowsLineEndingsBecomeNewlines() {
        #expect(render("one\r\ntwo\r\n") == "one\ntwo\n")
    }

    @Test func tqdmAsItReallyWritesIsOneLine() {
        // tqdm: a leading \r per redraw, padded to the old width, a final \n from close().
        let frames = [
            "  0%|          | 0/3 [00:00<?, ?it/s]", " 33%|███▎      | 1/3 [00:00<00:00, 9.9it/s]",
            "100%|██████████| 3/3 [00:00<00:00, 9.9it/s]",
        ]
        let written = frames.map { "\r" + $0 }.joined() + "\n"
        #expect(render(written) == frames[2] + "\n")
    }

    // MARK: - Streaming

    @Test func completedLinesComeOutAndTheOpenLineWaits() {
        var renderer = TerminalTextRenderer()
        #expect(renderer.feed("first\nsec") == "first\n")
        #expect(renderer.openLine == "sec")
        #expect(renderer.feed("ond\rSECOND") == "")
        #expect(renderer.openLine == "SECOND")
        #expect(renderer.feed("\nthird") == "SECOND\n")
        #expect(renderer.finish() == "third")
        #expect(renderer.openLine == "")
    }

    @Test func aRedrawAcrossChunksUsesTheOpenLine() {
        var renderer = TerminalTextRenderer()
        var shown = renderer.feed("10%")
        shown += renderer.feed("\r20%")
        shown += renderer.feed("\r30%\n")
        #expect(shown == "30%\n")
    }

    @Test func aGiantLineWithoutNewlineIsPassedOnAndMemoryStaysBounded() {
        var renderer = TerminalTextRenderer()
        let block = String(repeating: "x", count: 10_000)
        var shown = ""
        for _ in 0..<20 {
            shown += renderer.feed(block)
            #expect(renderer.openLine.count <= TerminalTextRenderer.maximumOpenLine + block.count)
        }
        shown += renderer.finish()
        #expect(shown.count == 200_000)
        #expect(shown.allSatisfy { $0 == "x" })
    }

    @Test func aGiantRenderedLineIsAlsoBounded() {
        var renderer = TerminalTextRenderer()
        let block = String(repeating: "y", count: 10_000) + "\u{1B}[0m"
        var shown = ""
        for _ in 0..<20 {
            shown += renderer.feed(block)
            #expect(renderer.openLine.count <= TerminalTextRenderer.maximumOpenLine + 1)
        }
        shown += renderer.finish()
        #expect(shown == String(repeating: "y", count: 200_000))
    }
}
