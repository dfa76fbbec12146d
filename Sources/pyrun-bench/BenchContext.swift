import Foundation
import PyRunKit

/// How many times each figure is measured: `--quick` keeps a run to seconds, the full run
/// repeats until medians are stable on a busy 2-core machine.
struct RunPlan: Sendable {
    var name: String
    var coldStarts: Int
    var jupyterColdStarts: Int
    var roundTrips: Int
    var jupyterRoundTrips: Int
    /// Round trips per turn before the next side takes over.
    var roundTripBatch: Int
    var lineStreams: Int
    var jupyterLineStreams: Int
    var bigPrints: Int
    var jupyterBigPrints: Int
    var interrupts: Int
    var jupyterInterrupts: Int
    var shutdowns: Int
    var jupyterShutdowns: Int
    var stubbornShutdowns: Int
    /// The grace given to a kernel that ignores SIGTERM (it is waited twice).
    var stubbornGrace: Duration
    var poolRounds: Int
    var jupyterPoolRounds: Int
    var poolExecutions: Int
    var commandLineRuns: Int
    /// Runs of the 200-test suite through `pyrun test` and through pytest.
    var testSuiteRuns: Int

    static let quick = RunPlan(
        name: "--quick", coldStarts: 4, jupyterColdStarts: 1, roundTrips: 300, jupyterRoundTrips: 50,
        roundTripBatch: 100, lineStreams: 2, jupyterLineStreams: 1, bigPrints: 1, jupyterBigPrints: 1,
        interrupts: 3, jupyterInterrupts: 1, shutdowns: 3, jupyterShutdowns: 1, stubbornShutdowns: 1,
        stubbornGrace: .milliseconds(50), poolRounds: 1, jupyterPoolRounds: 0, poolExecutions: 200,
        commandLineRuns: 4, testSuiteRuns: 1)

    static let full = RunPlan(
        name: "full", coldStarts: 30, jupyterColdStarts: 8, roundTrips: 3000, jupyterRoundTrips: 1000,
        roundTripBatch: 100, lineStreams: 10, jupyterLineStreams: 4, bigPrints: 10, jupyterBigPrints: 4,
        interrupts: 20, jupyterInterrupts: 8, shutdowns: 20, jupyterShutdowns: 6, stubbornShutdowns: 3,
        stubbornGrace: .milliseconds(100), poolRounds: 3, jupyterPoolRounds: 1, poolExecutions: 1000,
        commandLineRuns: 30, testSuiteRuns: 7)
}

/// What every scenario needs: the plan, the interpreter, and the optional other sides.
struct BenchContext {
    let plan: RunPlan
    /// The real interpreter (a shim resolved away), used by pyrun and by the floors alike.
    let python: String
    /// Where `runner.py` is, for the profile rows that drive it without PyRunKit.
    let runnerDirectory: String?
    let jupyter: JupyterDriver?
    /// The `pyrun` CLI binary, when it is built.
    let commandLineTool: String?

    var kernelConfiguration: KernelConfiguration {
        KernelConfiguration(interpreter: .path(python))
    }

    /// A started kernel, warmed with a few executions.
    func warmKernel() async throws -> PythonKernel {
        let kernel = PythonKernel(configuration: kernelConfiguration)
        try await kernel.start()
        for _ in 0..<20 { try await expectTwo(kernel.run("1+1")) }
        return kernel
    }

    /// The runner driven directly, when its source is in this checkout.
    func directRunner() throws -> DirectPeer? {
        guard let runnerDirectory else { return nil }
        return try DirectPeer.runner(python: python, directory: runnerDirectory)
    }

    /// `runner/` of this checkout, found from this source file (the bench runs from the repository).
    static var checkoutRunnerDirectory: String? {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("runner")
        let exists = FileManager.default.fileExists(atPath: directory.appendingPathComponent("runner.py").path)
        return exists ? directory.path : nil
    }
}

/// Checks that `1+1` really answered 2: a benchmark of wrong answers measures nothing.
func expectTwo(_ result: ExecutionResult) throws {
    guard result.status == .ok, result.resultText == "2" else {
        throw PeerError("1+1 gave \(result.status) \(result.resultText ?? "no result") \(result.notices)")
    }
}
