import Foundation
import PyRunKit

/// Issue 5, §1: a new kernel's start to its first `1+1` result, next to `python3 -c pass`
/// and a Jupyter kernel asked the same.
enum ColdStartScenario {
    static func run(_ context: BenchContext, into report: inout Report) async throws {
        let python = context.python
        // Untimed: fills the bytecode caches of the runner and the floors.
        try await startedKernelAnswer(context)
        _ = try PipedProcess.timeToCompletion(executable: python, arguments: ["-c", "pass"])

        var samples = SideSamples()
        var execLoopStarts: [Double] = []
        var runnerStarts: [Double] = []
        var uncachedRunnerStarts: [Double] = []
        let uncachedRunner = try context.runnerDirectory.map(copyWithoutBytecodeCache)
        defer { if let uncachedRunner { try? FileManager.default.removeItem(atPath: uncachedRunner) } }
        for round in 0..<context.plan.coldStarts {
            samples.pyrun.append(try await startedKernelAnswer(context))
            samples.floor.append(try PipedProcess.timeToCompletion(executable: python, arguments: ["-c", "pass"]))
            execLoopStarts.append(
                try timeToFirstAnswer { try DirectPeer.floor(python: python, script: FloorScript.execLoop) })
            if context.runnerDirectory != nil {
                runnerStarts.append(try timeToFirstAnswer { try context.directRunner()! })
            }
            if let uncachedRunner {
                uncachedRunnerStarts.append(
                    try timeToFirstAnswer {
                        try DirectPeer.runner(python: python, directory: uncachedRunner, cacheBytecode: false)
                    })
            }
            if let jupyter = context.jupyter, round < context.plan.jupyterColdStarts {
                samples.jupyter += try jupyter.seconds(["op": "cold_start"])
            }
        }
        report.figures.append(
            Figure(
                section: 1, name: "start → first `1+1` result", unit: .seconds, pyrun: Summary(samples.pyrun),
                floorName: "`python3 -c pass`", floor: Summary(samples.floor), jupyter: Summary(samples.jupyter),
                target: 0.050, note: "new `PythonKernel`: `start()` + `run(\"1+1\")`"))
        addProfile(&report, "start → 1+1", "`python3 -c pass`", samples.floor)
        addProfile(&report, "start → 1+1", "minimal exec loop over a pipe: spawn → `1+1` done", execLoopStarts)
        addProfile(
            &report, "start → 1+1", "runner.py without PyRunKit (same command line): spawn → `1+1` done", runnerStarts)
        addProfile(
            &report, "start → 1+1", "runner.py without PyRunKit, no bytecode cache (PYTHONDONTWRITEBYTECODE=1)",
            uncachedRunnerStarts)
        addProfile(&report, "start → 1+1", "PythonKernel: `start()` + `run(\"1+1\")`", samples.pyrun)
    }

    /// Seconds from a new kernel to its `1+1` result; the kernel is then shut down, untimed.
    @discardableResult
    static func startedKernelAnswer(_ context: BenchContext) async throws -> Double {
        try await startedKernelAnswer(context.kernelConfiguration)
    }

    /// The same for a kernel of `configuration`.
    @discardableResult
    static func startedKernelAnswer(_ configuration: KernelConfiguration) async throws -> Double {
        let stopwatch = Stopwatch()
        let kernel = PythonKernel(configuration: configuration)
        try await kernel.start()
        try expectTwo(await kernel.run("1+1"))
        let elapsed = stopwatch.seconds
        await kernel.shutdown()
        return elapsed
    }

    /// A copy of `runner.py` in a directory of its own, where no bytecode cache exists.
    static func copyWithoutBytecodeCache(_ runnerDirectory: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pyrun-bench-uncached-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let copy = directory.appendingPathComponent("runner.py")
        try? FileManager.default.removeItem(at: copy)
        try FileManager.default.copyItem(atPath: runnerDirectory + "/runner.py", toPath: copy.path)
        return directory.path
    }

    /// Seconds from spawning a direct peer to its `1+1` done.
    static func timeToFirstAnswer(_ makePeer: () throws -> DirectPeer) throws -> Double {
        let stopwatch = Stopwatch()
        let peer = try makePeer()
        try peer.execute("1+1")
        let elapsed = stopwatch.seconds
        peer.close()
        return elapsed
    }
}

/// Adds a profile step when it was measured.
func addProfile(_ report: inout Report, _ figure: String, _ step: String, _ values: [Double]) {
    if let summary = Summary(values) {
        report.profile.append(ProfileStep(figure: figure, step: step, summary: summary))
    }
}
