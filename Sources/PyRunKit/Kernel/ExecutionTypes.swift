/// Something an execution produced, in the order it happened. Every stream of events ends
/// with exactly one `finished`.
public enum ExecutionEvent: Sendable, Hashable {
    /// Something the host has to say before or after the code's own events: lost state and
    /// why (at the start of a pool execution), a timeout or a death (just before `finished`).
    case notice(KernelNotice)
    /// The code started running with this execution count.
    case started(executionCount: Int)
    case stdout(String)
    case stderr(String)
    /// A `display()` call or a flushed figure.
    case display(MIMEBundle, metadata: JSONValue?)
    /// The value of the final expression.
    case result(MIMEBundle, executionCount: Int)
    /// The exception that ended the code.
    case error(PythonError)
    /// The code called `input()`; `ExecutionOptions.stdinHandler` answers it.
    case inputRequest(prompt: String, password: Bool)
    /// The code called a host function (`host.NAME(…)`); its handler runs now, and a
    /// `hostCallEnded` with the same call id follows before `finished`.
    case hostCallStarted(HostCallStart)
    /// A host call ended: how, and how long it took.
    case hostCallEnded(HostCallReport)
    /// A frame for this execution that this host does not know.
    case unknown(JSONValue)
    /// How the execution ended: always the last event.
    case finished(ExecutionOutcome)
}

/// How an execution ended.
public enum ExecutionStatus: String, Sendable, Hashable {
    /// The code ran to the end.
    case ok
    /// The code raised an exception (see `ExecutionOutcome.error`).
    case error
    /// It was interrupted or cancelled.
    case cancelled
    /// It ran past its timeout and was interrupted.
    case timedOut
    /// The kernel process ended while it ran or waited (see `ExecutionOutcome.death`).
    case kernelDied
    /// The kernel could not be started for it (see `ExecutionOutcome.startFailure`).
    case failedToStart
}

/// The end of an execution, as the `finished` event carries it.
public struct ExecutionOutcome: Sendable, Hashable, CustomStringConvertible {
    /// How it ended.
    public var status: ExecutionStatus
    /// The execution count the runner gave it (nil if it never started).
    public var executionCount: Int?
    /// The exception that ended the code (`KeyboardInterrupt` for an interrupted one).
    public var error: PythonError?
    /// How the kernel process ended, when it ended during this execution (also when pyrun
    /// killed it because an interrupt was not honoured).
    public var death: KernelDeath?
    /// Why the kernel could not start, when `status` is `.failedToStart`.
    public var startFailure: KernelError?
    /// The runner's own report, when it sent `done`.
    public var report: DoneReport?
    /// Wall time from sending the code to its end, measured by the host.
    public var duration: Duration

    /// Creates an outcome.
    public init(
        status: ExecutionStatus, executionCount: Int? = nil, error: PythonError? = nil, death: KernelDeath? = nil,
        startFailure: KernelError? = nil, report: DoneReport? = nil, duration: Duration = .zero
    ) {
        self.status = status
        self.executionCount = executionCount
        self.error = error
        self.death = death
        self.startFailure = startFailure
        self.report = report
        self.duration = duration
    }

    /// True when the code ran to the end without an exception.
    public var succeeded: Bool { status == .ok }

    public var description: String {
        var text: String
        switch status {
        case .ok: text = "ok"
        case .error: text = "error: \(error?.description ?? "an exception")"
        case .cancelled: text = "cancelled"
        case .timedOut: text = "timed out"
        case .kernelDied: text = "kernel died"
        case .failedToStart: text = "failed to start: \(startFailure?.message ?? "unknown reason")"
        }
        if let death, status != .failedToStart { text += " (\(death))" }
        if let executionCount { text += ", execution \(executionCount)" }
        return text + ", \(duration.formattedSeconds)"
    }
}

/// Output written for an execution after it had ended (a background thread, a child
/// process, an `atexit` handler), or by the interpreter before the runner started.
public struct LateOutput: Sendable, Hashable, CustomStringConvertible {
    /// The execution it is attributed to (the one that was running or ran last); nil for
    /// start-up noise, which an interpreter start (a `sitecustomize`) wrote before the
    /// runner's `hello`.
    public var executionID: String?
    /// The stream it was written to.
    public var stream: OutputStream
    /// What was written.
    public var text: String

    public var description: String {
        "\(stream.rawValue) of \(executionID ?? "the interpreter start"): \(text.debugDescription)"
    }
}

/// One `display` output.
public struct DisplayOutput: Sendable, Hashable, CustomStringConvertible {
    /// The representations, MIME type → value.
    public var bundle: MIMEBundle
    /// The display's metadata (`display(obj, metadata=…)`, `_repr_*_` methods), if any.
    public var metadata: JSONValue?

    public var description: String { "display \(bundle)" }
}

/// A prompt from `input()` or `getpass()`.
public struct InputPrompt: Sendable, Hashable, CustomStringConvertible {
    /// The prompt the code passed to `input()` or `getpass()`.
    public var prompt: String
    /// True for `getpass()`: do not echo the answer.
    public var password: Bool

    public var description: String {
        password ? "password prompt \(prompt.debugDescription)" : "prompt \(prompt.debugDescription)"
    }
}

/// Answers `input()` prompts; what it returns is what `input()` returns. Throwing (for
/// instance at the end of the host's own stdin) makes `input()` raise `EOFError`.
public typealias StdinHandler = @Sendable (InputPrompt) async throws -> String

/// How to run one piece of code.
public struct ExecutionOptions: Sendable, CustomStringConvertible {
    /// Interrupt the code after this long and report `timedOut`. Time during which the code
    /// waits for host calls (`HostFunction`) does not count: each call has its own timeout.
    public var timeout: Duration?
    /// No result frame and no execution count bump.
    public var silent: Bool
    /// Accepted for Jupyter-style hosts and sent to the runner, which keeps no input history
    /// and ignores it; defaults to `!silent`.
    public var storeHistory: Bool?
    /// The runner drops what the execution sends past this many bytes (output, displays, the
    /// result, the error, input prompts); a notice on stderr says so, and
    /// `DoneReport.droppedBytes` counts it.
    public var maxOutputBytes: Int?
    /// Answers `input()` and `getpass()`. Without one, they raise `EOFError` at once (the
    /// message tells the user to set `ExecutionOptions.stdinHandler`); the code never hangs.
    public var stdinHandler: StdinHandler?
    /// How many bytes of stdout, and of stderr, a collected result keeps (`run`,
    /// `Execution.result()`). Past it, the first and the last half are kept, and the result
    /// says how much was left out in between. A streaming caller (iterating an `Execution`)
    /// keeps nothing and is not bounded by this.
    public var collectedOutputLimit: Int

    /// The default `collectedOutputLimit`: 16 MiB per stream.
    public static let defaultCollectedOutputLimit = 16 << 20

    /// Options; the defaults run the code with no timeout, no output cap and no stdin.
    public init(
        timeout: Duration? = nil, silent: Bool = false, storeHistory: Bool? = nil, maxOutputBytes: Int? = nil,
        stdinHandler: StdinHandler? = nil, collectedOutputLimit: Int = ExecutionOptions.defaultCollectedOutputLimit
    ) {
        self.timeout = timeout
        self.silent = silent
        self.storeHistory = storeHistory
        self.maxOutputBytes = maxOutputBytes
        self.stdinHandler = stdinHandler
        self.collectedOutputLimit = max(2, collectedOutputLimit)
    }

    public var description: String {
        var parts: [String] = []
        if let timeout { parts.append("timeout \(timeout.formattedSeconds)") }
        if silent { parts.append("silent") }
        if let storeHistory { parts.append(storeHistory ? "stored in history" : "not stored in history") }
        if let maxOutputBytes { parts.append("output capped at \(ByteFormat.text(maxOutputBytes))") }
        parts.append(stdinHandler == nil ? "no stdin" : "stdin answered")
        parts.append("collected within \(ByteFormat.text(collectedOutputLimit)) per stream")
        return parts.joined(separator: ", ")
    }

    var flags: Request.ExecuteFlags {
        Request.ExecuteFlags(
            silent: silent, storeHistory: storeHistory, allowStdin: stdinHandler != nil, maxOutputBytes: maxOutputBytes)
    }
}

/// An execution collected into one value: its output (bounded by
/// `ExecutionOptions.collectedOutputLimit`), every notice, and its outcome.
public struct ExecutionResult: Sendable, Hashable, CustomStringConvertible {
    /// The request id.
    public var id: String
    /// How it ended.
    public var outcome: ExecutionOutcome
    /// What was written to stdout (its head and tail only, past the collection limit).
    public var stdout: String = ""
    /// What was written to stderr (its head and tail only, past the collection limit).
    public var stderr: String = ""
    /// Bytes of stdout left out between the head and the tail kept in `stdout`.
    public var stdoutOmittedBytes = 0
    /// Bytes of stderr left out between the head and the tail kept in `stderr`.
    public var stderrOmittedBytes = 0
    /// The `display` outputs, in order (kept whole: not bounded by `collectedOutputLimit`).
    public var displays: [DisplayOutput] = []
    /// The value of the final expression.
    public var result: MIMEBundle?
    /// Everything the host had to say, in order: notices about the key first, then those
    /// about this execution.
    public var notices: [KernelNotice] = []
    /// The host calls the code made, in the order they ended.
    public var hostCalls: [HostCallReport] = []

    /// Creates a result.
    public init(id: String, outcome: ExecutionOutcome) {
        self.id = id
        self.outcome = outcome
    }

    /// How it ended.
    public var status: ExecutionStatus { outcome.status }
    /// The execution count the runner gave it (nil if it never started).
    public var executionCount: Int? { outcome.executionCount }
    /// The exception that ended the code.
    public var error: PythonError? { outcome.error }
    /// How the kernel process ended, when it ended during this execution.
    public var death: KernelDeath? { outcome.death }
    /// Wall time from sending the code to its end, measured by the host.
    public var duration: Duration { outcome.duration }
    /// The runner's own report, when it sent `done`.
    public var report: DoneReport? { outcome.report }
    /// Bytes the runner dropped because of `maxOutputBytes`.
    public var droppedBytes: Int { report?.droppedBytes ?? 0 }

    /// True when the code ran to the end without an exception.
    public var succeeded: Bool { status == .ok }
    /// True when the execution was interrupted or cancelled.
    public var cancelled: Bool { status == .cancelled }
    /// True when the execution ran past its timeout.
    public var timedOut: Bool { status == .timedOut }
    /// The plain-text form of the final expression's value.
    public var resultText: String? { result?.plainText }

    public var description: String {
        var parts = ["execution \(id): \(outcome)"]
        if !stdout.isEmpty || stdoutOmittedBytes > 0 {
            parts.append("stdout \(ByteFormat.text(stdout.utf8.count + stdoutOmittedBytes))")
        }
        if !stderr.isEmpty || stderrOmittedBytes > 0 {
            parts.append("stderr \(ByteFormat.text(stderr.utf8.count + stderrOmittedBytes))")
        }
        if !displays.isEmpty { parts.append("\(displays.count) display\(displays.count == 1 ? "" : "s")") }
        if let resultText { parts.append("result \(resultText)") }
        if !hostCalls.isEmpty { parts.append("\(hostCalls.count) host call\(hostCalls.count == 1 ? "" : "s")") }
        for notice in notices { parts.append("notice: \(notice)") }
        return parts.joined(separator: "; ")
    }
}
