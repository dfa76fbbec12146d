import Foundation
import PyRunKit
import PyRunTesting

/// Issue 16: a kernel over ssh, to a private OpenSSH server on loopback started for the run
/// (so the figures are ssh's and the bootstrap's, not a network's). Its start to the first
/// `1+1` next to `ssh host python3 -c pass` (the floor: a connection and an interpreter) and
/// `ssh host true`; its warm round trip next to a local kernel's, in turns.
enum RemoteKernelScenario {
    static let section = 12

    static func run(_ context: BenchContext, into report: inout Report) async throws {
        let server: LoopbackSSHServer
        do {
            server = try LoopbackSSHServer.start()
        } catch {
            report.figures.append(
                Figure(
                    section: section, name: "remote start → first `1+1` (ssh, loopback)", unit: .seconds, pyrun: nil,
                    floorName: nil, floor: nil, jupyter: nil, target: nil,
                    note: "not measured: no sshd could be started here (\(error))"))
            return
        }
        defer { server.stop() }
        let ssh = try program("ssh")
        let login = ["-T", "-o", "BatchMode=yes"] + server.clientOptions + ["\(server.user)@127.0.0.1"]
        let remote = KernelConfiguration(launcher: server.launcher(python: context.python))

        // Untimed: the first connection, and the runner's first compile on the far side.
        try await ColdStartScenario.startedKernelAnswer(remote)
        _ = try PipedProcess.timeToCompletion(executable: ssh, arguments: login + ["true"])

        var remoteStarts: [Double] = []
        var localStarts: [Double] = []
        var sshTrue: [Double] = []
        var sshPython: [Double] = []
        for _ in 0..<min(context.plan.coldStarts, 12) {
            remoteStarts.append(try await ColdStartScenario.startedKernelAnswer(remote))
            localStarts.append(try await ColdStartScenario.startedKernelAnswer(context.kernelConfiguration))
            sshTrue.append(try PipedProcess.timeToCompletion(executable: ssh, arguments: login + ["true"]))
            sshPython.append(
                try PipedProcess.timeToCompletion(
                    executable: ssh, arguments: login + ["--", context.python, "-c", "pass"]))
        }
        let floor = Summary(sshPython)
        report.figures.append(
            Figure(
                section: section, name: "remote start → first `1+1` (ssh, loopback)", unit: .seconds,
                pyrun: Summary(remoteStarts), floorName: "`ssh host python3 -c pass`", floor: floor, jupyter: nil,
                target: floor.map { $0.median + 0.030 },
                note:
                    "`KernelLauncher.ssh`: `start()` + `run(\"1+1\")`; target: the floor + 30 ms; `ssh host true` \(Summary(sshTrue).map { Table.format($0, .seconds) } ?? "?"); a local start \(Summary(localStarts).map { Table.format($0, .seconds) } ?? "?")"
            ))
        addProfile(&report, "remote start → 1+1", "a local kernel: `start()` + `run(\"1+1\")`", localStarts)
        addProfile(&report, "remote start → 1+1", "`ssh host true`", sshTrue)
        addProfile(&report, "remote start → 1+1", "`ssh host python3 -c pass`", sshPython)
        addProfile(&report, "remote start → 1+1", "a kernel over ssh: `start()` + `run(\"1+1\")`", remoteStarts)

        let plan = context.plan
        let overSSH = PythonKernel(configuration: remote)
        try await overSSH.start()
        let local = try await context.warmKernel()
        // The floor of a round trip over ssh: a JSON echo loop behind its own ssh session.
        let echo = try DirectPeer(
            executable: ssh,
            arguments: login + [
                "--", [context.python, "-u", "-c", FloorScript.echoLoop].map(shellQuoted).joined(separator: " "),
            ])
        defer { echo.close() }
        for _ in 0..<20 {
            try expectTwo(await overSSH.run("1+1"))
            try echo.echo()
        }
        var remoteTrips: [Double] = []
        var localTrips: [Double] = []
        var echoTrips: [Double] = []
        for _ in 0..<max(1, plan.roundTrips / plan.roundTripBatch) {
            for _ in 0..<plan.roundTripBatch {
                let stopwatch = Stopwatch()
                try expectTwo(await overSSH.run("1+1"))
                remoteTrips.append(stopwatch.seconds)
            }
            for _ in 0..<plan.roundTripBatch {
                let stopwatch = Stopwatch()
                try expectTwo(await local.run("1+1"))
                localTrips.append(stopwatch.seconds)
            }
            for _ in 0..<plan.roundTripBatch {
                let stopwatch = Stopwatch()
                try echo.echo()
                echoTrips.append(stopwatch.seconds)
            }
        }
        await overSSH.shutdown()
        await local.shutdown()
        let localSummary = Summary(localTrips)
        report.figures.append(
            Figure(
                section: section, name: "warm `1+1` round trip over ssh (loopback)", unit: .seconds,
                pyrun: Summary(remoteTrips), floorName: "a local kernel's", floor: localSummary, jupyter: nil,
                target: localSummary.map { $0.median + 0.0002 },
                note:
                    "one ssh session; in turns with a local kernel and a JSON echo over ssh (\(Summary(echoTrips).map { Table.format($0, .seconds) } ?? "?")); target: the local median + 0.2 ms"
            ))
        addProfile(&report, "warm 1+1 over ssh", "JSON echo over an ssh session", echoTrips)
        addProfile(&report, "warm 1+1 over ssh", "a local kernel: `run(\"1+1\")`", localTrips)
        addProfile(&report, "warm 1+1 over ssh", "a kernel over ssh: `run(\"1+1\")`", remoteTrips)
    }

    /// `word` as one word of the far side's shell line (ssh joins its arguments into one).
    private static func shellQuoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `name` on PATH.
    private static func program(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        throw PeerError("no \(name) on PATH")
    }
}
