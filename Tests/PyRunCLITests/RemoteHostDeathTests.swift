import Foundation
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 16: `pyrun --via` runs the kernel on the far side of ssh (a private OpenSSH server on
/// loopback, so the far side's pids are this machine's), and a host killed outright leaves
/// nothing running there: the local ssh dies with the host (its parent-death signal), the
/// connection drops, and the runner, whose parent was sshd's session, ends with its family.
@Suite struct RemoteHostDeathTests {
    @Test func viaSSHRunsCodeOnTheFarSide() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        // The runner's parent is sshd's session process, not pyrun.
        let pyrun = try PyrunProcess(
            server.viaArguments + ["-c", "import os\nprint(open('/proc/%d/comm' % os.getppid()).read().strip())"])
        let outcome = await pyrun.finish()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.hasPrefix("sshd"), "parent: \(outcome.stdout)")
    }

    @Test func aHostKilledOutrightLeavesNoRemoteProcess() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let pyrun = try PyrunProcess(
            server.viaArguments + [
                "-c",
                "import os, subprocess, time\nchild = subprocess.Popen(['sleep', '300'])\nprint(os.getpid(), child.pid, flush=True)\ntime.sleep(300)",
            ])
        #expect(await pyrun.waitForStdout(containing: "\n", seconds: 180))
        let pids = pyrun.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        try #require(pids.count == 2, "printed: \(pyrun.stdout) \(pyrun.stderr)")
        for pid in pids { #expect(processIsAlive(pid)) }
        pyrun.send(signal: SIGKILL)
        _ = await pyrun.finish()
        for pid in pids {
            #expect(await waitUntilGone(pid, seconds: 60), "far-side pid \(pid) outlived its killed host")
            if processIsAlive(pid) { kill(pid, SIGKILL) }
        }
    }
}
