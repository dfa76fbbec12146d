import Foundation
import PyRunKit
import PyRunTesting
import Testing

/// The default prelude as an agent's kernel runs it (its unit tests are Python, in
/// Resources/prelude/tests, run by `pyrun test`): what the host sees on the wire.
@Suite struct DefaultPreludeTests {
    static let workspace: Workspace = [
        "notes.txt": "alpha\nbeta\ngamma\n",
        "src/app.py": "def main():\n    # TODO: greet\n    print('hi')\n",
        "src/util.py": "TODO = 1\n",
        ".git/config": "TODO in git\n",
    ]

    @Test func everyHelperReportsWhatItDidAsATypedStatus() async throws {
        try await PreludeHarness(workspace: Self.workspace).test { kernel in
            let result = try await kernel.expectSuccess(
                """
                read('notes.txt', offset=2)
                write('out/new.txt', 'one\\n')
                append('out/new.txt', 'two\\n')
                replace('out/new.txt', 'two', 'three')
                diff('notes.txt', 'out/new.txt')
                ls('src')
                tree('.')
                find('*.py')
                grep('TODO', '.')
                sh('true')
                env('HOME')
                """)
            #expect(
                result.statuses.map(\.op) == [
                    "read", "write", "append", "replace", "diff", "ls", "tree", "find", "grep", "sh", "env",
                ])
            let byOp = Dictionary(result.statuses.map { ($0.op, $0) }) { first, _ in first }
            #expect(byOp["read"]?["lines"]?.intValue == 2)
            #expect(byOp["write"]?["created"]?.boolValue == true)
            #expect(byOp["grep"]?["matches"]?.intValue == 2)  // .git is skipped
            #expect(byOp["sh"]?["code"]?.intValue == 0)
            #expect(byOp["env"]?["name"]?.stringValue == "HOME")
            #expect(
                byOp["env"]?.fields.values.contains(.string(ProcessInfo.processInfo.environment["HOME"] ?? "-"))
                    == false)
            #expect(try kernel.file("out/new.txt") == "one\nthree\n")
        }
    }

    @Test func helpersGiveDataThatPrintsCompactly() async throws {
        try await PreludeHarness(workspace: Self.workspace).test { kernel in
            #expect(
                try await kernel.value("read('notes.txt', limit=1)")
                    == "1\talpha\n[... 2 more lines: read('notes.txt', offset=2) continues]")
            #expect(
                try await kernel.value("grep('TODO', 'src')")
                    == "src/app.py:2:     # TODO: greet\nsrc/util.py:1: TODO = 1")
            #expect(
                try await kernel.value("[(m.path, m.line) for m in grep('TODO', 'src')]")
                    == "[('src/app.py', 2), ('src/util.py', 1)]")
            #expect(
                try await kernel.value("r = sh('echo out; echo err >&2; exit 3')\nr.code, r.stdout, r.stderr")
                    == "(3, 'out\\n', 'err\\n')")
            #expect(try await kernel.value("help(read)\n'shown'") == "'shown'")
            let help = try await kernel.run("help(read)")
            #expect(help.stdout.contains("Return the text of a file with line numbers"))
        }
    }

    @Test func aHelperErrorShowsTheCallersLineNotTheHelpersInternals() async throws {
        try await PreludeHarness(workspace: Self.workspace).test { kernel in
            let missing = try await kernel.expectError("FileNotFoundError", from: "x = 1\nread('absent.txt')")
            #expect(missing.value.contains("absent.txt"))
            #expect(missing.traceback.contains { $0.contains("read('absent.txt')") })
            #expect(!missing.traceback.joined().contains("pyrun_prelude.py"))

            let ambiguous = try await kernel.expectError("ValueError", from: "replace('notes.txt', 'a', 'A')")
            #expect(ambiguous.value.contains("notes.txt"))
            #expect(!ambiguous.traceback.joined().contains("pyrun_prelude.py"))
            #expect(try kernel.file("notes.txt") == "alpha\nbeta\ngamma\n")  // untouched
        }
    }

    @Test func shStreamsLiveAndAnInterruptStopsItsWholeProcessGroup() async throws {
        try await PreludeHarness(timeout: nil).test { kernel in
            let execution = await kernel.kernel.execute(
                "sh('sleep 60 & echo $! > sleeper.pid; echo started; wait')")
            var sawOutputBeforeTheEnd = false
            var interrupted = false
            var outcome: ExecutionOutcome?
            for await event in execution {
                switch event {
                case .stdout(let text) where text.contains("started") && !interrupted:
                    sawOutputBeforeTheEnd = true
                    interrupted = true
                    await kernel.kernel.interrupt()
                case .finished(let end):
                    outcome = end
                default:
                    break
                }
            }
            #expect(sawOutputBeforeTheEnd)
            #expect(outcome?.status == .cancelled)
            #expect(outcome?.error?.name == "KeyboardInterrupt")
            #expect(outcome?.error?.traceback.joined().contains("pyrun_prelude.py") == false)
            let sleeper = try #require(
                Int32(try kernel.file("sleeper.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(await waitUntilGone(sleeper), "sh left its background child running")
        }
    }

    @Test func theHelpersSurviveAResetAndAWipe() async throws {
        try await PreludeHarness().test { kernel in
            try await kernel.expectSuccess("mine = 1\nread = 'rebound'")
            #expect(try await kernel.value("%reset -f\n'mine' in globals(), callable(read)") == "(False, True)")
            try await kernel.expectSuccess("globals().clear()")
            #expect(try await kernel.value("callable(grep), __name__") == "(True, '__main__')")
        }
    }
}
