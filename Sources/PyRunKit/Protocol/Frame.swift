/// The `hello` frame: the runner is ready, and says what it is.
public struct KernelHello: Sendable, Hashable {
    public var protocolVersion: Int
    public var pid: Int32
    /// Python version, e.g. `3.11.7`.
    public var pythonVersion: String
    /// `sys.executable` of the runner.
    public var executable: String
    public var workingDirectory: String
    /// Set when the prelude raised; the kernel is still usable.
    public var preludeError: PythonError?
    /// Resource limits the platform does not enforce.
    public var limitsIgnored: [String]
}

/// A Python exception as the runner reports it.
public struct PythonError: Sendable, Hashable, Error, CustomStringConvertible {
    /// Exception class name, e.g. `ZeroDivisionError`.
    public var name: String
    /// `str()` of the exception.
    public var value: String
    /// Formatted traceback lines (user frames only).
    public var traceback: [String]

    public init(name: String, value: String, traceback: [String]) {
        self.name = name
        self.value = value
        self.traceback = traceback
    }

    public var description: String { value.isEmpty ? name : "\(name): \(value)" }
}

/// The `done` frame: how an execution ended in the runner.
public struct DoneReport: Sendable, Hashable {
    public var ok: Bool
    public var executionCount: Int
    public var cancelled: Bool
    public var durationMs: Double
    public var cpuMs: Double
    public var peakRssBytes: Int
    public var droppedBytes: Int
}

/// Completion candidates for a cursor position.
public struct CompletionResult: Sendable, Hashable {
    public var matches: [String]
    /// Offsets, in Unicode scalars, of the text the matches replace.
    public var cursorStart: Int
    public var cursorEnd: Int
}

/// Whether a piece of code is ready to run, as a prompt needs to know.
public enum CodeCompleteness: Sendable, Hashable {
    case complete
    /// More lines are needed; `indent` is what the next line should start with.
    case incomplete(indent: String)
    case invalid
}

/// What the runner says about itself on request.
public struct RunnerInfo: Sendable, Hashable {
    public var pid: Int32
    public var pythonVersion: String
    public var executable: String
    public var workingDirectory: String
    public var executionCount: Int
    public var busy: Bool
}

/// Which standard stream a chunk of output was written to.
public enum OutputStream: String, Sendable, Hashable {
    case stdout
    case stderr
}

/// One line from the runner, decoded. Unknown types are kept whole, never an error.
public enum Frame: Sendable, Hashable {
    case hello(KernelHello)
    case started(id: String, executionCount: Int)
    case output(id: String, stream: OutputStream, text: String)
    case display(id: String, bundle: MIMEBundle, metadata: JSONValue?)
    case result(id: String, bundle: MIMEBundle, executionCount: Int)
    case error(id: String, PythonError)
    case inputRequest(id: String, prompt: String, password: Bool)
    case done(id: String, DoneReport)
    case completeReply(id: String, CompletionResult)
    case isCompleteReply(id: String, CodeCompleteness)
    case infoReply(id: String, RunnerInfo)
    case errorReply(id: String?, message: String)
    /// A frame type this host does not know (or a known type with missing fields).
    case unknown(JSONValue)

    /// The request id the frame answers, if it has one.
    public var id: String? {
        switch self {
        case .hello, .unknown: nil
        case .started(let id, _), .output(let id, _, _), .display(let id, _, _), .result(let id, _, _),
            .error(let id, _), .inputRequest(let id, _, _), .done(let id, _), .completeReply(let id, _),
            .isCompleteReply(let id, _), .infoReply(let id, _):
            id
        case .errorReply(let id, _): id
        }
    }
}

extension Frame {
    /// Decodes one NDJSON line.
    /// - Throws: `JSONParseError` when the line is not a JSON object.
    public static func decode(line: [UInt8]) throws(JSONParseError) -> Frame {
        let json = try JSONValue.parse(line)
        guard case .object = json else { throw JSONParseError(reason: "a frame must be an object", offset: 0) }
        return Frame(json: json) ?? .unknown(json)
    }

    /// Maps a JSON object to a known frame; nil when the type is unknown or fields are missing.
    init?(json: JSONValue) {
        guard let type = json["type"]?.stringValue else { return nil }
        let id = json["id"]?.stringValue
        switch type {
        case "hello":
            guard let version = json["protocol"]?.intValue else { return nil }
            self = .hello(
                KernelHello(
                    protocolVersion: version,
                    pid: Int32(json["pid"]?.intValue ?? 0),
                    pythonVersion: json["python"]?.stringValue ?? "",
                    executable: json["executable"]?.stringValue ?? "",
                    workingDirectory: json["cwd"]?.stringValue ?? "",
                    preludeError: json["preludeError"].flatMap(PythonError.init(json:)),
                    limitsIgnored: json["limitsIgnored"]?.arrayValue?.compactMap(\.stringValue) ?? []))
        case "started":
            guard let id, let count = json["executionCount"]?.intValue else { return nil }
            self = .started(id: id, executionCount: count)
        case "stdout", "stderr":
            guard let id, let data = json["data"]?.stringValue else { return nil }
            self = .output(id: id, stream: type == "stdout" ? .stdout : .stderr, text: data)
        case "display":
            guard let id, let bundle = json["bundle"]?.objectValue else { return nil }
            self = .display(id: id, bundle: MIMEBundle(bundle), metadata: json["metadata"])
        case "result":
            guard let id, let bundle = json["bundle"]?.objectValue else { return nil }
            self = .result(id: id, bundle: MIMEBundle(bundle), executionCount: json["executionCount"]?.intValue ?? 0)
        case "error":
            guard let id, let error = PythonError(json: json) else { return nil }
            self = .error(id: id, error)
        case "input_request":
            guard let id else { return nil }
            self = .inputRequest(
                id: id, prompt: json["prompt"]?.stringValue ?? "", password: json["password"]?.boolValue ?? false)
        case "done":
            guard let id else { return nil }
            self = .done(
                id: id,
                DoneReport(
                    ok: json["status"]?.stringValue == "ok",
                    executionCount: json["executionCount"]?.intValue ?? 0,
                    cancelled: json["cancelled"]?.boolValue ?? false,
                    durationMs: json["durationMs"]?.doubleValue ?? 0,
                    cpuMs: json["cpuMs"]?.doubleValue ?? 0,
                    peakRssBytes: json["peakRssBytes"]?.intValue ?? 0,
                    droppedBytes: json["droppedBytes"]?.intValue ?? 0))
        case "complete_reply":
            guard let id else { return nil }
            self = .completeReply(
                id: id,
                CompletionResult(
                    matches: json["matches"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    cursorStart: json["cursorStart"]?.intValue ?? 0,
                    cursorEnd: json["cursorEnd"]?.intValue ?? 0))
        case "is_complete_reply":
            guard let id else { return nil }
            let completeness: CodeCompleteness
            switch json["status"]?.stringValue {
            case "complete": completeness = .complete
            case "incomplete": completeness = .incomplete(indent: json["indent"]?.stringValue ?? "")
            default: completeness = .invalid
            }
            self = .isCompleteReply(id: id, completeness)
        case "info_reply":
            guard let id else { return nil }
            self = .infoReply(
                id: id,
                RunnerInfo(
                    pid: Int32(json["pid"]?.intValue ?? 0),
                    pythonVersion: json["python"]?.stringValue ?? "",
                    executable: json["executable"]?.stringValue ?? "",
                    workingDirectory: json["cwd"]?.stringValue ?? "",
                    executionCount: json["executionCount"]?.intValue ?? 0,
                    busy: json["busy"]?.boolValue ?? false))
        case "error_reply":
            self = .errorReply(id: id, message: json["message"]?.stringValue ?? "")
        default:
            return nil
        }
    }
}

extension PythonError {
    init?(json: JSONValue) {
        guard let name = json["ename"]?.stringValue else { return nil }
        self.init(
            name: name,
            value: json["evalue"]?.stringValue ?? "",
            traceback: json["traceback"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }
}
