import Foundation
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct OneShotTests {
    // MARK: - Sources of code

    @Test func codeOptionPrintsOutputThenTheFinalValue() async throws {
        let outcome = try await runPyrun(["-c", "print('hello')\n6 * 7"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "hello\n42\n")
        #expect(outcome.stderr == "")
    }

    @Test func atexitOutputIsPrintedAsPythonWouldPrintIt() async throws {
        let outcome = try await runPyrun(["-c", "import atexit\natexit.register(lambda: print('bye'))\nprint('hi')"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "hi\nbye\n")
    }

    /// As python3 does at exit: what a thread the program left running prints is output too.
    @Test func pyrunWaitsForTheProgramsThreadsButNotItsDaemonThreads() async throws {
        let code = """
            import threading, time
            def late(text, delay):
                time.sleep(delay)
                print(text, flush=True)
            threading.Thread(target=late, args=('worker done', 0.5)).start()
            threading.Thread(target=late, args=('daemon done', 300), daemon=True).start()
            print('main done')
            """
        let outcome = try await runPyrun(["-c", code])
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "main done\nworker done\n")

        // Also after the program raised; its status stays the exception's.
        let failing = try await runPyrun(["-c", code + "\n1/0"])
        #expect(failing.status == 1)
        #expect(failing.stdout == "main done\nworker done\n")
        #expect(failing.stderr.contains("ZeroDivisionError"))
    }

    @Test func noResultHidesTheFinalValue() async throws {
        let outcome = try await runPyrun(["--no-result", "-c", "print('x')\n6 * 7"])
        #expect(outcome.stdout == "x\n")
    }

    @Test func argumentsAfterCodeBecomeSysArgv() async throws {
        let outcome = try await runPyrun(["-c", "import sys; print(sys.argv)", "a", "--b"])
        #expect(outcome.stdout == "['-c', 'a', '--b']\n")
    }

    @Test func stderrAndTracebacksGoToStderr() async throws {
        let outcome = try await runPyrun(["-c", "import sys\nprint('out')\nprint('err', file=sys.stderr)\n1/0"])
        #expect(outcome.status == 1)
        #expect(outcome.stdout == "out\n")
        #expect(outcome.stderr.hasPrefix("err\nTraceback (most recent call last):"))
        #expect(outcome.stderr.contains("ZeroDivisionError: division by zero"))
    }

    @Test func pipedStandardInputIsTheProgram() async throws {
        let outcome = try await runPyrun([], input: "import sys\nprint(sys.argv)\n2 + 2\n")
        #expect(outcome.status == 0)
        #expect(outcome.stdout == "['']\n4\n")
    }

    @Test func dashReadsStandardInputWithArguments() async throws {
        let outcome = try await runPyrun(["-", "one", "two"], input: "import sys; print(sys.argv)")
        #expect(outcome.stdout == "['-', 'one', 'two']\n")
    }

    @Test func fileRunsAsAProgramWithItsArguments() async throws {
        try await withTemporaryDirectory { directory in
            try "VALUE = 'from helper'\n".write(toFile: "\(directory)/helper.py", atomically: true, encoding: .utf8)
            try """
            import sys, os
            import helper
            print(sys.argv[1:], os.path.basename(__file__), __name__, helper.VALUE)
            "a final expression is not printed for a program"
            """.write(toFile: "\(directory)/script.py", atomically: true, encoding: .utf8)
            let outcome = try await runPyrun(["\(directory)/script.py", "x", "--flag", "-c"])
            #expect(outcome.status == 0)
            #expect(outcome.stdout == "['x', '--flag', '-c'] script.py __main__ from helper\n")
        }
    }

    @Test func fileTracebacksNameTheFile() async throws {
        try await withTemporaryDirectory { directory in
            try "def f():\n    raise ValueError('bad')\nf()\n".write(
                toFile: "\(directory)/broken.py", atomically: true, encoding: .utf8)
            let outcome = try await runPyrun(["\(directory)/broken.py"])
            #expect(outcome.status == 1)
            #expect(outcome.stderr.contains("broken.py\", line 2, in f"))
            #expect(!outcome.stderr.contains("<cell"))
            #expect(outcome.stderr.contains("ValueError: bad"))
        }
    }

    // MARK: - Exit status

    @Test(arguments: [
        ("pass", Int32(0)),
        ("1/0", 1),
        ("import sys; sys.exit(3)", 3),
        ("import sys; sys.exit()", 0),
        ("raise SystemExit(None)", 0),
        ("import sys; sys.exit(256 + 4)", 4),
        ("import os; os._exit(7)", 7),
        ("raise KeyboardInterrupt", 130),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 137),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", 143),
    ])
    func exitStatusFollowsPython(code: String, expected: Int32) async throws {
        let outcome = try await runPyrun(["-c", code])
        #expect(outcome.status == expected, "\(code): stderr \(outcome.stderr)")
    }

    @Test func sysExitWithAMessagePrintsItAndExitsOne() async throws {
        let outcome = try await runPyrun(["-c", "import sys; sys.exit('goodbye')"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr == "goodbye\n")
    }

    @Test(arguments: [
        ["--no-such-option"],
        ["--timeout", "soon", "-c", "pass"],
        ["--memory-limit", "lots", "-c", "pass"],
        ["--env", "NOEQUALS", "-c", "pass"],
        ["--cwd", "/no/such/directory", "-c", "pass"],
        ["--prelude", "/no/such/prelude.py", "-c", "pass"],
        ["/no/such/script.py"],
        ["--python", "/no/such/python3", "-c", "pass"],
        ["--python", "no-such-python-name", "-c", "pass"],
    ])
    func usageErrorsExitTwo(arguments: [String]) async throws {
        let outcome = try await runPyrun(arguments)
        #expect(outcome.status == 2, "\(arguments): \(outcome.stderr)")
        #expect(outcome.stdout == "")
        #expect(!outcome.stderr.isEmpty)
    }

    @Test func timeoutInterruptsAndExits124() async throws {
        let outcome = try await runPyrun([
            "--timeout", "2", "-c", "import time\nprint('start', flush=True)\ntime.sleep(60)",
        ])
        #expect(outcome.status == 124)
        #expect(outcome.stdout == "start\n")
        #expect(outcome.stderr.contains("KeyboardInterrupt"))
        #expect(outcome.stderr.contains("timed out"))
    }

    @Test func helpDocumentsTheExitStatusTable() async throws {
        let outcome = try await runPyrun(["--help"])
        #expect(outcome.status == 0)
        for line in ["124", "130", "128+N", "sys.exit(N)", "--memory-limit", "--json", "repl"] {
            #expect(outcome.stdout.contains(line), "help lacks \(line)")
        }
    }

    // MARK: - Ctrl-C and clean-up

    @Test func sigintInterruptsTheCodeAndExits130() async throws {
        let pyrun = try PyrunProcess(["-c", "import time\nprint('ready', flush=True)\ntime.sleep(60)"])
        #expect(await pyrun.waitForStdout(containing: "ready"))
        pyrun.send(signal: SIGINT)
        let outcome = await pyrun.finish()
        #expect(outcome.status == 130)
        #expect(outcome.stderr.contains("KeyboardInterrupt"))
    }

    @Test func secondSigintKillsCodeThatIgnoresTheFirst() async throws {
        let code = """
            import time
            print('ready', flush=True)
            while True:
                try:
                    time.sleep(60)
                except KeyboardInterrupt:
                    print('ignored', flush=True)
            """
        let pyrun = try PyrunProcess(["-c", code])
        #expect(await pyrun.waitForStdout(containing: "ready"))
        pyrun.send(signal: SIGINT)
        #expect(await pyrun.waitForStdout(containing: "ignored"))
        pyrun.send(signal: SIGINT)
        let outcome = await pyrun.finish()
        #expect(outcome.status == 130)
    }

    @Test func nothingTheCodeStartedOutlivesPyrun() async throws {
        let outcome = try await runPyrun([
            "-c", "import subprocess\np = subprocess.Popen(['sleep', '300'])\nprint(p.pid)",
        ])
        #expect(outcome.status == 0)
        let pid = try #require(Int32(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await waitUntilGone(pid), "sleep \(pid) survived pyrun")
    }

    @Test func nothingOutlivesAnInterruptedRun() async throws {
        let code =
            "import subprocess, time\np = subprocess.Popen(['sleep', '300'])\nprint(p.pid, flush=True)\ntime.sleep(60)"
        let pyrun = try PyrunProcess(["-c", code])
        #expect(await pyrun.waitForStdout(containing: "\n"))
        let pid = try #require(Int32(pyrun.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        pyrun.send(signal: SIGINT)
        let outcome = await pyrun.finish()
        #expect(outcome.status == 130)
        #expect(await waitUntilGone(pid), "sleep \(pid) survived pyrun")
    }

    @Test func standardModuleNamesInTheWorkingDirectoryDoNotBreakTheInterpreterProbe() async throws {
        try await withTemporaryDirectory { directory in
            // A script interpreter is probed for the binary behind it; the probe imports json.
            let wrapper = "\(directory)/python-wrapper"
            try "#!/bin/sh\nexec python3 \"$@\"\n".write(toFile: wrapper, atomically: true, encoding: .utf8)
            chmod(wrapper, 0o755)
            for name in ["json", "re", "types"] {
                try "raise SystemExit('shadow \(name) imported')\n".write(
                    toFile: "\(directory)/\(name).py", atomically: true, encoding: .utf8)
            }
            let pyrun = try PyrunProcess(["--python", wrapper, "-c", "print('probed')"], workingDirectory: directory)
            let outcome = await pyrun.finish()
            #expect(outcome.status == 0, "\(pyrun.stderr)")
            #expect(pyrun.stdout == "probed\n")
        }
    }

    @Test func sigtermEndsPyrunAndItsKernel() async throws {
        let code = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)"
        let pyrun = try PyrunProcess(["-c", code])
        #expect(await pyrun.waitForStdout(containing: "\n"))
        let kernelPID = try #require(Int32(pyrun.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        pyrun.send(signal: SIGTERM)
        let outcome = await pyrun.finish()
        #expect(outcome.status == 128 + SIGTERM)
        #expect(await waitUntilGone(kernelPID))
    }
}
