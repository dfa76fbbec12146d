/// The `hello` frame: the runner is ready, and says what it is.
public struct KernelHello: Sendable, Hashable, CustomStringConvertible {
    /// The protocol version the runner speaks (1).
    public var protocolVersion: Int
    /// The runner's process id.
    public var pid: Int32
    /// Python version, e.g. `3.11.7`.
    public var pythonVersion: String
    /// `sys.executable` of the runner.
    public var executable: String
    /// The runner's working directory, after `KernelConfiguration.workingDirectory` was applied.
    public var workingDirectory: String
    /// The prelude sources that raised while loading, in load order (empty when all
    /// loaded); the kernel is still usable.
    public var preludeFailures: [PreludeFailure]
    /// Resource limits the platform does not enforce.
    public var limitsIgnored: [String]
    /// Set when the runner could not read all of the host functions it was given
    /// (`PYRUN_HOST_FUNCTIONS`); the ones it could read are available.
    public var hostFunctionsError: String? = nil

    /// The first prelude failure's exception, if any source failed.
    public var preludeError: PythonError? { preludeFailures.first?.error }

    /// "Python 3.12.1, pid 4242, /usr/bin/python3 in /work".
    public var description: String {
        var text = "Python \(pythonVersion), pid \(pid), \(executable) in \(workingDirectory)"
        for failure in preludeFailures { text += "; \(failure)" }
        if !limitsIgnored.isEmpty { text += "; limits not enforced: \(limitsIgnored.joined(separator: ", "))" }
        if let hostFunctionsError { text += "; host functions: \(hostFunctionsError)" }
        return text
    }
}

/// A Python exception as the runner reports it.
public struct PythonError: Sendable, Hashable, Error, CustomStringConvertible {
    /// Exception class name, e.g. `ZeroDivisionError`.
    public var name: String
    /// `str()` of the exception.
    public var value: String
    /// Formatted traceback lines (user frames only).
    public var traceback: [String]

    /// An exception with its class name, `str()` and traceback lines.
    public init(name: String, value: String, traceback: [String]) {
        self.name = name
        self.value = value
        self.traceback = traceback
    }

    public var description: String { value.isEmpty ? name : "\(name): \(value)" }
}

/// The `done` frame: how an execution ended in the runner.
public struct DoneReport: Sendable, Hashable, CustomStringConvertible {
    /// True when the code ran to the end without an exception (`"status": "ok"`).
    public var ok: Bool
    /// The kernel's execution count after this execution.
    public var executionCount: Int
    /// True when an interrupt (SIGINT) ended the code, as opposed to an exception it raised.
    public var cancelled: Bool
    /// Wall time of the execution in the runner, in milliseconds.
    public var durationMs: Double
    /// User and system CPU time of the runner and of the children it waited for during the
    /// execution, in milliseconds.
    public var cpuMs: Double
    /// The runner process's peak resident memory so far, in bytes.
    public var peakRssBytes: Int
    /// Bytes dropped because of `ExecutionOptions.maxOutputBytes` (0 when none).
    public var droppedBytes: Int

    /// "ok, execution 3, 12.5 ms wall, 11.0 ms CPU, peak resident 30 MiB".
    public var description: String {
        var text = ok ? "ok" : cancelled ? "cancelled" : "error"
        func tenths(_ value: Double) -> Double { (value * 10).rounded() / 10 }
        text += ", execution \(executionCount), \(tenths(durationMs)) ms wall, \(tenths(cpuMs)) ms CPU"
        text += ", peak resident \(ByteFormat.text(peakRssBytes))"
        if droppedBytes > 0 { text += ", \(ByteFormat.text(droppedBytes)) dropped" }
        return text
    }
}

/// Completion candidates for a cursor position.
public struct CompletionResult: Sendable, Hashable, CustomStringConvertible {
    /// The candidates, sorted; each replaces the text from `cursorStart` to `cursorEnd`.
    public var matches: [String]
    /// Offsets, in Unicode scalars, of the text the matches replace.
    public var cursorStart: Int
    /// The end of the replaced text: the cursor.
    public var cursorEnd: Int

    public var description: String {
        "\(matches.count) match\(matches.count == 1 ? "" : "es") for \(cursorStart)..<\(cursorEnd): \(matches.prefix(10).joined(separator: ", "))\(matches.count > 10 ? ", …" : "")"
    }
}

/// Whether a piece of code is ready to run, as a prompt needs to know.
public enum CodeCompleteness: Sendable, Hashable, CustomStringConvertible {
    case complete
    /// More lines are needed; `indent` is what the next line should start with.
    case incomplete(indent: String)
    case invalid

    public var description: String {
        switch self {
        case .complete: "complete"
        case .incomplete(let indent): "incomplete (next line indented by \(indent.count))"
        case .invalid: "invalid"
        }
    }
}

/// What the runner says about itself on request.
public struct RunnerInfo: Sendable, Hashable, CustomStringConvertible {
    /// The protocol version the runner speaks, as in its `hello` (0 if it did not say).
    public var protocolVersion: Int
    /// The runner's process id.
    public var pid: Int32
    /// Python version, e.g. `3.11.7`.
    public var pythonVersion: String
    /// `sys.executable` of the runner.
    public var executable: String
    /// The runner's current working directory (the code may have changed it).
    public var workingDirectory: String
    /// How many non-silent executions the runner has run.
    public var executionCount: Int
    /// True while an execution runs.
    public var busy: Bool

    public var description: String {
        "Python \(pythonVersion), pid \(pid), \(executable) in \(workingDirectory), \(executionCount) executions, \(busy ? "busy" : "idle")"
    }
}

/// Which standard stream a chunk of output was written to.
public enum OutputStream: String, Sendable, Hashable {
    case stdout
    case stderr
}

/// One line from the runner, decoded. Unknown types are kept whole, never an error.
public enum Frame: Sendable, Hashable, CustomStringConvertible {
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
    /// User code is about to send `signal` to the runner's own process (or group): a death
    /// by that signal is the code's own doing, not something from outside.
    case selfSignal(id: String?, signal: Int32)
    /// Code of execution `id` calls the host function `name` with `arguments` (a JSON
    /// object); the host answers with `Request.callReply` for `callID`.
    case call(id: String, callID: String, name: String, arguments: JSONValue)
    /// The call `callID` no longer waits (the code was interrupted, or its execution ended):
    /// the host stops serving it, and a reply it still sends is dropped.
    case callCancel(id: String, callID: String)
    /// A frame type this host does not know (or a known type with missing fields).
    case unknown(JSONValue)

    /// The frame as its wire line (without the newline).
    public var description: String { json.serialized() }

    /// The request id the frame answers, if it has one.
    public var id: String? {
        switch self {
        case .hello, .unknown: nil
        case .started(let id, _), .output(let id, _, _), .display(let id, _, _), .result(let id, _, _),
            .error(let id, _), .inputRequest(let id, _, _), .done(let id, _), .completeReply(let id, _),
            .isCompleteReply(let id, _), .infoReply(let id, _), .call(let id, _, _, _), .callCancel(let id, _):
            id
        case .errorReply(let id, _), .selfSignal(let id, _): id
        }
    }
}

/// The wire names of frame types and fields: the one place the Swift side spells them, for
/// decoding and encoding alike.
enum FrameField {
    static let type = "type"
    static let id = "id"
    static let `protocol` = "protocol"
    static let pid = "pid"
    static let python = "python"
    static let executable = "executable"
    static let cwd = "cwd"
    static let preludeError = "preludeError"
    static let preludeErrors = "preludeErrors"
    static let file = "file"
    static let line = "line"
    static let limitsIgnored = "limitsIgnored"
    static let executionCount = "executionCount"
    static let data = "data"
    static let bundle = "bundle"
    static let metadata = "metadata"
    static let errorName = "ename"
    static let errorValue = "evalue"
    static let traceback = "traceback"
    static let prompt = "prompt"
    static let password = "password"
    static let status = "status"
    static let cancelled = "cancelled"
    static let durationMs = "durationMs"
    static let cpuMs = "cpuMs"
    static let peakRssBytes = "peakRssBytes"
    static let droppedBytes = "droppedBytes"
    static let matches = "matches"
    static let cursorStart = "cursorStart"
    static let cursorEnd = "cursorEnd"
    static let indent = "indent"
    static let busy = "busy"
    static let message = "message"
    static let signal = "signal"
    static let hostFunctionsError = "hostFunctionsError"
    static let callID = "callId"
    static let name = "name"
    static let arguments = "args"
}

/// The wire names of frame types.
enum FrameType {
    static let hello = "hello"
    static let started = "started"
    static let stdout = "stdout"
    static let stderr = "stderr"
    static let display = "display"
    static let result = "result"
    static let error = "error"
    static let inputRequest = "input_request"
    static let done = "done"
    static let completeReply = "complete_reply"
    static let isCompleteReply = "is_complete_reply"
    static let infoReply = "info_reply"
    static let errorReply = "error_reply"
    static let selfSignal = "self_signal"
    static let call = "call"
    static let callCancel = "call_cancel"
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
        typealias F = FrameField
        guard let type = json[F.type]?.stringValue else { return nil }
        let id = json[F.id]?.stringValue
        switch type {
        case FrameType.hello:
            guard let version = json[F.protocol]?.intValue else { return nil }
            self = .hello(
                KernelHello(
                    protocolVersion: version,
                    pid: Int32(json[F.pid]?.intValue ?? 0),
                    pythonVersion: json[F.python]?.stringValue ?? "",
                    executable: json[F.executable]?.stringValue ?? "",
                    workingDirectory: json[F.cwd]?.stringValue ?? "",
                    preludeFailures: PreludeFailure.list(inHello: json),
                    limitsIgnored: json[F.limitsIgnored]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    hostFunctionsError: json[F.hostFunctionsError]?.stringValue))
        case FrameType.started:
            guard let id, let count = json[F.executionCount]?.intValue else { return nil }
            self = .started(id: id, executionCount: count)
        case FrameType.stdout, FrameType.stderr:
            guard let id, let data = json[F.data]?.stringValue else { return nil }
            self = .output(id: id, stream: type == FrameType.stdout ? .stdout : .stderr, text: data)
        case FrameType.display:
            guard let id, let bundle = json[F.bundle]?.objectValue else { return nil }
            self = .display(id: id, bundle: MIMEBundle(bundle), metadata: json[F.metadata])
        case FrameType.result:
            guard let id, let bundle = json[F.bundle]?.objectValue else { return nil }
            self = .result(id: id, bundle: MIMEBundle(bundle), executionCount: json[F.executionCount]?.intValue ?? 0)
        case FrameType.error:
            guard let id, let error = PythonError(json: json) else { return nil }
            self = .error(id: id, error)
        case FrameType.inputRequest:
            guard let id else { return nil }
            self = .inputRequest(
                id: id, prompt: json[F.prompt]?.stringValue ?? "", password: json[F.password]?.boolValue ?? false)
        case FrameType.done:
            guard let id else { return nil }
            self = .done(
                id: id,
                DoneReport(
                    ok: json[F.status]?.stringValue == "ok",
                    executionCount: json[F.executionCount]?.intValue ?? 0,
                    cancelled: json[F.cancelled]?.boolValue ?? false,
                    durationMs: json[F.durationMs]?.doubleValue ?? 0,
                    cpuMs: json[F.cpuMs]?.doubleValue ?? 0,
                    peakRssBytes: json[F.peakRssBytes]?.intValue ?? 0,
                    droppedBytes: json[F.droppedBytes]?.intValue ?? 0))
        case FrameType.completeReply:
            guard let id else { return nil }
            self = .completeReply(
                id: id,
                CompletionResult(
                    matches: json[F.matches]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    cursorStart: json[F.cursorStart]?.intValue ?? 0,
                    cursorEnd: json[F.cursorEnd]?.intValue ?? 0))
        case FrameType.isCompleteReply:
            guard let id else { return nil }
            let completeness: CodeCompleteness
            switch json[F.status]?.stringValue {
            case "complete": completeness = .complete
            case "incomplete": completeness = .incomplete(indent: json[F.indent]?.stringValue ?? "")
            default: completeness = .invalid
            }
            self = .isCompleteReply(id: id, completeness)
        case FrameType.infoReply:
            guard let id else { return nil }
            self = .infoReply(
                id: id,
                RunnerInfo(
                    protocolVersion: json[F.protocol]?.intValue ?? 0,
                    pid: Int32(json[F.pid]?.intValue ?? 0),
                    pythonVersion: json[F.python]?.stringValue ?? "",
                    executable: json[F.executable]?.stringValue ?? "",
                    workingDirectory: json[F.cwd]?.stringValue ?? "",
                    executionCount: json[F.executionCount]?.intValue ?? 0,
                    busy: json[F.busy]?.boolValue ?? false))
        case FrameType.errorReply:
            self = .errorReply(id: id, message: json[F.message]?.stringValue ?? "")
        case FrameType.selfSignal:
            guard let signal = json[F.signal]?.intValue, let number = Int32(exactly: signal) else { return nil }
            self = .selfSignal(id: id, signal: number)
        case FrameType.call:
            guard let id, let callID = json[F.callID]?.stringValue, let name = json[F.name]?.stringValue else {
                return nil
            }
            self = .call(id: id, callID: callID, name: name, arguments: json[F.arguments] ?? .object([:]))
        case FrameType.callCancel:
            guard let id, let callID = json[F.callID]?.stringValue else { return nil }
            self = .callCancel(id: id, callID: callID)
        default:
            return nil
        }
    }

    /// The frame as the JSON object the runner sends: what `decode(line:)` reads back.
    /// Fields a frame does not have (an absent prelude error, no dropped bytes) are left out.
    public var json: JSONValue {
        typealias F = FrameField
        func object(_ type: String, _ id: String?, _ fields: [String: JSONValue]) -> JSONValue {
            var object = fields
            object[F.type] = .string(type)
            if let id { object[F.id] = .string(id) }
            return .object(object)
        }
        switch self {
        case .hello(let hello):
            var fields: [String: JSONValue] = [
                F.protocol: .number(Double(hello.protocolVersion)), F.pid: .number(Double(hello.pid)),
                F.python: .string(hello.pythonVersion), F.executable: .string(hello.executable),
                F.cwd: .string(hello.workingDirectory),
            ]
            if let first = hello.preludeFailures.first {
                fields[F.preludeErrors] = .array(hello.preludeFailures.map(\.json))
                fields[F.preludeError] = first.json
            }
            if !hello.limitsIgnored.isEmpty {
                fields[F.limitsIgnored] = .array(hello.limitsIgnored.map { .string($0) })
            }
            if let problem = hello.hostFunctionsError { fields[F.hostFunctionsError] = .string(problem) }
            return object(FrameType.hello, nil, fields)
        case .started(let id, let count):
            return object(FrameType.started, id, [F.executionCount: .number(Double(count))])
        case .output(let id, let stream, let text):
            return object(stream == .stdout ? FrameType.stdout : FrameType.stderr, id, [F.data: .string(text)])
        case .display(let id, let bundle, let metadata):
            var fields: [String: JSONValue] = [F.bundle: .object(bundle.values)]
            if let metadata { fields[F.metadata] = metadata }
            return object(FrameType.display, id, fields)
        case .result(let id, let bundle, let count):
            return object(
                FrameType.result, id, [F.bundle: .object(bundle.values), F.executionCount: .number(Double(count))])
        case .error(let id, let error):
            return object(FrameType.error, id, error.json.objectValue ?? [:])
        case .inputRequest(let id, let prompt, let password):
            return object(FrameType.inputRequest, id, [F.prompt: .string(prompt), F.password: .bool(password)])
        case .done(let id, let report):
            var fields: [String: JSONValue] = [
                F.status: .string(report.ok ? "ok" : "error"), F.executionCount: .number(Double(report.executionCount)),
                F.cancelled: .bool(report.cancelled), F.durationMs: .number(report.durationMs),
                F.cpuMs: .number(report.cpuMs), F.peakRssBytes: .number(Double(report.peakRssBytes)),
            ]
            if report.droppedBytes > 0 { fields[F.droppedBytes] = .number(Double(report.droppedBytes)) }
            return object(FrameType.done, id, fields)
        case .completeReply(let id, let completion):
            return object(
                FrameType.completeReply, id,
                [
                    F.matches: .array(completion.matches.map { .string($0) }),
                    F.cursorStart: .number(Double(completion.cursorStart)),
                    F.cursorEnd: .number(Double(completion.cursorEnd)),
                ])
        case .isCompleteReply(let id, let completeness):
            switch completeness {
            case .complete: return object(FrameType.isCompleteReply, id, [F.status: .string("complete")])
            case .incomplete(let indent):
                return object(
                    FrameType.isCompleteReply, id, [F.status: .string("incomplete"), F.indent: .string(indent)])
            case .invalid: return object(FrameType.isCompleteReply, id, [F.status: .string("invalid")])
            }
        case .infoReply(let id, let info):
            return object(
                FrameType.infoReply, id,
                [
                    F.protocol: .number(Double(info.protocolVersion)),
                    F.pid: .number(Double(info.pid)), F.python: .string(info.pythonVersion),
                    F.executable: .string(info.executable), F.cwd: .string(info.workingDirectory),
                    F.executionCount: .number(Double(info.executionCount)), F.busy: .bool(info.busy),
                ])
        case .errorReply(let id, let message):
            var fields: [String: JSONValue] = [F.message: .string(message)]
            if id == nil { fields[F.id] = .null }
            return object(FrameType.errorReply, id, fields)
        case .selfSignal(let id, let signal):
            return object(
                FrameType.selfSignal, id, [F.id: id.map(JSONValue.string) ?? .null, F.signal: .number(Double(signal))])
        case .call(let id, let callID, let name, let arguments):
            return object(
                FrameType.call, id, [F.callID: .string(callID), F.name: .string(name), F.arguments: arguments])
        case .callCancel(let id, let callID):
            return object(FrameType.callCancel, id, [F.callID: .string(callID)])
        case .unknown(let json):
            return json
        }
    }

    /// One NDJSON line, newline included.
    public func encodedLine() -> [UInt8] {
        var line = Array(json.serialized().utf8)
        line.append(0x0A)
        return line
    }
}

extension PythonError {
    init?(json: JSONValue) {
        guard let name = json[FrameField.errorName]?.stringValue else { return nil }
        self.init(
            name: name,
            value: json[FrameField.errorValue]?.stringValue ?? "",
            traceback: json[FrameField.traceback]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }

    /// The exception as the fields of an `error` frame (`ename`, `evalue`, `traceback`).
    public var json: JSONValue {
        .object([
            FrameField.errorName: .string(name), FrameField.errorValue: .string(value),
            FrameField.traceback: .array(traceback.map { .string($0) }),
        ])
    }
}

extension PreludeFailure {
    /// The failures a `hello` reports: `preludeErrors`, or the single `preludeError` of a
    /// runner from before prelude lists.
    static func list(inHello hello: JSONValue) -> [PreludeFailure] {
        if let entries = hello[FrameField.preludeErrors]?.arrayValue {
            return entries.compactMap(PreludeFailure.init(json:))
        }
        return hello[FrameField.preludeError].flatMap(PreludeFailure.init(json:)).map { [$0] } ?? []
    }

    init?(json: JSONValue) {
        guard let error = PythonError(json: json) else { return nil }
        self.init(file: json[FrameField.file]?.stringValue, line: json[FrameField.line]?.intValue, error: error)
    }

    /// `{"file", "line", "ename", "evalue", "traceback"}`, as in `hello.preludeErrors`.
    public var json: JSONValue {
        var object = error.json.objectValue ?? [:]
        object[FrameField.file] = file.map(JSONValue.string) ?? .null
        object[FrameField.line] = line.map { .number(Double($0)) } ?? .null
        return .object(object)
    }
}
