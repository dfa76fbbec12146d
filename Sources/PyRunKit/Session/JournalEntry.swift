import Foundation

/// One thing that happened in a shared session, numbered. Sequence numbers start at 1 and
/// grow by one for every entry for the session's whole life, across kernel restarts and
/// resets, so "what did I miss since 41" always has an answer.
public struct JournalEntry: Sendable, Hashable, CustomStringConvertible {
    /// The entry's place in the session: 1 for the first, one more for each after it.
    public var sequence: Int
    /// When the session recorded it.
    public var date: Date
    /// What happened.
    public var event: SessionEvent

    /// Creates an entry; the journal makes these, clients decode them.
    public init(sequence: Int, date: Date, event: SessionEvent) {
        self.sequence = sequence
        self.date = date
        self.event = event
    }

    public var description: String { "#\(sequence) \(event)" }
}

/// What a shared session records: who ran what, everything each execution produced, and the
/// life of the kernel underneath.
public enum SessionEvent: Sendable, Hashable, CustomStringConvertible {
    /// A client's code is about to run: the session's id for the execution, the code, and the
    /// label of the client that sent it.
    case input(executionID: String, code: String, client: String)
    /// An event of a running execution, exactly as its submitter received it: `started`,
    /// output, displays, the result, the error, notices and, last, `finished` with the outcome.
    case execution(executionID: String, ExecutionEvent)
    /// A kernel process for the session said hello. With `previousPID` it replaced an earlier
    /// process (a restart after a death, or a reset); without, it is the session's first.
    case kernelStarted(KernelHello, previousPID: Int32?)
    /// The session's kernel process ended, and who ended it.
    case kernelDied(KernelDeath)
    /// The pool shut the session's kernel down (evicted, culled, shut down) with no death record.
    case kernelStopped(KernelDeath.StopReason)
    /// A client asked to interrupt the running execution.
    case interruptRequested(client: String)
    /// A client asked for a fresh interpreter; the next `kernelStarted` is the fresh one.
    case reset(client: String)

    /// The execution this event belongs to, if it belongs to one.
    public var executionID: String? {
        switch self {
        case .input(let id, _, _), .execution(let id, _): id
        case .kernelStarted, .kernelDied, .kernelStopped, .interruptRequested, .reset: nil
        }
    }

    /// True for a start that replaced an earlier process.
    public var isRestart: Bool {
        if case .kernelStarted(_, let previous) = self { return previous != nil }
        return false
    }

    public var description: String {
        switch self {
        case .input(let id, let code, let client): "\(client) runs \(id): \(code.debugDescription)"
        case .execution(let id, let event): "\(id): \(event)"
        case .kernelStarted(let hello, let previous):
            previous.map { "kernel restarted: pid \(hello.pid) replaces \($0)" } ?? "kernel started: pid \(hello.pid)"
        case .kernelDied(let death): "kernel died: \(death)"
        case .kernelStopped(let reason): "kernel stopped: \(reason)"
        case .interruptRequested(let client): "\(client) interrupts"
        case .reset(let client): "\(client) resets the session"
        }
    }

    /// Roughly the memory the event holds, for the journal's byte bound.
    var approximateSize: Int {
        switch self {
        case .input(let id, let code, let client): 64 + id.utf8.count + code.utf8.count + client.utf8.count
        case .execution(let id, let event): 16 + id.utf8.count + event.approximateSize
        case .kernelStarted: 256
        case .kernelDied(let death): 256 + death.diagnostics.utf8.count
        case .kernelStopped, .interruptRequested, .reset: 96
        }
    }
}
