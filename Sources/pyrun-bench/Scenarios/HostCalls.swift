import Foundation
import PyRunKit

/// Issue 17: a host call's round trip as Python code sees it (`host.echo(n=i)`, a handler
/// that returns its arguments) next to a warm `1+1` round trip as the host sees it, taking
/// turns in batches on one kernel; and how many calls 8 Python threads get through per second.
enum HostCallScenario {
    static let threads = 8

    static func run(_ context: BenchContext, into report: inout Report) async throws {
        let plan = context.plan
        var configuration = context.kernelConfiguration
        configuration.hostFunctions = [
            HostFunction(name: "echo", summary: "Returns its arguments.") { call in call.arguments }
        ]
        let kernel = PythonKernel(configuration: configuration)
        try await kernel.start()
        for _ in 0..<20 { try expectTwo(await kernel.run("1+1")) }
        _ = try await samples(of: 50, in: kernel)

        var calls: [Double] = []
        var warm: [Double] = []
        let batches = max(1, plan.roundTrips / plan.roundTripBatch)
        for _ in 0..<batches {
            calls += try await samples(of: plan.roundTripBatch, in: kernel)
            for _ in 0..<plan.roundTripBatch {
                let stopwatch = Stopwatch()
                try expectTwo(await kernel.run("1+1"))
                warm.append(stopwatch.seconds)
            }
        }

        let perThread = plan.name == RunPlan.quick.name ? 100 : 250
        let rounds = plan.name == RunPlan.quick.name ? 2 : 6
        var perCall: [Double] = []
        for _ in 0..<rounds {
            let elapsed = try await threadedSeconds(threads: threads, callsEach: perThread, in: kernel)
            perCall.append(elapsed / Double(threads * perThread))
        }
        await kernel.shutdown()

        report.figures.append(
            Figure(
                section: 10, name: "host call round trip", unit: .seconds, pyrun: Summary(calls),
                floorName: "warm `1+1` round trip", floor: Summary(warm), jupyter: nil, targetRatioToFloor: 1.5,
                note:
                    "`host.echo(n=i)` timed inside Python, its Swift handler returning the arguments; `run(\"1+1\")` timed by the host; in turns on one kernel"
            ))
        let throughput = Summary(perCall).map { String(format: "%.0f", 1 / $0.median) } ?? "?"
        report.figures.append(
            Figure(
                section: 10, name: "host calls from \(threads) threads, time per call", unit: .seconds,
                pyrun: Summary(perCall),
                floorName: nil, floor: nil, jupyter: nil, target: 0.001,
                note:
                    "\(throughput) calls/s: \(threads) threads × \(perThread) `host.echo` calls per run, wall time inside Python ÷ calls; target 1,000 calls/s"
            ))
    }

    /// `count` host calls made one after another by one execution, each timed in Python.
    private static func samples(of count: Int, in kernel: PythonKernel) async throws -> [Double] {
        let code = """
            import time as _pyrun_time
            _pyrun_samples = []
            for _pyrun_i in range(\(count)):
                _pyrun_start = _pyrun_time.perf_counter()
                host.echo(n=_pyrun_i)
                _pyrun_samples.append(_pyrun_time.perf_counter() - _pyrun_start)
            print(" ".join(map(repr, _pyrun_samples)))
            """
        let result = try await kernel.run(code)
        let values = result.stdout.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        guard result.status == .ok, values.count == count else {
            throw PeerError(
                "host call samples: \(result.status), \(values.count) of \(count): \(result.error?.description ?? result.stderr)"
            )
        }
        return values
    }

    /// Wall seconds, inside Python, for `threads` threads making `callsEach` calls each.
    private static func threadedSeconds(threads: Int, callsEach: Int, in kernel: PythonKernel) async throws -> Double {
        let code = """
            import threading as _pyrun_threading, time as _pyrun_time
            def _pyrun_work():
                for _pyrun_i in range(\(callsEach)):
                    host.echo(n=_pyrun_i)
            _pyrun_threads = [_pyrun_threading.Thread(target=_pyrun_work) for _ in range(\(threads))]
            _pyrun_start = _pyrun_time.perf_counter()
            for _pyrun_t in _pyrun_threads: _pyrun_t.start()
            for _pyrun_t in _pyrun_threads: _pyrun_t.join()
            print(repr(_pyrun_time.perf_counter() - _pyrun_start))
            """
        let result = try await kernel.run(code)
        guard result.status == .ok, result.hostCalls.count == threads * callsEach,
            let seconds = Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw PeerError(
                "threaded host calls: \(result.status), \(result.hostCalls.count) calls: \(result.error?.description ?? result.stderr)"
            )
        }
        return seconds
    }
}
