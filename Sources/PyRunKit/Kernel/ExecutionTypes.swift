/// Something an execution produced, in the order the runner sent it.
public enum ExecutionEvent: Sendable, Hashable {
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
    /// The code called `input()`; the stdin handler answers it.
    case inputRequest(prompt: String, password: Bool)
    /// A frame for this execution that this host does not know.
    case unknown(JSONValue)
}

/// How an execution ended.
public enum ExecutionStatus: String, Sendable, Hashable {
    /// The code ran to the end.
    case ok
    /// The code raised an exception (see `ExecutionResult.error`).
    case error
    /// It was interrupted or cancelled.
    case cancelled
    /// It ran past its timeout and was interrupted.
    case timedOut
    /// The kernel process died (see `ExecutionResult.deathCause`).
    case kernelDied
}

/// Why a kernel process went away.
public struct KernelDeathCause: Sendable, Hashable, CustomStringConvertible {
    /// The exit code or signal.
    public var exitStatus: TerminationStatus
    /// The execution that was running when it died, if any.
    public var runningExecutionID: String?
    /// The tail of the runner's own stderr (a crash in the runner itself shows here).
    public var diagnostics: String

    public var description: String {
        var text = "the kernel \(exitStatus)"
        if let runningExecutionID { text += " while running execution \(runningExecutionID)" }
        let tail = diagnostics.split(separator: "\n").suffix(3).joined(separator: " | ")
        if !tail.isEmpty { text += " (runner stderr: \(tail))" }
        return text
    }
}

/// Output written for an execution after it had ended (a background thread, a child
/// process, an `atexit` handler).
public struct LateOutput: Sendable, Hashable {
    /// The execution it is attributed to: the one that was running or ran last.
    public var executionID: String
    public var stream: OutputStream
    public var text: String
}

/// One `display` output.
public struct DisplayOutput: Sendable, Hashable {
    public var bundle: MIMEBundle
    public var metadata: JSONValue?
}

/// A prompt from `input()` or `getpass()`.
public struct InputPrompt: Sendable, Hashable {
    public var prompt: String
    /// True for `getpass()`: do not echo the answer.
    public var password: Bool
}

/// Answers `input()` prompts; what it returns is what `input()` returns. Throwing (for
/// instance at the end of the host's own stdin) makes `input()` raise `EOFError`.
public typealias StdinHandler = @Sendable (InputPrompt) async throws -> String

/// How to run one piece of code.
public struct ExecutionOptions: Sendable {
    /// Interrupt the code after this long and report `timedOut`.
    public var timeout: Duration?
    /// No result frame and no execution count bump.
    public var silent: Bool
    /// Whether the code counts in history; defaults to `!silent`.
    public var storeHistory: Bool?
    /// Drop output past this many bytes (one notice says so).
    public var maxOutputBytes: Int?
    /// Answers `input()`; without it, `input()` raises `EOFError` at once.
    public var stdinHandler: StdinHandler?

    public init(
        timeout: Duration? = nil, silent: Bool = false, storeHistory: Bool? = nil, maxOutputBytes: Int? = nil,
        stdinHandler: StdinHandler? = nil
    ) {
        self.timeout = timeout
        self.silent = silent
        self.storeHistory = storeHistory
        self.maxOutputBytes = maxOutputBytes
        self.stdinHandler = stdinHandler
    }

    var flags: Request.ExecuteFlags {
        Request.ExecuteFlags(
            silent: silent, storeHistory: storeHistory, allowStdin: stdinHandler != nil, maxOutputBytes: maxOutputBytes)
    }
}

/// An execution collected into one value.
public struct ExecutionResult: Sendable, Hashable {
    /// The request id.
    public var id: String
    public var status: ExecutionStatus
    /// The execution count the runner gave it (nil if it never started).
    public var executionCount: Int?
    /// Everything written to stdout.
    public var stdout: String = ""
    /// Everything written to stderr.
    public var stderr: String = ""
    public var displays: [DisplayOutput] = []
    /// The value of the final expression.
    public var result: MIMEBundle?
    /// The exception that ended the code.
    public var error: PythonError?
    /// Why the kernel died, when `status` is `.kernelDied` (or it was killed after an interrupt).
    public var deathCause: KernelDeathCause?
    /// What the host has to say about the outcome (a restart, a timeout, lost state).
    public var notices: [String] = []
    /// Wall time from sending the code to its end, measured by the host.
    public var duration: Duration = .zero
    /// The runner's own report, when it sent `done`.
    public var report: DoneReport?
    /// Output bytes dropped by `maxOutputBytes`.
    public var droppedBytes: Int { report?.droppedBytes ?? 0 }

    /// True when the code ran to the end without an exception.
    public var succeeded: Bool { status == .ok }
    /// True when the execution was interrupted or cancelled.
    public var cancelled: Bool { status == .cancelled }
    /// True when the execution ran past its timeout.
    public var timedOut: Bool { status == .timedOut }
    /// The plain-text form of the final expression's value.
    public var resultText: String? { result?.plainText }

    public init(id: String, status: ExecutionStatus) {
        self.id = id
        self.status = status
    }
}
