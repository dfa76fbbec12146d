import Foundation

/// Issue 11: 200 tiny tests in 20 files through `pyrun test`, next to `python3 -m pytest` on
/// the same files. pyrun gives each file a fresh interpreter (a kernel with the prelude);
/// pytest runs them all in its one process.
enum PythonTestsScenario {
    static let files = 20
    static let testsPerFile = 10

    static func run(_ context: BenchContext, into report: inout Report) async throws {
        let name = "200 tiny tests in 20 files: `pyrun test`"
        guard let tool = context.commandLineTool else {
            report.figures.append(
                Figure(
                    section: 11, name: name, unit: .seconds, pyrun: nil, floorName: "`python3 -m pytest`", floor: nil,
                    jupyter: nil, target: 1.0, note: "not measured (pyrun CLI not built, or pass `--pyrun PATH`)"))
            return
        }
        let directory = try makeTests()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // `pyrun test`'s default -j, as a user runs it.
        let pyrunArguments = ["test", "--python", context.python, directory]
        let forkArguments = ["test", "--fork", "--python", context.python, directory]
        let pytestArguments = ["-m", "pytest", "-q", "-p", "no:cacheprovider", directory]
        let hasPytest =
            (try? PipedProcess.timeToCompletion(executable: context.python, arguments: ["-c", "import pytest"])) != nil
        // Untimed: bytecode caches on both sides.
        _ = try PipedProcess.timeToCompletion(executable: tool, arguments: pyrunArguments)
        if hasPytest { _ = try PipedProcess.timeToCompletion(executable: context.python, arguments: pytestArguments) }
        var wall = SideSamples()
        var cpu = SideSamples()
        var forkedWall: [Double] = []
        var forkedCPU: [Double] = []
        for _ in 0..<context.plan.testSuiteRuns {
            let pyrun = try PipedProcess.costOfCompletion(executable: tool, arguments: pyrunArguments)
            wall.pyrun.append(pyrun.wallSeconds)
            cpu.pyrun.append(pyrun.cpuSeconds)
            let forked = try PipedProcess.costOfCompletion(executable: tool, arguments: forkArguments)
            forkedWall.append(forked.wallSeconds)
            forkedCPU.append(forked.cpuSeconds)
            if hasPytest {
                let pytest = try PipedProcess.costOfCompletion(executable: context.python, arguments: pytestArguments)
                wall.floor.append(pytest.wallSeconds)
                cpu.floor.append(pytest.cpuSeconds)
            }
        }
        let fresh =
            "pyrun gives each file a fresh interpreter with the default prelude (default -j on \(cores) cores); pytest runs all 20 in one process"
        let missing = "; pytest not measured (`\(context.python) -m pip install pytest`)"
        report.figures.append(
            Figure(
                section: 11, name: name, unit: .seconds, pyrun: Summary(wall.pyrun),
                floorName: "`python3 -m pytest` on the same files",
                floor: Summary(wall.floor), jupyter: nil, target: 1.0,
                note: hasPytest ? fresh : fresh + missing))
        report.figures.append(
            Figure(
                section: 11, name: "200 tiny tests in 20 files: CPU time (user + system, every process)",
                unit: .seconds, pyrun: Summary(cpu.pyrun), floorName: "`python3 -m pytest` on the same files",
                floor: Summary(cpu.floor), jupyter: nil, target: nil,
                note: "what the run costs whatever the machine's load; 20 interpreters against one"
                    + (hasPytest ? "" : missing)))
        report.figures.append(
            Figure(
                section: 11, name: "200 tiny tests in 20 files: `pyrun test --fork`", unit: .seconds,
                pyrun: Summary(forkedWall), floorName: "`python3 -m pytest` on the same files",
                floor: Summary(wall.floor), jupyter: nil, target: 1.0,
                note: "each file's kernel forked from one template that loaded the prelude once; CPU "
                    + (Summary(forkedCPU).map { Table.format($0, .seconds) } ?? "?")))
    }

    /// 20 files of 10 tests each, in a new temporary directory.
    static func makeTests() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pyrun-bench-tests-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for file in 0..<files {
            let tests = (0..<testsPerFile).map { test in
                "def test_\(test)():\n    value = \(test) * 2\n    assert value == \(2 * test)\n"
            }
            try tests.joined(separator: "\n\n").write(
                to: directory.appendingPathComponent(String(format: "test_bench_%02d.py", file)), atomically: true,
                encoding: .utf8)
        }
        return directory.path
    }
}
