import Foundation
import Testing

/// The README's ```console transcripts are what `pyrun` does: each `$ command` runs in
/// `/bin/sh` with the built `pyrun` first on PATH, and its stdout must be the lines that
/// follow it, up to the next `$`.
@Suite struct ReadmeTranscriptTests {
    static let readme = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("README.md")

    struct Step {
        var command: String
        var expected: String
    }

    /// The `$ ` commands of every ```console block, each with the output that follows it.
    static func transcript() throws -> [Step] {
        var steps: [Step] = []
        var inConsole = false
        for line in try String(contentsOf: readme, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        {
            if line == "```console" {
                inConsole = true
            } else if inConsole, line == "```" {
                inConsole = false
            } else if inConsole, line.hasPrefix("$ ") {
                steps.append(Step(command: String(line.dropFirst(2)), expected: ""))
            } else if inConsole, !steps.isEmpty {
                steps[steps.count - 1].expected += line + "\n"
            }
        }
        return steps
    }

    @Test func everyCommandPrintsWhatTheReadmeShows() async throws {
        let steps = try Self.transcript()
        #expect(steps.count >= 4, "README.md has no ```console transcript")
        let directory = URL(fileURLWithPath: pyrunExecutable).deletingLastPathComponent().path
        let path = "\(directory):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")"
        for step in steps {
            let shell = try PyrunProcess(["-c", step.command], environment: ["PATH": path], executable: "/bin/sh")
            let outcome = await shell.finish(seconds: 60)
            #expect(outcome.stdout == step.expected, "$ \(step.command)\nstderr: \(outcome.stderr)")
        }
    }
}
