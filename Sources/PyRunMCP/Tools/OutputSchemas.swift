import MCP

// The `outputSchema` each tool declares for its `structuredContent`. The Codable types beside
// these are what the server encodes; the tests check every case of them against the schemas.

/// Schema building blocks.
enum Schema {
    static func object(_ properties: [String: Value], required: [String]) -> Value {
        [
            "type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) }),
            "additionalProperties": false,
        ]
    }

    static func string(_ description: String) -> Value { ["type": "string", "description": .string(description)] }
    static func integer(_ description: String) -> Value { ["type": "integer", "description": .string(description)] }
    static func number(_ description: String) -> Value { ["type": "number", "description": .string(description)] }
    static func boolean(_ description: String) -> Value { ["type": "boolean", "description": .string(description)] }

    static func enumeration(_ cases: [String], _ description: String) -> Value {
        ["type": "string", "enum": .array(cases.map { .string($0) }), "description": .string(description)]
    }

    static func array(of items: Value, _ description: String) -> Value {
        ["type": "array", "items": items, "description": .string(description)]
    }
}

extension ExecutionReport {
    /// The schema of `python`'s and `python_wait`'s `structuredContent`.
    public static let outputSchema: Value = Schema.object(
        [
            "status": Schema.enumeration(
                Status.allCases.map(\.rawValue),
                "ok: ran to the end; error: raised an exception; timeout: stopped after timeout_s; interrupted: stopped by python_interrupt or a cancelled call; running: still going, see run_id; busy: the session runs another call (run_id), nothing was run; died: the interpreter process ended and its state is gone."
            ),
            "session": Schema.string("The session the code ran in."),
            "run_id": Schema.string(
                "This run (for python_wait and python_output); for busy, the run occupying the session."),
            "generation": Schema.integer(
                "The session's interpreter number; it goes up each time the session starts afresh."),
            "execution_count": Schema.integer("The execution count, as In [n]."),
            "duration_s": Schema.number("Wall time so far, in seconds."),
            "cpu_s": Schema.number("CPU time the code used, in seconds."),
            "peak_rss_bytes": Schema.integer("Peak resident memory of the interpreter."),
            "stdout": Schema.string(
                "Standard output (since the last look, for python_wait), within the output budget."),
            "stderr": Schema.string("Standard error, within the output budget."),
            "result": Schema.string("The value of the final expression, as text."),
            "error": Schema.object(
                [
                    "type": Schema.string("The exception class."),
                    "message": Schema.string("The exception's message."),
                    "traceback": Schema.array(of: ["type": "string"], "The traceback, line by line."),
                ], required: ["type", "message", "traceback"]),
            "images": Schema.array(
                of: Schema.object(
                    [
                        "mime_type": Schema.enumeration(["image/png", "image/jpeg"], "The image format."),
                        "bytes": Schema.integer("Size of the image."),
                        "inline": Schema.boolean("True when the image is in this reply's content."),
                        "path": Schema.string("Where the image was saved when it was not sent inline."),
                    ], required: ["mime_type", "bytes", "inline"]),
                "Images the code displayed, in order."),
            "truncation": Schema.object(
                [
                    "stdout": streamTruncationSchema,
                    "stderr": streamTruncationSchema,
                    "full_output_path": Schema.string("The file with the run's whole output."),
                    "images_not_inline": Schema.integer("Images saved to files instead of sent inline."),
                ], required: ["full_output_path", "images_not_inline"]),
            "notices": Schema.array(
                of: Schema.object(
                    [
                        "kind": Schema.string(
                            "died, killed_after_interrupt, killed_after_timeout, timed_out, reset, closed, evicted, culled, cancelled, failed_to_start, …"
                        ),
                        "state_lost": Schema.boolean("True when the session's variables and imports are gone."),
                        "message": Schema.string("The notice in words."),
                    ], required: ["kind", "state_lost", "message"]),
                "What the server must say about the session, such as lost state and why."),
        ],
        required: ["status", "session", "generation", "duration_s", "stdout", "stderr", "images", "notices"])

    private static let streamTruncationSchema: Value = Schema.object(
        [
            "elided_characters": Schema.integer("Characters left out of this reply."),
            "first_line": Schema.integer("First line left out (1-based, in the full output)."),
            "last_line": Schema.integer("Last line left out."),
            "squashed_lines": Schema.integer("Repeated lines folded into a note."),
        ], required: ["elided_characters", "first_line", "last_line", "squashed_lines"])
}

extension InterruptReport {
    /// The schema of `python_interrupt`'s `structuredContent`.
    public static let outputSchema: Value = Schema.object(
        [
            "session": Schema.string("The session."),
            "outcome": Schema.enumeration(
                Outcome.allCases.map(\.rawValue),
                "interrupted: the code stopped, state kept; restarted: it ignored the interrupt, so its interpreter was ended and state is lost (the next call starts a fresh one); finished: it ended without stopping on KeyboardInterrupt (it finished first, or caught it); still_running: the interrupt was sent, python_wait(run_id) follows the run; nothing_running: the session was idle."
            ),
            "state_kept": Schema.boolean("True when the session's variables and imports survive."),
            "run_id": Schema.string("The run that was interrupted."),
            "message": Schema.string("What happened, in words."),
        ], required: ["session", "outcome", "state_kept", "message"])
}

extension SessionsReport {
    /// The schema of `python_sessions`'s `structuredContent`.
    public static let outputSchema: Value = Schema.object(
        [
            "action": Schema.enumeration(Action.allCases.map(\.rawValue), "What was done."),
            "sessions": Schema.array(
                of: Schema.object(
                    [
                        "session": Schema.string("The session name."),
                        "status": Schema.enumeration(
                            Session.Status.allCases.map(\.rawValue), "The interpreter's state."),
                        "pid": Schema.integer("The interpreter's process id."),
                        "interpreter": Schema.string("The Python executable."),
                        "python_version": Schema.string("Its version."),
                        "cwd": Schema.string("Its working directory."),
                        "generation": Schema.integer("Its interpreter number (goes up on each fresh start)."),
                        "execution_count": Schema.integer("Executions so far."),
                        "memory_bytes": Schema.integer("Resident memory."),
                        "idle_s": Schema.number("Seconds since its last call ended."),
                        "running_run_id": Schema.string("The run it is busy with."),
                    ], required: ["session", "status", "generation", "execution_count", "idle_s"]),
                "Every session, after the action."),
            "message": Schema.string("What a reset or close did."),
        ], required: ["action", "sessions"])
}

extension OutputPage {
    /// The schema of `python_output`'s `structuredContent`.
    public static let outputSchema: Value = Schema.object(
        [
            "run_id": Schema.string("The run."),
            "running": Schema.boolean("True while the run is still going."),
            "offset": Schema.integer("Lines skipped."),
            "lines": Schema.array(
                of: Schema.object(
                    ["number": Schema.integer("Line number, from 1."), "text": Schema.string("The line.")],
                    required: ["number", "text"]),
                "The page."),
            "total_lines": Schema.integer("Lines in the output so far."),
            "matching_lines": Schema.integer("Lines that match grep."),
            "next_offset": Schema.integer("The offset of the next page; absent on the last page."),
            "shortened_lines": Schema.array(of: ["type": "integer"], "Numbers of lines cut to fit the reply."),
            "path": Schema.string("The file with the whole output."),
        ], required: ["run_id", "running", "offset", "lines", "total_lines", "shortened_lines", "path"])
}
