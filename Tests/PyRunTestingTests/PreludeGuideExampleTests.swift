// swift-format-ignore-file
// (Its snippet slices are copied verbatim into README.md and the DocC articles.)
// The examples of the README's "Preludes" section: each slice below is shown there verbatim
// (DocumentationSnippetTests checks that), and runs here as a real test.
import Foundation
import PyRunKit
import PyRunTesting
import Testing

/// The prelude file the examples test: pyrun's own default prelude, as a file of this
/// repository, standing for a host author's helpers.
let helpersURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Resources/prelude/pyrun_prelude.py")

@Suite struct PreludeGuideExampleTests {
    @Test func aKernelLoadsTheDefaultPreludeAndYourOwn() async throws {
        try await withTemporaryDirectory { directory in
            // snippet.prelude-configuration
            let configuration = KernelConfiguration(workingDirectory: directory, prelude: [.default, .file(helpersURL)])
            try await withKernel(configuration: configuration) { kernel in
                let result = try await kernel.run("write('notes.txt', 'a\\nb\\n')\nread('notes.txt')")
                #expect(result.statuses.map(\.op) == ["write", "read"])
                #expect(result.statuses.last?.path == "notes.txt")
            }
            // snippet.end
        }
    }

    // snippet.prelude-harness
    @Test func readNumbersLines() async throws {
        try await PreludeHarness(prelude: [.file(helpersURL)], workspace: ["notes.txt": "a\nb\n"]).test { kernel in
            let result = try await kernel.expectSuccess("read('notes.txt')")
            #expect(result.resultText == "1\ta\n2\tb")
            #expect(result.statuses.first?.op == "read")
            let error = try await kernel.expectError("FileNotFoundError", from: "read('absent.txt')")
            #expect(!error.traceback.joined().contains(helpersURL.lastPathComponent))
        }
    }
    // snippet.end
}
