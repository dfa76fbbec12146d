import Foundation
import Testing

@testable import PyRunMCP

@Suite struct RepeatedLinesTests {
    private func squash(_ text: String, from first: Int = 1) -> [OutputLine] {
        RepeatedLines.squash(NumberedLine.split(text[...], firstNumber: first))
    }

    @Test func aRunOfThreeOrMoreBecomesTheLineAndANote() {
        let lines = squash("start\nwarn\nwarn\nwarn\nwarn\nend\n")
        #expect(
            lines.map(\.text) == ["start", "warn", "[pyrun: the line above repeats 3 more times, lines 3–5]", "end"])
        #expect(lines.map(\.firstLine) == [1, 2, 3, 6])
        #expect(lines[2].lastLine == 5 && lines[2].lineCount == 3)
        #expect(lines[2].originalLength == 15)
    }

    @Test func twoIdenticalLinesStay() {
        let lines = squash("a\na\nb", from: 10)
        #expect(lines.map(\.text) == ["a", "a", "b"])
        #expect(lines.map(\.firstLine) == [10, 11, 12])
        #expect(lines.map(\.originalLength) == [2, 2, 1])
    }

    @Test func originalLengthsAddUpToTheText() {
        for text in ["x\nx\nx", "x\nx\nx\n", "", "\n\n\n\n", "a\nb\nb\nb\nb", "only"] {
            let lines = squash(text)
            #expect(lines.reduce(0) { $0 + $1.originalLength } == text.unicodeScalars.count, "\(text.debugDescription)")
        }
    }

    @Test func aRunAmongAnotherStreamsLinesNamesItsSpan() {
        let lines = [3, 5, 9, 10].map { NumberedLine(number: $0, text: "tick") }
        let squashed = RepeatedLines.squash(lines)
        #expect(
            squashed.map(\.text) == ["tick", "[pyrun: the line above repeats 3 more times, between lines 5 and 10]"])
    }

    @Test func splittingKeepsWhetherTheLastLineEnded() {
        #expect(NumberedLine.split("a\nb", firstNumber: 1).map(\.hasNewline) == [true, false])
        #expect(NumberedLine.split("a\nb\n", firstNumber: 1).map(\.hasNewline) == [true, true])
        #expect(NumberedLine.split("", firstNumber: 1).isEmpty)
        #expect(NumberedLine.split("\n", firstNumber: 4).map(\.number) == [4])
    }

    @Test func countsAreGroupedByThousands() {
        #expect(1_234_567.grouped == "1,234,567")
        #expect(999.grouped == "999")
        #expect(1000.grouped == "1,000")
    }
}

@Suite struct OutputBudgetTests {
    private let reference = FullOutputReference(path: "/tmp/pyrun-mcp/runs/r7.txt", runID: "r7")

    private func numberedLines(_ count: Int) -> String {
        (1...count).map { "line \($0)" }.joined(separator: "\n") + "\n"
    }

    // MARK: - Within the budget

    @Test func outputWithinTheBudgetIsReturnedWhole() {
        let text = "hello\nwörld ✓\n"
        let fitted = OutputBudget(limit: 100).fit(text)
        #expect(fitted.text == text)
        #expect(fitted.isWhole)
    }

    @Test func squashingAloneCanBringOutputWithinTheBudget() {
        let text = "begin\n" + String(repeating: "Warning: deprecated\n", count: 500) + "end\n"
        let fitted = OutputBudget(limit: 1000).fit(text)
        #expect(fitted.elision == nil)
        #expect(fitted.squashedLines == 499)
        #expect(
            fitted.text
                == "begin\nWarning: deprecated\n[pyrun: the line above repeats 499 more times, lines 3–501]\nend\n")
    }

    // MARK: - Over the budget

    @Test func theStartAndTheEndAreKeptWithMostRoomForTheEnd() throws {
        let text = numberedLines(5000)
        let budget = OutputBudget(limit: 2000, headShare: 0.25)
        let fitted = budget.fit(text, fullOutput: reference)
        #expect(fitted.text.unicodeScalars.count <= 2000)
        let elision = try #require(fitted.elision)
        let parts = fitted.text.components(separatedBy: "\n[pyrun: ")
        #expect(parts.count == 2)
        let head = parts[0].split(separator: "\n")
        let tail = parts[1].split(separator: "\n").dropFirst()
        #expect(head.first == "line 1")
        #expect(head.last == "line \(elision.firstLine - 1)")
        #expect(tail.first.map(String.init) == "line \(elision.lastLine + 1)")
        #expect(tail.last == "line 5000")
        #expect(tail.joined().count > 2 * head.joined().count)
        // Exactly what was left out: the characters of the lines between.
        let leftOut = (elision.firstLine...elision.lastLine).reduce(0) { $0 + "line \($1)\n".count }
        #expect(elision.characters == leftOut)
        #expect(!elision.startsInsideLine && !elision.endsInsideLine)
    }

    @Test func theNoteSaysWhatWasLeftOutAndWhereTheWholeOutputIs() throws {
        let fitted = OutputBudget(limit: 1000).fit(numberedLines(3000), fullOutput: reference)
        let elision = try #require(fitted.elision)
        let note = OutputBudget.note(for: elision, fullOutput: reference)
        #expect(fitted.text.contains("\n" + note + "\n"))
        #expect(note.contains("\(elision.characters.grouped) characters left out here"))
        #expect(note.contains("lines \(elision.firstLine.grouped)–\(elision.lastLine.grouped)"))
        #expect(note.contains("/tmp/pyrun-mcp/runs/r7.txt"))
        #expect(note.contains("python_output(run_id: \"r7\", offset: \(elision.firstLine - 1))"))
    }

    @Test func lineNumbersCountFromWhereTheTextStartsInTheRun() throws {
        let text = (101...400).map { "row \($0)" }.joined(separator: "\n") + "\n"
        let fitted = OutputBudget(limit: 600).fit(text, firstLineNumber: 101)
        let elision = try #require(fitted.elision)
        #expect(fitted.text.hasPrefix("row 101\n"))
        #expect(fitted.text.contains("row \(elision.firstLine - 1)\n[pyrun: "))
        #expect(fitted.text.contains("]\nrow \(elision.lastLine + 1)\n"))
    }

    @Test func aTracebackAtTheEndSurvives() {
        let traceback = """
            Traceback (most recent call last):
              File "<cell>", line 3, in <module>
            ZeroDivisionError: division by zero

            """
        let text = numberedLines(10_000) + traceback
        let fitted = OutputBudget(limit: 3000).fit(text)
        #expect(fitted.text.hasSuffix(traceback))
        #expect(fitted.elision != nil)
    }

    @Test func oneHugeLineKeepsItsStartAndItsEnd() throws {
        let line = (0..<20_000).map { "\($0 % 10)" }.joined(separator: " ")
        let fitted = OutputBudget(limit: 1000).fit(line)
        let elision = try #require(fitted.elision)
        #expect(elision.firstLine == 1 && elision.lastLine == 1)
        #expect(elision.startsInsideLine && elision.endsInsideLine)
        #expect(fitted.text.unicodeScalars.count <= 1000)
        let parts = fitted.text.components(separatedBy: "\n")
        #expect(parts.count == 3)
        #expect(line.hasPrefix(parts[0]))
        #expect(line.hasSuffix(parts[2]))
        #expect(parts[0].count + parts[2].count + elision.characters == line.count)
        #expect(parts[1].contains("part of line 1"))
    }

    @Test func aCutNeverSplitsACharacter() {
        // Thumbs up with a skin tone: two scalars, one character, four UTF-8 bytes each.
        for offset in 0..<4 {
            let line = String(repeating: "a", count: offset) + String(repeating: "👍🏽", count: 5000)
            let fitted = OutputBudget(limit: 700).fit(line)
            let parts = fitted.text.components(separatedBy: "\n")
            #expect(parts.count == 3)
            #expect(line.hasPrefix(parts[0]))
            #expect(line.hasSuffix(parts[2]))
            #expect(parts[2].unicodeScalars.first == "👍")
            #expect(parts[0].unicodeScalars.last == "🏽" || parts[0].allSatisfy { $0 == "a" })
        }
    }

    @Test func aBase64PayloadIsLeftOutWholeNeverCut() throws {
        let payload = Data((0..<60_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).base64EncodedString()
        let line = "image: data:image/png;base64," + payload + " (end of image) and then some words to keep"
        let fitted = OutputBudget(limit: 1000).fit("before\n" + line + "\nafter\n")
        let elision = try #require(fitted.elision)
        #expect(elision.characters >= payload.count)
        // No piece of the payload is shown: every base64 run in the reply is short.
        let longestRun = fitted.text.unicodeScalars.split { !OutputBudget.isBase64($0) }.map(\.count).max() ?? 0
        #expect(longestRun < 40)
        #expect(fitted.text.contains("(end of image) and then some words to keep\nafter\n"))
    }

    @Test func aPayloadWrappedOverLinesIsLeftOutWhole() throws {
        let payload = Data((0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).base64EncodedString(
            options: .lineLength76Characters)
        let wrapped = payload.replacingOccurrences(of: "\r\n", with: "\n")
        let text = "-----BEGIN DATA-----\n" + wrapped + "\n-----END DATA-----\nrest\n"
        let fitted = OutputBudget(limit: 2000).fit(text)
        let elision = try #require(fitted.elision)
        let payloadLines = wrapped.split(separator: "\n")
        #expect(elision.firstLine == 2)
        #expect(elision.lastLine == 1 + payloadLines.count)
        #expect(fitted.text.hasPrefix("-----BEGIN DATA-----\n[pyrun: "))
        #expect(fitted.text.hasSuffix("]\n-----END DATA-----\nrest\n"))
    }

    @Test func aLongRunOfOneKindOfCharacterIsCutLikeText() throws {
        for character in ["x", "-", "7"] {
            let line = String(repeating: character, count: 100_000)
            let fitted = OutputBudget(limit: 1000).fit(line + "\n")
            let elision = try #require(fitted.elision)
            #expect(elision.startsInsideLine && elision.endsInsideLine, "\(character)")
            let parts = fitted.text.split(separator: "\n")
            #expect(parts.count == 3, "\(character)")
            #expect(parts.first?.count ?? 0 > 100, "\(character)")
            #expect(parts.last?.count ?? 0 > 400, "\(character)")
        }
    }

    @Test func shortRepeatedLinesGetTheRoomTheirNoteNeeds() {
        let lines = NumberedLine.split(String(repeating: "same\n", count: 10)[...], firstNumber: 1)
        let original = lines.reduce(0) { $0 + $1.originalLength }
        let needed = OutputBudget.wholeLength(of: lines)
        #expect(needed > original)
        let fitted = OutputBudget(limit: needed).fit(lines: lines)
        #expect(fitted.elision == nil)
        #expect(fitted.text.hasPrefix("same\n[pyrun: the line above repeats 9 more times"))
    }

    @Test func rulersAndWordsAreNotPayloads() {
        let ruler = OutputLine(NumberedLine(number: 1, text: Substring(String(repeating: "=", count: 80))))
        let word = OutputLine(NumberedLine(number: 1, text: Substring(String(repeating: "abc", count: 30))))
        let payload = OutputLine(
            NumberedLine(number: 1, text: "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVmZ2hp"))
        #expect(!OutputBudget.isPayloadLine(ruler))
        #expect(!OutputBudget.isPayloadLine(word))
        #expect(OutputBudget.isPayloadLine(payload))
    }

    @Test func aRepetitionNoteIsNeverCutInHalf() {
        let text = numberedLines(50) + String(repeating: "same\n", count: 10_000) + numberedLines(50)
        let fitted = OutputBudget(limit: 900).fit(text)
        for line in fitted.text.split(separator: "\n") where line.hasPrefix("[pyrun: the line above") {
            #expect(line.hasSuffix("]"))
        }
    }

    @Test func manyShapesStayWithinTheBudgetAndShowTheirEnds() throws {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ range: Range<Int>) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return range.lowerBound + Int((seed >> 33) % UInt64(range.count))
        }
        let alphabet = Array("abcdefghij XYZ.,;é✓😀\t")
        for _ in 0..<80 {
            let lineCount = random(1..<400)
            var lines: [String] = []
            for _ in 0..<lineCount {
                let length = random(0..<(random(0..<10) == 0 ? 3000 : 60))
                lines.append(String((0..<length).map { _ in alphabet[random(0..<alphabet.count)] }))
                if random(0..<8) == 0 { lines += Array(repeating: lines.last!, count: random(0..<20)) }
            }
            let text = lines.joined(separator: "\n") + (random(0..<2) == 0 ? "\n" : "")
            let limit = random(400..<5000)
            let fitted = OutputBudget(limit: limit, headShare: Double(random(0..<100)) / 100).fit(
                text, fullOutput: reference)
            #expect(fitted.text.unicodeScalars.count <= limit)
            if fitted.isWhole { #expect(fitted.text == text) }
            if let elision = fitted.elision {
                #expect(elision.characters > 0)
                #expect(elision.firstLine <= elision.lastLine)
                #expect(
                    fitted.text.components(separatedBy: "[pyrun: ").count - 1
                        == 1 + fitted.text.components(separatedBy: "[pyrun: the line above").count - 1)
            }
        }
    }
}
