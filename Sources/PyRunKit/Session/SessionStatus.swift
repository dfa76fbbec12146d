import Foundation

/// How a shared session stands, as `SharedSession.status()` reports it.
public struct SessionStatus: Sendable, Hashable, CustomStringConvertible {
    /// The session's name.
    public var name: String
    /// The kernel's pid; nil while no process is up.
    public var pid: Int32?
    /// The kernel's Python version, once it started.
    public var pythonVersion: String?
    /// Whether an execution runs or waits.
    public var busy: Bool
    /// Executions waiting their turn.
    public var queuedExecutions: Int
    /// Executions submitted over the session's life.
    public var submittedExecutions: Int
    /// The kernel's own execution count (non-silent executions of its current process).
    public var kernelExecutionCount: Int
    /// Resident memory of the kernel process, where the platform tells.
    public var residentMemoryBytes: Int?
    /// When the current kernel process started.
    public var startedAt: Date?
    /// The journal: what it keeps and who observes it (the clients attached).
    public var journal: SessionJournal.Status

    public init(
        name: String, pid: Int32? = nil, pythonVersion: String? = nil, busy: Bool = false, queuedExecutions: Int = 0,
        submittedExecutions: Int = 0, kernelExecutionCount: Int = 0, residentMemoryBytes: Int? = nil,
        startedAt: Date? = nil, journal: SessionJournal.Status
    ) {
        self.name = name
        self.pid = pid
        self.pythonVersion = pythonVersion
        self.busy = busy
        self.queuedExecutions = queuedExecutions
        self.submittedExecutions = submittedExecutions
        self.kernelExecutionCount = kernelExecutionCount
        self.residentMemoryBytes = residentMemoryBytes
        self.startedAt = startedAt
        self.journal = journal
    }

    /// Observers of the journal: the clients attached.
    public var attachedClients: Int { journal.observers }

    /// One line: `analysis  pid 4242  Python 3.12.1  idle  7 executions  2 clients  38.5 MiB`.
    public var description: String {
        var parts = [name, pid.map { "pid \($0)" } ?? "no kernel"]
        if let pythonVersion { parts.append("Python \(pythonVersion)") }
        parts.append(busy ? (queuedExecutions > 0 ? "busy, \(queuedExecutions) waiting" : "busy") : "idle")
        parts.append("\(submittedExecutions) execution\(submittedExecutions == 1 ? "" : "s")")
        parts.append("\(attachedClients) client\(attachedClients == 1 ? "" : "s")")
        if let residentMemoryBytes { parts.append(ByteFormat.text(residentMemoryBytes)) }
        return parts.joined(separator: "  ")
    }
}
