import PyRunKit

/// Issue 5, §5: a graceful shutdown, and the shutdown of a kernel that ignores SIGTERM.
enum ShutdownScenario {
    static func run(_ context: BenchContext, into report: inout Report) async throws {
        var samples = SideSamples()
        for round in 0..<context.plan.shutdowns {
            let kernel = PythonKernel(configuration: context.kernelConfiguration)
            try expectTwo(await kernel.run("1+1"))
            let stopwatch = Stopwatch()
            let outcome = await kernel.shutdown()
            samples.pyrun.append(stopwatch.seconds)
            guard outcome == .graceful else { throw PeerError("an idle kernel's shutdown was \(outcome)") }

            let execLoop = try DirectPeer.floor(python: context.python, script: FloorScript.execLoop)
            try execLoop.execute("1+1")
            let floorStopwatch = Stopwatch()
            execLoop.close()
            samples.floor.append(floorStopwatch.seconds)

            if let jupyter = context.jupyter, round < context.plan.jupyterShutdowns {
                samples.jupyter += try jupyter.seconds(["op": "shutdown"])
            }
        }
        report.figures.append(
            Figure(
                section: 5, name: "graceful shutdown", unit: .seconds, pyrun: Summary(samples.pyrun),
                floorName: "exec loop: stdin closed → reaped", floor: Summary(samples.floor),
                jupyter: Summary(samples.jupyter), target: 0.010, note: "`shutdown()` → `.graceful`"))

        var stubborn: [Double] = []
        let grace = context.plan.stubbornGrace
        for _ in 0..<context.plan.stubbornShutdowns {
            let kernel = PythonKernel(configuration: context.kernelConfiguration)
            try await kernel.start()
            let execution = await kernel.execute(
                "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ignoring', flush=True)\nwhile True: pass"
            )
            // Only once SIGTERM is ignored does the shutdown below test what it should.
            var events = execution.makeAsyncIterator()
            while let event = await events.next() {
                if case .stdout = event { break }
            }
            let stopwatch = Stopwatch()
            let outcome = await kernel.shutdown(grace: grace)
            stubborn.append(stopwatch.seconds)
            guard outcome == .killed else { throw PeerError("a kernel ignoring SIGTERM ended \(outcome)") }
        }
        let graceSeconds = Double(grace.components.attoseconds) / 1e18 + Double(grace.components.seconds)
        let overhead = Summary(stubborn).map { Table.value($0.median - 2 * graceSeconds, .seconds) } ?? "?"
        report.figures.append(
            Figure(
                section: 5, name: "shutdown of a kernel ignoring SIGTERM", unit: .seconds, pyrun: Summary(stubborn),
                floorName: nil, floor: nil, jupyter: nil, target: nil,
                note:
                    "busy and ignoring SIGTERM; `shutdown(grace: \(Table.value(graceSeconds, .seconds)))` → `.killed`: exit, grace, SIGTERM, grace, SIGKILL; \(overhead) beyond the two graces"
            ))
    }
}
