import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` with a server in this process, in a scratch run directory; the server is
/// stopped (every kernel gone) afterwards, also when `body` throws.
func withDaemon<T>(
    name: String = "test", journalLimits: JournalLimits = JournalLimits(),
    _ body: (ServeDaemon, RunDirectory) async throws -> T
) async throws -> T {
    try await withTemporaryDirectory { directory in
        let runDirectory = RunDirectory(path: "\(directory)/run")
        let daemon = try ServeDaemon(
            name: name, poolConfiguration: PoolConfiguration(defaultConfiguration: .forTests),
            journalLimits: journalLimits, runDirectory: runDirectory)
        do {
            let result = try await body(daemon, runDirectory)
            await daemon.stop()
            return result
        } catch {
            await daemon.stop()
            throw error
        }
    }
}

/// A server in this process, reached over its real Unix socket with `ServeClient`.
@Suite struct ServeDaemonTests {
    private func mode(of path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o777
    }

    @Test func theRunDirectoryTheSocketAndTheConnectionFileArePrivate() async throws {
        try await withDaemon { daemon, runDirectory in
            #expect(mode(of: runDirectory.path) == 0o700)
            #expect(mode(of: daemon.connectionFile.socketPath) == 0o600)
            #expect(mode(of: daemon.connectionFile.path) == 0o600)
            let file = try #require(ConnectionFile(contentsOf: runDirectory.connectionFilePath(server: "test")))
            #expect(file.pid == getpid())
            #expect(file.socketPath == runDirectory.socketPath(server: "test"))
            #expect(file.protocolVersion == ServeProtocol.version)
            #expect(file.isLive)
        }
    }

    @Test func aClientRunsCodeAndAnotherSeesItLive() async throws {
        try await withDaemon { daemon, runDirectory in
            let watcher = try await ServeClient.connect(server: "test", runDirectory: runDirectory)
            let runner = try await ServeClient.connect(server: "test", runDirectory: runDirectory)
            #expect(watcher.server.name == "test")
            let observation = await watcher.observe(session: "main")
            let seen = Task {
                var inputs: [String] = []
                var stdout = ""
                for await message in observation {
                    guard case .entry(let entry) = message else { continue }
                    switch entry.event {
                    case .input(_, let code, let client): inputs.append("\(client): \(code)")
                    case .execution(_, .stdout(let text)): stdout += text
                    case .execution(_, .finished): return (inputs, stdout)
                    default: break
                    }
                }
                return (inputs, stdout)
            }
            let execution = try await runner.execute(
                "print('hello from runner')\n6 * 7", session: "main", client: "runner")
            var stdout = ""
            var result: String?
            var outcome: ExecutionOutcome?
            for try await event in execution {
                switch event {
                case .stdout(let text): stdout += text
                case .result(let bundle, _): result = bundle.plainText
                case .finished(let end): outcome = end
                default: break
                }
            }
            #expect(stdout == "hello from runner\n")
            #expect(result == "42")
            #expect(outcome?.status == .ok)
            let (inputs, watched) = await seen.value
            #expect(inputs == ["runner: print('hello from runner')\n6 * 7"])
            #expect(watched == "hello from runner\n")

            let statuses = try await runner.sessions()
            #expect(statuses.map(\.name) == ["main"])
            #expect(statuses.first?.attachedClients == 1)
            #expect(statuses.first?.pid != nil)
            await watcher.close()
            await runner.close()
        }
    }

    @Test func aBadRequestIsAnsweredWithATypedErrorAndTheConnectionLivesOn() async throws {
        try await withDaemon { daemon, runDirectory in
            let fd = try UnixSocket.connect(to: runDirectory.socketPath(server: "test"))
            let channel = SocketLineChannel(fd: fd, name: "test client")
            defer { channel.close() }
            let welcome = try #require(await channel.nextLine())
            #expect(String(decoding: welcome, as: UTF8.self).contains("\"type\":\"welcome\""))
            _ = await channel.send(line: Array("this is not json\n".utf8))
            _ = await channel.send(line: Array("{\"op\":\"fly\",\"tag\":\"t1\"}\n".utf8))
            _ = await channel.send(line: Array("{\"op\":\"execute\",\"tag\":\"t2\"}\n".utf8))
            _ = await channel.send(line: Array("{\"op\":\"sessions\",\"tag\":\"t3\"}\n".utf8))
            var replies: [JSONValue] = []
            for _ in 0..<4 {
                let line = try #require(await channel.nextLine())
                replies.append(try JSONValue.parse(line))
            }
            #expect(replies[0]["code"]?.stringValue == "badRequest")
            #expect(replies[1]["code"]?.stringValue == "unknownOperation")
            #expect(replies[1]["tag"]?.stringValue == "t1")
            #expect(replies[2]["code"]?.stringValue == "badRequest")
            #expect(replies[2]["message"]?.stringValue?.contains("session") == true)
            #expect(replies[3]["type"]?.stringValue == "sessions")
        }
    }

    @Test func aSocketThatNeverGreetsIsGivenUpOn() async throws {
        try await withTemporaryDirectory { directory in
            // Something listens (the connection is queued) but never says welcome.
            let path = "\(directory)/mute.sock"
            let listener = try UnixSocket.listen(at: path)
            defer { closeDescriptor(listener) }
            let started = ContinuousClock.now
            await #expect(throws: ServeError.self) {
                try await ServeClient.connect(socketPath: path, welcomeTimeout: .milliseconds(300))
            }
            // A liveness bound only: a loaded machine may be slow to run the deadline.
            #expect(ContinuousClock.now - started < .seconds(120))
        }
    }

    @Test func stoppingShutsTheKernelsDownAndRemovesTheFiles() async throws {
        try await withTemporaryDirectory { directory in
            let runDirectory = RunDirectory(path: "\(directory)/run")
            let daemon = try ServeDaemon(
                name: "stopper", poolConfiguration: PoolConfiguration(defaultConfiguration: .forTests),
                runDirectory: runDirectory)
            let client = try await ServeClient.connect(server: "stopper", runDirectory: runDirectory)
            var pid: Int32?
            for try await event in try await client.execute("import os\nos.getpid()", session: "s", client: "t") {
                if case .result(let bundle, _) = event { pid = bundle.plainText.flatMap { Int32($0) } }
            }
            let kernelPID = try #require(pid)
            let observation = await client.observe(session: "s")
            try await client.stopServer()
            await daemon.waitUntilFinished()
            var last: ServeMessage?
            var sawStop = false
            for await message in observation {
                last = message
                if case .entry(let entry) = message, entry.event == .kernelStopped(.shutdown) { sawStop = true }
            }
            #expect(sawStop)
            #expect(last == .observeEnd(.closed))
            #expect(await waitUntilGone(kernelPID))
            #expect(!FileManager.default.fileExists(atPath: runDirectory.connectionFilePath(server: "stopper")))
            #expect(!FileManager.default.fileExists(atPath: runDirectory.socketPath(server: "stopper")))
            await client.close()
        }
    }

    @Test func aStaleConnectionFileIsRemovedAndItsNameCanBeServedAgain() async throws {
        try await withTemporaryDirectory { directory in
            let runDirectory = RunDirectory(path: "\(directory)/run")
            try runDirectory.prepare()
            // A server that was killed: its pid is gone, its files are left.
            let gone = Process()
            gone.executableURL = URL(fileURLWithPath: "/bin/true")
            try gone.run()
            gone.waitUntilExit()
            let stale = ConnectionFile(
                name: "old", pid: gone.processIdentifier, socketPath: runDirectory.socketPath(server: "old"),
                startedAt: Date(), protocolVersion: ServeProtocol.version,
                path: runDirectory.connectionFilePath(server: "old"))
            try stale.write()
            #expect(FileManager.default.createFile(atPath: stale.socketPath, contents: Data()))
            #expect(!stale.isLive)
            #expect(runDirectory.removeStaleConnectionFiles().map(\.name) == ["old"])
            #expect(!FileManager.default.fileExists(atPath: stale.path))
            #expect(!FileManager.default.fileExists(atPath: stale.socketPath))

            // And `serve` of that name removes one by itself.
            try stale.write()
            let daemon = try ServeDaemon(name: "old", runDirectory: runDirectory)
            #expect(daemon.connectionFile.pid == getpid())
            #expect(throws: ServeError.self) { try ServeDaemon(name: "old", runDirectory: runDirectory) }
            await daemon.stop()
        }
    }
}

/// A client that stops reading its socket: the kernel and the other clients go on, and the
/// slow one is told where to resume.
@Suite struct ServeSlowClientTests {
    @Test func aClientThatStopsReadingFallsBehindWithoutHoldingTheKernelBack() async throws {
        try await withDaemon(name: "slow", journalLimits: JournalLimits(observerBacklogBytes: 1 << 20)) {
            daemon, runDirectory in

            // The slow client asks to observe, then reads nothing.
            let fd = try UnixSocket.connect(to: runDirectory.socketPath(server: "slow"))
            let slow = SocketLineChannel(fd: fd, name: "slow client")
            defer { slow.close() }
            _ = await slow.nextLine()  // welcome
            _ = await slow.send(line: Array("{\"op\":\"observe\",\"session\":\"s\",\"tag\":\"watch\"}\n".utf8))

            // Another client runs 20 MB of output to its end while the slow one reads nothing.
            let runner = try await ServeClient.connect(server: "slow", runDirectory: runDirectory)
            let execution = try await runner.execute(
                "for i in range(400):\n    print('x' * 50_000)", session: "s", client: "fast", stream: false)
            var outcome: ExecutionOutcome?
            for try await event in execution { if case .finished(let end) = event { outcome = end } }
            #expect(outcome?.status == .ok)

            // Now the slow client reads: what it was given, then where to resume.
            var lastSequence = 0
            var end: JSONValue?
            while let line = await slow.nextLine() {
                let message = try JSONValue.parse(line)
                if message["type"]?.stringValue == "entry" { lastSequence = message["entry"]?["seq"]?.intValue ?? 0 }
                if message["type"]?.stringValue == "observe_end" {
                    end = message
                    break
                }
            }
            #expect(end?["reason"]?.stringValue == "fellBehind")
            let resumeFrom = try #require(end?["resumeFrom"]?.intValue)
            #expect(resumeFrom == lastSequence + 1)
            // Resuming there continues; what the journal dropped meanwhile is named by a gap.
            var resumed: [ServeMessage] = []
            for await message in await runner.observe(session: "s", from: resumeFrom) {
                resumed.append(message)
                if case .live = message { break }
            }
            let firstEntry = resumed.first { if case .entry = $0 { true } else { false } }
            if case .gap(let gap) = resumed.first {
                #expect(gap.requestedFrom == resumeFrom)
            } else if case .entry(let entry)? = firstEntry {
                #expect(entry.sequence == resumeFrom)
            } else {
                Issue.record("the resumed observation began with \(String(describing: resumed.first))")
            }
            #expect(
                resumed.contains {
                    if case .entry(let entry) = $0, case .execution(_, .finished) = entry.event { true } else { false }
                })
            await runner.close()
        }
    }
}
