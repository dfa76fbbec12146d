/// The JSON forms of execution events and what they carry, for hosts that pass executions on
/// as NDJSON (the `pyrun --json` output, an agent's tool reply). Events that come from a
/// frame are written as that frame, with the frame's own field names (`Frame.json`; a
/// `hostCallStarted` is its `call` frame); the host's own values (`notice`, `finished`,
/// `host_call_ended`) are objects with a `type` of that name.
extension ExecutionEvent {
    /// The frame this event came from, for execution `executionID`; nil for `notice`,
    /// `hostCallEnded` and `finished`, which the host makes.
    public func frame(executionID: String) -> Frame? {
        switch self {
        case .started(let count): .started(id: executionID, executionCount: count)
        case .stdout(let text): .output(id: executionID, stream: .stdout, text: text)
        case .stderr(let text): .output(id: executionID, stream: .stderr, text: text)
        case .display(let bundle, let metadata): .display(id: executionID, bundle: bundle, metadata: metadata)
        case .result(let bundle, let count): .result(id: executionID, bundle: bundle, executionCount: count)
        case .error(let error): .error(id: executionID, error)
        case .inputRequest(let prompt, let password): .inputRequest(id: executionID, prompt: prompt, password: password)
        case .hostCallStarted(let start):
            .call(id: executionID, callID: start.callID, name: start.function, arguments: start.arguments)
        case .unknown(let json): .unknown(json)
        case .notice, .hostCallEnded, .finished: nil
        }
    }

    /// The event as one JSON object: its frame, or `{"type":"notice",…}`,
    /// `{"type":"host_call_ended",…}` / `{"type":"finished",…}` with the fields of
    /// `KernelNotice.json`, `HostCallReport.json` / `ExecutionOutcome.json`.
    public func json(executionID: String) -> JSONValue {
        switch self {
        case .notice(let notice):
            return Self.typed("notice", notice.json, executionID: executionID)
        case .finished(let outcome):
            return Self.typed("finished", outcome.json, executionID: executionID)
        case .hostCallEnded(let report):
            return Self.typed("host_call_ended", report.json, executionID: executionID)
        default:
            return frame(executionID: executionID)?.json ?? .null
        }
    }

    private static func typed(_ type: String, _ value: JSONValue, executionID: String) -> JSONValue {
        var object = value.objectValue ?? [:]
        object["type"] = .string(type)
        object["id"] = .string(executionID)
        return .object(object)
    }
}

extension ExecutionOutcome {
    /// `{"status", "executionCount"?, "durationMs", "error"?, "death"?, "startFailure"?,
    /// "droppedBytes"?, "report"?}` (`report`: the fields of the runner's `done` frame).
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "status": .string(status.rawValue), "durationMs": .number(duration.milliseconds),
        ]
        if let executionCount { object["executionCount"] = .number(Double(executionCount)) }
        if let error { object["error"] = error.json }
        if let death { object["death"] = death.json }
        if let startFailure {
            object["startFailure"] = .object([
                "code": .string(startFailure.code.description), "message": .string(startFailure.message),
            ])
        }
        if let dropped = report?.droppedBytes, dropped > 0 { object["droppedBytes"] = .number(Double(dropped)) }
        if let report, var fields = Frame.done(id: "", report).json.objectValue {
            // The runner's whole `done` report, so a client across a wire has what a local caller has.
            fields.removeValue(forKey: FrameField.type)
            fields.removeValue(forKey: FrameField.id)
            object["report"] = .object(fields)
        }
        return .object(object)
    }
}

extension KernelNotice {
    /// `{"kind", "key"?, "stateLost", "description"}`, plus the details of the kind
    /// (`death` for `died`, `failures` for `preludeFailed`, `omittedBytes` for a truncated
    /// collection, …).
    public var json: JSONValue {
        var object: [String: JSONValue] = ["stateLost": .bool(stateLost), "description": .string(description)]
        if let key { object["key"] = .string(key) }
        let kindName: String
        switch kind {
        case .evicted(let maximum):
            kindName = "evicted"
            object["maximumLiveKernels"] = .number(Double(maximum))
        case .culled(let idleFor, let idleTimeout):
            kindName = "culled"
            object["idleMs"] = .number(idleFor.milliseconds)
            object["idleTimeoutMs"] = .number(idleTimeout.milliseconds)
        case .shutDown: kindName = "shutDown"
        case .reset: kindName = "reset"
        case .configurationChanged(let old, let new):
            kindName = "configurationChanged"
            object["changes"] = .array(KernelConfiguration.differences(from: old, to: new).map { .string($0) })
        case .died(let death):
            kindName = "died"
            object["death"] = death.json
        case .timedOut(let after):
            kindName = "timedOut"
            object["timeoutMs"] = .number(after.milliseconds)
        case .cancelledBeforeStart: kindName = "cancelledBeforeStart"
        case .shutDownBeforeStart: kindName = "shutDownBeforeStart"
        case .runnerRejected(let message):
            kindName = "runnerRejected"
            object["message"] = .string(message)
        case .preludeFailed(let failures):
            kindName = "preludeFailed"
            object["failures"] = .array(failures.map(\.json))
        case .collectedOutputTruncated(let stream, let omitted):
            kindName = "collectedOutputTruncated"
            object["stream"] = .string(stream.rawValue)
            object["omittedBytes"] = .number(Double(omitted))
        }
        object["kind"] = .string(kindName)
        return .object(object)
    }
}

extension KernelDeath {
    /// `{"cause", "reason"? | "limit"? | "evidence"?, "graceMs"? | "timeoutMs"?, "exitCode" |
    /// "signal", "pid", "templatePid"? and "templateExitCode" | "templateSignal" (a
    /// `templateDied`), "executionId"?, "peakResidentBytes"?, "lastResidentBytes"?,
    /// "memoryLimitBytes"?, "diagnostics"?, "description"}`.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "pid": .number(Double(processID)), "description": .string(description),
        ]
        switch status {
        case .exited(let code): object["exitCode"] = .number(Double(code))
        case .signaled(let signal): object["signal"] = .number(Double(signal))
        }
        switch cause {
        case .stoppedByPyrun(let reason):
            object["cause"] = .string("stoppedByPyrun")
            object["reason"] = .string(reason.name)
            switch reason {
            case .interruptNotHonoured(let grace): object["graceMs"] = .number(grace.milliseconds)
            case .timeout(let after): object["timeoutMs"] = .number(after.milliseconds)
            default: break
            }
        case .exited: object["cause"] = .string("exited")
        case .crashed: object["cause"] = .string("crashed")
        case .killedItself: object["cause"] = .string("killedItself")
        case .limitReached(let kind, _):
            object["cause"] = .string("limitReached")
            object["limit"] = .string(kind.rawValue)
        case .outOfMemory(let evidence):
            object["cause"] = .string("outOfMemory")
            switch evidence {
            case .cgroupOutOfMemoryKills(let count):
                object["evidence"] = .string("cgroupOutOfMemoryKills")
                object["outOfMemoryKills"] = .number(Double(count))
            case .memoryLimitReached:
                object["evidence"] = .string("memoryLimitReached")
            }
        case .killedFromOutside: object["cause"] = .string("killedFromOutside")
        case .templateDied(let processID, let status):
            object["cause"] = .string("templateDied")
            object["templatePid"] = .number(Double(processID))
            switch status {
            case .exited(let code): object["templateExitCode"] = .number(Double(code))
            case .signaled(let signal): object["templateSignal"] = .number(Double(signal))
            }
        }
        if let executionID { object["executionId"] = .string(executionID) }
        if let peak = memory.peakResidentBytes { object["peakResidentBytes"] = .number(Double(peak)) }
        if let last = memory.lastResidentBytes { object["lastResidentBytes"] = .number(Double(last)) }
        if let limit = memory.limitBytes { object["memoryLimitBytes"] = .number(Double(limit)) }
        if !diagnostics.isEmpty { object["diagnostics"] = .string(diagnostics) }
        return .object(object)
    }
}

extension KernelDeath.StopReason {
    /// The reason's name in JSON: `interruptNotHonoured`, `timeout`, …
    var name: String {
        switch self {
        case .interruptNotHonoured: "interruptNotHonoured"
        case .timeout: "timeout"
        case .interrupted: "interrupted"
        case .shutdown: "shutdown"
        case .eviction: "eviction"
        case .idleCull: "idleCull"
        case .reset: "reset"
        case .configurationChanged: "configurationChanged"
        case .frameChannelLost: "frameChannelLost"
        case .hostExit: "hostExit"
        }
    }
}

extension HostCallReport {
    /// `{"callId", "name", "durationMs", "outcome"}`, plus `error` (`{type, message}`) for a
    /// failure and `timeoutMs` for a timeout.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "callId": .string(callID), "name": .string(function), "durationMs": .number(duration.milliseconds),
            "outcome": .string(outcome.name),
        ]
        switch outcome {
        case .failed(let error):
            object["error"] = .object(["type": .string(error.type), "message": .string(error.message)])
        case .timedOut(let after):
            object["timeoutMs"] = .number(after.milliseconds)
        case .returned, .cancelled:
            break
        }
        return .object(object)
    }
}
