import PyRunKit

/// Something a running execution produced, as the run registry needs it. An adapter maps the
/// pool's execution events to these, so the registry does not depend on the pool's API.
public enum RunEvent: Sendable, Hashable {
    /// The code started with this execution count.
    case started(executionCount: Int)
    case stdout(String)
    case stderr(String)
    /// A `display()` call or a figure.
    case display(MIMEBundle)
    /// The value of the final expression.
    case result(MIMEBundle)
    /// The exception that ended the code.
    case error(PythonError)
    /// What the server must say about the session (a restart, lost state, a death).
    case notice(ExecutionReport.Notice)
    /// The end; always the last event.
    case finished(RunOutcome)
}

/// How a run ended.
public struct RunOutcome: Sendable, Hashable {
    /// One of the final statuses: ok, error, timeout, interrupted, died.
    public var status: ExecutionReport.Status
    /// Measured by the runner, when it reported.
    public var cpuSeconds: Double?
    public var peakRSSBytes: Int?
    /// Why the interpreter could not be started for the run (its status is then `error`).
    public var startFailure: String?
    /// The interpreter ended during the run (it died, or was killed because the code ignored
    /// an interrupt or a timeout): the session's state is gone. Always true for `died`.
    public var interpreterEnded: Bool

    public init(
        status: ExecutionReport.Status, cpuSeconds: Double? = nil, peakRSSBytes: Int? = nil,
        startFailure: String? = nil,
        interpreterEnded: Bool = false
    ) {
        precondition(status != .running && status != .busy, "a run ends with a final status")
        self.status = status
        self.cpuSeconds = cpuSeconds
        self.peakRSSBytes = peakRSSBytes
        self.startFailure = startFailure
        self.interpreterEnded = interpreterEnded || status == .died
    }
}

/// A running execution, seen from the registry: its events in order (ending with
/// `.finished`), and a way to interrupt it.
public protocol RunningExecution: Sendable {
    /// The events; consumed once, by the registry.
    func events() -> AsyncStream<RunEvent>
    /// Interrupts the code (as Ctrl-C does); the events then end with the outcome.
    func interrupt() async
}
