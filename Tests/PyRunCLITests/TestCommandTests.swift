import Foundation
import PyRunKit
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pyrun test`, run as a user runs it.
@Suite struct TestCommandTests {
    /// Writes `files` under `root`, creating directories.
    private func write(_ files: [String: String], under root: String) throws {
        for (path, text) in files {
            let url = URL(fileURLWithPath: "\(root)/\(path)")
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    static let mixedTree = [
        "tests/test_good.py":
            "def test_one():\n    assert read('data.txt') == '1\\tfixture\\n'\n\ndef test_two():\n    skip('later')\n",
        "tests/test_bad.py":
            "def test_compare():\n    words = ['a', 'b']\n    print('looking')\n    assert words == ['a', 'c']\n",
        "tests/test_broken.py": "def test_x(:\n    pass\n",
        "tests/fixtures/data.txt": "fixture\n",
    ]

    @Test func aRunPrintsALinePerFileTheFailuresAndAClosingLine() async throws {
        try await withTemporaryDirectory { root throws in
            try write(Self.mixedTree, under: root)
            let outcome = try await runPyrun(["test", "-j", "2", "tests"], workingDirectory: root)
            #expect(outcome.status == 1, "\(outcome.stderr)")
            let lines = outcome.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.contains("tests/test_good.py .s"))
            #expect(lines.contains("tests/test_bad.py F"))
            #expect(lines.contains("tests/test_broken.py E"))
            #expect(lines.contains { $0.contains(" FAILURES ") })
            #expect(lines.contains { $0.contains(" tests/test_bad.py::test_compare ") })
            #expect(lines.contains("  evaluated: ['a', 'b'] == ['a', 'c']"))
            #expect(lines.contains("looking"))  // the failed test's output
            #expect(lines.contains { $0.contains(" ERROR collecting tests/test_broken.py ") })
            #expect(lines.contains("SyntaxError: invalid syntax"))
            let closing = try #require(lines.last { !$0.isEmpty })
            #expect(closing.contains(" 1 passed, 1 failed, 1 skipped, 1 error in "), "\(closing)")
            #expect(outcome.stderr.isEmpty, "\(outcome.stderr)")
        }
    }

    @Test func allPassingExitsZeroAndJSONAndJUnitSayTheSame() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "test_ok.py":
                        "def test_a():\n    pass\n\nclass TestB:\n    def test_b(self):\n        print('out')\n"
                ], under: root)
            let plain = try await runPyrun(["test"], workingDirectory: root)
            #expect(plain.status == 0)
            #expect(plain.stdout.hasPrefix("test_ok.py ..\n"))
            #expect(plain.stdout.contains(" 2 passed, 0 failed in "))

            let json = try await runPyrun(
                ["test", "--json", "--junit-xml", "\(root)/report.xml"], workingDirectory: root)
            #expect(json.status == 0)
            let objects = try json.stdout.split(separator: "\n").map { line in
                try #require(try JSONValue.parse(Array(line.utf8)).objectValue)
            }
            #expect(objects.map { $0["type"]?.stringValue } == ["test", "test", "summary"])
            #expect(objects[1]["class"]?.stringValue == "TestB")
            #expect(objects[1]["stdout"]?.stringValue == "out\n")
            #expect(objects[2]["passed"]?.intValue == 2)
            #expect(objects[2]["exitCode"]?.intValue == 0)
            let xml = try String(contentsOfFile: "\(root)/report.xml", encoding: .utf8)
            #expect(xml.contains(#"<testsuites name="pyrun test" tests="2" failures="0" errors="0" skipped="0""#))
            #expect(xml.contains(#"<testcase classname="test_ok.py.TestB" name="test_b""#))
            #expect(xml.contains("<system-out>out\n</system-out>"))
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/stat")))
    func freshKernelPerTestGivesEveryTestFunctionAnInterpreterOfItsOwn() async throws {
        try await withTemporaryDirectory { root throws in
            // Each test leaves a name and a module attribute behind and records its pid; with a
            // kernel per test, neither is seen by the next, and three pids are recorded.
            let test = """
                import os, json

                def record():
                    with open(os.path.join(os.environ['PIDS'], str(os.getpid())), 'w') as f:
                        f.write(str(os.getppid()))

                def test_a():
                    global leftover
                    assert 'leftover' not in globals()
                    leftover = 1
                    json.touched = True
                    record()

                def test_b():
                    assert 'leftover' not in globals()
                    assert not hasattr(json, 'touched')
                    leftover = 2
                    record()

                def test_c():
                    assert not hasattr(json, 'touched')
                    record()

                """
            try write(["test_isolated.py": test], under: root)
            let pids = "\(root)/pids"
            try FileManager.default.createDirectory(atPath: pids, withIntermediateDirectories: true)
            let isolated = try await runPyrun(
                ["test", "--fresh-kernel-per-test", "test_isolated.py"], environment: ["PIDS": pids],
                workingDirectory: root)
            #expect(isolated.status == 0, "\(isolated.stdout)\(isolated.stderr)")
            #expect(isolated.stdout.contains(" 3 passed, 0 failed in "))
            let recorded = try FileManager.default.contentsOfDirectory(atPath: pids)
            #expect(recorded.count == 3, "\(recorded)")
            let parents = Set(try recorded.map { try String(contentsOfFile: "\(pids)/\($0)", encoding: .utf8) })
            #expect(parents.count == 1, "every test's kernel forks from the one template: \(parents)")

            // Without the option the file shares one kernel, and test_b fails.
            let shared = try await runPyrun(
                ["test", "test_isolated.py"], environment: ["PIDS": pids], workingDirectory: root)
            #expect(shared.status == 1)
        }
    }

    @Test func aTimedOutTestCountsAsFailedInTheTextTheJSONAndJUnitAlike() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "test_mixed.py":
                        "import time\n\ndef test_ok():\n    pass\n\ndef test_no():\n    assert 1 == 2\n\n"
                        + "def test_hang():\n    time.sleep(60)\n"
                ], under: root)
            let run = try await runPyrun(
                ["test", "--timeout", "2", "--json", "--junit-xml", "\(root)/report.xml"], workingDirectory: root)
            #expect(run.status == 1)
            let summary = try #require(
                try run.stdout.split(separator: "\n").last.flatMap { try JSONValue.parse(Array($0.utf8)).objectValue })
            #expect(summary["passed"]?.intValue == 1)
            #expect(summary["failed"]?.intValue == 2, "a timed-out test is a failed one")
            #expect(summary["timedOut"]?.intValue == 1)
            let xml = try String(contentsOfFile: "\(root)/report.xml", encoding: .utf8)
            #expect(xml.contains(#"<testsuites name="pyrun test" tests="3" failures="2" errors="0" skipped="0""#))
            // Times in plain decimals, to the microsecond: a fast test is not "0.0".
            let times = xml.split(separator: "time=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
            #expect(!times.isEmpty)
            #expect(times.allSatisfy { $0.wholeMatch(of: /[0-9]+\.[0-9]{6}/) != nil }, "\(times)")

            let text = try await runPyrun(["test", "--timeout", "2"], workingDirectory: root)
            #expect(text.stdout.contains(" 1 passed, 2 failed (1 timed out) in "), "\(text.stdout)")
        }
    }

    @Test func forkSaysSoWhenTheTemplateCannotStartAndTheTestsRunAllTheSame() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    // A thread left running makes a fork unsafe: the template refuses to serve.
                    "threads.py":
                        "import threading, time\n"
                        + "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n",
                    "tests/test_a.py": "def test_a():\n    pass\n",
                ], under: root)
            let run = try await runPyrun(
                ["test", "--fork", "--prelude", "\(root)/threads.py", "\(root)/tests"], workingDirectory: root)
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            #expect(run.stderr.contains("pyrun test: warning: kernels started without a template"), "\(run.stderr)")
            #expect(run.stderr.contains("thread"), "\(run.stderr)")
            let plain = try await runPyrun(["test", "\(root)/tests"], workingDirectory: root)
            #expect(!plain.stderr.contains("without a template"))
        }
    }

    @Test func exitStatusesAreThoseOfPytest() async throws {
        try await withTemporaryDirectory { root throws in
            try write(["test_one.py": "def test_a():\n    pass\n"], under: root)
            try FileManager.default.createDirectory(atPath: "\(root)/empty", withIntermediateDirectories: true)
            let badKeyword = try await runPyrun(["test", "-k", "a and (", "."], workingDirectory: root)
            #expect(badKeyword.status == 4)
            #expect(badKeyword.stderr.contains("pyrun test: error: -k 'a and (': expected"))
            #expect(try await runPyrun(["test", "missing"], workingDirectory: root).status == 4)
            #expect(try await runPyrun(["test", "-j", "0"], workingDirectory: root).status == 4)
            #expect(try await runPyrun(["test", "--prelude", "/nonexistent.py"], workingDirectory: root).status == 4)
            let nothing = try await runPyrun(["test", "empty"], workingDirectory: root)
            #expect(nothing.status == 5)
            #expect(nothing.stdout.contains(" no tests ran in "))
            #expect(try await runPyrun(["test", "-k", "nomatch"], workingDirectory: root).status == 5)
        }
    }

    @Test func ctrlCInterruptsTheRunningTestAndExitsTwo() async throws {
        try await withTemporaryDirectory { root throws in
            let marker = "\(root)/started"
            try write(
                [
                    "test_slow.py":
                        "import time\n\ndef test_slow():\n    open(\(JSONValue.string(marker)), 'w').close()\n    time.sleep(60)\n"
                ],
                under: root)
            let pyrun = try PyrunProcess(["test", "--json"], workingDirectory: root)
            let started = await poll(seconds: 90) { FileManager.default.fileExists(atPath: marker) }
            #expect(started)
            pyrun.send(signal: SIGINT)
            let outcome = await pyrun.finish()
            #expect(outcome.status == 2, "\(outcome.stdout)\(outcome.stderr)")
            #expect(outcome.stdout.contains(#""outcome":"interrupted""#))
            #expect(outcome.stdout.contains(#""type":"summary""#))
        }
    }
}
