import Foundation
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 13: shared sessions of `pyrun serve`, measured against the release CLI's own server
/// over its real Unix socket. Attaching to a full journal until the replay is complete; one
/// kernel's 200k lines reaching 10 attached clients (every line, in order) next to reaching
/// one; and `pyrun exec -c 1+1` on a warm session next to `python3 -c pass`.
enum SharedSessionsScenario {
    static let section = 8
    static let serverName = "bench"

    static func run(_ context: BenchContext, into report: inout Report) async throws {
        guard let tool = context.commandLineTool else {
            report.figures.append(
                Figure(
                    section: section, name: "attach with a full journal → replay complete", unit: .seconds, pyrun: nil,
                    floorName: nil, floor: nil, jupyter: nil, target: 0.05, targetRatioToFloor: nil,
                    note: "not measured (pyrun CLI not built: `swift build -c release` builds it next to the bench)"))
            return
        }
        let server = try await BenchServer(tool: tool, python: context.python)
        defer { server.stop() }
        try await measureReplay(context, server, into: &report)
        try await measureFanOut(context, server, into: &report)
        try measureExec(context, server, tool: tool, into: &report)
    }

    // MARK: - Replay

    private static func measureReplay(_ context: BenchContext, _ server: BenchServer, into report: inout Report)
        async throws
    {
        let session = "replay"
        let client = try await server.client()
        // Fill the journal past its 1,000 entries: each execution records its input, start,
        // output and end.
        var kept = 0
        var round = 0
        while kept < 1000 {
            round += 1
            for try await _ in try await client.execute("print(\(round))", session: session, client: "filler") {}
            kept = try await client.sessions().first { $0.name == session }?.journal.keptEntries ?? 0
        }
        await client.close()

        var samples: [Double] = []
        var connects: [Double] = []
        var commandLine: [Double] = []
        for _ in 0..<max(3, context.plan.commandLineRuns) {
            let stopwatch = Stopwatch()
            let watcher = try await server.client()
            connects.append(stopwatch.seconds)
            var entries = 0
            var gapSeen = false
            for await message in await watcher.observe(session: session, from: 1) {
                switch message {
                case .entry: entries += 1
                case .gap: gapSeen = true
                case .live: break
                default: continue
                }
                if case .live = message { break }
            }
            samples.append(stopwatch.seconds)
            await watcher.close()
            guard entries == 1000, gapSeen else {
                throw PeerError("replay: \(entries) entries, gap marker \(gapSeen ? "seen" : "missing")")
            }
            commandLine.append(
                try PipedProcess.timeToCompletion(
                    executable: server.tool, arguments: ["attach", "\(serverName):\(session)"]))
        }
        report.figures.append(
            Figure(
                section: section, name: "attach with a full journal (1,000 entries) → replay complete", unit: .seconds,
                pyrun: Summary(samples), floorName: nil, floor: nil, jupyter: nil, target: 0.05,
                targetRatioToFloor: nil,
                note: "ServeClient: connect, observe from #1, gap marker + 1,000 entries + live marker"))
        let figure = "attach with a full journal"
        addProfile(&report, figure, "connect and welcome", connects)
        addProfile(&report, figure, "ServeClient: connect → replay complete", samples)
        addProfile(
            &report, figure, "`pyrun attach` process, stdin empty: start → replay printed → detached", commandLine)
    }

    // MARK: - Fan-out

    private static func measureFanOut(_ context: BenchContext, _ server: BenchServer, into report: inout Report)
        async throws
    {
        let code = StreamingScenario.linesCode
        let expected = (0..<StreamingScenario.lineCount).map { "\($0)\n" }.joined()
        let submitter = try await server.client()
        var samples = SideSamples()
        for round in 0..<max(2, context.plan.lineStreams) {
            for (clients, side) in [(1, \SideSamples.floor), (10, \SideSamples.pyrun)] {
                let session = "fan-out-\(round)-\(clients)"
                // The kernel is started first, so the figure is the output's delivery alone.
                for try await _ in try await submitter.execute("pass", session: session, client: "bench") {}
                let watchers = try await (0..<clients).asyncMap { _ in try await server.client() }
                let receipts = try await withThrowingTaskGroup(of: String.self) { group in
                    var live: [SetOnceBox] = []
                    for watcher in watchers {
                        let isLive = SetOnceBox()
                        live.append(isLive)
                        group.addTask { try await receiveOneExecution(watcher, session: session, live: isLive) }
                    }
                    for isLive in live { await isLive.wait() }
                    let stopwatch = Stopwatch()
                    for try await _ in try await submitter.execute(
                        code, session: session, client: "bench", stream: false)
                    {}
                    var texts: [String] = []
                    for try await text in group { texts.append(text) }
                    samples[keyPath: side].append(stopwatch.seconds)
                    return texts
                }
                for watcher in watchers { await watcher.close() }
                for text in receipts where text != expected {
                    throw PeerError(
                        "fan-out: a client received \(text.utf8.count) of \(expected.utf8.count) bytes, or out of order"
                    )
                }
            }
        }
        await submitter.close()
        report.figures.append(
            Figure(
                section: section, name: "200k printed lines to 10 attached clients", unit: .seconds,
                pyrun: Summary(samples.pyrun), floorName: "the same print to 1 attached client",
                floor: Summary(samples.floor),
                jupyter: nil, target: nil, targetRatioToFloor: 2,
                note: "execute → every client has every line, in order (checked byte for byte)"))
        addProfile(&report, "200k lines to attached clients", "1 client", samples.floor)
        addProfile(&report, "200k lines to attached clients", "10 clients", samples.pyrun)
    }

    /// The stdout of the next execution in `session`, as `watcher` observes it live.
    private static func receiveOneExecution(_ watcher: ServeClient, session: String, live: SetOnceBox) async throws
        -> String
    {
        defer { live.set() }  // also when it fails, so the measuring task never waits forever
        var text = ""
        var execution: String?
        var isLive = false
        for await message in await watcher.observe(session: session) {
            switch message {
            case .live:
                isLive = true
                live.set()
            case .entry(let entry) where isLive:
                switch entry.event {
                case .input(let id, _, _) where execution == nil: execution = id
                case .execution(let id, .stdout(let chunk)) where id == execution: text += chunk
                case .execution(let id, .finished) where id == execution: return text
                default: break
                }
            case .observeEnd(let reason): throw PeerError("fan-out: an observation ended: \(reason)")
            default: break
            }
        }
        throw PeerError("fan-out: the connection ended")
    }

    // MARK: - exec

    private static func measureExec(
        _ context: BenchContext, _ server: BenchServer, tool: String, into report: inout Report
    ) throws {
        let arguments = ["exec", "--server", serverName, "--session", "exec", "-c", "1+1"]
        _ = try PipedProcess.timeToCompletion(executable: tool, arguments: arguments)  // warms the session
        var samples = SideSamples()
        for _ in 0..<context.plan.commandLineRuns {
            samples.pyrun.append(try PipedProcess.timeToCompletion(executable: tool, arguments: arguments))
            samples.floor.append(
                try PipedProcess.timeToCompletion(executable: context.python, arguments: ["-c", "pass"]))
        }
        report.figures.append(
            Figure(
                section: section, name: "`pyrun exec -c 1+1`, warm shared session", unit: .seconds,
                pyrun: Summary(samples.pyrun), floorName: "`python3 -c pass`", floor: Summary(samples.floor),
                jupyter: nil,
                target: nil, targetRatioToFloor: nil,
                note:
                    "no interpreter starts: connect, run, print, exit; the issue asks for well below the floor, and the Swift binary's own start is the `pyrun --help` step of §7"
            ))
    }
}

/// A `pyrun serve` of the bench's own, in a run directory of its own.
private final class BenchServer: Sendable {
    let tool: String
    let pid: pid_t
    let runDirectory: RunDirectory
    private let runtime: String

    init(tool: String, python: String) async throws {
        self.tool = tool
        var template = Array((FileManager.default.temporaryDirectory.path + "/pyrun-bench-serve-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw PeerError("cannot create a temporary directory") }
        runtime = String(cString: made)
        // The CLI commands the bench spawns find the server through this variable.
        setenv("XDG_RUNTIME_DIR", runtime, 1)
        runDirectory = RunDirectory(path: runtime + "/pyrun")
        pid = try PipedProcess.spawn(
            executable: tool, arguments: ["serve", "--name", SharedSessionsScenario.serverName, "--python", python],
            standardInput: nil, standardOutput: nil, silenceErrors: true)
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? runDirectory.liveServer(named: SharedSessionsScenario.serverName)) == nil {
            guard ContinuousClock.now < deadline else { throw PeerError("pyrun serve did not start within 30 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func client() async throws -> ServeClient {
        try await ServeClient.connect(server: SharedSessionsScenario.serverName, runDirectory: runDirectory)
    }

    /// Stops the server as `pyrun stop` does and reaps it.
    func stop() {
        _ = try? PipedProcess.timeToCompletion(
            executable: tool, arguments: ["stop", SharedSessionsScenario.serverName])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        try? FileManager.default.removeItem(atPath: runtime)
    }
}

/// Set once, awaited by one task: a watcher has caught up and waits for live entries.
private final class SetOnceBox: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream()
    }

    func set() {
        continuation.yield()
        continuation.finish()
    }

    func wait() async {
        for await _ in stream { return }
    }
}

extension Sequence {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
