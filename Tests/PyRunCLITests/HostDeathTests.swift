import Foundation
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A kernel does not outlive a host that was killed outright (issue 9, item 4), even while
/// user code holds the GIL and no Python-level watch can run. This needs the runner's
/// parent-death signal (Linux, runner.py) and the host spawning every runner from a thread
/// that lives as long as the host (the signal fires when the spawning *thread* ends).
@Suite struct HostDeathTests {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/stat")))
    func aKernelHoldingTheGILDiesWithAHostKilledOutright() async throws {
        // A regular expression that backtracks for minutes inside C code, holding the GIL.
        let pyrun = try PyrunProcess([
            "-c", "import os, re\nprint(os.getpid(), flush=True)\nre.match('(a*)*b', 'a' * 40)",
        ])
        #expect(await pyrun.waitForStdout(containing: "\n"))
        let kernel = try #require(Int32(pyrun.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(processIsAlive(kernel))
        pyrun.send(signal: SIGKILL)
        _ = await pyrun.finish()
        #expect(await waitUntilGone(kernel, seconds: 10), "the kernel outlived its killed host")
        if processIsAlive(kernel) { kill(kernel, SIGKILL) }
    }
}
