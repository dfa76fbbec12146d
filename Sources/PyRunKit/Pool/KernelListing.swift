import Foundation

/// One live key of a `KernelPool`, as `list()` reports it.
public struct KernelListing: Sendable, Hashable {
    /// The agent key.
    public var key: String
    /// The runner's pid, nil while no process is up (not yet started, or died and not yet
    /// restarted).
    public var pid: Int32?
    /// The interpreter the kernel runs, once it started.
    public var interpreter: PythonInterpreter?
    /// The kernel's working directory as the runner reported it (or as configured, before start).
    public var workingDirectory: String?
    /// When the current process started.
    public var startedAt: Date?
    /// When the key last ran something (or was created).
    public var lastUsed: Date
    /// Executions the pool ran on the current process.
    public var executionCount: Int
    /// Whether an execution runs or waits.
    public var busy: Bool
    /// Resident memory of the runner process (VmRSS) on Linux; nil elsewhere or without a process.
    public var residentMemoryBytes: Int?
}

/// Reads how much memory a process holds.
enum ProcessMemory {
    /// The resident set size of `pid` from `/proc/<pid>/status` (Linux); nil elsewhere.
    static func residentBytes(of pid: Int32) -> Int? {
        #if os(Linux)
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            // "VmRSS:	   10236 kB"
            let fields = line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let kilobytes = fields.first.flatMap({ Int($0) }) else { return nil }
            return kilobytes * 1024
        }
        return nil
        #else
        return nil
        #endif
    }
}
