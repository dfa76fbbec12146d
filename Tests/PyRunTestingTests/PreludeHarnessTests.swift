import Foundation
import PyRunKit
import PyRunTesting
import Synchronization
import Testing

/// The harness itself: what a test gets, and that nothing outlives it.
@Suite struct PreludeHarnessTests {
    @Test func aTestGetsAWorkspaceFromFixturesAndStringsAndNothingOutlivesIt() async throws {
        try await withTemporaryDirectory { fixtures throws in
            try FileManager.default.createDirectory(atPath: "\(fixtures)/docs", withIntermediateDirectories: true)
            try "# Guide\n".write(toFile: "\(fixtures)/docs/guide.md", atomically: true, encoding: .utf8)
            try "from fixtures\n".write(toFile: "\(fixtures)/data.txt", atomically: true, encoding: .utf8)
            let workspace = Workspace.fixtures(URL(fileURLWithPath: fixtures))
                .adding(["data.txt": "from strings\n", "src/app.py": "print('hi')\n"])
            let left = try await PreludeHarness(workspace: workspace).test { kernel in
                #expect(try kernel.file("docs/guide.md") == "# Guide\n")
                #expect(try kernel.file("data.txt") == "from strings\n")  // text wins over a fixture
                #expect(try await kernel.value("import os\nos.getcwd()") == "'\(kernel.workspace.path)'")
                #expect(try await kernel.value("read('src/app.py')") == "1\tprint('hi')")
                let temporary = try await kernel.value("import tempfile\ntempfile.gettempdir()")
                #expect(temporary.hasPrefix("'\(kernel.workspace.deletingLastPathComponent().path)/"))
                // A process the code leaves running, as careless code would.
                let child = try #require(
                    Int32(try await kernel.value("import subprocess\nsubprocess.Popen(['sleep', '60']).pid")))
                let runner = try #require(await kernel.kernel.pid)
                return (kernel.workspace.deletingLastPathComponent(), [runner, child])
            }
            #expect(!FileManager.default.fileExists(atPath: left.0.path), "the harness left \(left.0.path)")
            for pid in left.1 { #expect(await waitUntilGone(pid), "process \(pid) outlived the test") }
        }
    }

    @Test func aBodyThatThrowsLeavesNothingBehindEither() async throws {
        struct Planned: Error {}
        let seen = Mutex<(URL, Int32)?>(nil)
        await #expect(throws: Planned.self) {
            try await PreludeHarness(prelude: []).test { kernel in
                let pid = try #require(await kernel.kernel.pid)
                seen.withLock { $0 = (kernel.workspace, pid) }
                throw Planned()
            }
        }
        let (workspace, pid) = try #require(seen.withLock { $0 })
        #expect(!FileManager.default.fileExists(atPath: workspace.path))
        #expect(await waitUntilGone(pid))
    }

    @Test func aPreludeThatDoesNotLoadFailsTheTestUnlessThatIsWhatItTests() async throws {
        try await withTemporaryDirectory { directory throws in
            let broken = URL(fileURLWithPath: "\(directory)/broken.py")
            try "def kept():\n    return 1\n\nraise ImportError('no such backend')\n".write(
                to: broken, atomically: true, encoding: .utf8)
            let failure = await #expect(throws: HarnessFailure.self) {
                try await PreludeHarness(prelude: [.file(broken)]).test { _ in Issue.record("the body ran") }
            }
            #expect(failure?.preludeFailures.map(\.file) == [broken.path])
            #expect(failure?.description.contains("ImportError: no such backend") == true)

            try await PreludeHarness(prelude: [.default, .file(broken)], requiresCompletePrelude: false).test {
                kernel throws in
                #expect(kernel.preludeFailures.map(\.line) == [4])
                #expect(try await kernel.value("kept(), callable(read)") == "(1, True)")
            }
        }
    }

    @Test func expectationsThatFailSayWhatTheCodeDid() async throws {
        try await PreludeHarness().test { kernel in
            let failed = await #expect(throws: HarnessFailure.self) {
                try await kernel.expectSuccess("print('before')\nread('absent.txt')")
            }
            let text = failed?.description ?? ""
            #expect(text.contains("expected `print('before') …` to succeed"))
            #expect(text.contains("FileNotFoundError"))
            #expect(text.contains("stdout:\nbefore"))

            let error = try await kernel.expectError("FileNotFoundError", from: "read('absent.txt')")
            #expect(error.value.contains("absent.txt"))
            await #expect(throws: HarnessFailure.self) {
                try await kernel.expectError("ValueError", from: "read('absent.txt')")
            }
            await #expect(throws: HarnessFailure.self) { try await kernel.expectError("ValueError", from: "1 + 1") }
            await #expect(throws: HarnessFailure.self) { try await kernel.value("x = 1") }
            #expect(throws: HarnessFailure.self) { try kernel.file("absent.txt") }
        }
    }

    @Test func aHelperThatHangsTimesOutInsteadOfHangingTheTest() async throws {
        try await PreludeHarness(timeout: .seconds(1)).test { kernel in
            let result = try await kernel.run("sh('sleep 60')")
            #expect(result.status == .timedOut)
            #expect(try await kernel.value("'still usable'") == "'still usable'")
        }
    }

    @Test func workspacePathsStayInsideTheWorkspace() async throws {
        for path in ["../escape.txt", "/etc/escape.txt", "a/../../escape.txt"] {
            await #expect(throws: HarnessFailure.self) {
                try await PreludeHarness(workspace: [path: "x"]).test { _ in Issue.record("the body ran for \(path)") }
            }
        }
    }
}
