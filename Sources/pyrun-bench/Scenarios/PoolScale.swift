import Foundation
import PyRunKit
import Synchronization

/// Issue 5, §6: 20 kernels started at once (time, memory of each idle kernel), and
/// executions spread over 8 keys.
enum PoolScaleScenario {
    static let kernelCount = 20
    static let keyCount = 8

    static func run(_ context: BenchContext, into report: inout Report) async throws {
        let configuration = context.kernelConfiguration
        var starts = SideSamples()
        var memory = SideSamples()
        var directStarts: [Double] = []
        for round in 0..<context.plan.poolRounds {
            let pool = KernelPool(configuration: PoolConfiguration(defaultConfiguration: configuration))
            let stopwatch = Stopwatch()
            let kernels = try await withThrowingTaskGroup(of: PythonKernel.self) { group in
                for index in 0..<kernelCount {
                    group.addTask { try await pool.kernel(for: "agent-\(index)") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            starts.pyrun.append(stopwatch.seconds)
            for index in 0..<kernelCount { try expectTwo(await pool.run("1+1", key: "agent-\(index)")) }
            for kernel in kernels {
                if let pid = await kernel.pid { memory.pyrun.append(Double(residentBytes(of: pid))) }
            }
            await pool.shutdownAll()

            let directStopwatch = Stopwatch()
            let directKernels = try await withThrowingTaskGroup(of: PythonKernel.self) { group in
                for _ in 0..<kernelCount {
                    group.addTask {
                        let kernel = PythonKernel(configuration: configuration)
                        try await kernel.start()
                        return kernel
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            directStarts.append(directStopwatch.seconds)
            await shutDown(directKernels)

            let floorStopwatch = Stopwatch()
            let peers = try (0..<kernelCount).map { _ in
                try DirectPeer.floor(python: context.python, script: FloorScript.execLoop, waitForHello: false)
            }
            for peer in peers { try peer.waitForHello() }
            starts.floor.append(floorStopwatch.seconds)
            for peer in peers {
                try peer.execute("1+1")
                memory.floor.append(Double(residentBytes(of: peer.process.pid)))
                peer.close()
            }

            if let jupyter = context.jupyter, round < context.plan.jupyterPoolRounds {
                let answer = try jupyter.request(["op": "pool", "n": kernelCount])
                starts.jupyter += (answer["seconds"] as? [NSNumber] ?? []).map(\.doubleValue)
                memory.jupyter += (answer["memory"] as? [NSNumber] ?? []).map(\.doubleValue)
            }
        }
        var jupyterNote = ""
        if context.jupyter != nil, context.plan.jupyterPoolRounds == 0 {
            jupyterNote = "; Jupyter's pool not measured in --quick"
        }
        var jupyterMemory = memory.jupyter
        var jupyterMemoryNote = "each of Jupyter's \(kernelCount) when ready"
        if let idle = report.jupyterIdleKernelBytes, idle > 0 {
            jupyterMemory = [idle]
            jupyterMemoryNote = "Jupyter's warm kernel after 20 `1+1`"
        }
        report.figures.append(
            Figure(
                section: 6, name: "\(kernelCount) kernels started concurrently", unit: .seconds,
                pyrun: Summary(starts.pyrun), floorName: "\(kernelCount) exec loops to hello",
                floor: Summary(starts.floor),
                jupyter: Summary(starts.jupyter), target: 0.6,
                note:
                    "`KernelPool.kernel(for:)` on \(kernelCount) keys at once; \(totalText(memory.pyrun, rounds: starts.pyrun.count)) resident in all\(jupyterNote)"
            ))
        report.figures.append(
            Figure(
                section: 6, name: "idle kernel resident memory", unit: .bytes, pyrun: Summary(memory.pyrun),
                floorName: "exec loop", floor: Summary(memory.floor), jupyter: Summary(jupyterMemory),
                target: 14 * 1_048_576, note: "VmRSS of each pool kernel after `1+1`; \(jupyterMemoryNote)"))
        addProfile(
            &report, "\(kernelCount) concurrent starts", "\(kernelCount) exec loops spawned, every hello read",
            starts.floor)
        addProfile(
            &report, "\(kernelCount) concurrent starts", "\(kernelCount) `PythonKernel.start()` in a task group",
            directStarts)
        addProfile(
            &report, "\(kernelCount) concurrent starts", "`KernelPool.kernel(for:)` on \(kernelCount) keys",
            starts.pyrun)

        try await measureThroughput(context, into: &report)
        try await measureWarmSpare(context, into: &report)
    }

    /// The first execution on a new key with a warm spare ready, next to the same without a
    /// spare (the start it saves).
    private static func measureWarmSpare(_ context: BenchContext, into report: inout Report) async throws {
        let rounds = 3 * context.plan.poolRounds
        var warm: [Double] = []
        var cold: [Double] = []
        let warmPool = KernelPool(
            configuration: PoolConfiguration(defaultConfiguration: context.kernelConfiguration, warmSpares: 1))
        for round in 0..<rounds {
            // The pool starts the next spare in the background; measure only once it is ready.
            while await warmPool.readySpareCount < 1 { try await Task.sleep(for: .milliseconds(5)) }
            let stopwatch = Stopwatch()
            try expectTwo(await warmPool.run("1+1", key: "warm-\(round)"))
            warm.append(stopwatch.seconds)
        }
        await warmPool.shutdownAll()
        let coldPool = KernelPool(configuration: PoolConfiguration(defaultConfiguration: context.kernelConfiguration))
        for round in 0..<rounds {
            let stopwatch = Stopwatch()
            try expectTwo(await coldPool.run("1+1", key: "cold-\(round)"))
            cold.append(stopwatch.seconds)
        }
        await coldPool.shutdownAll()
        report.figures.append(
            Figure(
                section: 6, name: "first `1+1` on a new key, a warm spare ready", unit: .seconds,
                pyrun: Summary(warm), floorName: "the same pool without a spare", floor: Summary(cold),
                jupyter: nil, target: nil, note: "`PoolConfiguration(warmSpares: 1)`; Jupyter not measured"))
    }

    private static func totalText(_ values: [Double], rounds: Int) -> String {
        guard rounds > 0 else { return "?" }
        return Table.value(values.reduce(0, +) / Double(rounds), .bytes)
    }

    private static func shutDown(_ kernels: [PythonKernel]) async {
        await withTaskGroup(of: Void.self) { group in
            for kernel in kernels { group.addTask { await kernel.shutdown() } }
        }
    }

    /// Small executions submitted all at once to a pool, spread over `keyCount` live keys,
    /// next to as many exec loops each driven by its own thread.
    private static func measureThroughput(_ context: BenchContext, into report: inout Report) async throws {
        let perKey = context.plan.poolExecutions / keyCount
        let executions = perKey * keyCount
        var samples = SideSamples()
        for _ in 0..<context.plan.poolRounds {
            let pool = KernelPool(configuration: PoolConfiguration(defaultConfiguration: context.kernelConfiguration))
            for key in 0..<keyCount {
                for _ in 0..<20 { try expectTwo(await pool.run("1+1", key: "agent-\(key)")) }
            }
            let stopwatch = Stopwatch()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<executions {
                    group.addTask { try expectTwo(await pool.run("1+1", key: "agent-\(index % keyCount)")) }
                }
                try await group.waitForAll()
            }
            samples.pyrun.append(stopwatch.seconds)
            await pool.shutdownAll()
            samples.floor.append(try floorThroughput(python: context.python, perKey: perKey))
        }
        let rate =
            Summary(samples.pyrun).map { String(format: "%.0f executions/s", Double(executions) / $0.median) } ?? ""
        report.figures.append(
            Figure(
                section: 6, name: "\(executions) `1+1` over \(keyCount) keys, all at once", unit: .seconds,
                pyrun: Summary(samples.pyrun), floorName: "\(keyCount) exec loops, a thread each",
                floor: Summary(samples.floor),
                jupyter: nil, target: nil,
                note:
                    "\(executions) `KernelPool.run` tasks at once on \(keyCount) warm keys: \(rate); Jupyter not measured"
            ))
    }

    /// Seconds for `keyCount` threads to run `perKey` executions each on their own exec loop.
    private static func floorThroughput(python: String, perKey: Int) throws -> Double {
        let failures = FailureList()
        let ready = DispatchGroup()
        let finished = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        for _ in 0..<keyCount {
            ready.enter()
            finished.enter()
            let thread = Thread {
                defer { finished.leave() }
                do {
                    let peer = try DirectPeer.floor(python: python, script: FloorScript.execLoop)
                    defer { peer.close() }
                    for _ in 0..<20 { try peer.execute("1+1") }
                    ready.leave()
                    go.wait()
                    for _ in 0..<perKey { try peer.execute("1+1") }
                } catch {
                    failures.append("\(error)")
                    ready.leave()
                }
            }
            thread.start()
        }
        ready.wait()
        let stopwatch = Stopwatch()
        for _ in 0..<keyCount { go.signal() }
        finished.wait()
        let elapsed = stopwatch.seconds
        if let failure = failures.first { throw PeerError("floor throughput: \(failure)") }
        return elapsed
    }
}

/// Errors from the floor's threads.
final class FailureList: Sendable {
    private let failures = Mutex<[String]>([])

    func append(_ failure: String) { failures.withLock { $0.append(failure) } }

    var first: String? { failures.withLock { $0.first } }
}
