import Foundation
import Logging
import Synchronization

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real python3 behind whatever is on PATH (a pyenv shim is a script): stand-in kernels
/// for the process layer are short Python programs, since only Python offers `os.setsid`,
/// `os.fork` and `prctl` as user code would use them.
let standInPython: String = {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["python3", "-c", "import sys; print(sys.executable)"]
    let output = Pipe()
    probe.standardOutput = output
    try? probe.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    probe.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}()

/// Starts `script` under python3 as a kernel process; it runs with `-u`, so every print
/// reaches the frame pipe at once and arrives as a `malformedLine` event.
func startStandIn(_ script: String) throws -> (KernelProcess, ProcessEventLog) {
    let process = try KernelProcess(
        command: LaunchCommand(executable: standInPython, arguments: ["-u", "-c", script]),
        environment: ["PATH": "/usr/bin:/bin"], logger: Logger(label: "test"))
    return (process, ProcessEventLog(process))
}

/// Every event of one process as it arrives, for a test to await the one it needs.
final class ProcessEventLog: Sendable {
    private let events = Mutex<[ProcessEvent]>([])
    private let ended = Mutex(false)

    init(_ process: KernelProcess) {
        let stream = process.events
        Task { [self] in
            for await batch in stream { events.withLock { $0.append(contentsOf: batch) } }
            ended.withLock { $0 = true }
        }
    }

    var all: [ProcessEvent] { events.withLock { $0 } }

    /// The lines that were not frames (what a stand-in printed).
    var printedLines: [String] {
        all.compactMap { event in
            if case .malformedLine(let preview, _) = event { return preview }
            return nil
        }
    }

    var sawFrameChannelClosed: Bool {
        all.contains { if case .frameChannelClosed = $0 { true } else { false } }
    }

    var exit: ProcessExit? {
        for event in all {
            if case .exited(let exit) = event { return exit }
        }
        return nil
    }

    /// Waits for the `index`-th printed line (from 0); nil if it did not come within
    /// `seconds` (a liveness bound, not a timing assertion).
    func printedLine(_ index: Int = 0, within seconds: Double = 20) async -> String? {
        await until(seconds) { self.printedLines.count > index ? self.printedLines[index] : nil }
    }

    /// The integers on the `index`-th printed line.
    func printedIntegers(_ index: Int = 0, within seconds: Double = 20) async -> [Int32] {
        guard let line = await printedLine(index, within: seconds) else { return [] }
        return line.split(separator: " ").compactMap { Int32($0) }
    }

    /// Waits for the exit.
    func exited(within seconds: Double = 20) async -> ProcessExit? {
        await until(seconds) { self.exit }
    }

    /// Waits until `found` gives a value, polling.
    func until<Value>(_ seconds: Double, _ found: () -> Value?) async -> Value? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let value = found() { return value }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return found()
    }
}

/// Starts `/bin/sleep seconds` in the test process's own process group (no new group), as a
/// witness: if the host ever signalled its own group, this process would die with it. It
/// inherits none of the test process's descriptors: a pipe end another test relies on being
/// closed must not live on in it.
func startSleeperInHostGroup(seconds: Int = 120) -> pid_t {
    #if canImport(Glibc)
    var actions = posix_spawn_file_actions_t()
    var attributes = posix_spawnattr_t()
    guard let closeFrom = Spawn.addCloseFrom else { return -1 }
    #else
    var actions: posix_spawn_file_actions_t?
    var attributes: posix_spawnattr_t?
    #endif
    posix_spawn_file_actions_init(&actions)
    posix_spawnattr_init(&attributes)
    defer {
        posix_spawn_file_actions_destroy(&actions)
        posix_spawnattr_destroy(&attributes)
    }
    #if canImport(Glibc)
    _ = closeFrom(&actions, 3)
    #else
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_CLOEXEC_DEFAULT))
    #endif
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup(String(seconds)), nil]
    let envp: [UnsafeMutablePointer<CChar>?] = [nil]
    defer { for pointer in argv { free(pointer) } }
    let status = posix_spawn(&pid, "/bin/sleep", &actions, &attributes, argv, envp)
    return status == 0 ? pid : -1
}

/// Kills and reaps a witness started by `startSleeperInHostGroup`.
func stopSleeper(_ pid: pid_t) {
    guard pid > 0 else { return }
    kill(pid, SIGKILL)
    var status: Int32 = 0
    _ = waitpid(pid, &status, 0)
}
