import Foundation
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 16 (newcomer trial): a one-shot whose remote kernel's connection dies says so, with
/// what ssh said, where it used to exit 255 without a word; the code's own exit over ssh
/// still ends it quietly with the code's status. The far side is a private OpenSSH server on
/// loopback, so its pids are this machine's.
@Suite struct RemoteKernelEndTests {
    /// Starts a one-shot that prints the far runner's pid and its parent's (sshd's session),
    /// then sleeps; returns both once printed.
    private func startSleeper(_ server: LoopbackSSHServer, extra: [String] = []) async throws -> (
        PyrunProcess, runner: Int32, session: Int32
    ) {
        let pyrun = try PyrunProcess(
            server.viaArguments + extra + [
                "-c", "import os, time\nprint(os.getpid(), os.getppid(), flush=True)\ntime.sleep(300)",
            ])
        #expect(await pyrun.waitForStdout(containing: "\n", seconds: 180))
        let pids = pyrun.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        try #require(pids.count == 2, "printed: \(pyrun.stdout) \(pyrun.stderr)")
        return (pyrun, pids[0], pids[1])
    }

    @Test func aFarRunnerKilledMidExecutionIsSaid() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let (pyrun, runner, _) = try await startSleeper(server)
        kill(runner, SIGKILL)
        let outcome = await pyrun.finish()
        #expect(outcome.status == 255)
        #expect(
            outcome.stderr.contains("pyrun: the connection to the kernel ended: ssh exited with status 255"),
            "\(outcome.stderr)")
        #expect(outcome.stderr.contains("while running execution"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("killed by a signal"), "\(outcome.stderr)")
    }

    @Test func aKilledSessionGivesSSHsOwnWords() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let (pyrun, runner, session) = try await startSleeper(server)
        kill(session, SIGKILL)
        let outcome = await pyrun.finish()
        #expect(outcome.status == 255)
        #expect(outcome.stderr.contains("ssh exited with status 255"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("Connection to 127.0.0.1 closed by remote host."), "\(outcome.stderr)")
        #expect(await waitUntilGone(runner, seconds: 60), "the far runner outlived its connection")
        if processIsAlive(runner) { kill(runner, SIGKILL) }
    }

    @Test func theCodesOwnExitOverSSHStaysQuiet() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let exited = try await runPyrun(server.viaArguments + ["-c", "import os; os._exit(3)"])
        #expect(exited.status == 3)
        #expect(exited.stderr.isEmpty, "\(exited.stderr)")
        let systemExit = try await runPyrun(server.viaArguments + ["-c", "import sys; sys.exit(4)"])
        #expect(systemExit.status == 4)
        #expect(systemExit.stderr.isEmpty, "\(systemExit.stderr)")
    }
}
