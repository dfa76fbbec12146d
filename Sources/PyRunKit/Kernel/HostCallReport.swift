/// A host call as an execution's events show it when it begins (`hostCallStarted`).
public struct HostCallStart: Sendable, Hashable, CustomStringConvertible {
    /// The call's id, unique within its kernel; its `hostCallEnded` carries the same.
    public var callID: String
    /// The host function's name.
    public var function: String
    /// The arguments the code passed, as JSON.
    public var arguments: JSONValue

    public init(callID: String, function: String, arguments: JSONValue) {
        self.callID = callID
        self.function = function
        self.arguments = arguments
    }

    /// "host.read {"path":"a.py"} (c3)".
    public var description: String { "host.\(function) \(arguments) (\(callID))" }
}

/// How a host call ended.
public enum HostCallOutcome: Sendable, Hashable, CustomStringConvertible {
    /// The handler returned; Python got its value.
    case returned
    /// The handler threw (or the function is unknown); Python got this `HostCallError`.
    case failed(HostCallError)
    /// The handler ran past the function's timeout and was cancelled; Python got a
    /// `HostCallError` of type `Timeout`.
    case timedOut(after: Duration)
    /// The Python side stopped waiting (an interrupt, the end of the execution, the kernel's
    /// death): the handler was cancelled and nothing was sent back.
    case cancelled

    public var description: String {
        switch self {
        case .returned: "returned"
        case .failed(let error): "failed: \(error)"
        case .timedOut(let after): "timed out after \(after.formattedSeconds)"
        case .cancelled: "cancelled"
        }
    }

    /// A one-word name: `returned`, `failed`, `timedOut` or `cancelled`.
    public var name: String {
        switch self {
        case .returned: "returned"
        case .failed: "failed"
        case .timedOut: "timedOut"
        case .cancelled: "cancelled"
        }
    }
}

/// A host call as an execution's events show it when it ends (`hostCallEnded`), and as
/// `ExecutionResult.hostCalls` lists it.
public struct HostCallReport: Sendable, Hashable, CustomStringConvertible {
    /// The call's id, the same as its `hostCallStarted`.
    public var callID: String
    /// The host function's name.
    public var function: String
    /// From the `call` frame's arrival to the end, measured by the host.
    public var duration: Duration
    /// How it ended.
    public var outcome: HostCallOutcome

    public init(callID: String, function: String, duration: Duration, outcome: HostCallOutcome) {
        self.callID = callID
        self.function = function
        self.duration = duration
        self.outcome = outcome
    }

    /// "host.read returned in 12.3 ms (c3)".
    public var description: String {
        let took =
            duration < .seconds(1) ? "\((duration.milliseconds * 10).rounded() / 10) ms" : duration.formattedSeconds
        return "host.\(function) \(outcome) in \(took) (\(callID))"
    }
}
