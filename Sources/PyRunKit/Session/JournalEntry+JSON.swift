import Foundation

/// The JSON forms of journal entries, as `pyrun serve` sends them and the browser console
/// reads them: the event's object with `seq` (the sequence number) and `time` (seconds since
/// 1970) added. Execution events are the objects `ExecutionEvent.json(executionID:)` writes;
/// the session's own are `input`, `kernel_started`, `kernel_died`, `kernel_stopped`,
/// `interrupt` and `reset`.
extension JournalEntry {
    /// The entry as one JSON object.
    public var json: JSONValue {
        var object = event.json.objectValue ?? [:]
        object["seq"] = .number(Double(sequence))
        object["time"] = .number(date.timeIntervalSince1970)
        return .object(object)
    }

    /// The entry `json` describes; nil without `seq` or a recognisable event.
    public init?(json: JSONValue) {
        guard let sequence = json["seq"]?.intValue, let event = SessionEvent(json: json) else { return nil }
        self.init(
            sequence: sequence, date: Date(timeIntervalSince1970: json["time"]?.doubleValue ?? 0), event: event)
    }
}

extension SessionEvent {
    /// The JSON type names of the session's own events.
    enum TypeName {
        static let input = "input"
        static let kernelStarted = "kernel_started"
        static let kernelDied = "kernel_died"
        static let kernelStopped = "kernel_stopped"
        static let interrupt = "interrupt"
        static let reset = "reset"
    }

    /// The event as one JSON object (without the entry's `seq` and `time`).
    public var json: JSONValue {
        switch self {
        case .input(let id, let code, let client):
            return .object([
                "type": .string(TypeName.input), "id": .string(id), "code": .string(code), "client": .string(client),
            ])
        case .execution(let id, let event):
            return event.json(executionID: id)
        case .kernelStarted(let hello, let previous):
            var object = Frame.hello(hello).json.objectValue ?? [:]
            object["type"] = .string(TypeName.kernelStarted)
            if let previous { object["previousPid"] = .number(Double(previous)) }
            return .object(object)
        case .kernelDied(let death):
            return .object(["type": .string(TypeName.kernelDied), "death": death.json])
        case .kernelStopped(let reason):
            return .object([
                "type": .string(TypeName.kernelStopped), "reason": .string(reason.name),
                "description": .string(reason.description),
            ])
        case .interruptRequested(let client):
            return .object(["type": .string(TypeName.interrupt), "client": .string(client)])
        case .reset(let client):
            return .object(["type": .string(TypeName.reset), "client": .string(client)])
        }
    }

    /// The event `json` describes; nil when it is none the session records.
    public init?(json: JSONValue) {
        guard let type = json["type"]?.stringValue else { return nil }
        switch type {
        case TypeName.input:
            guard let id = json["id"]?.stringValue, let code = json["code"]?.stringValue else { return nil }
            self = .input(executionID: id, code: code, client: json["client"]?.stringValue ?? "")
        case TypeName.kernelStarted:
            var fields = json.objectValue ?? [:]
            fields["type"] = .string(FrameType.hello)
            guard case .hello(let hello) = Frame(json: .object(fields)) else { return nil }
            self = .kernelStarted(hello, previousPID: json["previousPid"]?.intValue.map { Int32($0) })
        case TypeName.kernelDied:
            guard let death = json["death"].flatMap(KernelDeath.init(json:)) else { return nil }
            self = .kernelDied(death)
        case TypeName.kernelStopped:
            guard let reason = KernelDeath.StopReason(json: json) else { return nil }
            self = .kernelStopped(reason)
        case TypeName.interrupt:
            self = .interruptRequested(client: json["client"]?.stringValue ?? "")
        case TypeName.reset:
            self = .reset(client: json["client"]?.stringValue ?? "")
        default:
            guard let id = json["id"]?.stringValue, let event = ExecutionEvent(json: json) else { return nil }
            self = .execution(executionID: id, event)
        }
    }
}
