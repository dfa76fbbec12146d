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

    /// With templates (issue 15), a host killed outright takes its template along
    /// (parent-death signal), and the template its forked kernels, busy or setsid children
    /// included.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/stat")))
    func aTemplateAndItsForkedKernelsDieWithAHostKilledOutright() async throws {
        let code = """
            import os, re, subprocess
            child = subprocess.Popen(['sleep', '300'], start_new_session=True).pid
            print(os.getpid(), os.getppid(), child, flush=True)
            re.match('(a*)*b', 'a' * 40)
            """
        let pyrun = try PyrunProcess(["-c", code], environment: ["PYRUN_TEMPLATES": "1"])
        #expect(await pyrun.waitForStdout(containing: "\n"))
        let pids = pyrun.stdout.split(separator: " ").compactMap {
            Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        try #require(pids.count == 3)
        let (kernel, template, child) = (pids[0], pids[1], pids[2])
        #expect(template != pyrun.pid, "the kernel was not forked from a template")
        pyrun.send(signal: SIGKILL)
        _ = await pyrun.finish()
        for (pid, what) in [(template, "template"), (kernel, "kernel"), (child, "setsid child")] {
            #expect(await waitUntilGone(pid, seconds: 30), "the \(what) outlived its killed host")
            if processIsAlive(pid) { kill(pid, SIGKILL) }
        }
    }
}
