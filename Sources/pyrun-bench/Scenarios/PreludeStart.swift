import Foundation
import PyRunKit

/// Issue 11: a new kernel's start to its first `1+1` result with the default prelude loaded,
/// next to the same start without one (the prelude's cost is paid once per kernel).
enum PreludeStartScenario {
    static func run(_ context: BenchContext, into report: inout Report) async throws {
        var bare = context.kernelConfiguration
        bare.prelude = []
        var helped = context.kernelConfiguration
        helped.prelude = [.default]
        // Untimed: installs the prelude and fills the bytecode caches.
        try await ColdStartScenario.startedKernelAnswer(helped)
        try await ColdStartScenario.startedKernelAnswer(bare)
        var samples = SideSamples()
        for _ in 0..<context.plan.coldStarts {
            samples.floor.append(try await ColdStartScenario.startedKernelAnswer(bare))
            samples.pyrun.append(try await ColdStartScenario.startedKernelAnswer(helped))
        }
        report.figures.append(
            Figure(
                section: 11, name: "start → first `1+1` result, default prelude", unit: .seconds,
                pyrun: Summary(samples.pyrun), floorName: "the same start without a prelude",
                floor: Summary(samples.floor), jupyter: nil, target: nil, targetRatioToFloor: 1.25,
                note:
                    "`KernelConfiguration(prelude: [.default])`: `start()` + `run(\"1+1\")`, taking turns with the bare start"
            ))
    }
}
