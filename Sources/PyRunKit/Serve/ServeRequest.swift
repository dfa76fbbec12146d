/// A request from a client to a pyrun server (see docs/serve-protocol.md). On the wire it is
/// one JSON object with an `op` and an optional `tag`, which the server copies into every
/// message that answers it.
public enum ServeRequest: Sendable, Hashable {
    /// Runs `code` in `session` for `client`. The server answers `accepted` with the
    /// execution's id, then (when `stream`) each `event`, and always `finished` last.
    case execute(session: String, code: String, client: String, stream: Bool, options: RemoteExecutionOptions)
    /// Answers an `input()` prompt of execution `executionID`; nil `value` is end of input
    /// (the prompt raises `EOFError`).
    case inputReply(session: String, executionID: String, value: String?)
    /// Interrupts the execution if it runs, withdraws it if it waits.
    case cancel(session: String, executionID: String)
    /// Interrupts whatever runs in the session, on behalf of `client`.
    case interrupt(session: String, client: String)
    /// Gives the session a fresh interpreter, on behalf of `client`.
    case reset(session: String, client: String)
    /// Replays the session's journal from `from` (nil: the oldest kept), then follows live.
    /// With `journal`, a `from` taken from another journal (the server restarted since)
    /// replays everything kept instead.
    case observe(session: String, from: Int?, journal: String?)
    /// Ends the observation started by the request tagged `observeTag`.
    case unobserve(observeTag: String)
    /// Completions for `code` at `cursor` (Unicode scalars; nil: the end).
    case complete(session: String, code: String, cursor: Int?)
    /// Whether `code` is complete, needs more lines, or is invalid.
    case isComplete(session: String, code: String)
    /// Every session and how it stands.
    case sessions
    /// Shuts every kernel down and ends the server.
    case stop

    /// The session the request is about, if any.
    public var session: String? {
        switch self {
        case .execute(let session, _, _, _, _), .inputReply(let session, _, _), .cancel(let session, _),
            .interrupt(let session, _), .reset(let session, _), .observe(let session, _, _),
            .complete(let session, _, _), .isComplete(let session, _):
            session
        case .unobserve, .sessions, .stop: nil
        }
    }
}

/// What a remote client may set for one execution.
public struct RemoteExecutionOptions: Sendable, Hashable {
    /// Interrupt the code after this long.
    public var timeout: Duration?
    /// The runner drops output past this many bytes.
    public var maxOutputBytes: Int?
    /// `input()` sends an `input_request` event and waits for the client's `input_reply`;
    /// without it, `input()` raises `EOFError` at once.
    public var allowStdin: Bool

    public init(timeout: Duration? = nil, maxOutputBytes: Int? = nil, allowStdin: Bool = false) {
        self.timeout = timeout
        self.maxOutputBytes = maxOutputBytes
        self.allowStdin = allowStdin
    }
}

extension ServeRequest {
    /// The operation names on the wire.
    enum Op {
        static let execute = "execute"
        static let inputReply = "input_reply"
        static let cancel = "cancel"
        static let interrupt = "interrupt"
        static let reset = "reset"
        static let observe = "observe"
        static let unobserve = "unobserve"
        static let complete = "complete"
        static let isComplete = "is_complete"
        static let sessions = "sessions"
        static let stop = "stop"
    }

    /// The request as one JSON object, with `tag` if given.
    public func json(tag: String?) -> JSONValue {
        var object: [String: JSONValue]
        switch self {
        case .execute(let session, let code, let client, let stream, let options):
            object = [
                "op": .string(Op.execute), "session": .string(session), "code": .string(code),
                "client": .string(client), "stream": .bool(stream),
            ]
            if let timeout = options.timeout { object["timeoutMs"] = .number(timeout.milliseconds) }
            if let maxOutputBytes = options.maxOutputBytes {
                object["maxOutputBytes"] = .number(Double(maxOutputBytes))
            }
            if options.allowStdin { object["allowStdin"] = .bool(true) }
        case .inputReply(let session, let id, let value):
            object = ["op": .string(Op.inputReply), "session": .string(session), "id": .string(id)]
            if let value { object["value"] = .string(value) } else { object["eof"] = .bool(true) }
        case .cancel(let session, let id):
            object = ["op": .string(Op.cancel), "session": .string(session), "id": .string(id)]
        case .interrupt(let session, let client):
            object = ["op": .string(Op.interrupt), "session": .string(session), "client": .string(client)]
        case .reset(let session, let client):
            object = ["op": .string(Op.reset), "session": .string(session), "client": .string(client)]
        case .observe(let session, let from, let journal):
            object = ["op": .string(Op.observe), "session": .string(session)]
            if let from { object["from"] = .number(Double(from)) }
            if let journal { object["journal"] = .string(journal) }
        case .unobserve(let observeTag):
            object = ["op": .string(Op.unobserve), "observeTag": .string(observeTag)]
        case .complete(let session, let code, let cursor):
            object = ["op": .string(Op.complete), "session": .string(session), "code": .string(code)]
            if let cursor { object["cursor"] = .number(Double(cursor)) }
        case .isComplete(let session, let code):
            object = ["op": .string(Op.isComplete), "session": .string(session), "code": .string(code)]
        case .sessions:
            object = ["op": .string(Op.sessions)]
        case .stop:
            object = ["op": .string(Op.stop)]
        }
        if let tag { object["tag"] = .string(tag) }
        return .object(object)
    }

    /// The request `json` describes.
    /// - Throws: `ServeError` with `.badRequest` (not an object, a field missing or of the
    ///   wrong type) or `.unknownOperation`.
    public init(json: JSONValue) throws(ServeError) {
        guard json.objectValue != nil else { throw ServeError(.badRequest, "a request must be a JSON object") }
        guard let op = json["op"]?.stringValue else { throw ServeError(.badRequest, "the request has no \"op\"") }
        func string(_ field: String) throws(ServeError) -> String {
            guard let value = json[field]?.stringValue else {
                throw ServeError(.badRequest, "\(op) needs a string \"\(field)\"")
            }
            return value
        }
        func integer(_ field: String) throws(ServeError) -> Int? {
            guard let value = json[field], value != .null else { return nil }
            guard let number = value.intValue else {
                throw ServeError(.badRequest, "\"\(field)\" must be a whole number")
            }
            return number
        }
        switch op {
        case Op.execute:
            var options = RemoteExecutionOptions(allowStdin: json["allowStdin"]?.boolValue ?? false)
            if let milliseconds = json["timeoutMs"]?.doubleValue {
                guard milliseconds > 0 else { throw ServeError(.badRequest, "\"timeoutMs\" must be positive") }
                options.timeout = .fromMilliseconds(milliseconds)
            }
            options.maxOutputBytes = try integer("maxOutputBytes")
            self = .execute(
                session: try string("session"), code: try string("code"),
                client: json["client"]?.stringValue ?? "anonymous", stream: json["stream"]?.boolValue ?? true,
                options: options)
        case Op.inputReply:
            let value = json["value"]?.stringValue
            if value == nil, json["eof"]?.boolValue != true {
                throw ServeError(.badRequest, "input_reply needs a string \"value\" or \"eof\": true")
            }
            self = .inputReply(session: try string("session"), executionID: try string("id"), value: value)
        case Op.cancel:
            self = .cancel(session: try string("session"), executionID: try string("id"))
        case Op.interrupt:
            self = .interrupt(session: try string("session"), client: json["client"]?.stringValue ?? "anonymous")
        case Op.reset:
            self = .reset(session: try string("session"), client: json["client"]?.stringValue ?? "anonymous")
        case Op.observe:
            self = .observe(
                session: try string("session"), from: try integer("from"), journal: json["journal"]?.stringValue)
        case Op.unobserve:
            self = .unobserve(observeTag: try string("observeTag"))
        case Op.complete:
            self = .complete(session: try string("session"), code: try string("code"), cursor: try integer("cursor"))
        case Op.isComplete:
            self = .isComplete(session: try string("session"), code: try string("code"))
        case Op.sessions:
            self = .sessions
        case Op.stop:
            self = .stop
        default:
            throw ServeError(.unknownOperation, "unknown op \"\(op)\"")
        }
    }
}
