import Foundation

/// The JSON form of a session's status, as the `sessions` message carries it.
extension SessionStatus {
    /// `{"name", "pid"?, "python"?, "busy", "queued", "executions", "kernelExecutionCount",
    /// "memoryBytes"?, "startedAt"?, "clients", "journal": {"first"?, "next", "kept",
    /// "keptBytes", "dropped"}}`.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(name), "busy": .bool(busy), "queued": .number(Double(queuedExecutions)),
            "executions": .number(Double(submittedExecutions)),
            "kernelExecutionCount": .number(Double(kernelExecutionCount)), "clients": .number(Double(attachedClients)),
        ]
        if let pid { object["pid"] = .number(Double(pid)) }
        if let pythonVersion { object["python"] = .string(pythonVersion) }
        if let residentMemoryBytes { object["memoryBytes"] = .number(Double(residentMemoryBytes)) }
        if let startedAt { object["startedAt"] = .number(startedAt.timeIntervalSince1970) }
        var journalObject: [String: JSONValue] = [
            "next": .number(Double(journal.nextSequence)), "kept": .number(Double(journal.keptEntries)),
            "keptBytes": .number(Double(journal.keptBytes)), "dropped": .number(Double(journal.droppedEntries)),
        ]
        if let first = journal.firstSequence { journalObject["first"] = .number(Double(first)) }
        object["journal"] = .object(journalObject)
        return .object(object)
    }

    /// The status `json` describes; nil without a name.
    public init?(json: JSONValue) {
        guard let name = json["name"]?.stringValue else { return nil }
        let journal = json["journal"]
        self.init(
            name: name, pid: json["pid"]?.intValue.map { Int32($0) }, pythonVersion: json["python"]?.stringValue,
            busy: json["busy"]?.boolValue ?? false, queuedExecutions: json["queued"]?.intValue ?? 0,
            submittedExecutions: json["executions"]?.intValue ?? 0,
            kernelExecutionCount: json["kernelExecutionCount"]?.intValue ?? 0,
            residentMemoryBytes: json["memoryBytes"]?.intValue,
            startedAt: json["startedAt"]?.doubleValue.map { Date(timeIntervalSince1970: $0) },
            journal: SessionJournal.Status(
                firstSequence: journal?["first"]?.intValue, nextSequence: journal?["next"]?.intValue ?? 1,
                keptEntries: journal?["kept"]?.intValue ?? 0, keptBytes: journal?["keptBytes"]?.intValue ?? 0,
                droppedEntries: journal?["dropped"]?.intValue ?? 0, observers: json["clients"]?.intValue ?? 0))
    }
}
