import Foundation
import PyRunTesting
import Testing

/// Issue 16 (newcomer trial): a remote start that fails says which program failed (the
/// launcher, not the runner), and a terminal in the way (`ssh -tt`) gets a short echo and a
/// hint instead of 16 KB of the runner's source.
@Suite struct RemoteStartErrorTests {
    private func via(_ server: LoopbackSSHServer, terminal: String = "-T", port: Int? = nil) -> String {
        var options = server.clientOptions
        if let port, let index = options.firstIndex(of: "-p") { options[index + 1] = String(port) }
        return (["ssh", terminal, "-o", "BatchMode=yes"] + options + ["\(server.user)@127.0.0.1", "--"])
            .joined(separator: " ")
    }

    @Test func aRefusedConnectionNamesTheLauncher() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        // A port nothing listens on (free a moment ago).
        let closed = try LoopbackSSHServer.freePort()
        let outcome = try await runPyrun(["--via", via(server, port: closed), "-c", "1"])
        #expect(outcome.status == 1)
        #expect(
            outcome.stderr.contains("the launcher (ssh) exited with status 255 before the runner was ready"),
            "\(outcome.stderr)")
        #expect(outcome.stderr.contains("Connection refused"), "\(outcome.stderr)")
    }

    @Test func aTerminalInTheWayGetsAShortEchoAndAHint() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let outcome = try await runPyrun(["--via", via(server, terminal: "-tt"), "-c", "1"])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("use `ssh -T`") || outcome.stderr.contains("`ssh -T`"), "\(outcome.stderr)")
        // The start line (the runner's source, about 150 KB) is not shown in full.
        #expect(outcome.stderr.utf8.count < 4000, "\(outcome.stderr.utf8.count) bytes: \(outcome.stderr.prefix(2000))")
    }
}
