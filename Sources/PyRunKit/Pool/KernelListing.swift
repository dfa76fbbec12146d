import Foundation

/// One live key of a `KernelPool`, as `list()` reports it.
public struct KernelListing: Sendable, Hashable, CustomStringConvertible {
    /// The agent key.
    public var key: String
    /// The runner's pid as its `hello` said, nil while no process is up (not yet started, or
    /// died and not yet restarted). For a remote kernel it is a pid of the far side.
    public var pid: Int32?
    /// The interpreter the kernel runs, once it started.
    public var interpreter: PythonInterpreter?
    /// The kernel's working directory as the runner reported it (or as configured, before start).
    public var workingDirectory: String?
    /// When the current process started.
    public var startedAt: Date?
    /// When the key last ran something (or was created).
    public var lastUsed: Date
    /// The kernel's own execution count: the non-silent executions its current process ran,
    /// however they were submitted (0 without a process).
    public var executionCount: Int
    /// Whether an execution runs or waits.
    public var busy: Bool
    /// Resident memory of the runner process (VmRSS) on Linux; nil elsewhere, without a
    /// process, and for a remote kernel (its runner is not on this machine).
    public var residentMemoryBytes: Int?
    /// Where the runner runs: `.local`, or behind a launcher such as ssh.
    public var launcher: KernelLauncher = .local

    /// One line: `analysis  pid 4242  Python 3.12.1  busy  12 executions  38.5 MiB  cwd /work  last used 3 s ago`.
    public var description: String {
        var parts = [key]
        parts.append(pid.map { "pid \($0)" } ?? "no process")
        if let interpreter { parts.append("Python \(interpreter.version)") }
        if launcher.isRemote { parts.append(launcher.description) }
        parts.append(busy ? "busy" : "idle")
        parts.append("\(executionCount) execution\(executionCount == 1 ? "" : "s")")
        if let residentMemoryBytes { parts.append(ByteFormat.text(residentMemoryBytes)) }
        if let workingDirectory { parts.append("cwd \(workingDirectory)") }
        let idle = max(0, Date().timeIntervalSince(lastUsed))
        parts.append("last used \(Int(idle.rounded())) s ago")
        return parts.joined(separator: "  ")
    }
}
