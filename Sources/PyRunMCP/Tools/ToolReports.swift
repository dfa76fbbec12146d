/// What `python_interrupt` returns as `structuredContent`.
public struct InterruptReport: Codable, Sendable, Hashable {
    public enum Outcome: String, Codable, Sendable, Hashable, CaseIterable {
        /// The code stopped on KeyboardInterrupt; the session's state is kept.
        case interrupted
        /// The code ignored the interrupt, so its interpreter was ended; state is lost and the
        /// next call starts a fresh one.
        case restarted
        /// The code ended without stopping on KeyboardInterrupt: it finished before the
        /// interrupt arrived, or it caught the KeyboardInterrupt.
        case finished
        /// The interrupt was sent and the code has not ended yet (`python_wait` follows it).
        case stillRunning = "still_running"
        /// Nothing was running.
        case nothingRunning = "nothing_running"
    }

    public var session: String
    public var outcome: Outcome
    public var stateKept: Bool
    /// The run that was interrupted.
    public var runID: String?
    public var message: String

    enum CodingKeys: String, CodingKey {
        case session, outcome
        case stateKept = "state_kept"
        case runID = "run_id"
        case message
    }

    public init(session: String, outcome: Outcome, stateKept: Bool, runID: String? = nil, message: String) {
        self.session = session
        self.outcome = outcome
        self.stateKept = stateKept
        self.runID = runID
        self.message = message
    }
}

/// What `python_sessions` returns as `structuredContent`.
public struct SessionsReport: Codable, Sendable, Hashable {
    public enum Action: String, Codable, Sendable, Hashable, CaseIterable {
        case list, reset, close
    }

    /// One session as listed.
    public struct Session: Codable, Sendable, Hashable {
        public enum Status: String, Codable, Sendable, Hashable, CaseIterable {
            /// `starting`: a call is waiting for the session's interpreter to start.
            /// `dead`: its interpreter ended; the next call on it starts a fresh one.
            case idle, busy, starting, dead
        }

        public var session: String
        public var status: Status
        public var pid: Int?
        /// The interpreter's path.
        public var interpreter: String?
        public var pythonVersion: String?
        public var cwd: String?
        public var generation: Int
        public var executionCount: Int
        /// Resident memory of the kernel process.
        public var memoryBytes: Int?
        /// Seconds since its last call ended (0 while busy).
        public var idleSeconds: Double
        /// The run it is busy with.
        public var runningRunID: String?

        enum CodingKeys: String, CodingKey {
            case session, status, pid, interpreter
            case pythonVersion = "python_version"
            case cwd, generation
            case executionCount = "execution_count"
            case memoryBytes = "memory_bytes"
            case idleSeconds = "idle_s"
            case runningRunID = "running_run_id"
        }

        public init(
            session: String, status: Status, pid: Int? = nil, interpreter: String? = nil, pythonVersion: String? = nil,
            cwd: String? = nil, generation: Int, executionCount: Int, memoryBytes: Int? = nil, idleSeconds: Double,
            runningRunID: String? = nil
        ) {
            self.session = session
            self.status = status
            self.pid = pid
            self.interpreter = interpreter
            self.pythonVersion = pythonVersion
            self.cwd = cwd
            self.generation = generation
            self.executionCount = executionCount
            self.memoryBytes = memoryBytes
            self.idleSeconds = idleSeconds
            self.runningRunID = runningRunID
        }
    }

    public var action: Action
    public var sessions: [Session]
    /// What a reset or close did, in words.
    public var message: String?

    public init(action: Action, sessions: [Session], message: String? = nil) {
        self.action = action
        self.sessions = sessions
        self.message = message
    }
}

/// What `python_output` returns as `structuredContent`: one page of a run's full output.
public struct OutputPage: Codable, Sendable, Hashable {
    /// One numbered line.
    public struct Line: Codable, Sendable, Hashable {
        /// 1-based, in the run's full output.
        public var number: Int
        public var text: String

        public init(number: Int, text: String) {
            self.number = number
            self.text = text
        }
    }

    public var runID: String
    /// True while the run is still going (more lines may come).
    public var running: Bool
    /// Lines skipped (of the matching lines, with `grep`).
    public var offset: Int
    public var lines: [Line]
    /// Lines in the output so far.
    public var totalLines: Int
    /// Lines that matched `grep` (nil without it).
    public var matchingLines: Int?
    /// The `offset` of the next page; nil on the last page.
    public var nextOffset: Int?
    /// Lines cut to fit the reply, by line number.
    public var shortenedLines: [Int]
    /// The file the page was read from.
    public var path: String

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case running, offset, lines
        case totalLines = "total_lines"
        case matchingLines = "matching_lines"
        case nextOffset = "next_offset"
        case shortenedLines = "shortened_lines"
        case path
    }

    public init(
        runID: String, running: Bool, offset: Int, lines: [Line], totalLines: Int, matchingLines: Int? = nil,
        nextOffset: Int? = nil, shortenedLines: [Int] = [], path: String
    ) {
        self.runID = runID
        self.running = running
        self.offset = offset
        self.lines = lines
        self.totalLines = totalLines
        self.matchingLines = matchingLines
        self.nextOffset = nextOffset
        self.shortenedLines = shortenedLines
        self.path = path
    }
}
