import Foundation
import Testing

/// Snippets/AgentHost.swift is the guide "Running Python from an agent host": its slices are
/// the README's and DocC's code. Built by `swift build` beside `pyrun`, it runs here, and each
/// `// → TEXT` comment in it is a line it must print, in that order.
@Suite struct AgentHostSnippetTests {
    static let source = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Snippets/AgentHost.swift")

    static let executable = URL(fileURLWithPath: pyrunExecutable).deletingLastPathComponent()
        .appendingPathComponent("AgentHost").path

    /// The `// → TEXT` comments of the snippet, in file order.
    static func promisedLines() throws -> [String] {
        try String(contentsOf: source, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let arrow = line.range(of: "// → ") else { return nil }
            return String(line[arrow.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
    }

    @Test func printsWhatItsCommentsPromiseInOrder() async throws {
        let promised = try Self.promisedLines()
        #expect(promised.count >= 15)
        let host = try PyrunProcess([], executable: Self.executable)
        let outcome = await host.finish(seconds: 120)
        #expect(outcome.status == 0, "AgentHost failed:\n\(outcome.stderr)")
        let printed = outcome.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var position = printed.startIndex
        for line in promised {
            guard let found = printed[position...].firstIndex(of: line) else {
                Issue.record(
                    "AgentHost did not print \"\(line)\" (after line \(position)); it printed:\n\(outcome.stdout)")
                return
            }
            position = printed.index(after: found)
        }
    }
}
