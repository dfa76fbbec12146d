import Foundation
import PyRunKit

/// Issue 5, §3: 200,000 printed lines and one 50 MB print, delivered completely.
enum StreamingScenario {
    static let lineCount = 200_000
    static let linesCode = "for i in range(\(lineCount)):\n    print(i)"
    static let linesBytes = (0..<lineCount).reduce(0) { $0 + String($1).utf8.count + 1 }
    static let bigPrintCode = "print('y' * (50 * 1024 * 1024))"
    static let bigPrintBytes = 50 * 1024 * 1024 + 1

    static func run(_ context: BenchContext, into report: inout Report) async throws {
        let kernel = try await context.warmKernel()
        let execLoop = try DirectPeer.floor(python: context.python, script: FloorScript.execLoop)
        let runner = try context.directRunner()
        defer {
            execLoop.close()
            runner?.close()
        }
        for (section, name, code, bytes, runs, jupyterRuns, target) in [
            (
                3, "200k printed lines", linesCode, linesBytes, context.plan.lineStreams,
                context.plan.jupyterLineStreams, 0.4
            ),
            (
                3, "one 50 MB print", bigPrintCode, bigPrintBytes, context.plan.bigPrints,
                context.plan.jupyterBigPrints, 0.25
            ),
        ] {
            var samples = SideSamples()
            var runnerTimes: [Double] = []
            var runnerInside: [Double] = []
            var kernelHostCPU: [Double] = []
            var runnerHostCPU: [Double] = []
            for round in 0..<runs {
                let cpuBefore = processCPUSeconds()
                let stopwatch = Stopwatch()
                // Collected whole, so delivery is checked byte for byte: the limit is raised
                // past the 16 MiB a collecting caller keeps by default.
                let result = try await kernel.run(code, options: ExecutionOptions(collectedOutputLimit: bytes + 1))
                samples.pyrun.append(stopwatch.seconds)
                kernelHostCPU.append(processCPUSeconds() - cpuBefore)
                guard result.status == .ok, result.stdout.utf8.count == bytes else {
                    throw PeerError(
                        "\(name): pyrun delivered \(result.stdout.utf8.count) of \(bytes) bytes (\(result.status))")
                }
                if let report = result.report { runnerInside.append(report.durationMs / 1000) }
                samples.floor.append(try timed(execLoop, code, expecting: bytes, name))
                if let runner {
                    let runnerCPUBefore = processCPUSeconds()
                    runnerTimes.append(try timed(runner, code, expecting: bytes, name))
                    runnerHostCPU.append(processCPUSeconds() - runnerCPUBefore)
                }
                if let jupyter = context.jupyter, round < jupyterRuns {
                    let answer = try jupyter.request(["op": "stream", "code": code])
                    let received = (answer["bytes"] as? NSNumber)?.intValue ?? 0
                    guard received == bytes else {
                        throw PeerError("\(name): Jupyter delivered \(received) of \(bytes) bytes")
                    }
                    samples.jupyter += (answer["seconds"] as? [NSNumber] ?? []).map(\.doubleValue)
                }
            }
            let throughput =
                Summary(samples.pyrun).map { String(format: "%.0f MB/s", Double(bytes) / $0.median / 1e6) } ?? ""
            report.figures.append(
                Figure(
                    section: section, name: name, unit: .seconds, pyrun: Summary(samples.pyrun),
                    floorName: "minimal exec loop, print straight to the pipe", floor: Summary(samples.floor),
                    jupyter: Summary(samples.jupyter), target: target,
                    note: "\(String(format: "%.1f", Double(bytes) / 1e6)) MB delivered whole: \(throughput)"))
            addProfile(&report, name, "minimal exec loop, raw print to the pipe", samples.floor)
            addProfile(&report, name, "runner.py's own `durationMs` (inside Python)", runnerInside)
            addProfile(&report, name, "runner.py without PyRunKit (blocking client, same decoder)", runnerTimes)
            addProfile(&report, name, "PythonKernel `run(code)` (output collected)", samples.pyrun)
            addProfile(
                &report, name, "host CPU (this process, all threads): blocking client reading runner.py", runnerHostCPU)
            addProfile(&report, name, "host CPU (this process, all threads): PythonKernel `run(code)`", kernelHostCPU)
        }
        await kernel.shutdown()
    }

    private static func timed(_ peer: DirectPeer, _ code: String, expecting bytes: Int, _ name: String) throws -> Double
    {
        let stopwatch = Stopwatch()
        let received = try peer.execute(code)
        let elapsed = stopwatch.seconds
        guard received == bytes else {
            throw PeerError("\(name): a direct peer delivered \(received) of \(bytes) bytes")
        }
        return elapsed
    }
}
