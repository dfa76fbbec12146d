import Foundation
import PyRunKit

/// Issue 15: kernels forked from a template. A start to the first `1+1` next to the
/// ordinary start and `python3 -c pass`; the same with a preload that costs 100+ ms to import;
/// 20 kernels at once next to 20 bare interpreters; the proportional set size of 20 idle
/// forked kernels next to 20 ordinary ones.
enum TemplateStartScenario {
    /// Standard modules that take well over 100 ms to import together on this machine.
    static let heavyPreload = [
        "asyncio", "email.mime.multipart", "http.server", "xml.dom.minidom", "decimal", "unittest", "argparse",
        "logging.handlers", "tarfile", "zipfile", "sqlite3", "multiprocessing.pool", "concurrent.futures",
        "urllib.request", "ssl", "pydoc", "difflib", "inspect", "dataclasses", "typing", "csv", "statistics",
        "fractions", "ipaddress", "uuid", "smtplib", "imaplib", "xmlrpc.client", "html.parser",
    ]

    static func run(_ context: BenchContext, into report: inout Report) async throws {
        var ordinary = context.kernelConfiguration
        ordinary.usesTemplate = false
        var forked = ordinary
        forked.usesTemplate = true
        var heavy = forked
        heavy.preload = heavyPreload
        let importHeavy = "import " + heavyPreload.joined(separator: ", ")

        // Untimed: starts the templates and fills the bytecode caches.
        try await ColdStartScenario.startedKernelAnswer(ordinary)
        try await ColdStartScenario.startedKernelAnswer(forked)
        try await ColdStartScenario.startedKernelAnswer(heavy)
        _ = try PipedProcess.timeToCompletion(executable: context.python, arguments: ["-c", "pass"])

        var forkStarts: [Double] = []
        var ordinaryStarts: [Double] = []
        var bareInterpreters: [Double] = []
        var heavyForkStarts: [Double] = []
        var heavyOrdinaryStarts: [Double] = []
        for _ in 0..<context.plan.coldStarts {
            forkStarts.append(try await ColdStartScenario.startedKernelAnswer(forked))
            ordinaryStarts.append(try await ColdStartScenario.startedKernelAnswer(ordinary))
            bareInterpreters.append(
                try PipedProcess.timeToCompletion(executable: context.python, arguments: ["-c", "pass"]))
            heavyForkStarts.append(try await ColdStartScenario.startedKernelAnswer(heavy))
            heavyOrdinaryStarts.append(try await startedKernelImporting(importHeavy, ordinary))
        }
        report.figures.append(
            Figure(
                section: 13, name: "fork start → first `1+1` result", unit: .seconds, pyrun: Summary(forkStarts),
                floorName: "`python3 -c pass`", floor: Summary(bareInterpreters), jupyter: nil, target: 0.005,
                note:
                    "`KernelConfiguration(usesTemplate: true)`: `start()` + `run(\"1+1\")`; the ordinary start: \(Summary(ordinaryStarts).map { Table.value($0.median, .seconds) } ?? "—")"
            ))
        report.figures.append(
            Figure(
                section: 13, name: "fork start → first `1+1`, \(heavyPreload.count) modules preloaded",
                unit: .seconds, pyrun: Summary(heavyForkStarts),
                floorName: "ordinary start + importing them", floor: Summary(heavyOrdinaryStarts), jupyter: nil,
                target: 0.005, note: "`preload`: \(heavyPreload.prefix(4).joined(separator: ", "))… (standard library)"
            ))
        addProfile(&report, "template start → 1+1", "`python3 -c pass`", bareInterpreters)
        addProfile(&report, "template start → 1+1", "ordinary start: `start()` + `run(\"1+1\")`", ordinaryStarts)
        addProfile(&report, "template start → 1+1", "forked from a template", forkStarts)
        addProfile(
            &report, "template start → 1+1", "ordinary start, then `\(heavyPreload.count)` imports",
            heavyOrdinaryStarts)
        addProfile(&report, "template start → 1+1", "forked, the same modules preloaded", heavyForkStarts)

        try await measureConcurrentStarts(context, ordinary: ordinary, forked: forked, into: &report)
    }

    /// Seconds from a new kernel to the end of `code` (imports) and a `1+1` result.
    private static func startedKernelImporting(_ code: String, _ configuration: KernelConfiguration) async throws
        -> Double
    {
        let stopwatch = Stopwatch()
        let kernel = PythonKernel(configuration: configuration)
        try await kernel.start()
        let imported = try await kernel.run(code)
        guard imported.status == .ok else { throw PeerError("the imports failed: \(imported.status)") }
        try expectTwo(await kernel.run("1+1"))
        let elapsed = stopwatch.seconds
        await kernel.shutdown()
        return elapsed
    }

    /// 20 kernels at once through a pool with templates, next to 20 bare exec loops to hello;
    /// then the PSS of each idle forked kernel next to that of each ordinary one.
    private static func measureConcurrentStarts(
        _ context: BenchContext, ordinary: KernelConfiguration, forked: KernelConfiguration,
        into report: inout Report
    ) async throws {
        let count = PoolScaleScenario.kernelCount
        var starts = SideSamples()
        var forkedMemory: [Double] = []
        var ordinaryMemory: [Double] = []
        for _ in 0..<context.plan.poolRounds {
            for (configuration, isForked) in [(forked, true), (ordinary, false)] {
                let pool = KernelPool(configuration: PoolConfiguration(defaultConfiguration: configuration))
                let stopwatch = Stopwatch()
                let kernels = try await withThrowingTaskGroup(of: PythonKernel.self) { group in
                    for index in 0..<count { group.addTask { try await pool.kernel(for: "agent-\(index)") } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                if isForked { starts.pyrun.append(stopwatch.seconds) }
                for index in 0..<count { try expectTwo(await pool.run("1+1", key: "agent-\(index)")) }
                for kernel in kernels {
                    guard let pid = await kernel.pid else { continue }
                    let pss = Double(proportionalSetBytes(of: pid))
                    if isForked { forkedMemory.append(pss) } else { ordinaryMemory.append(pss) }
                }
                await pool.shutdownAll()
            }
            let floorStopwatch = Stopwatch()
            let peers = try (0..<count).map { _ in
                try DirectPeer.floor(python: context.python, script: FloorScript.execLoop, waitForHello: false)
            }
            for peer in peers { try peer.waitForHello() }
            starts.floor.append(floorStopwatch.seconds)
            for peer in peers { peer.close() }
        }
        report.figures.append(
            Figure(
                section: 13, name: "\(count) kernels forked concurrently", unit: .seconds,
                pyrun: Summary(starts.pyrun), floorName: "\(count) exec loops to hello", floor: Summary(starts.floor),
                jupyter: nil, target: nil, targetRatioToFloor: 0.25,
                note: "`KernelPool.kernel(for:)` on \(count) keys at once, `usesTemplate: true`"))
        report.figures.append(
            Figure(
                section: 13, name: "idle forked kernel, proportional set size", unit: .bytes,
                pyrun: Summary(forkedMemory), floorName: "an ordinary kernel's", floor: Summary(ordinaryMemory),
                jupyter: nil, target: nil,
                note: "`Pss` of /proc/PID/smaps_rollup, each of \(count) pool kernels after `1+1`"))
    }

    /// The proportional set size of `pid` (its private pages, plus its share of the shared
    /// ones), from /proc/PID/smaps_rollup; 0 where it cannot be read.
    static func proportionalSetBytes(of pid: pid_t) -> Int {
        guard let rollup = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return 0 }
        for line in rollup.split(separator: "\n") where line.hasPrefix("Pss:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kibibytes = Int(fields[1]) { return kibibytes * 1024 }
        }
        return 0
    }
}
