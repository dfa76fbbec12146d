/// Issue 5, §7: `pyrun -c pass` against `python3 -c pass`.
enum CommandLineToolScenario {
    static func run(_ context: BenchContext, into report: inout Report) async throws {
        guard let tool = context.commandLineTool else {
            report.figures.append(
                Figure(
                    section: 7, name: "`pyrun -c pass`", unit: .seconds, pyrun: nil, floorName: "`python3 -c pass`",
                    floor: nil, jupyter: nil, target: nil, targetRatioToFloor: 1.3,
                    note:
                        "not measured (pyrun CLI not built: `swift build -c release` builds it next to the bench, or pass `--pyrun PATH`)"
                ))
            return
        }
        let python = context.python
        let arguments = ["--python", python, "-c", "pass"]
        _ = try PipedProcess.timeToCompletion(executable: tool, arguments: arguments)
        var samples = SideSamples()
        var binaryStarts: [Double] = []
        for _ in 0..<context.plan.commandLineRuns {
            samples.pyrun.append(try PipedProcess.timeToCompletion(executable: tool, arguments: arguments))
            samples.floor.append(try PipedProcess.timeToCompletion(executable: python, arguments: ["-c", "pass"]))
            binaryStarts.append(try PipedProcess.timeToCompletion(executable: tool, arguments: ["--help"]))
        }
        addProfile(&report, "`pyrun -c pass`", "`python3 -c pass`", samples.floor)
        addProfile(
            &report, "`pyrun -c pass`", "`pyrun --help`: the Swift binary's own start and exit, no kernel", binaryStarts
        )
        addProfile(&report, "`pyrun -c pass`", "`pyrun --python … -c pass`", samples.pyrun)
        report.figures.append(
            Figure(
                section: 7, name: "`pyrun -c pass`", unit: .seconds, pyrun: Summary(samples.pyrun),
                floorName: "`python3 -c pass`", floor: Summary(samples.floor), jupyter: nil, target: nil,
                targetRatioToFloor: 1.3, note: "`\(tool) --python \(python) -c pass`, spawn → reaped"))
    }
}
