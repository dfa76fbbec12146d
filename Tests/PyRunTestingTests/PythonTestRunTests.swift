import Foundation
import PyRunKit
import PyRunTesting
import Testing

/// `PythonTestRun`, the orchestrator behind `pyrun test`, on test trees written for each case.
@Suite struct PythonTestRunTests {
    /// Every test in these trees appends "pid cwd" to $PYRUN_TEST_TRACE, so a test can check
    /// that no kernel and no workspace outlived the run.
    static let tracer = """
        import os as _os
        def _trace():
            with open(_os.environ['PYRUN_TEST_TRACE'], 'a') as f:
                f.write('%d %s\\n' % (_os.getpid(), _os.getcwd()))
        _trace()

        """

    /// Writes `files` under `root`, creating directories.
    private func write(_ files: [String: String], under root: String) throws {
        for (path, text) in files {
            let url = URL(fileURLWithPath: "\(root)/\(path)")
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    private func options(_ root: String, trace: String, _ change: (inout PythonTestRun.Options) -> Void = { _ in })
        -> PythonTestRun.Options
    {
        var options = PythonTestRun.Options(
            paths: [root], jobs: 2, timeout: .seconds(2),
            // The ordinary start, whatever PYRUN_TEMPLATES says: the tests of templates ask for them.
            configuration: KernelConfiguration(
                environment: .inheritUpdating(["PYRUN_TEST_TRACE": trace]), interruptGrace: .seconds(2),
                usesTemplate: false))
        change(&options)
        return options
    }

    private func report(_ result: PythonTestRunResult, _ name: String) throws -> PythonTestFileReport {
        try #require(result.reports.first { $0.unit.description.hasSuffix(name) }, "no report for \(name)")
    }

    private func outcomes(_ report: PythonTestFileReport) -> [String: PythonTestOutcome] {
        Dictionary(report.records.map { ($0.name, $0.outcome) }) { first, _ in first }
    }

    /// Every process the trace names is gone (for a template's prelude, which ran in the
    /// host's directory, the pid is all there is to check).
    private func expectGone(_ trace: String) async throws {
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let pid = try #require(Int32(line.split(separator: " ")[0]))
            #expect(await waitUntilGone(pid), "process \(pid) outlived the run")
        }
    }

    /// Every kernel pid and workspace the trace names is gone.
    private func expectNothingLeft(_ trace: String) async throws {
        try await expectGone(trace)
        for line in try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            try #require(parts.count == 2, "no workspace in the trace line \(line)")
            let workspace = String(parts[1])
            #expect(!FileManager.default.fileExists(atPath: workspace), "workspace \(workspace) outlived the run")
        }
    }

    @Test func failuresShowTheirValuesAndEachFileFailsAlone() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "tests/test_math.py": Self.tracer + """
                        def test_adds():
                            assert 1 + 1 == 2

                        def test_compares_lists():
                            got = [1, 2, 3]
                            print('computing')
                            assert got == [1, 2, 4]

                        def test_skips():
                            skip('not here')

                        class TestGroup:
                            def test_in_class(self):
                                assert read('data.txt') == '1\\tfrom fixtures\\n'

                        def helper_not_a_test():
                            raise AssertionError('never collected')
                        """,
                    "tests/test_broken.py": Self.tracer + "def test_never(:\n    pass\n",
                    "tests/fixtures/data.txt": "from fixtures\n",
                    "tests/sub/test_nested.py": Self.tracer + "def test_nested():\n    assert not ls('.')\n",
                    "tests/helpers.py": "raise RuntimeError('not a test file, never loaded')\n",
                ], under: root)
            let trace = "\(root)/trace"
            let run = try PythonTestRun(options(root, trace: trace))
            #expect(
                run.units.map(\.description).map { $0.replacingOccurrences(of: root + "/", with: "") }
                    == ["tests/test_broken.py", "tests/test_math.py", "tests/sub/test_nested.py"])
            let result = await run.run()

            let math = try report(result, "test_math.py")
            #expect(
                outcomes(math) == [
                    "test_adds": .passed, "test_compares_lists": .failed, "test_skips": .skipped,
                    "test_in_class": .passed,
                ])
            let failed = try #require(math.records.first { $0.name == "test_compares_lists" })
            #expect(failed.assertion?.evaluated == "[1, 2, 3] == [1, 2, 4]")
            #expect(failed.assertion?.values.first == PythonAssertion.Part(source: "got", value: "[1, 2, 3]"))
            #expect(failed.stdout == "computing\n")
            #expect(failed.traceback.contains { $0.contains("assert got == [1, 2, 4]") })
            #expect(math.records.first { $0.name == "test_in_class" }?.className == "TestGroup")

            let broken = try report(result, "test_broken.py")
            #expect(broken.collectionError?.exceptionName == "SyntaxError")
            #expect(
                broken.collectionError?.line == 1
                    + Self.tracer.split(separator: "\n", omittingEmptySubsequences: false).count - 1)
            #expect(broken.records.isEmpty)
            // The empty workspace of a file without fixtures beside it.
            #expect(outcomes(try report(result, "test_nested.py")) == ["test_nested": .passed])

            #expect(result.counts.passed == 3)
            #expect(result.counts.failed == 1)
            #expect(result.counts.skipped == 1)
            #expect(result.counts.errors == 1)
            #expect(result.exitStatus == 1)
            #expect(PythonTestText.closingLine(result).hasPrefix("3 passed, 1 failed, 1 skipped, 1 error in "))
            try await expectNothingLeft(trace)
        }
    }

    @Test func aTestThatHangsIsInterruptedAtTheTimeoutAndTheRunGoesOn() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "test_hangs.py": Self.tracer + """
                        import signal, time

                        def test_sleeps():
                            time.sleep(60)

                        def test_ignores_the_interrupt():
                            signal.signal(signal.SIGINT, signal.SIG_IGN)
                            time.sleep(60)

                        def test_runs_after():
                            _trace()
                            assert True
                        """
                ], under: root)
            let trace = "\(root)/trace"
            let result = await (try PythonTestRun(options(root, trace: trace) { $0.timeout = .seconds(1) })).run()
            let hangs = try report(result, "test_hangs.py")
            #expect(
                outcomes(hangs) == [
                    "test_sleeps": .timedOut, "test_ignores_the_interrupt": .timedOut, "test_runs_after": .passed,
                ])
            let sleeps = try #require(hangs.records.first)
            #expect(sleeps.message == "timed out after 1 s and was interrupted")
            #expect(sleeps.traceback.contains { $0.contains("time.sleep(60)") })  // where it hung
            #expect(hangs.records[1].message == "timed out after 1 s and ignored the interrupt: its kernel was killed")
            #expect(hangs.kernelReplacements == 1)
            #expect(result.exitStatus == 1)
            #expect(PythonTestText.closingLine(result).hasPrefix("1 passed, 2 failed (2 timed out) in "))
            // The last test ran in a second kernel, in a workspace of its own.
            let traced = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
            #expect(Set(traced.map { $0.split(separator: " ")[0] }).count == 2)
            try await expectNothingLeft(trace)
        }
    }

    @Test func keywordsStopAtFirstFailureAndExitStatuses() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "test_a.py":
                        "def test_alpha_ok():\n    pass\n\ndef test_alpha_bad():\n    assert False\n\ndef test_beta():\n    pass\n",
                    "test_b.py": "def test_gamma():\n    pass\n",
                ], under: root)
            let trace = "\(root)/trace"
            let selected = await (try PythonTestRun(options(root, trace: trace) { $0.keyword = "alpha and not bad" }))
                .run()
            #expect(selected.reports.flatMap(\.records).map(\.name) == ["test_alpha_ok"])
            #expect(selected.counts.deselected == 3)
            #expect(selected.exitStatus == 0)

            let none = await (try PythonTestRun(options(root, trace: trace) { $0.keyword = "zeta" })).run()
            #expect(none.exitStatus == 5)

            let bad = await (try PythonTestRun(options(root, trace: trace) { $0.keyword = "alpha and (" })).run()
            #expect(bad.exitStatus == 4)
            #expect(bad.usageError?.contains("expected") == true)

            let first = await
                (try PythonTestRun(
                    options(root, trace: trace) {
                        $0.stopAtFirstFailure = true
                        $0.jobs = 1
                    })).run()
            #expect(first.reports.flatMap(\.records).map(\.name) == ["test_alpha_ok", "test_alpha_bad"])
            #expect(first.exitStatus == 1)

            #expect(throws: PythonTestRunError.self) { try PythonTestRun(options("\(root)/missing", trace: trace)) }
            let empty = "\(root)/empty"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            #expect(await (try PythonTestRun(options(empty, trace: trace))).run().exitStatus == 5)
        }
    }

    @Test func thePreludesDoctestsRunAsAUnitOfTheirOwn() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "tools.py": """
                    def double(x):
                        '''Twice x.

                        >>> double(2)
                        4
                        >>> double('ab')
                        'abab!'
                        '''
                        return x * 2
                    """
                ], under: root)
            let tools = URL(fileURLWithPath: "\(root)/tools.py")
            let options = PythonTestRun.Options(
                paths: [], prelude: [.file(tools)], doctestModules: PreludeSource.file(tools).moduleNames(), jobs: 1)
            let result = await (try PythonTestRun(options)).run()
            let doctests = try report(result, "doctests of tools")
            #expect(doctests.records.map(\.outcome) == [.failed])
            #expect(doctests.records.first?.traceback.joined(separator: "\n").contains("'abab!'") == true)
            #expect(result.exitStatus == 1)
        }
    }

    // MARK: - Kernels started ahead, cleaned up behind

    /// A prelude that appends "pid cwd" to $PYRUN_TEST_TRACE as each kernel loads it, so the
    /// kernels started ahead of a unit are traced too.
    static let tracingPrelude = """
        import os
        with open(os.environ['PYRUN_TEST_TRACE'], 'a') as f:
            f.write('%d %s\\n' % (os.getpid(), os.getcwd()))
        """

    @Test func everyFileGetsAFreshKernelAndWorkspaceThoughTheyStartAhead() async throws {
        try await withTemporaryDirectory { root throws in
            var files = ["tracer.py": Self.tracingPrelude]
            for number in 1...5 { files["tests/test_\(number).py"] = "def test_one():\n    pass\n" }
            try write(files, under: root)
            let trace = "\(root)/trace"
            let result = await
                (try PythonTestRun(
                    options("\(root)/tests", trace: trace) {
                        $0.prelude = [.default, .file(URL(fileURLWithPath: "\(root)/tracer.py"))]
                    })).run()
            #expect(result.counts.passed == 5)
            #expect(result.exitStatus == 0)
            let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
            // One kernel per file, each in a workspace no other file used.
            #expect(Set(lines.map { $0.split(separator: " ")[0] }).count == 5)
            #expect(Set(lines.map { $0.split(separator: " ")[1] }).count == 5)
            try await expectNothingLeft(trace)
        }
    }

    @Test func aKernelPerTestIsForkedFromTheRunsTemplateWhichEndsWithIt() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "tracer.py": Self.tracingPrelude,
                    "tests/test_fresh.py": """
                    import os
                    seen = []

                    def parent():
                        with open(os.environ['PYRUN_TEST_TRACE'] + '.parents', 'a') as f:
                            f.write('%d %d\\n' % (os.getpid(), os.getppid()))

                    def test_one():
                        parent()
                        seen.append(os.getpid())
                        assert seen == [os.getpid()]

                    def test_two():
                        parent()
                        seen.append(os.getpid())
                        assert seen == [os.getpid()]

                    def test_three():
                        parent()
                        assert seen == []
                    """,
                ], under: root)
            let trace = "\(root)/trace"
            let result = await
                (try PythonTestRun(
                    options("\(root)/tests", trace: trace) {
                        $0.prelude = [.file(URL(fileURLWithPath: "\(root)/tracer.py"))]
                        $0.freshKernelPerTest = true
                    })).run()
            #expect(result.counts.passed == 3)
            // Three kernels, each forked by a template that loaded the prelude (one, unless a
            // busy host ended it as idle between two tests), and nothing left after the run.
            let loaders = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
                .map { String($0.split(separator: " ")[0]) }
            let kernels = try String(contentsOfFile: trace + ".parents", encoding: .utf8).split(separator: "\n")
                .map { $0.split(separator: " ").map(String.init) }
            #expect(kernels.count == 3)
            #expect(Set(kernels.map { $0[0] }).count == 3)
            #expect(kernels.allSatisfy { loaders.contains($0[1]) }, "\(kernels) not forked by \(loaders)")
            #expect(!loaders.contains(String(getpid())))
            try await expectGone(trace)
        }
    }

    @Test func withTemplatesEveryFilesKernelIsForkedFromOneTemplateIntoItsOwnWorkspace() async throws {
        try await withTemporaryDirectory { root throws in
            var files = ["tracer.py": Self.tracingPrelude]
            for number in 1...4 {
                files["tests/test_\(number).py"] = """
                    import os, tempfile

                    def test_where():
                        with open(os.environ['PYRUN_TEST_TRACE'] + '.tests', 'a') as f:
                            f.write('%d %s %s\\n' % (os.getpid(), os.getcwd(), tempfile.gettempdir()))
                    """
            }
            try write(files, under: root)
            let trace = "\(root)/trace"
            let result = await
                (try PythonTestRun(
                    options("\(root)/tests", trace: trace) {
                        $0.prelude = [.default, .file(URL(fileURLWithPath: "\(root)/tracer.py"))]
                        $0.configuration.usesTemplate = true
                    })).run()
            #expect(result.counts.passed == 4)
            // One template loaded the prelude for all four files, and ended with the run.
            #expect(try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").count == 1)
            try await expectGone(trace)
            // Each file's kernel: a process, a workspace and a TMPDIR of its own, all gone.
            let kernels = try String(contentsOfFile: trace + ".tests", encoding: .utf8).split(separator: "\n")
                .map { $0.split(separator: " ").map(String.init) }
            #expect(kernels.count == 4)
            #expect(Set(kernels.map { $0[0] }).count == 4)
            #expect(Set(kernels.map { $0[1] }).count == 4)
            #expect(Set(kernels.map { $0[2] }).count == 4)
            for kernel in kernels {
                #expect(kernel[2].hasPrefix((kernel[1] as NSString).deletingLastPathComponent))
                #expect(await waitUntilGone(try #require(Int32(kernel[0]))))
                #expect(!FileManager.default.fileExists(atPath: kernel[1]), "workspace \(kernel[1]) outlived the run")
            }
        }
    }

    @Test func aKernelStartedForAFileThatNeverRunsIsShutDown() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "tracer.py": Self.tracingPrelude,
                    // It fails once test_2.py's kernel, started ahead, has loaded the prelude.
                    "tests/test_1.py": """
                    import os, time

                    def test_fails():
                        deadline = time.monotonic() + 60
                        while time.monotonic() < deadline:
                            with open(os.environ['PYRUN_TEST_TRACE']) as f:
                                if len(f.read().splitlines()) >= 2:
                                    break
                            time.sleep(0.01)
                        assert 1 == 2
                    """,
                    "tests/test_2.py": "def test_never_runs():\n    pass\n",
                ], under: root)
            let trace = "\(root)/trace"
            let result = await
                (try PythonTestRun(
                    options("\(root)/tests", trace: trace) {
                        $0.prelude = [.file(URL(fileURLWithPath: "\(root)/tracer.py"))]
                        $0.stopAtFirstFailure = true
                        $0.jobs = 1
                        $0.timeout = nil
                    })).run()
            #expect(result.reports.flatMap(\.records).map(\.name) == ["test_fails"])
            #expect(result.reports.flatMap(\.records).map(\.outcome) == [.failed])
            #expect(result.exitStatus == 1)
            // test_2.py's kernel was started while test_1.py ran: it is gone with its workspace.
            let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)
            try await expectNothingLeft(trace)
        }
    }

    @Test func aPreludeThatRaisesStopsTheRunAsAUsageError() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "tools.py": "def helper():\n    return 1\nhelper() / 0\n",
                    "tests/test_tools.py": "def test_helper():\n    assert helper() == 1\n",
                ], under: root)
            let result = await
                (try PythonTestRun(
                    options("\(root)/tests", trace: "\(root)/trace") {
                        $0.prelude = [.file(URL(fileURLWithPath: "\(root)/tools.py"))]
                    })).run()
            #expect(result.exitStatus == 4)
            let problem = try #require(result.usageError)
            #expect(problem.hasPrefix("the prelude \(root)/tools.py raised at line 3: ZeroDivisionError"))
            #expect(problem.contains("helper() / 0"))  // the prelude's own frame
            #expect(result.reports.flatMap(\.records).isEmpty)
        }
    }

    @Test func cancellingTheRunInterruptsItsTests() async throws {
        try await withTemporaryDirectory { root throws in
            try write(
                [
                    "test_slow.py": Self.tracer
                        + "import time\n\ndef test_slow():\n    _trace()\n    time.sleep(60)\n\ndef test_never():\n    pass\n"
                ],
                under: root)
            let trace = "\(root)/trace"
            let run = try PythonTestRun(options(root, trace: trace) { $0.timeout = nil })
            let task = Task { await run.run() }
            // Once the test is in its sleep (it traced itself twice: at import, then in the test).
            let started = await poll(seconds: 90) {
                ((try? String(contentsOfFile: trace, encoding: .utf8)) ?? "").split(separator: "\n").count >= 2
            }
            #expect(started)
            task.cancel()
            let result = await task.value
            #expect(result.interrupted)
            #expect(result.exitStatus == 2)
            #expect(result.reports.flatMap(\.records).map(\.outcome) == [.interrupted])
            try await expectNothingLeft(trace)
        }
    }
}

/// Polls `condition` every 20 ms for at most `seconds`: a liveness bound.
func poll(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
