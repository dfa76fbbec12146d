import Foundation

/// A message from a pyrun server to a client (see docs/serve-protocol.md). On the wire it is
/// one JSON object with a `type`, and the `tag` of the request it answers (none for `welcome`).
public enum ServeMessage: Sendable, Hashable {
    /// The first message on every connection: who the server is.
    case welcome(ServerInfo)
    /// An execution was queued in `session` under `executionID`.
    case accepted(session: String, executionID: String)
    /// An event of execution `executionID`; the last one of an execution is `finished`.
    case event(executionID: String, ExecutionEvent)
    /// A journal entry, replayed or live.
    case entry(JournalEntry)
    /// Entries asked for were dropped from the journal before this observation.
    case gap(JournalGap)
    /// The replay is complete; what follows is live. `journal` identifies the journal, for resuming.
    case live(nextSequence: Int, journal: String)
    /// The observation ended, and why; nothing more comes for its tag.
    case observeEnd(ObserveEndReason)
    /// The request was done.
    case ok
    /// Every session, sorted by name.
    case sessions([SessionStatus])
    /// The kernel's completions.
    case completions(CompletionResult)
    /// Whether the code is complete.
    case completeness(CodeCompleteness)
    /// The request failed.
    case error(ServeError)
}

/// Why an observation ended.
public enum ObserveEndReason: Sendable, Hashable, CustomStringConvertible {
    /// The client lagged past its bound; observe again from `resumeFrom`.
    case fellBehind(resumeFrom: Int)
    /// The session was closed (the server is stopping).
    case closed
    /// The client asked (`unobserve`).
    case cancelled

    public var description: String {
        switch self {
        case .fellBehind(let resume): "fell behind; resume from #\(resume)"
        case .closed: "the session was closed"
        case .cancelled: "cancelled"
        }
    }
}

/// Who a server is, as its `welcome` says.
public struct ServerInfo: Sendable, Hashable {
    /// The server's name.
    public var name: String
    /// The server's process id.
    public var pid: Int32
    /// The serve protocol version it speaks.
    public var protocolVersion: Int
    /// When it started.
    public var startedAt: Date

    public init(name: String, pid: Int32, protocolVersion: Int = ServeProtocol.version, startedAt: Date) {
        self.name = name
        self.pid = pid
        self.protocolVersion = protocolVersion
        self.startedAt = startedAt
    }
}

/// The serve protocol's version: a client and a server of the same version understand each other.
public enum ServeProtocol {
    public static let version = 1
}

extension ServeMessage {
    /// The message type names on the wire.
    enum TypeName {
        static let welcome = "welcome"
        static let accepted = "accepted"
        static let event = "event"
        static let entry = "entry"
        static let gap = "gap"
        static let live = "live"
        static let observeEnd = "observe_end"
        static let ok = "ok"
        static let sessions = "sessions"
        static let completions = "completions"
        static let completeness = "completeness"
        static let error = "error"
    }

    /// The message as one JSON object, with `tag` if given.
    public func json(tag: String?) -> JSONValue {
        var object: [String: JSONValue]
        switch self {
        case .welcome(let info):
            object = [
                "type": .string(TypeName.welcome), "name": .string(info.name), "pid": .number(Double(info.pid)),
                "protocol": .number(Double(info.protocolVersion)),
                "startedAt": .number(info.startedAt.timeIntervalSince1970),
            ]
        case .accepted(let session, let id):
            object = ["type": .string(TypeName.accepted), "session": .string(session), "id": .string(id)]
        case .event(let id, let event):
            object = ["type": .string(TypeName.event), "event": event.json(executionID: id)]
        case .entry(let entry):
            object = ["type": .string(TypeName.entry), "entry": entry.json]
        case .gap(let gap):
            object = [
                "type": .string(TypeName.gap), "requestedFrom": .number(Double(gap.requestedFrom)),
                "firstKept": .number(Double(gap.firstKept)), "dropped": .number(Double(gap.droppedCount)),
            ]
        case .live(let next, let journal):
            object = ["type": .string(TypeName.live), "nextSeq": .number(Double(next)), "journal": .string(journal)]
        case .observeEnd(let reason):
            object = ["type": .string(TypeName.observeEnd)]
            switch reason {
            case .fellBehind(let resume):
                object["reason"] = .string("fellBehind")
                object["resumeFrom"] = .number(Double(resume))
            case .closed: object["reason"] = .string("closed")
            case .cancelled: object["reason"] = .string("cancelled")
            }
        case .ok:
            object = ["type": .string(TypeName.ok)]
        case .sessions(let statuses):
            object = ["type": .string(TypeName.sessions), "sessions": .array(statuses.map(\.json))]
        case .completions(let completion):
            object = [
                "type": .string(TypeName.completions), "matches": .array(completion.matches.map { .string($0) }),
                "cursorStart": .number(Double(completion.cursorStart)),
                "cursorEnd": .number(Double(completion.cursorEnd)),
            ]
        case .completeness(let completeness):
            object = ["type": .string(TypeName.completeness)]
            switch completeness {
            case .complete: object["status"] = .string("complete")
            case .incomplete(let indent):
                object["status"] = .string("incomplete")
                object["indent"] = .string(indent)
            case .invalid: object["status"] = .string("invalid")
            }
        case .error(let error):
            object = [
                "type": .string(TypeName.error), "code": .string(error.code.rawValue),
                "message": .string(error.message),
            ]
        }
        if let tag { object["tag"] = .string(tag) }
        return .object(object)
    }

    /// The message `json` describes and its tag; nil for a type this client does not know
    /// (a newer server's), which a client ignores.
    public static func decode(_ json: JSONValue) -> (message: ServeMessage, tag: String?)? {
        guard let type = json["type"]?.stringValue else { return nil }
        let tag = json["tag"]?.stringValue
        let message: ServeMessage
        switch type {
        case TypeName.welcome:
            message = .welcome(
                ServerInfo(
                    name: json["name"]?.stringValue ?? "", pid: Int32(json["pid"]?.intValue ?? 0),
                    protocolVersion: json["protocol"]?.intValue ?? 0,
                    startedAt: Date(timeIntervalSince1970: json["startedAt"]?.doubleValue ?? 0)))
        case TypeName.accepted:
            guard let id = json["id"]?.stringValue else { return nil }
            message = .accepted(session: json["session"]?.stringValue ?? "", executionID: id)
        case TypeName.event:
            guard let event = json["event"], let id = event["id"]?.stringValue,
                let decoded = ExecutionEvent(json: event)
            else { return nil }
            message = .event(executionID: id, decoded)
        case TypeName.entry:
            guard let entry = json["entry"].flatMap(JournalEntry.init(json:)) else { return nil }
            message = .entry(entry)
        case TypeName.gap:
            guard let from = json["requestedFrom"]?.intValue, let kept = json["firstKept"]?.intValue else { return nil }
            message = .gap(JournalGap(requestedFrom: from, firstKept: kept))
        case TypeName.live:
            message = .live(nextSequence: json["nextSeq"]?.intValue ?? 0, journal: json["journal"]?.stringValue ?? "")
        case TypeName.observeEnd:
            switch json["reason"]?.stringValue {
            case "fellBehind": message = .observeEnd(.fellBehind(resumeFrom: json["resumeFrom"]?.intValue ?? 1))
            case "cancelled": message = .observeEnd(.cancelled)
            default: message = .observeEnd(.closed)
            }
        case TypeName.ok:
            message = .ok
        case TypeName.sessions:
            message = .sessions(json["sessions"]?.arrayValue?.compactMap(SessionStatus.init(json:)) ?? [])
        case TypeName.completions:
            message = .completions(
                CompletionResult(
                    matches: json["matches"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                    cursorStart: json["cursorStart"]?.intValue ?? 0, cursorEnd: json["cursorEnd"]?.intValue ?? 0))
        case TypeName.completeness:
            switch json["status"]?.stringValue {
            case "complete": message = .completeness(.complete)
            case "incomplete": message = .completeness(.incomplete(indent: json["indent"]?.stringValue ?? ""))
            default: message = .completeness(.invalid)
            }
        case TypeName.error:
            message = .error(
                ServeError(
                    ServeError.Code(rawValue: json["code"]?.stringValue ?? "unknown"),
                    json["message"]?.stringValue ?? "the server gave no reason"))
        default:
            return nil
        }
        return (message, tag)
    }
}
