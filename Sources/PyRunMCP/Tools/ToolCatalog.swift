import MCP

/// The tools `pyrun mcp` offers: few, each with a schema and a description written for the
/// model that reads it.
public enum ToolCatalog {
    /// Tool names, as the model calls them.
    public enum Name: String, Sendable, CaseIterable {
        case python
        case pythonWait = "python_wait"
        case pythonInterrupt = "python_interrupt"
        case pythonSessions = "python_sessions"
        case pythonOutput = "python_output"
    }

    /// The server's limits that the schemas state.
    public struct Limits: Sendable, Hashable {
        /// The default and largest `timeout_s` (`--max-timeout` sets the largest).
        public var defaultTimeoutSeconds: Double = 120
        public var maximumTimeoutSeconds: Double = 3600
        /// The default and largest `wait_s`.
        public var defaultWaitSeconds: Double = 30
        public var maximumWaitSeconds: Double = 300
        /// Output characters per reply (`--max-output`).
        public var outputCharacters: Int = OutputBudget.defaultLimit
        /// Lines per `python_output` page.
        public var defaultPageLines: Int = 200
        public var maximumPageLines: Int = 2000

        public init() {}
    }

    /// The default session name.
    public static let defaultSession = "main"
    /// What a session name may be: short, and safe in a file name.
    public static let sessionPattern = "^[A-Za-z0-9_.-]{1,64}$"

    /// Every tool, in the order a client lists them.
    public static func tools(_ limits: Limits = Limits()) -> [Tool] {
        [python(limits), pythonWait(limits), pythonInterrupt(), pythonSessions(), pythonOutput(limits)]
    }

    // MARK: - The tools

    static func python(_ limits: Limits) -> Tool {
        Tool(
            name: Name.python.rawValue,
            title: "Run Python",
            description: """
                Run Python code in a persistent interpreter and return its output. Variables, imports and \
                files persist between calls in the same session, as in a notebook; the value of the last \
                expression is returned as `result`. Sessions are isolated interpreters, named by `session` \
                (default "main"); one call runs at a time per session, and a call on a session that is still \
                running returns `busy` at once. If the code is still running after `wait_s` seconds, the reply \
                has status `running` and a `run_id`: the code keeps going, and python_wait(run_id) returns \
                what follows. The code is stopped after `timeout_s` seconds (state is kept when it stops \
                cleanly). Output longer than about \(limits.outputCharacters.grouped) characters is cut in the \
                middle with a note; python_output pages through all of it. Images (matplotlib figures, \
                display()) come back as images. Errors return status `error` with the traceback. Cancelling the \
                call interrupts the code.
                """,
            inputSchema: .object([
                "type": "object",
                "properties": .object([
                    "code": ["type": "string", "description": "Python source to run, any number of lines."],
                    "session": sessionProperty(
                        "The session to run in; each has its own interpreter and state. Created on first use."),
                    "timeout_s": [
                        "type": "number", "exclusiveMinimum": 0, "maximum": .double(limits.maximumTimeoutSeconds),
                        "default": .double(limits.defaultTimeoutSeconds),
                        "description": "Stop the code after this many seconds.",
                    ],
                    "wait_s": [
                        "type": "number", "minimum": 0, "maximum": .double(limits.maximumWaitSeconds),
                        "default": .double(limits.defaultWaitSeconds),
                        "description":
                            "Return after this many seconds with status `running` if the code is not done; it keeps running.",
                    ],
                    "reset": [
                        "type": "boolean", "default": false,
                        "description": "Start the session with a fresh interpreter first (all state is discarded).",
                    ],
                ]),
                "required": ["code"],
                "additionalProperties": false,
            ]),
            annotations: .init(title: "Run Python", readOnlyHint: false, destructiveHint: true, openWorldHint: true),
            outputSchema: ExecutionReport.outputSchema)
    }

    static func pythonWait(_ limits: Limits) -> Tool {
        Tool(
            name: Name.pythonWait.rawValue,
            title: "Wait for a running Python call",
            description: """
                Wait for a call that returned status `running`, and get the output it produced since the last \
                look. Returns when the run ends or after `wait_s` seconds, whichever comes first; the status is \
                `running` again if it has not ended. Once it has ended, the reply carries its outcome (ok, \
                error, timeout, interrupted, died). Cancelling this call interrupts the run's code.
                """,
            inputSchema: .object([
                "type": "object",
                "properties": .object([
                    "run_id": ["type": "string", "description": "The `run_id` from the `running` reply."],
                    "wait_s": [
                        "type": "number", "minimum": 0, "maximum": .double(limits.maximumWaitSeconds),
                        "default": .double(limits.defaultWaitSeconds),
                        "description": "Wait at most this many seconds for the run to end.",
                    ],
                ]),
                "required": ["run_id"],
                "additionalProperties": false,
            ]),
            annotations: .init(title: "Wait for Python", readOnlyHint: true, openWorldHint: false),
            outputSchema: ExecutionReport.outputSchema)
    }

    static func pythonInterrupt() -> Tool {
        Tool(
            name: Name.pythonInterrupt.rawValue,
            title: "Interrupt Python",
            description: """
                Interrupt the code running in a session, as Ctrl-C does (KeyboardInterrupt): the session's \
                state is kept. If the code does not stop within a few seconds, the interpreter is restarted \
                and its state is lost; the reply says which happened.
                """,
            inputSchema: .object([
                "type": "object",
                "properties": .object(["session": sessionProperty("The session whose running code to interrupt.")]),
                "additionalProperties": false,
            ]),
            annotations: .init(
                title: "Interrupt Python", readOnlyHint: false, destructiveHint: false, openWorldHint: false),
            outputSchema: InterruptReport.outputSchema)
    }

    static func pythonSessions() -> Tool {
        Tool(
            name: Name.pythonSessions.rawValue,
            title: "List, reset or close Python sessions",
            description: """
                List the Python sessions (status, pid, interpreter, working directory, execution count, \
                memory, idle time), or reset one (fresh interpreter, state discarded) or close one (its \
                interpreter ends; the next call on it starts a new one).
                """,
            inputSchema: .object([
                "type": "object",
                "properties": .object([
                    "action": [
                        "type": "string", "enum": ["list", "reset", "close"], "default": "list",
                        "description": "What to do; reset and close need `session`.",
                    ],
                    // No default: a reset or close names what it destroys.
                    "session": sessionProperty("The session to reset or close (no default).", withDefault: false),
                ]),
                "additionalProperties": false,
            ]),
            annotations: .init(
                title: "Python sessions", readOnlyHint: false, destructiveHint: true, openWorldHint: false),
            outputSchema: SessionsReport.outputSchema)
    }

    static func pythonOutput(_ limits: Limits) -> Tool {
        Tool(
            name: Name.pythonOutput.rawValue,
            title: "Read a Python call's full output",
            description: """
                Page through the whole output of a call (stdout and stderr as they came, ANSI colours removed), \
                also the parts a reply left out. Lines are numbered from 1; `offset` skips that many lines. \
                With `grep`, only lines matching that regular expression are returned, with their numbers.
                """,
            inputSchema: .object([
                "type": "object",
                "properties": .object([
                    "run_id": [
                        "type": "string", "description": "The run, from a reply's `run_id` or truncation note.",
                    ],
                    "offset": [
                        "type": "integer", "minimum": 0, "default": 0,
                        "description": "Lines to skip from the start (with `grep`: of the matching lines).",
                    ],
                    "limit": [
                        "type": "integer", "minimum": 1, "maximum": .int(limits.maximumPageLines),
                        "default": .int(limits.defaultPageLines), "description": "Lines to return at most.",
                    ],
                    "grep": [
                        "type": "string",
                        "description": "A regular expression: return only the lines that match it.",
                    ],
                ]),
                "required": ["run_id"],
                "additionalProperties": false,
            ]),
            annotations: .init(title: "Python output", readOnlyHint: true, idempotentHint: true, openWorldHint: false),
            outputSchema: OutputPage.outputSchema)
    }

    private static func sessionProperty(_ description: String, withDefault: Bool = true) -> Value {
        var property: [String: Value] = [
            "type": "string", "pattern": .string(sessionPattern), "description": .string(description),
        ]
        if withDefault { property["default"] = .string(defaultSession) }
        return .object(property)
    }
}
