import Foundation
import PyRunTesting
import Testing

@Suite struct OptionTests {
    @Test func cwdSetsTheKernelsDirectory() async throws {
        try await withTemporaryDirectory { directory in
            let outcome = try await runPyrun(["--cwd", directory, "-c", "import os; os.getcwd()"])
            let real = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
            #expect(outcome.stdout == "'\(real)'\n")
        }
    }

    @Test func pythonChoosesTheInterpreter() async throws {
        let outcome = try await runPyrun(["--python", defaultInterpreter, "-c", "import sys; sys.executable"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "'\(defaultInterpreter)'\n")
    }

    @Test func preludeRunsBeforeTheCode() async throws {
        try await withTemporaryDirectory { directory in
            let prelude = "\(directory)/prelude.py"
            try "GREETING = 'from the prelude'\n".write(toFile: prelude, atomically: true, encoding: .utf8)
            let outcome = try await runPyrun(["--prelude", prelude, "-c", "print(GREETING)"])
            #expect(outcome.stdout == "from the prelude\n")
        }
    }

    @Test func thePlainCommandHasNoPreludeAndDefaultLoadsTheHelpers() async throws {
        try await withTemporaryDirectory { directory in
            try "one\n".write(toFile: "\(directory)/notes.txt", atomically: true, encoding: .utf8)
            let plain = try await runPyrun(["--cwd", directory, "-c", "'read' in dir()"])
            #expect(plain.stdout == "False\n")
            let helped = try await runPyrun(["--cwd", directory, "--prelude", "default", "-c", "read('notes.txt')"])
            #expect(helped.status == 0)
            #expect(helped.stdout == "1\tone\n")
            #expect(helped.stderr == "read notes.txt: lines 1-1 of 1\n")  // the helper's status, not output
            let json = try await runPyrun([
                "--cwd", directory, "--prelude", "default", "--json", "-c", "read('notes.txt')",
            ])
            #expect(json.stdout.contains(#""application/vnd.pyrun.status+json":{"lines":1,"offset":1,"op":"read""#))
        }
    }

    @Test func preludesComposeInOrderFromFilesAndDirectories() async throws {
        try await withTemporaryDirectory { directory in
            try FileManager.default.createDirectory(atPath: "\(directory)/tools", withIntermediateDirectories: true)
            try "WHO = 'dir a'\n".write(toFile: "\(directory)/tools/a.py", atomically: true, encoding: .utf8)
            try "WHO = 'dir b'\nB = 1\n".write(toFile: "\(directory)/tools/b.py", atomically: true, encoding: .utf8)
            try "WHO = 'file'\n".write(toFile: "\(directory)/last.py", atomically: true, encoding: .utf8)
            let outcome = try await runPyrun([
                "--prelude", "\(directory)/tools", "--prelude", "default", "--prelude", "\(directory)/last.py",
                "-c", "WHO, B, callable(grep)",
            ])
            #expect(outcome.stdout == "('file', 1, True)\n", "\(outcome.stderr)")
        }
    }

    @Test func aPreludeThatRaisesIsSaidAndTheCodeRunsAnyway() async throws {
        try await withTemporaryDirectory { directory in
            let broken = "\(directory)/broken.py"
            try "HALF = 1\nraise KeyError('missing setting')\n".write(toFile: broken, atomically: true, encoding: .utf8)
            let outcome = try await runPyrun([
                "--prelude", broken, "--prelude", "default", "-c", "HALF, callable(read)",
            ])
            #expect(outcome.status == 0)
            #expect(outcome.stdout == "(1, True)\n")
            #expect(
                outcome.stderr.contains(
                    "pyrun: the prelude \(broken) raised at line 2: KeyError: 'missing setting'; running the code anyway"
                ))
            // Said once, at the start: the first result's notice is not printed again.
            #expect(outcome.stderr.components(separatedBy: "raised at line 2").count == 2, "\(outcome.stderr)")
        }
    }

    @Test func aBadPreludeArgumentIsAUsageError() async throws {
        let missing = try await runPyrun(["--prelude", "/nonexistent/tools.py", "-c", "1"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("--prelude /nonexistent/tools.py: no such file or directory"))
        let mixed = try await runPyrun(["--prelude", "none", "--prelude", "default", "-c", "1"])
        #expect(mixed.status == 2)
        #expect(mixed.stderr.contains("--prelude none cannot be combined"))
        #expect(try await runPyrun(["--prelude", "none", "-c", "'read' in dir()"]).stdout == "False\n")
    }

    @Test func theReplTakesPreludesToo() async throws {
        let outcome = try await runPyrun(
            ["repl", "--prelude", "default"], input: "callable(sh)\n%reset -f\ncallable(sh)\n")
        #expect(outcome.stdout == "Out[1]: True\nOut[3]: True\n", "\(outcome.stderr)")
    }

    @Test func envSetsVariablesAndCleanEnvDropsTheRest() async throws {
        let code = "import os; print(os.environ.get('PYRUN_CLI_A'), os.environ.get('PYRUN_CLI_SECRET'))"
        let inherited = try await runPyrun(
            ["--env", "PYRUN_CLI_A=1=one", "-c", code], environment: ["PYRUN_CLI_SECRET": "s"])
        #expect(inherited.stdout == "1=one s\n")
        let clean = try await runPyrun(
            ["--clean-env", "--env", "PYRUN_CLI_A=x", "-c", code], environment: ["PYRUN_CLI_SECRET": "s"])
        #expect(clean.stdout == "x None\n")
    }

    @Test func memoryAndCPULimitsReachTheKernel() async throws {
        let code =
            "import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_CPU)[0])"
        let outcome = try await runPyrun(["--memory-limit", "512M", "--cpu-limit", "30", "-c", code])
        #expect(outcome.stdout == "\(512 * 1024 * 1024) 30\n")
    }

    @Test func memoryLimitMakesBigAllocationsFail() async throws {
        let outcome = try await runPyrun(["--memory-limit", "256M", "-c", "x = bytearray(1024 * 1024 * 1024)"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("MemoryError"))
    }

    @Test func cpuLimitKillsTheKernelWithSIGXCPU() async throws {
        let outcome = try await runPyrun(["--cpu-limit", "1", "-c", "while True: pass"])
        #expect(outcome.status == 128 + 24)
        #expect(outcome.stderr.contains("CPU time limit"))
    }

    @Test func maxOutputDropsTheRestWithANotice() async throws {
        let outcome = try await runPyrun(["--max-output", "1K", "-c", "print('x' * 5000)"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.utf8.count <= 1024)
        #expect(!outcome.stderr.isEmpty)
    }

    @Test func allowStdinAnswersInputFromStandardInput() async throws {
        let outcome = try await runPyrun(
            ["--allow-stdin", "-c", "name = input('name? ')\nprint('hello', name)"], input: "Ada\n")
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "name? hello Ada\n")
    }

    @Test func withoutAllowStdinInputRaisesEOFError() async throws {
        let outcome = try await runPyrun(["-c", "input('name? ')"], input: "Ada\n")
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("EOFError"))
    }

    @Test func imagesAreSavedToTheDisplayDirectory() async throws {
        try await withTemporaryDirectory { directory in
            let code = """
                import base64
                class Dot:
                    def _repr_png_(self):
                        return base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')
                display(Dot())
                """
            let outcome = try await runPyrun(["--display-dir", directory, "-c", code])
            #expect(outcome.status == 0)
            let saved = "\(directory)/display-1.png"
            #expect(outcome.stdout.contains(saved))
            let bytes = try Data(contentsOf: URL(fileURLWithPath: saved))
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        }
    }

    @Test func htmlFallsBackToPlainText() async throws {
        let code =
            "class Page:\n    def _repr_html_(self): return '<b>bold</b>'\n    def __repr__(self): return 'Page()'\ndisplay(Page())"
        let outcome = try await runPyrun(["-c", code])
        #expect(outcome.stdout == "Page()\n")
    }

    @Test func verboseLogsToStderrOnly() async throws {
        let outcome = try await runPyrun(["--verbose", "-c", "print('out')"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "out\n")
        #expect(!outcome.stderr.isEmpty)
    }
}

@Suite struct JSONOutputTests {
    /// Parses every stdout line as a JSON object.
    private func frames(_ stdout: String) throws -> [[String: Any]] {
        try stdout.split(separator: "\n").map { line in
            try #require(
                JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not an object: \(line)")
        }
    }

    @Test func everyLineIsJSONAndTheLastIsTheOnlyOutcome() async throws {
        let code = "import sys\nprint('out')\nprint('err', file=sys.stderr)\ndisplay(1)\n6 * 7"
        let outcome = try await runPyrun(["--json", "-c", code])
        #expect(outcome.status == 0)
        let lines = try frames(outcome.stdout)
        let types = lines.map { $0["type"] as? String ?? "?" }
        #expect(types == ["hello", "started", "stdout", "stderr", "display", "result", "done", "outcome"])
        #expect(lines[2]["data"] as? String == "out\n")
        #expect((lines[5]["bundle"] as? [String: Any])?["text/plain"] as? String == "42")
        #expect(lines.last?["status"] as? String == "ok")
        #expect(lines.last?["exitCode"] as? Int == 0)
    }

    @Test(arguments: [
        ("1/0", "error", Int32(1)),
        ("import sys; sys.exit(5)", "error", 5),
        ("import os; os._exit(9)", "kernelDied", 9),
    ])
    func failuresEndInOneOutcomeWithTheExitCode(code: String, status: String, exitCode: Int32) async throws {
        let outcome = try await runPyrun(["--json", "-c", code])
        #expect(outcome.status == exitCode)
        let lines = try frames(outcome.stdout)
        #expect(lines.filter { $0["type"] as? String == "outcome" }.count == 1)
        #expect(lines.last?["type"] as? String == "outcome")
        #expect(lines.last?["status"] as? String == status)
        #expect(lines.last?["exitCode"] as? Int == Int(exitCode))
    }

    @Test func aKernelThatCannotStartStillEndsInAnOutcome() async throws {
        let outcome = try await runPyrun(["--json", "--python", "/no/such/python3", "-c", "pass"])
        #expect(outcome.status == 2)
        let lines = try frames(outcome.stdout)
        #expect(lines.count == 1)
        #expect(lines.last?["type"] as? String == "outcome")
    }

    @Test func timeoutOutcome() async throws {
        let outcome = try await runPyrun(["--json", "--timeout", "0.3", "-c", "import time; time.sleep(30)"])
        #expect(outcome.status == 124)
        let lines = try frames(outcome.stdout)
        #expect(lines.last?["status"] as? String == "timedOut")
        #expect(lines.last?["exitCode"] as? Int == 124)
    }
}
