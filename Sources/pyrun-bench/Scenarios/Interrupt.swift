import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 5, §4: from SIGINT to `done`, for a busy loop and for a sleep.
enum InterruptScenario {
    /// How long the code runs before it is interrupted, the same on every side.
    static let runningFor: Duration = .milliseconds(5)

    static func run(_ context: BenchContext, into report: inout Report) async throws {
        let kernel = try await context.warmKernel()
        let execLoop = try DirectPeer.floor(python: context.python, script: FloorScript.execLoop)
        let runner = try context.directRunner()
        defer {
            execLoop.close()
            runner?.close()
        }
        for (name, code) in [
            ("interrupt → done: `while True: pass`", "while True: pass"),
            ("interrupt → done: `time.sleep(100)`", "import time; time.sleep(100)"),
        ] {
            var samples = SideSamples()
            var runnerTimes: [Double] = []
            for round in 0..<context.plan.interrupts {
                samples.pyrun.append(try await interruptKernel(kernel, code))
                samples.floor.append(try interruptPeer(execLoop, code))
                if let runner { runnerTimes.append(try interruptPeer(runner, code)) }
                if let jupyter = context.jupyter, round < context.plan.jupyterInterrupts {
                    try jupyter.request(["op": "open"])
                    samples.jupyter += try jupyter.seconds(["op": "interrupt", "code": code, "delay": 0.005])
                }
            }
            report.figures.append(
                Figure(
                    section: 4, name: name, unit: .seconds, pyrun: Summary(samples.pyrun),
                    floorName: "minimal exec loop, SIGINT", floor: Summary(samples.floor),
                    jupyter: Summary(samples.jupyter), target: 0.002,
                    note: "`interrupt()` → result cancelled, after 5 ms of running"))
            addProfile(&report, name, "minimal exec loop: SIGINT → done read", samples.floor)
            addProfile(&report, name, "runner.py without PyRunKit: SIGINT → done read", runnerTimes)
            addProfile(&report, name, "PythonKernel `interrupt()` → `result()`", samples.pyrun)
        }
        await kernel.shutdown()
    }

    static func interruptKernel(_ kernel: PythonKernel, _ code: String) async throws -> Double {
        let execution = await kernel.execute(code)
        var events = execution.makeAsyncIterator()
        while let event = await events.next() {
            if case .started = event { break }
        }
        try await Task.sleep(for: runningFor)
        let stopwatch = Stopwatch()
        await kernel.interrupt()
        let result = try await execution.result()
        let elapsed = stopwatch.seconds
        guard result.status == .cancelled else { throw PeerError("interrupted `\(code)` ended \(result.status)") }
        return elapsed
    }

    static func interruptPeer(_ peer: DirectPeer, _ code: String) throws -> Double {
        var stopwatch: Stopwatch?
        try peer.execute(code) {
            usleep(UInt32(runningFor.components.attoseconds / 1_000_000_000_000))
            stopwatch = Stopwatch()
            peer.process.signalGroup(SIGINT)
        }
        guard let stopwatch else { throw PeerError("the peer never started `\(code)`") }
        return stopwatch.seconds
    }
}
