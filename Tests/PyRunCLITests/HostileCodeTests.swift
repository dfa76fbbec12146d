import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What hostile or careless code does to the `pyrun` CLI (issue 9, host side).
@Suite struct HostileCodeTests {
    #if os(Linux)
    /// The peak resident memory (VmHWM) of `pid` in bytes, from /proc; nil once it is gone.
    private static func peakResidentBytes(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }
                .map { $0 * 1024 }
        }
        return nil
    }

    @Test func memoryStaysFlatWhileCodePrintsForever() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: pyrunExecutable)
        process.arguments = ["--timeout", "5", "-c", "import sys\ns = 'x' * 65536\nwhile True: sys.stdout.write(s)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        // Sampled on a thread of its own: the high-water mark as late as it can be read, each
        // sample with the time since start (a busy test run may starve a task for seconds).
        let samples = Mutex<[(seconds: Double, peak: Int)]>([])
        let sampler = Thread {
            let start = ContinuousClock.now
            while let peak = Self.peakResidentBytes(of: pid) {
                let elapsed = start.duration(to: .now)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                samples.withLock { $0.append((seconds, peak)) }
                usleep(100_000)
            }
        }
        sampler.start()
        while process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        process.waitUntilExit()
        let taken = samples.withLock { $0 }
        #expect(process.terminationStatus == 124)
        #expect(taken.contains { $0.seconds >= 3 }, "no sample after 3 s of printing: \(taken.map(\.seconds))")
        let peak = taken.map(\.peak).max() ?? 0
        // Before the fix every byte was kept: 770 MB after 4 s.
        #expect(peak < 150_000_000, "pyrun grew to \(peak / 1_000_000) MB while the code printed")
    }
    #endif

    @Test func aTimeoutExits124AlsoWhenTheCodeRestoredSIGINTsDefault() async throws {
        let outcome = try await runPyrun([
            "--timeout", "1", "-c",
            "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\nprint('waiting', flush=True)\ntime.sleep(60)",
        ])
        #expect(outcome.status == 124, "\(outcome.stderr)")
        #expect(outcome.stdout == "waiting\n")
        #expect(outcome.stderr.contains("timed out"))
    }

    @Test func theDeathMessageReadsAsASentence() async throws {
        let outcome = try await runPyrun(["-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
        #expect(outcome.status == 128 + SIGTERM)
        #expect(outcome.stderr.contains("with signal 15 (SIGTERM)"), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("the kernel killed by"))
        #expect(!outcome.stderr.contains("out of memory"))
    }

    @Test func theJSONOutcomeSaysWhoEndedTheKernel() async throws {
        let outcome = try await runPyrun(["--json", "-c", "import ctypes; ctypes.string_at(0)"])
        #expect(outcome.status == 128 + SIGSEGV)
        let last = try #require(outcome.stdout.split(separator: "\n").last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(object["type"] as? String == "outcome")
        #expect(object["status"] as? String == "kernelDied")
        let death = try #require(object["death"] as? [String: Any])
        #expect(death["cause"] as? String == "crashed")
        #expect(death["signal"] as? Int == Int(SIGSEGV))
        let notices = try #require(object["notices"] as? [[String: Any]])
        #expect(notices.first?["kind"] as? String == "died")
        #expect(notices.first?["stateLost"] as? Bool == true)
    }

    @Test func aMemoryLimitTooLowForTheRunnerIsAUsageErrorThatSaysSo() async throws {
        let outcome = try await runPyrun(["--memory-limit", "32M", "-c", "print('never')"])
        #expect(outcome.status == 2, "\(outcome.stderr)")
        #expect(outcome.stdout == "")
        #expect(outcome.stderr.contains("too little memory for the runner itself"))
        #expect(outcome.stderr.contains("32 MiB"))
        let json = try await runPyrun(["--json", "--memory-limit", "32M", "-c", "print('never')"])
        #expect(json.stdout.contains(#""status":"usageError""#))
    }

    @Test func inputWithoutAllowStdinSaysWhatToDo() async throws {
        let outcome = try await runPyrun(["-c", "input('name? ')"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("EOFError"))
        #expect(outcome.stderr.contains("--allow-stdin"))
    }
}
