/// Something the host has to tell about an execution or its key that the code's own output
/// does not show: lost state and why, a timeout, a withdrawn execution, a truncated collection.
///
/// A program reads `kind` and `stateLost`; a person reads `description`.
public struct KernelNotice: Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// The key's idle kernel was shut down to keep the pool within this many live kernels.
        case evicted(maximumLiveKernels: Int)
        /// The key's kernel was shut down after running nothing for `idleFor`.
        case culled(idleFor: Duration, idleTimeout: Duration)
        /// The key's kernel was shut down with `shutdown(_:)` or `shutdownAll()`.
        case shutDown
        /// The key was reset with `reset(_:)`.
        case reset
        /// The key was asked for with another configuration, so its kernel was replaced.
        case configurationChanged(from: KernelConfiguration, to: KernelConfiguration)
        /// The kernel process ended: while this execution ran or waited (the execution's own
        /// notice), or since the key's last execution (a pool notice at the start of the next).
        case died(KernelDeath)
        /// The execution ran past its timeout and was interrupted.
        case timedOut(after: Duration)
        /// The execution was withdrawn with `cancel()` before it started.
        case cancelledBeforeStart
        /// The kernel was shut down before the execution started; it never ran.
        case shutDownBeforeStart
        /// The runner refused the request with this message.
        case runnerRejected(message: String)
        /// Part of the kernel's prelude raised while the kernel started: the rest loaded and
        /// the kernel is usable. The first execution of each kernel process carries it.
        case preludeFailed([PreludeFailure])
        /// The collected output of one stream went past `ExecutionOptions.collectedOutputLimit`:
        /// its head and tail are kept, and `omittedBytes` in between are not.
        case collectedOutputTruncated(stream: OutputStream, omittedBytes: Int)
    }

    /// What happened.
    public var kind: Kind
    /// The pool key it is about; nil for a kernel used on its own.
    public var key: String?

    /// Creates a notice.
    public init(_ kind: Kind, key: String? = nil) {
        self.kind = kind
        self.key = key
    }

    /// True when the kernel's earlier state (variables, imports) is gone: the code about to
    /// run, or the next, starts in a fresh interpreter.
    public var stateLost: Bool {
        switch kind {
        case .evicted, .culled, .shutDown, .reset, .configurationChanged, .died, .shutDownBeforeStart: true
        case .timedOut, .cancelledBeforeStart, .runnerRejected, .preludeFailed, .collectedOutputTruncated: false
        }
    }

    /// One sentence for people, ending with what it means for the state.
    public var description: String {
        let subject = key.map { "the kernel for key '\($0)'" } ?? "the kernel"
        let fresh = "this is a fresh interpreter and earlier state is gone"
        switch kind {
        case .evicted(let maximum):
            return
                "\(subject) was evicted (the pool keeps at most \(maximum) live kernels and it was the least recently used idle one): \(fresh)"
        case .culled(let idleFor, let idleTimeout):
            return
                "\(subject) was shut down after \(idleFor.formattedSeconds) idle (idle timeout \(idleTimeout.formattedSeconds)): \(fresh)"
        case .shutDown:
            return "\(subject) was shut down: \(fresh)"
        case .reset:
            return "\(subject) was reset: \(fresh)"
        case .configurationChanged(let old, let new):
            let changes = KernelConfiguration.differences(from: old, to: new)
            let what = changes.isEmpty ? "configuration" : changes.joined(separator: ", ")
            let owner = key.map { "the configuration of key '\($0)'" } ?? "the kernel's configuration"
            return "\(owner) changed (\(what)), so its kernel was restarted: earlier state is gone"
        case .died(let death):
            if let key {
                let ended = death.wasRequested ? "was stopped" : "died"
                return "the previous kernel for key '\(key)' \(ended) (\(death)): \(fresh)"
            }
            return "\(death); the kernel restarts on next use and its state is lost"
        case .timedOut(let after):
            return "timed out after \(after.formattedSeconds); interrupted"
        case .cancelledBeforeStart:
            return "cancelled before it started"
        case .shutDownBeforeStart:
            return "\(subject) was shut down before this execution ran"
        case .runnerRejected(let message):
            return "the runner rejected the request: \(message)"
        case .preludeFailed(let failures):
            let what = failures.map(\.description).joined(separator: "; ")
            return "\(subject) started with an incomplete prelude (\(what)); the rest of it loaded"
        case .collectedOutputTruncated(let stream, let omitted):
            return
                "\(ByteFormat.text(omitted)) in the middle of \(stream.rawValue) were not kept (the collected output keeps its first and last \(stream.rawValue) bytes within ExecutionOptions.collectedOutputLimit)"
        }
    }
}
