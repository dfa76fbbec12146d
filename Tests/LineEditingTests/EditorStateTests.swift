import Testing

@testable import LineEditing

/// What keys do to a line: the editor's rules, without a terminal.
@Suite struct EditorStateTests {
    private func type(_ keys: [Key], into state: inout EditorState) -> [EditorAction] {
        keys.map { state.handle($0) }
    }

    // MARK: - Editing

    @Test func arrowLeftThenTypingEditsTheMiddle() {
        var state = EditorState()
        let actions = type([.text("'ac'"), .left, .left, .text("b"), .enter], into: &state)
        #expect(actions.last == .submit("'abc'"))
    }

    @Test func ctrlKeysMoveAndKillAndYank() {
        var state = EditorState(text: "world")
        _ = type([.control("a"), .text("hello "), .control("e"), .control("w")], into: &state)
        #expect(state.buffer.text == "hello ")
        _ = type([.control("a"), .control("y")], into: &state)
        #expect(state.buffer.text == "worldhello ")
        _ = type([.control("k")], into: &state)
        #expect(state.buffer.text == "world")
        _ = type([.control("u")], into: &state)
        #expect(state.buffer.isEmpty)
    }

    @Test func ctrlDLeavesOnlyAnEmptyLine() {
        var state = EditorState(text: "ab")
        #expect(state.handle(.control("d")) == .bell)  // at the end: nothing to delete
        _ = state.handle(.home)
        #expect(state.handle(.control("d")) == .redraw)
        #expect(state.buffer.text == "b")
        _ = state.handle(.delete)
        #expect(state.handle(.control("d")) == .endOfInput)
    }

    @Test func ctrlCInterruptsWhateverTheLineHolds() {
        var state = EditorState(text: "half a line")
        #expect(state.handle(.control("c")) == .interrupt)
    }

    @Test func tabIndentsAtTheStartOfALineAndCompletesElsewhere() {
        var state = EditorState()
        #expect(state.handle(.tab) == .redraw)
        #expect(state.buffer.text == "    ")
        _ = state.handle(.text("  "))
        _ = state.handle(.tab)
        #expect(state.buffer.text == "        ")  // to the next multiple of four
        _ = state.handle(.text("math.sq"))
        #expect(state.handle(.tab) == .complete)
    }

    @Test func unboundKeysChangeNothing() {
        var state = EditorState(text: "x")
        #expect(state.handle(.unknown) == .nothing)
        #expect(state.handle(.control("o")) == .nothing)
        #expect(state.buffer.text == "x")
    }

    // MARK: - History

    @Test func upRecallsEarlierEntriesAndDownComesBackToTheDraft() {
        var state = EditorState(history: ["first", "second"])
        _ = state.handle(.text("draft"))
        #expect(state.handle(.up) == .redraw)
        #expect(state.buffer.text == "second")
        _ = state.handle(.up)
        #expect(state.buffer.text == "first")
        #expect(state.handle(.up) == .bell)
        _ = state.handle(.down)
        _ = state.handle(.down)
        #expect(state.buffer.text == "draft")
        #expect(state.handle(.down) == .bell)
    }

    @Test func aMultiLineEntryComesBackWholeAndUpMovesWithinIt() {
        var state = EditorState(history: ["older", "def f():\n    return 5"])
        _ = state.handle(.up)
        #expect(state.buffer.text == "def f():\n    return 5")
        _ = state.handle(.up)  // to the entry's first line, not the older entry
        #expect(state.buffer.text == "def f():\n    return 5")
        #expect(state.buffer.isOnFirstLine)
        _ = state.handle(.up)
        #expect(state.buffer.text == "older")
        #expect(state.handle(.enter) == .submit("older"))
    }

    @Test func ctrlRFindsTheNewestMatchAndAgainAnOlderOne() {
        var state = EditorState(history: ["import math", "x = 1", "math.sqrt(2)", "y = 2"])
        _ = state.handle(.text("draft"))
        _ = state.handle(.control("r"))
        _ = state.handle(.text("math"))
        #expect(state.search?.query == "math")
        #expect(state.buffer.text == "math.sqrt(2)")
        #expect(state.buffer.cursor == 0)
        _ = state.handle(.control("r"))
        #expect(state.buffer.text == "import math")
        #expect(state.buffer.cursor == 7)
        #expect(state.handle(.control("r")) == .bell)
        #expect(state.search?.failed == true)
        // Another key takes the match and acts on it.
        _ = state.handle(.end)
        #expect(state.search == nil)
        #expect(state.handle(.enter) == .submit("import math"))
    }

    @Test func ctrlGLeavesTheSearchWithTheLineAsItWas() {
        var state = EditorState(history: ["import math"])
        _ = state.handle(.text("draft"))
        _ = state.handle(.control("r"))
        _ = state.handle(.text("ma"))
        #expect(state.buffer.text == "import math")
        _ = state.handle(.control("g"))
        #expect(state.search == nil)
        #expect(state.buffer.text == "draft")
    }

    @Test func enterDuringASearchRunsTheMatch() {
        var state = EditorState(history: ["print('found')", "other"])
        _ = state.handle(.control("r"))
        _ = state.handle(.text("found"))
        #expect(state.handle(.enter) == .submit("print('found')"))
    }

    // MARK: - Completion

    @Test func oneCandidateReplacesTheWord() {
        var state = EditorState(text: "import math; math.sq")
        let outcome = state.applyCompletions(Completions(matches: ["math.sqrt"], replacing: 13..<20))
        #expect(outcome == .inserted)
        #expect(state.buffer.text == "import math; math.sqrt")
        #expect(state.buffer.isAtEnd)
    }

    @Test func severalCandidatesExtendToWhatTheyShareThenList() {
        var state = EditorState(text: "math.i")
        let offered = Completions(matches: ["math.isclose", "math.isfinite", "math.isnan"], replacing: 0..<6)
        #expect(state.applyCompletions(offered) == .inserted)
        #expect(state.buffer.text == "math.is")
        let again = Completions(matches: offered.matches, replacing: 0..<7)
        #expect(state.applyCompletions(again) == .ambiguous(offered.matches))
        #expect(state.buffer.text == "math.is")
    }

    @Test func noCandidateOrNothingNewChangesNothing() {
        var state = EditorState(text: "zzz")
        #expect(state.applyCompletions(Completions(matches: [], replacing: 0..<3)) == .nothing)
        #expect(state.applyCompletions(Completions(matches: ["zzz"], replacing: 0..<3)) == .nothing)
        #expect(state.buffer.text == "zzz")
    }

    @Test func completionInTheMiddleKeepsTheRest() {
        var state = EditorState(text: "len(os.pa)")
        _ = state.handle(.left)
        #expect(state.applyCompletions(Completions(matches: ["os.path"], replacing: 4..<9)) == .inserted)
        #expect(state.buffer.text == "len(os.path)")
        #expect(state.buffer.cursor == 11)
    }
}
