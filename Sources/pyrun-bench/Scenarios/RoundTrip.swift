import Foundation
import PyRunKit

/// Issue 5, §2: `1+1` on a live kernel, many times, next to a raw NDJSON echo over a pipe
/// (the floor) and to Jupyter. The sides take turns in batches.
enum RoundTripScenario {
    static func run(_ context: BenchContext, into report: inout Report) async throws {
        let plan = context.plan
        let kernel = try await context.warmKernel()
        let echo = try DirectPeer.floor(python: context.python, script: FloorScript.echoLoop)
        let execLoop = try DirectPeer.floor(python: context.python, script: FloorScript.execLoop)
        let runner = try context.directRunner()
        defer {
            echo.close()
            execLoop.close()
            runner?.close()
        }
        for _ in 0..<50 {
            try echo.echo()
            try execLoop.execute("1+1")
            try runner?.execute("1+1")
        }
        if let jupyter = context.jupyter {
            try jupyter.request(["op": "open"])
            report.jupyterIdleKernelBytes = (try jupyter.request(["op": "memory"])["bytes"] as? NSNumber)?.doubleValue
        }

        var samples = SideSamples()
        var execLoopTimes: [Double] = []
        var runnerTimes: [Double] = []
        var runnerInside: [Double] = []
        let batches = max(1, plan.roundTrips / plan.roundTripBatch)
        for batch in 0..<batches {
            for _ in 0..<plan.roundTripBatch {
                let stopwatch = Stopwatch()
                let result = try await kernel.run("1+1")
                samples.pyrun.append(stopwatch.seconds)
                try expectTwo(result)
                if let report = result.report { runnerInside.append(report.durationMs / 1000) }
            }
            for _ in 0..<plan.roundTripBatch {
                let stopwatch = Stopwatch()
                try echo.echo()
                samples.floor.append(stopwatch.seconds)
            }
            for _ in 0..<plan.roundTripBatch {
                let stopwatch = Stopwatch()
                try execLoop.execute("1+1")
                execLoopTimes.append(stopwatch.seconds)
            }
            if let runner {
                for _ in 0..<plan.roundTripBatch {
                    let stopwatch = Stopwatch()
                    try runner.execute("1+1")
                    runnerTimes.append(stopwatch.seconds)
                }
            }
            if let jupyter = context.jupyter {
                let share = plan.jupyterRoundTrips / batches + (batch < plan.jupyterRoundTrips % batches ? 1 : 0)
                if share > 0 { samples.jupyter += try jupyter.seconds(["op": "round_trip", "n": share]) }
            }
        }
        await kernel.shutdown()
        report.figures.append(
            Figure(
                section: 2, name: "warm `1+1` round trip", unit: .seconds, pyrun: Summary(samples.pyrun),
                floorName: "JSON echo over a pipe", floor: Summary(samples.floor), jupyter: Summary(samples.jupyter),
                target: 0.000_15,
                note:
                    "`run(\"1+1\")` on a live kernel; Jupyter to idle (all output in); exec-loop floor \(medianText(execLoopTimes))"
            ))
        let figure = "warm 1+1"
        addProfile(&report, figure, "JSON echo loop over a pipe", samples.floor)
        addProfile(&report, figure, "minimal exec loop (eval + result + done)", execLoopTimes)
        addProfile(&report, figure, "runner.py's own `durationMs` (inside Python)", runnerInside)
        addProfile(&report, figure, "runner.py without PyRunKit (blocking client, same decoder)", runnerTimes)
        addProfile(&report, figure, "PythonKernel `run(\"1+1\")`", samples.pyrun)
    }
}

/// "0.123 ms", or "not measured".
func medianText(_ values: [Double]) -> String {
    Summary(values).map { Table.value($0.median, .seconds) } ?? "not measured"
}
