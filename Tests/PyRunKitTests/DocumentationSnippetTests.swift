import Foundation
import Testing

/// The Swift code in README.md and the DocC catalog is code that compiles and runs: every
/// ```swift block there is a slice of a file under Snippets/ (built, and run by the CLI tests)
/// or of a test file (run by `swift test`), and every `@Snippet` names a slice that exists.
/// A slice is the lines between `// snippet.NAME` and `// snippet.end`, as DocC reads them.
@Suite struct DocumentationSnippetTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let documentationFiles = ["README.md"] + markdownFiles(in: "Sources/PyRunKit/PyRunKit.docc")

    @Test func everySwiftBlockIsASliceOfCodeThatRuns() throws {
        let slices = try Self.allSlices()
        #expect(!slices.isEmpty)
        var checked = 0
        for file in Self.documentationFiles {
            for block in try Self.swiftBlocks(in: file) {
                checked += 1
                let matches = slices.filter { $0.text == block.text }
                #expect(
                    !matches.isEmpty,
                    "\(file):\(block.line): this swift block is no slice of Snippets/ or the guide's tests; change the code there and copy the slice (the nearest is \(Self.nearest(to: block.text, in: slices)))"
                )
            }
        }
        #expect(checked > 0, "README.md has no swift block to check")
    }

    @Test func everySnippetDirectiveNamesASlice() throws {
        let slices = try Self.allSlices()
        for file in Self.documentationFiles {
            let text = try String(contentsOf: Self.packageRoot.appendingPathComponent(file), encoding: .utf8)
            for directive in Self.snippetDirectives(in: text) {
                let exists = slices.contains { $0.file == "\(directive.path).swift" && $0.name == directive.slice }
                #expect(exists, "\(file): @Snippet(path: \(directive.path), slice: \(directive.slice)) names no slice")
            }
        }
    }

    // MARK: - Reading slices and blocks

    struct Slice {
        var file: String
        var name: String
        var text: String
    }

    struct Block {
        var line: Int
        var text: String
    }

    static func markdownFiles(in directory: String) -> [String] {
        let url = packageRoot.appendingPathComponent(directory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { $0.hasSuffix(".md") }.sorted().map { "\(directory)/\($0)" }
    }

    /// The slices of every Swift file under Snippets/ and Tests/.
    static func allSlices() throws -> [Slice] {
        var slices: [Slice] = []
        for directory in ["Snippets", "Tests"] {
            let root = packageRoot.appendingPathComponent(directory)
            guard let walker = FileManager.default.enumerator(atPath: root.path) else { continue }
            for case let relative as String in walker where relative.hasSuffix(".swift") {
                let text = try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
                slices += slicesOf(text, file: "\(directory)/\(relative)")
            }
        }
        return slices
    }

    /// `// snippet.NAME` … `// snippet.end`; lines between `// snippet.hide` and
    /// `// snippet.show` are left out, as DocC leaves them out.
    static func slicesOf(_ text: String, file: String) -> [Slice] {
        var slices: [Slice] = []
        var current: (name: String, lines: [String])?
        var hidden = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("// snippet.") else {
                if !hidden { current?.lines.append(line) }
                continue
            }
            let marker = String(trimmed.dropFirst("// snippet.".count))
            switch marker {
            case "hide": hidden = true
            case "show": hidden = false
            case "end":
                if let finished = current {
                    slices.append(Slice(file: file, name: finished.name, text: normalized(finished.lines)))
                }
                current = nil
            default: current = (marker, [])
            }
        }
        return slices
    }

    /// The ```swift blocks of a markdown file, with the line each starts on.
    static func swiftBlocks(in file: String) throws -> [Block] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent(file), encoding: .utf8)
        var blocks: [Block] = []
        var current: (line: Int, lines: [String])?
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let open = current {
                if trimmed == "```" {
                    blocks.append(Block(line: open.line, text: normalized(open.lines)))
                    current = nil
                } else {
                    current?.lines.append(String(line))
                }
            } else if trimmed == "```swift" {
                current = (index + 1, [])
            }
        }
        return blocks
    }

    /// `@Snippet(path: "pyrun/Snippets/AgentHost", slice: "keys")` → (Snippets/AgentHost, keys).
    static func snippetDirectives(in text: String) -> [(path: String, slice: String)] {
        text.split(separator: "\n").compactMap { line -> (String, String)? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("@Snippet("),
                let path = quoted(after: "path:", in: trimmed), let slice = quoted(after: "slice:", in: trimmed)
            else { return nil }
            return (path.split(separator: "/").dropFirst().joined(separator: "/"), slice)
        }
    }

    static func quoted(after label: String, in text: String) -> String? {
        guard let labelRange = text.range(of: label) else { return nil }
        let rest = text[labelRange.upperBound...].drop { $0 == " " }
        guard rest.first == "\"" else { return nil }
        return String(rest.dropFirst().prefix { $0 != "\"" })
    }

    /// Lines without their common indentation and trailing blanks, leading and trailing empty
    /// lines dropped.
    static func normalized(_ lines: [String]) -> String {
        var lines = lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        while lines.last?.isEmpty == true { lines.removeLast() }
        let indent = lines.filter { !$0.isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return lines.map { $0.isEmpty ? $0 : String($0.dropFirst(indent)) }.joined(separator: "\n")
    }

    /// The slice whose first line matches the block's, to point at in a failure.
    static func nearest(to block: String, in slices: [Slice]) -> String {
        let first = block.split(separator: "\n").first.map(String.init) ?? ""
        let candidate = slices.first { $0.text.split(separator: "\n").first.map(String.init) == first }
        return candidate.map { "\($0.file), slice \($0.name)" } ?? "none"
    }
}
