/// A request from host to runner (PROTOCOL.md, *Requests*).
public enum Request: Sendable, Hashable {
    case execute(id: String, code: String, options: ExecuteFlags)
    /// The answer to `input()`; nil ends the input, and `input()` raises EOFError.
    case inputReply(id: String, value: String?)
    case complete(id: String, code: String, cursor: Int)
    case isComplete(id: String, code: String)
    case info(id: String)
    case interrupt
    case exit

    /// The wire flags of an `execute` request.
    public struct ExecuteFlags: Sendable, Hashable {
        public var silent: Bool
        public var storeHistory: Bool
        /// Whether `input()` asks the host (`input_request`); a Swift host sets it by giving
        /// `ExecutionOptions.stdinHandler`. Without it `input()` raises `EOFError` at once.
        public var allowStdin: Bool
        public var maxOutputBytes: Int?

        public init(silent: Bool = false, storeHistory: Bool? = nil, allowStdin: Bool = false, maxOutputBytes: Int? = nil) {
            self.silent = silent
            self.storeHistory = storeHistory ?? !silent
            self.allowStdin = allowStdin
            self.maxOutputBytes = maxOutputBytes
        }
    }

    /// The request as a JSON object.
    public var json: JSONValue {
        switch self {
        case .execute(let id, let code, let flags):
            var object: [String: JSONValue] = [
                "type": .string("execute"), "id": .string(id), "code": .string(code),
            ]
            if flags.silent { object["silent"] = .bool(true) }
            if flags.storeHistory == flags.silent { object["storeHistory"] = .bool(flags.storeHistory) }
            if flags.allowStdin { object["allowStdin"] = .bool(true) }
            if let cap = flags.maxOutputBytes { object["maxOutputBytes"] = .number(Double(cap)) }
            return .object(object)
        case .inputReply(let id, let value?):
            return .object(["type": .string("input_reply"), "id": .string(id), "value": .string(value)])
        case .inputReply(let id, nil):
            return .object(["type": .string("input_reply"), "id": .string(id), "eof": .bool(true)])
        case .complete(let id, let code, let cursor):
            return .object([
                "type": .string("complete"), "id": .string(id), "code": .string(code), "cursor": .number(Double(cursor)),
            ])
        case .isComplete(let id, let code):
            return .object(["type": .string("is_complete"), "id": .string(id), "code": .string(code)])
        case .info(let id):
            return .object(["type": .string("info"), "id": .string(id)])
        case .interrupt:
            return .object(["type": .string("interrupt")])
        case .exit:
            return .object(["type": .string("exit")])
        }
    }

    /// One NDJSON line, newline included.
    public func encodedLine() -> [UInt8] {
        var line = Array(json.serialized().utf8)
        line.append(0x0A)
        return line
    }
}
