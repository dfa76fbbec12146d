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
        let pyrunArguments = ["test", "--python", context.python, "-j", String(cores), directory]
        let pytestArguments = ["-m", "pytest", "-q", "-p", "no:cacheprovider", directory]
        let hasPytest =
            (try? PipedProcess.timeToCompletion(executable: context.python, arguments: ["-c", "import pytest"])) != nil
        // Untimed: bytecode caches on both sides.
        _ = try PipedProcess.timeToCompletion(executable: tool, arguments: pyrunArguments)
        if hasPytest { _ = try PipedProcess.timeToCompletion(executable: context.python, arguments: pytestArguments) }
        var samples = SideSamples()
        for _ in 0..<context.plan.testSuiteRuns {
            samples.pyrun.append(try PipedProcess.timeToCompletion(executable: tool, arguments: pyrunArguments))
            if hasPytest {
                samples.floor.append(
                    try PipedProcess.timeToCompletion(executable: context.python, arguments: pytestArguments))
            }
        }
        let fresh =
            "pyrun gives each file a fresh interpreter with the default prelude (-j \(cores)); pytest runs all 20 in one process"
        report.figures.append(
            Figure(
                section: 11, name: name, unit: .seconds, pyrun: Summary(samples.pyrun),
                floorName: "`python3 -m pytest` on the same files",
                floor: Summary(samples.floor), jupyter: nil, target: 1.0,
                note: hasPytest ? fresh : "\(fresh); pytest not measured (`\(context.python) -m pip install pytest`)"))
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
