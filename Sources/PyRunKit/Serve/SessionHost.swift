import Foundation
import Logging

/// The core of a pyrun server: named shared sessions on one kernel pool, with no transport
/// of its own. Front ends (the Unix-socket daemon of `pyrun serve`, a browser console) hand
/// each client's requests to a `ServeConnection` made on the same host, so they all share
/// the same sessions and journals.
///
/// Sessions are made on first use of their name; each is a key of the pool with the host's
/// kernel configuration. `stop()` closes every session and shuts every kernel down.
public actor SessionHost {
    /// The server's name.
    public nonisolated let name: String
    /// When the host was made.
    public nonisolated let startedAt: Date
    /// The pool the sessions' kernels live in.
    public nonisolated let pool: KernelPool
    /// How much each session's journal keeps.
    public nonisolated let journalLimits: JournalLimits

    private var sessions: [String: SharedSession] = [:]
    /// Whether `stop()` shuts the whole pool down (the host made it) or only its sessions' keys.
    private let ownsPool: Bool
    private var stopping = false
    private let stopped = SetOnceValue<Bool>()

    /// Creates a host; no kernel starts until a session runs code.
    /// - Parameters:
    ///   - name: the server's name, as clients address it.
    ///   - poolConfiguration: lifetimes, and (as its default configuration) how each
    ///     session's kernel starts.
    ///   - journalLimits: how much each session's journal keeps.
    ///   - logger: where the pool and kernels log.
    public init(
        name: String, poolConfiguration: PoolConfiguration = PoolConfiguration(),
        journalLimits: JournalLimits = JournalLimits(), logger: Logger = Logger(label: "pyrun.serve")
    ) {
        self.name = name
        self.startedAt = Date()
        self.pool = KernelPool(configuration: poolConfiguration, logger: logger)
        self.journalLimits = journalLimits
        self.ownsPool = true
    }

    /// Creates a host on a pool that belongs to someone else (an MCP server's, whose agents'
    /// kernels a console should show): sessions made by name are keys of that pool, and
    /// `stop()` closes the host's sessions (shutting their keys down) but leaves the pool's
    /// other keys alone.
    public init(name: String, pool: KernelPool, journalLimits: JournalLimits = JournalLimits()) {
        self.name = name
        self.startedAt = Date()
        self.pool = pool
        self.journalLimits = journalLimits
        self.ownsPool = false
    }

    /// Who the host is, as a `welcome` says.
    public nonisolated var info: ServerInfo {
        ServerInfo(name: name, pid: getpid(), startedAt: startedAt)
    }

    /// The session named `name`, made now if it is new.
    /// - Throws: `ServeError` with `.invalidName` for an empty or unprintable name, or
    ///   `.stopping` once the host is stopping.
    public func session(named name: String) throws(ServeError) -> SharedSession {
        if let existing = sessions[name] { return existing }
        guard !stopping else { throw ServeError(.stopping, "the server '\(self.name)' is stopping") }
        try Self.validateSessionName(name)
        let session = SharedSession(name: name, pool: pool, journalLimits: journalLimits)
        sessions[name] = session
        return session
    }

    /// Offers a session made elsewhere (on this host's pool, or any other) to the host's
    /// clients under its name, so they observe and use the same journal.
    /// - Throws: `ServeError` with `.invalidName` when the host has another session of that
    ///   name, or `.stopping`.
    public func adopt(_ session: SharedSession) throws(ServeError) {
        guard !stopping else { throw ServeError(.stopping, "the server '\(self.name)' is stopping") }
        if let existing = sessions[session.name] {
            guard existing === session else {
                throw ServeError(
                    .invalidName, "the server '\(self.name)' already has a session named '\(session.name)'")
            }
            return
        }
        sessions[session.name] = session
    }

    /// How every session stands, sorted by name.
    public func statuses() async -> [SessionStatus] {
        var statuses: [SessionStatus] = []
        for name in sessions.keys.sorted() {
            if let session = sessions[name] { statuses.append(await session.status()) }
        }
        return statuses
    }

    /// The names of the sessions, sorted.
    public var sessionNames: [String] { sessions.keys.sorted() }

    /// Closes every session (observers see each kernel stop, then their observations end)
    /// and shuts every kernel down, with the library's escalation; returns when all are gone.
    /// Later calls wait for the first.
    public func stop() async {
        guard !stopping else {
            _ = await stopped.wait()
            return
        }
        stopping = true
        let closing = Array(sessions.values)
        await withTaskGroup(of: Void.self) { group in
            for session in closing { group.addTask { await session.close() } }
        }
        if ownsPool { await pool.shutdownAll() }
        stopped.fulfill(true)
    }

    /// Whether `stop()` has begun.
    public var isStopping: Bool { stopping }

    /// Returns once the host has stopped (`stop()` finished), whoever asked for it.
    public nonisolated func waitUntilStopped() async {
        _ = await Task { await stopped.wait() }.value
    }

    /// Session names: 1–100 characters, none of them a control character or a slash.
    static func validateSessionName(_ name: String) throws(ServeError) {
        guard !name.isEmpty, name.count <= 100,
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "/" })
        else {
            throw ServeError(
                .invalidName,
                "session name \(name.debugDescription) must be 1–100 characters, without control characters or '/'")
        }
    }
}
