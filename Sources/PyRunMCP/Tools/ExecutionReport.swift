import MCP

/// What `python` and `python_wait` return as `structuredContent`: one run's state and output,
/// as declared by `ExecutionReport.outputSchema`.
public struct ExecutionReport: Codable, Sendable, Hashable {
    /// How the run stands.
    public enum Status: String, Codable, Sendable, Hashable, CaseIterable {
        /// The code ran to the end.
        case ok
        /// The code raised an exception (see `error`).
        case error
        /// It ran past `timeout_s` and was stopped.
        case timeout
        /// It was interrupted (`python_interrupt`, or the client cancelled the call).
        case interrupted
        /// Still running after `wait_s`: `python_wait` with `run_id` gets the rest.
        case running
        /// The session was already running another call (`run_id` names it); nothing was run.
        case busy
        /// The kernel process died; its state is gone (a notice says why).
        case died

        /// True for the statuses a client must see as a failed call (`isError`).
        public var isError: Bool { self != .ok && self != .running }
    }

    /// The exception that ended the code.
    public struct PythonException: Codable, Sendable, Hashable {
        /// The exception class, e.g. `ZeroDivisionError`.
        public var type: String
        /// `str()` of the exception.
        public var message: String
        /// The formatted traceback, one entry per line.
        public var traceback: [String]

        public init(type: String, message: String, traceback: [String]) {
            self.type = type
            self.message = message
            self.traceback = traceback
        }
    }

    /// An image the code displayed.
    public struct Image: Codable, Sendable, Hashable {
        /// `image/png` or `image/jpeg`.
        public var mimeType: String
        /// Size of the decoded image.
        public var bytes: Int
        /// True when it is in this reply's `content` as image content.
        public var inline: Bool
        /// Where it was saved when it was too large (or too many) to send inline.
        public var path: String?

        enum CodingKeys: String, CodingKey {
            case mimeType = "mime_type"
            case bytes, inline, path
        }

        public init(mimeType: String, bytes: Int, inline: Bool, path: String? = nil) {
            self.mimeType = mimeType
            self.bytes = bytes
            self.inline = inline
            self.path = path
        }
    }

    /// What the output budget left out of one stream.
    public struct StreamTruncation: Codable, Sendable, Hashable {
        /// Characters left out.
        public var elidedCharacters: Int
        /// First and last line (1-based, in the run's full output) left out, wholly or partly.
        public var firstLine: Int
        public var lastLine: Int
        /// Lines folded into "repeats N more times" notes.
        public var squashedLines: Int

        enum CodingKeys: String, CodingKey {
            case elidedCharacters = "elided_characters"
            case firstLine = "first_line"
            case lastLine = "last_line"
            case squashedLines = "squashed_lines"
        }

        public init(elidedCharacters: Int, firstLine: Int, lastLine: Int, squashedLines: Int) {
            self.elidedCharacters = elidedCharacters
            self.firstLine = firstLine
            self.lastLine = lastLine
            self.squashedLines = squashedLines
        }
    }

    /// What this reply does not show in full, and where all of it is.
    public struct Truncation: Codable, Sendable, Hashable {
        public var stdout: StreamTruncation?
        public var stderr: StreamTruncation?
        /// The file that holds the run's whole output.
        public var fullOutputPath: String
        /// Images that were not sent inline (see `images`).
        public var imagesNotInline: Int

        enum CodingKeys: String, CodingKey {
            case stdout, stderr
            case fullOutputPath = "full_output_path"
            case imagesNotInline = "images_not_inline"
        }

        public init(
            stdout: StreamTruncation? = nil, stderr: StreamTruncation? = nil, fullOutputPath: String,
            imagesNotInline: Int = 0
        ) {
            self.stdout = stdout
            self.stderr = stderr
            self.fullOutputPath = fullOutputPath
            self.imagesNotInline = imagesNotInline
        }
    }

    /// Something the server must tell the model about the session, such as lost state.
    public struct Notice: Codable, Sendable, Hashable {
        /// A short machine-readable kind: `died`, `killed_after_interrupt`,
        /// `killed_after_timeout`, `timed_out`, `reset`, `closed`, `evicted`, `culled`,
        /// `cancelled`, `failed_to_start`, ….
        public var kind: String
        /// True when variables, imports and other state of the session are gone.
        public var stateLost: Bool
        /// The notice in words.
        public var message: String

        enum CodingKeys: String, CodingKey {
            case kind
            case stateLost = "state_lost"
            case message
        }

        public init(kind: String, stateLost: Bool, message: String) {
            self.kind = kind
            self.stateLost = stateLost
            self.message = message
        }
    }

    public var status: Status
    public var session: String
    /// This run; for `busy`, the run that occupies the session.
    public var runID: String?
    /// Counts the session's interpreters: it goes up whenever the session starts afresh.
    public var generation: Int
    /// The execution count, as In [n] in Jupyter.
    public var executionCount: Int?
    public var durationSeconds: Double
    public var cpuSeconds: Double?
    public var peakRSSBytes: Int?
    /// The output (for `python_wait`: since the last look), within the output budget.
    public var stdout: String
    public var stderr: String
    /// The value of the final expression, as text.
    public var result: String?
    public var error: PythonException?
    public var images: [Image]
    public var truncation: Truncation?
    public var notices: [Notice]

    enum CodingKeys: String, CodingKey {
        case status, session
        case runID = "run_id"
        case generation
        case executionCount = "execution_count"
        case durationSeconds = "duration_s"
        case cpuSeconds = "cpu_s"
        case peakRSSBytes = "peak_rss_bytes"
        case stdout, stderr, result, error, images, truncation, notices
    }

    public init(
        status: Status, session: String, runID: String? = nil, generation: Int, executionCount: Int? = nil,
        durationSeconds: Double, cpuSeconds: Double? = nil, peakRSSBytes: Int? = nil, stdout: String = "",
        stderr: String = "", result: String? = nil, error: PythonException? = nil, images: [Image] = [],
        truncation: Truncation? = nil, notices: [Notice] = []
    ) {
        self.status = status
        self.session = session
        self.runID = runID
        self.generation = generation
        self.executionCount = executionCount
        self.durationSeconds = durationSeconds
        self.cpuSeconds = cpuSeconds
        self.peakRSSBytes = peakRSSBytes
        self.stdout = stdout
        self.stderr = stderr
        self.result = result
        self.error = error
        self.images = images
        self.truncation = truncation
        self.notices = notices
    }

    /// The first line of the reply's `content`: status, session, execution count, duration,
    /// and what to do next when the run is not over.
    public var summaryLine: String {
        let count = executionCount.map { ", In [\($0)]" } ?? ""
        let duration = Self.formatSeconds(durationSeconds)
        let stateLost =
            notices.contains(where: \.stateLost) ? "; earlier state of the session is gone (see notices)" : ""
        switch status {
        case .ok:
            return "ok: session \"\(session)\"\(count), \(duration)\(stateLost)"
        case .error:
            // Without an exception the code never ran (the interpreter did not start): a notice says why.
            let what =
                error.map { $0.message.isEmpty ? $0.type : "\($0.type): \($0.message)" } ?? notices.last?.message
                ?? "an exception"
            return "error: \(Self.firstLine(of: what)) (session \"\(session)\"\(count), \(duration))\(stateLost)"
        case .timeout:
            return "timeout: stopped after \(duration) (session \"\(session)\"\(count))\(stateLost)"
        case .interrupted:
            return "interrupted after \(duration) (session \"\(session)\"\(count))\(stateLost)"
        case .running:
            let run = runID ?? "?"
            return
                "running: still going after \(duration) (session \"\(session)\", run \(run)); call python_wait(run_id: \"\(run)\") for the rest, or python_interrupt(session: \"\(session)\") to stop it"
        case .busy:
            let run = runID ?? "?"
            return
                "busy: session \"\(session)\" is still running \(run); nothing was run. Call python_wait(run_id: \"\(run)\"), python_interrupt(session: \"\(session)\"), or use another session"
        case .died:
            return "died: the kernel of session \"\(session)\" ended after \(duration); its state is gone (see notices)"
        }
    }

    static func formatSeconds(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 60 { return "\((seconds * 100).rounded() / 100) s" }
        return "\(Int(seconds / 60)) min \(Int(seconds.truncatingRemainder(dividingBy: 60))) s"
    }

    private static func firstLine(of text: String) -> Substring {
        text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }
}
