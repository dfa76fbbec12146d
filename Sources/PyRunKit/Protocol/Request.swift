/// A request from host to runner (docs/protocol.md, §3 *Requests*).
public enum Request: Sendable, Hashable {
    case execute(id: String, code: String, options: ExecuteFlags)
    /// The answer to `input()`; nil ends the input, and `input()` raises EOFError.
    case inputReply(id: String, value: String?)
    case complete(id: String, code: String, cursor: Int)
    case isComplete(id: String, code: String)
    case info(id: String)
    case interrupt
    case exit
    /// The host's answer to the `call` frame `callID`: the function's value, or the error
    /// that Python raises as `HostCallError`.
    case callReply(callID: String, answer: Result<JSONValue, HostCallError>)
    /// Ends the runner and everything it started at once, from inside: SIGKILL for a host
    /// whose signals cannot reach the runner (ssh, `kubectl exec`).
    case kill

    /// The wire flags of an `execute` request.
    public struct ExecuteFlags: Sendable, Hashable {
        /// Run without a `result` frame, without advancing the execution count or setting `_`.
        public var silent: Bool
        /// Accepted for Jupyter-style hosts and ignored: pyrun's runner keeps no input history.
        public var storeHistory: Bool
        /// Whether `input()` asks the host (`input_request`); a Swift host sets it by giving
        /// `ExecutionOptions.stdinHandler`. Without it `input()` raises `EOFError` at once.
        public var allowStdin: Bool
        /// The most bytes the execution may send (output, displays, result, error, prompts);
        /// nil for no cap (docs/protocol.md, §5 *Output cap*).
        public var maxOutputBytes: Int?

        /// Flags as an `execute` request carries them; `storeHistory` defaults to `!silent`.
        public init(
            silent: Bool = false, storeHistory: Bool? = nil, allowStdin: Bool = false, maxOutputBytes: Int? = nil
        ) {
            self.silent = silent
            self.storeHistory = storeHistory ?? !silent
            self.allowStdin = allowStdin
            self.maxOutputBytes = maxOutputBytes
        }
    }

    /// The request as a JSON object.
    public var json: JSONValue {
        typealias F = RequestField
        switch self {
        case .execute(let id, let code, let flags):
            var object: [String: JSONValue] = [
                F.type: .string(RequestType.execute), F.id: .string(id), F.code: .string(code),
            ]
            if flags.silent { object[F.silent] = .bool(true) }
            if flags.storeHistory == flags.silent { object[F.storeHistory] = .bool(flags.storeHistory) }
            if flags.allowStdin { object[F.allowStdin] = .bool(true) }
            if let cap = flags.maxOutputBytes { object[F.maxOutputBytes] = .number(Double(cap)) }
            return .object(object)
        case .inputReply(let id, let value?):
            return .object([F.type: .string(RequestType.inputReply), F.id: .string(id), F.value: .string(value)])
        case .inputReply(let id, nil):
            return .object([F.type: .string(RequestType.inputReply), F.id: .string(id), F.eof: .bool(true)])
        case .complete(let id, let code, let cursor):
            return .object([
                F.type: .string(RequestType.complete), F.id: .string(id), F.code: .string(code),
                F.cursor: .number(Double(cursor)),
            ])
        case .isComplete(let id, let code):
            return .object([F.type: .string(RequestType.isComplete), F.id: .string(id), F.code: .string(code)])
        case .info(let id):
            return .object([F.type: .string(RequestType.info), F.id: .string(id)])
        case .interrupt:
            return .object([F.type: .string(RequestType.interrupt)])
        case .exit:
            return .object([F.type: .string(RequestType.exit)])
        case .callReply(let callID, .success(let value)):
            return .object([F.type: .string(RequestType.callReply), F.callID: .string(callID), F.value: value])
        case .callReply(let callID, .failure(let error)):
            return .object([
                F.type: .string(RequestType.callReply), F.callID: .string(callID),
                F.error: .object([F.errorType: .string(error.type), F.message: .string(error.message)]),
            ])
        case .kill:
            return .object([F.type: .string(RequestType.kill)])
        }
    }

    /// One NDJSON line, newline included.
    public func encodedLine() -> [UInt8] {
        var line = Array(json.serialized().utf8)
        line.append(0x0A)
        return line
    }
}

/// The wire names of request fields: the one place the Swift side spells them.
enum RequestField {
    static let type = FrameField.type
    static let id = FrameField.id
    static let code = "code"
    static let silent = "silent"
    static let storeHistory = "storeHistory"
    static let allowStdin = "allowStdin"
    static let maxOutputBytes = "maxOutputBytes"
    static let value = "value"
    static let eof = "eof"
    static let cursor = "cursor"
    static let callID = FrameField.callID
    static let error = "error"
    static let errorType = "type"
    static let message = FrameField.message
}

/// The wire names of request types.
enum RequestType {
    static let execute = "execute"
    static let inputReply = "input_reply"
    static let complete = "complete"
    static let isComplete = "is_complete"
    static let info = "info"
    static let interrupt = "interrupt"
    static let exit = "exit"
    static let callReply = "call_reply"
    static let kill = "kill"
}
