import Foundation

/// A client of a pyrun server over its Unix socket: what `pyrun exec`, `pyrun attach`,
/// `pyrun ls` and `pyrun stop` use, and any program that wants a shared session of another
/// process. Requests may overlap (an observation, an execution and an interrupt at once);
/// each gets its own `ReplyStream`.
///
/// ```swift
/// let client = try await ServeClient.connect()             // the only (or "default") server
/// let run = try await client.execute("print('hi')", session: "main", client: "me")
/// for try await event in run { print(event) }                // …ending with .finished(outcome)
/// await client.close()
/// ```
public actor ServeClient {
    /// Who the server is, as its `welcome` said.
    public nonisolated let server: ServerInfo
    private let channel: SocketLineChannel
    private var pending: [String: PendingReply] = [:]
    private var nextTag = 0
    private var connectionLost = false
    private var reading: Task<Void, Never>?
    private let disconnected = SetOnceValue<Bool>()

    private struct PendingReply {
        var buffer: ReplyBuffer
        var isEnd: @Sendable (ServeMessage) -> Bool
    }

    private init(channel: SocketLineChannel, server: ServerInfo) {
        self.channel = channel
        self.server = server
    }

    /// Connects to the server listening at `socketPath` and reads its `welcome`, waiting at
    /// most `welcomeTimeout` for it.
    /// - Throws: `ServeError` with `.serverNotFound` when nothing listens there,
    ///   `.protocolMismatch` for a server of another protocol version.
    public static func connect(
        socketPath: String, welcomeTimeout: Duration = .seconds(30)
    ) async throws(ServeError) -> ServeClient {
        let fd = try UnixSocket.connect(to: socketPath)
        let channel = SocketLineChannel(fd: fd, name: "pyrun client")
        // A server that accepts but never greets (hung, or not a pyrun server) is given up on.
        let greetingDeadline = Task {
            try await Task.sleep(for: welcomeTimeout)
            channel.close()
        }
        defer { greetingDeadline.cancel() }
        guard let line = await channel.nextLine() else {
            channel.close()
            throw ServeError(.connectionLost, "the server at \(socketPath) closed the connection without a welcome")
        }
        guard let json = try? JSONValue.parse(line), case (.welcome(let info), _)? = ServeMessage.decode(json) else {
            channel.close()
            throw ServeError(.protocolMismatch, "the server at \(socketPath) did not greet as a pyrun server does")
        }
        guard info.protocolVersion == ServeProtocol.version else {
            channel.close()
            throw ServeError(
                .protocolMismatch,
                "the server '\(info.name)' speaks serve protocol \(info.protocolVersion); this pyrun speaks \(ServeProtocol.version)"
            )
        }
        let client = ServeClient(channel: channel, server: info)
        await client.startReading()
        return client
    }

    /// Connects to the live server `name` in `runDirectory` (nil: the only one running, else
    /// the one named `default`).
    /// - Throws: `ServeError` with `.serverNotFound` saying what runs instead.
    public static func connect(
        server name: String? = nil, runDirectory: RunDirectory = .standard()
    ) async throws(ServeError) -> ServeClient {
        let file = try runDirectory.liveServer(named: name)
        return try await connect(socketPath: file.socketPath)
    }

    /// Ends the connection; every open reply stream ends with `.connectionLost`.
    public func close() {
        channel.close()
    }

    /// Returns once the connection has ended (the server closed it, or `close()`), or once the
    /// calling task is cancelled, whichever comes first. After `stopServer()`, the server
    /// closes connections only once every kernel is gone.
    public nonisolated func waitUntilDisconnected() async {
        _ = await disconnected.wait()
    }

    // MARK: - Requests

    /// Sends `request` and returns the stream of its answers.
    public func send(_ request: ServeRequest) async -> ReplyStream {
        nextTag += 1
        let tag = "\(nextTag)"
        let buffer = ReplyBuffer()
        let isEnd = Self.endOfReplies(to: request)
        if connectionLost {
            buffer.finish()
            return ReplyStream(buffer: buffer)
        }
        pending[tag] = PendingReply(buffer: buffer, isEnd: isEnd)
        if !(await channel.send(request.json(tag: tag))) { lose() }
        return ReplyStream(buffer: buffer)
    }

    /// Runs `code` in `session` and returns its events as they come, ending with `finished`.
    /// - Parameters:
    ///   - code: Python source.
    ///   - session: the session's name; the server makes it on first use.
    ///   - client: how this client is labelled in the session's journal.
    ///   - stream: false sends only `finished` (for a client that watches the journal anyway).
    ///   - options: timeout, output cap and stdin for this execution.
    /// - Throws: `ServeError` when the server refused the request.
    public func execute(
        _ code: String, session: String, client: String, stream: Bool = true,
        options: RemoteExecutionOptions = RemoteExecutionOptions()
    ) async throws(ServeError) -> RemoteExecution {
        let replies = await send(
            .execute(session: session, code: code, client: client, stream: stream, options: options))
        var iterator = replies.makeAsyncIterator()
        while let message = await iterator.next() {
            switch message {
            case .accepted(_, let id): return RemoteExecution(id: id, session: session, replies: iterator)
            case .error(let error): throw error
            default: continue
            }
        }
        throw ServeError(.connectionLost, "the connection ended before the server accepted the code")
    }

    /// Observes `session`'s journal (see `SessionJournal.observe(from:)`): `gap`, `entry`…,
    /// `live`, live `entry`…, and `observeEnd` last.
    public func observe(session: String, from sequence: Int? = nil, journal: String? = nil) async -> ReplyStream {
        await send(.observe(session: session, from: sequence, journal: journal))
    }

    /// Answers an `input()` prompt of one of this client's executions (nil: end of input).
    public func sendInput(_ value: String?, session: String, executionID: String) async {
        guard !connectionLost else { return }
        let request = ServeRequest.inputReply(session: session, executionID: executionID, value: value)
        if !(await channel.send(request.json(tag: nil))) { lose() }
    }

    /// Interrupts whatever runs in `session`.
    public func interrupt(session: String, client: String) async throws(ServeError) {
        try await expectOK(.interrupt(session: session, client: client))
    }

    /// Interrupts (or withdraws) this client's execution `executionID`.
    public func cancel(session: String, executionID: String) async throws(ServeError) {
        try await expectOK(.cancel(session: session, executionID: executionID))
    }

    /// Gives `session` a fresh interpreter.
    public func reset(session: String, client: String) async throws(ServeError) {
        try await expectOK(.reset(session: session, client: client))
    }

    /// Completions from `session`'s kernel.
    public func complete(session: String, code: String, cursor: Int? = nil) async throws(ServeError) -> CompletionResult
    {
        let reply = try await singleReply(.complete(session: session, code: code, cursor: cursor))
        guard case .completions(let result) = reply else { throw unexpected(reply) }
        return result
    }

    /// Whether `code` is complete, by `session`'s kernel.
    public func isComplete(session: String, code: String) async throws(ServeError) -> CodeCompleteness {
        let reply = try await singleReply(.isComplete(session: session, code: code))
        guard case .completeness(let result) = reply else { throw unexpected(reply) }
        return result
    }

    /// Every session of the server.
    public func sessions() async throws(ServeError) -> [SessionStatus] {
        let reply = try await singleReply(.sessions)
        guard case .sessions(let statuses) = reply else { throw unexpected(reply) }
        return statuses
    }

    /// Asks the server to shut every kernel down and exit; returns once it agreed.
    public func stopServer() async throws(ServeError) {
        try await expectOK(.stop)
    }

    // MARK: - Internals

    private func expectOK(_ request: ServeRequest) async throws(ServeError) {
        let reply = try await singleReply(request)
        guard case .ok = reply else { throw unexpected(reply) }
    }

    private func singleReply(_ request: ServeRequest) async throws(ServeError) -> ServeMessage {
        for await message in await send(request) {
            if case .error(let error) = message { throw error }
            return message
        }
        throw ServeError(.connectionLost, "the connection to '\(server.name)' ended before the answer came")
    }

    private func unexpected(_ message: ServeMessage) -> ServeError {
        ServeError(.badRequest, "unexpected answer from the server: \(message.json(tag: nil).serialized())")
    }

    /// Which message ends the answers to `request`.
    private static func endOfReplies(to request: ServeRequest) -> @Sendable (ServeMessage) -> Bool {
        switch request {
        case .execute:
            return { message in
                switch message {
                case .event(_, .finished), .error: true
                default: false
                }
            }
        case .observe:
            return { message in
                switch message {
                case .observeEnd, .error: true
                default: false
                }
            }
        default:
            return { _ in true }
        }
    }

    private func startReading() {
        let channel = self.channel
        reading = Task { [weak self] in
            while let line = await channel.nextLine() {
                guard let json = try? JSONValue.parse(line), let (message, tag) = ServeMessage.decode(json), let tag,
                    let self
                else { continue }
                await self.route(message, tag: tag)
            }
            await self?.lose()
        }
    }

    private func route(_ message: ServeMessage, tag: String) async {
        guard let reply = pending[tag] else { return }
        let isEnd = reply.isEnd(message)
        if isEnd { pending.removeValue(forKey: tag) }
        await reply.buffer.push(message)
        if isEnd { reply.buffer.finish() }
    }

    /// The connection is gone: every open reply ends with `.connectionLost`.
    private func lose() {
        guard !connectionLost else { return }
        connectionLost = true
        channel.close()
        disconnected.fulfill(true)
        let open = pending.values
        pending.removeAll()
        let error = ServeMessage.error(
            ServeError(.connectionLost, "the connection to the server '\(server.name)' was lost"))
        for reply in open {
            Task {
                await reply.buffer.push(error)
                reply.buffer.finish()
            }
        }
    }
}

/// An execution on a server, as `ServeClient.execute` returns it: its events as they come,
/// ending with `finished`. Iterating throws `ServeError` if the connection is lost first.
public struct RemoteExecution: AsyncSequence, Sendable {
    public typealias Element = ExecutionEvent

    /// The execution's id in its session.
    public let id: String
    /// The session it runs in.
    public let session: String
    private let replies: ReplyStream.Iterator

    init(id: String, session: String, replies: ReplyStream.Iterator) {
        self.id = id
        self.session = session
        self.replies = replies
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(replies: replies)
    }

    public struct Iterator: AsyncIteratorProtocol, Sendable {
        var replies: ReplyStream.Iterator
        var ended = false

        public mutating func next() async throws -> ExecutionEvent? {
            guard !ended else { return nil }
            while let message = await replies.next() {
                switch message {
                case .event(_, let event):
                    if case .finished = event { ended = true }
                    return event
                case .error(let error):
                    ended = true
                    throw error
                default:
                    continue
                }
            }
            ended = true
            throw ServeError(.connectionLost, "the connection ended before the execution finished")
        }
    }
}
