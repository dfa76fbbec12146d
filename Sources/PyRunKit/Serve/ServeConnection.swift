import Foundation

/// Where a connection's messages go: a front end's writer for one client (a Unix socket, a
/// WebSocket).
public protocol ServeMessageSink: Sendable {
    /// Sends one message (a JSON object) to the client. Returns once the transport took it,
    /// waiting while its buffer is full, so a slow client holds back only what it asked for.
    /// - Returns: false once the client is gone; nothing more needs sending.
    func send(_ message: JSONValue) async -> Bool
}

/// One client of a `SessionHost`, whatever carries its messages: the front end hands it each
/// request (`receive`), and it answers through its sink. A request's answers carry the
/// request's `tag`. Requests are taken in the order received: two `execute`s from one client
/// are queued in that order. See docs/serve-protocol.md for the messages.
///
/// When the client goes away (`close()`), its observations end and its `input()` prompts get
/// end of input; its executions run on (they belong to the session now) and their events stop
/// being sent.
public actor ServeConnection {
    private let host: SessionHost
    private let sink: any ServeMessageSink
    /// Running observations, by the tag of the request that started them.
    private var observations: [String: Task<Void, Never>] = [:]
    private var untaggedObservations: [Task<Void, Never>] = []
    /// This client's executions, by session and id, for `cancel`.
    private var executions: [ExecutionKey: Execution] = [:]
    /// `input()` prompts waiting for this client's answer.
    private var inputWaiters: [ExecutionKey: [CheckedContinuation<String?, Never>]] = [:]
    /// Answers that came before their prompt was waited for.
    private var earlyInputs: [ExecutionKey: [String?]] = [:]
    private var closed = false

    private struct ExecutionKey: Hashable {
        var session: String
        var id: String
    }

    /// - Parameters:
    ///   - host: the sessions this client reaches.
    ///   - sink: where this client's messages go.
    public init(host: SessionHost, sink: any ServeMessageSink) {
        self.host = host
        self.sink = sink
    }

    /// Sends the `welcome`; call once, before the first request.
    public func start() async {
        _ = await sink.send(ServeMessage.welcome(host.info).json(tag: nil))
    }

    /// Handles one line of NDJSON from the client: a request, or an `error` answer when it is
    /// not one.
    public func receive(line: [UInt8]) async {
        guard !line.isEmpty, line != [0x0D] else { return }
        let json: JSONValue
        do {
            json = try JSONValue.parse(line)
        } catch {
            await send(.error(ServeError(.badRequest, "not JSON: \(error)")), tag: nil)
            return
        }
        await receive(json)
    }

    /// Handles one request object. What takes long (an execution's events, an observation, a
    /// completion) continues in the background; the next request may come at once.
    public func receive(_ json: JSONValue) async {
        let tag = json["tag"]?.stringValue
        let request: ServeRequest
        do {
            request = try ServeRequest(json: json)
        } catch {
            await send(.error(error), tag: tag)
            return
        }
        guard !closed else { return }
        do {
            try await handle(request, tag: tag)
        } catch {
            await send(.error(Self.serveError(error)), tag: tag)
        }
    }

    /// The client is gone: observations end, `input()` prompts get end of input, and
    /// nothing more is sent.
    public func close() {
        closed = true
        for task in observations.values { task.cancel() }
        for task in untaggedObservations { task.cancel() }
        observations.removeAll()
        untaggedObservations.removeAll()
        executions.removeAll()
        let waiters = inputWaiters.values.flatMap { $0 }
        inputWaiters.removeAll()
        earlyInputs.removeAll()
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    // MARK: - Requests

    private func handle(_ request: ServeRequest, tag: String?) async throws {
        switch request {
        case .execute(let sessionName, let code, let client, let stream, let remoteOptions):
            try await execute(code, in: sessionName, client: client, stream: stream, options: remoteOptions, tag: tag)
        case .inputReply(let sessionName, let id, let value):
            deliverInput(value, to: ExecutionKey(session: sessionName, id: id))
        case .cancel(let sessionName, let id):
            if let execution = executions[ExecutionKey(session: sessionName, id: id)] {
                Task { await execution.cancel() }
            }
            await send(.ok, tag: tag)
        case .interrupt(let sessionName, let client):
            try await host.session(named: sessionName).interrupt(client: client)
            await send(.ok, tag: tag)
        case .reset(let sessionName, let client):
            let session = try await host.session(named: sessionName)
            background(tag: tag) {
                try await session.reset(client: client)
                return .ok
            }
        case .observe(let sessionName, let from, let journalID):
            let session = try await host.session(named: sessionName)
            observe(session, from: from, journalID: journalID, tag: tag)
        case .unobserve(let observeTag):
            observations.removeValue(forKey: observeTag)?.cancel()
            await send(.ok, tag: tag)
        case .complete(let sessionName, let code, let cursor):
            let session = try await host.session(named: sessionName)
            background(tag: tag) { .completions(try await session.complete(code: code, cursor: cursor)) }
        case .isComplete(let sessionName, let code):
            let session = try await host.session(named: sessionName)
            background(tag: tag) { .completeness(try await session.isComplete(code: code)) }
        case .sessions:
            await send(.sessions(await host.statuses()), tag: tag)
        case .stop:
            await send(.ok, tag: tag)
            let host = self.host
            Task { await host.stop() }
        }
    }

    private func execute(
        _ code: String, in sessionName: String, client: String, stream: Bool,
        options remoteOptions: RemoteExecutionOptions,
        tag: String?
    ) async throws {
        let session = try await host.session(named: sessionName)
        var options = ExecutionOptions(timeout: remoteOptions.timeout, maxOutputBytes: remoteOptions.maxOutputBytes)
        let assignedID = SetOnceValue<String>()
        if remoteOptions.allowStdin {
            options.stdinHandler = { [weak self] _ in
                guard let self, let id = await assignedID.wait(),
                    let answer = await self.waitForInput(ExecutionKey(session: sessionName, id: id))
                else { throw EndOfClientInput() }
                return answer
            }
        }
        let execution = await session.execute(code, client: client, options: options)
        assignedID.fulfill(execution.id)
        let key = ExecutionKey(session: sessionName, id: execution.id)
        executions[key] = execution
        await send(.accepted(session: sessionName, executionID: execution.id), tag: tag)
        let sink = self.sink
        Task {
            await Self.forward(execution, streaming: stream, to: sink, tag: tag)
            self.forget(key)
        }
    }

    /// Sends the execution's events (only `finished` when not `streaming`), off the actor;
    /// stops when the client is gone. Every event is read, so none is kept for nobody.
    private nonisolated static func forward(
        _ execution: Execution, streaming: Bool, to sink: any ServeMessageSink, tag: String?
    ) async {
        for await event in execution {
            let isLast: Bool = if case .finished = event { true } else { false }
            guard streaming || isLast else { continue }
            let message = ServeMessage.event(executionID: execution.id, event).json(tag: tag)
            if !(await sink.send(message)) { return }
        }
    }

    private func observe(_ session: SharedSession, from: Int?, journalID: String?, tag: String?) {
        let journal = session.journal
        // A sequence number from another journal (the server restarted) means nothing here:
        // replay everything kept, with a gap marker if some was dropped.
        let start = journalID != nil && journalID != journal.id ? 1 : from
        let observation = journal.observe(from: start)
        let sink = self.sink
        let task = Task { await Self.forward(observation, of: journal, to: sink, tag: tag) }
        if let tag {
            observations[tag]?.cancel()
            observations[tag] = task
        } else {
            untaggedObservations.append(task)
        }
    }

    /// Sends an observation's items, off the actor, then one `observe_end`; stops when the
    /// client is gone.
    private nonisolated static func forward(
        _ observation: JournalObservation, of journal: SessionJournal, to sink: any ServeMessageSink, tag: String?
    ) async {
        var end: ObserveEndReason = .closed
        observing: for await item in observation {
            let message: ServeMessage
            switch item {
            case .entry(let entry): message = .entry(entry)
            case .gap(let gap): message = .gap(gap)
            case .live(let next): message = .live(nextSequence: next, journal: journal.id)
            case .fellBehind(let resume):
                end = .fellBehind(resumeFrom: resume)
                break observing
            }
            if !(await sink.send(message.json(tag: tag))) { return }
        }
        if Task.isCancelled, case .closed = end { end = .cancelled }
        _ = await sink.send(ServeMessage.observeEnd(end).json(tag: tag))
    }

    /// Runs `work` in the background and sends what it returns (or its error).
    private func background(tag: String?, _ work: @escaping @Sendable () async throws -> ServeMessage) {
        let sink = self.sink
        Task {
            let message: ServeMessage
            do {
                message = try await work()
            } catch {
                message = .error(Self.serveError(error))
            }
            _ = await sink.send(message.json(tag: tag))
        }
    }

    // MARK: - Helpers

    private func send(_ message: ServeMessage, tag: String?) async {
        guard !closed else { return }
        _ = await sink.send(message.json(tag: tag))
    }

    private func forget(_ key: ExecutionKey) {
        executions.removeValue(forKey: key)
        earlyInputs.removeValue(forKey: key)
        let waiters = inputWaiters.removeValue(forKey: key) ?? []
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// The client's answer to a prompt of `key`; nil for end of input or a client that left.
    private func waitForInput(_ key: ExecutionKey) async -> String? {
        if var early = earlyInputs[key], !early.isEmpty {
            let answer = early.removeFirst()
            earlyInputs[key] = early
            return answer
        }
        guard !closed, executions[key] != nil else { return nil }
        return await withCheckedContinuation { continuation in
            inputWaiters[key, default: []].append(continuation)
        }
    }

    private func deliverInput(_ value: String?, to key: ExecutionKey) {
        if var waiters = inputWaiters[key], !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            inputWaiters[key] = waiters
            waiter.resume(returning: value)
        } else if executions[key] != nil {
            earlyInputs[key, default: []].append(value)
        }
    }

    private static func serveError(_ error: any Error) -> ServeError {
        if let error = error as? ServeError { return error }
        if let error = error as? KernelError { return ServeError(.kernelFailed, error.message) }
        return ServeError(.kernelFailed, "\(error)")
    }
}

/// The client sent end of input for an `input()` prompt, or went away.
struct EndOfClientInput: Error, CustomStringConvertible {
    var description: String { "the client's input ended" }
}
