import Foundation

// Decoding of the JSON forms that `ExecutionEvent+JSON.swift` writes, for clients that receive
// executions across a wire (`pyrun exec`, `pyrun attach`): what was sent comes back as the
// same typed values. The one thing that cannot come back is a `configurationChanged` notice,
// whose JSON names the changes but not the configurations; it decodes as `.unknown`.

extension ExecutionEvent {
    /// The event `json` describes (as `json(executionID:)` writes it): a frame's event (a
    /// `call` frame is `hostCallStarted`), a notice, `host_call_ended`, or `finished`;
    /// `.unknown` for any other object. Nil when it is not an object
    /// with a `type`.
    public init?(json: JSONValue) {
        guard let type = json[FrameField.type]?.stringValue else { return nil }
        switch type {
        case "notice":
            self = KernelNotice(json: json).map { .notice($0) } ?? .unknown(json)
        case "finished":
            guard let outcome = ExecutionOutcome(json: json) else { return nil }
            self = .finished(outcome)
        case "host_call_ended":
            self = HostCallReport(json: json).map { .hostCallEnded($0) } ?? .unknown(json)
        default:
            switch Frame(json: json) {
            case .started(_, let count): self = .started(executionCount: count)
            case .output(_, .stdout, let text): self = .stdout(text)
            case .output(_, .stderr, let text): self = .stderr(text)
            case .display(_, let bundle, let metadata): self = .display(bundle, metadata: metadata)
            case .result(_, let bundle, let count): self = .result(bundle, executionCount: count)
            case .error(_, let error): self = .error(error)
            case .inputRequest(_, let prompt, let password): self = .inputRequest(prompt: prompt, password: password)
            case .call(_, let callID, let name, let arguments):
                self = .hostCallStarted(HostCallStart(callID: callID, function: name, arguments: arguments))
            default: self = .unknown(json)
            }
        }
    }
}

extension ExecutionOutcome {
    /// The outcome `json` describes (as `json` writes it); nil without a known `status`.
    public init?(json: JSONValue) {
        guard let status = json["status"]?.stringValue.flatMap(ExecutionStatus.init(rawValue:)) else { return nil }
        var report: DoneReport?
        if var fields = json["report"]?.objectValue {
            fields[FrameField.type] = .string(FrameType.done)
            fields[FrameField.id] = .string("")
            if case .done(_, let decoded) = Frame(json: .object(fields)) { report = decoded }
        }
        var startFailure: KernelError?
        if let failure = json["startFailure"] {
            let kind = failure["code"]?.stringValue.flatMap(KernelError.Code.Kind.init(rawValue:)) ?? .startupFailed
            startFailure = KernelError(KernelError.Code(kind: kind), failure["message"]?.stringValue ?? "")
        }
        self.init(
            status: status, executionCount: json["executionCount"]?.intValue,
            error: json["error"].flatMap(PythonError.init(json:)),
            death: json["death"].flatMap(KernelDeath.init(json:)),
            startFailure: startFailure, report: report,
            duration: .fromMilliseconds(json["durationMs"]?.doubleValue ?? 0))
    }
}

extension HostCallReport {
    /// The report `json` describes (as `json` writes it); nil without a call id, a name and a
    /// known outcome.
    public init?(json: JSONValue) {
        guard let callID = json["callId"]?.stringValue, let function = json["name"]?.stringValue else { return nil }
        let outcome: HostCallOutcome
        switch json["outcome"]?.stringValue {
        case "returned": outcome = .returned
        case "failed":
            outcome = .failed(
                HostCallError(
                    type: json["error"]?["type"]?.stringValue ?? "HostError",
                    message: json["error"]?["message"]?.stringValue ?? ""))
        case "timedOut": outcome = .timedOut(after: .fromMilliseconds(json["timeoutMs"]?.doubleValue ?? 0))
        case "cancelled": outcome = .cancelled
        default: return nil
        }
        self.init(
            callID: callID, function: function, duration: .fromMilliseconds(json["durationMs"]?.doubleValue ?? 0),
            outcome: outcome)
    }
}

extension KernelNotice {
    /// The notice `json` describes (as `json` writes it); nil for an unknown kind and for
    /// `configurationChanged`, whose configurations the JSON does not carry.
    public init?(json: JSONValue) {
        guard let kindName = json["kind"]?.stringValue else { return nil }
        let kind: Kind
        switch kindName {
        case "evicted":
            kind = .evicted(maximumLiveKernels: json["maximumLiveKernels"]?.intValue ?? 0)
        case "culled":
            kind = .culled(
                idleFor: .fromMilliseconds(json["idleMs"]?.doubleValue ?? 0),
                idleTimeout: .fromMilliseconds(json["idleTimeoutMs"]?.doubleValue ?? 0))
        case "shutDown": kind = .shutDown
        case "reset": kind = .reset
        case "died":
            guard let death = json["death"].flatMap(KernelDeath.init(json:)) else { return nil }
            kind = .died(death)
        case "timedOut": kind = .timedOut(after: .fromMilliseconds(json["timeoutMs"]?.doubleValue ?? 0))
        case "cancelledBeforeStart": kind = .cancelledBeforeStart
        case "shutDownBeforeStart": kind = .shutDownBeforeStart
        case "runnerRejected": kind = .runnerRejected(message: json["message"]?.stringValue ?? "")
        case "collectedOutputTruncated":
            kind = .collectedOutputTruncated(
                stream: json["stream"]?.stringValue.flatMap(OutputStream.init(rawValue:)) ?? .stdout,
                omittedBytes: json["omittedBytes"]?.intValue ?? 0)
        default: return nil
        }
        self.init(kind, key: json["key"]?.stringValue)
    }
}

extension KernelDeath {
    /// The death `json` describes (as `json` writes it); nil without a known cause and a status.
    public init?(json: JSONValue) {
        let status: TerminationStatus
        if let code = json["exitCode"]?.intValue {
            status = .exited(Int32(code))
        } else if let signal = json["signal"]?.intValue {
            status = .signaled(Int32(signal))
        } else {
            return nil
        }
        let signal: Int32 = if case .signaled(let number) = status { number } else { 0 }
        let cause: Cause
        switch json["cause"]?.stringValue {
        case "stoppedByPyrun":
            guard let reason = StopReason(json: json) else { return nil }
            cause = .stoppedByPyrun(reason)
        case "exited":
            guard case .exited(let code) = status else { return nil }
            cause = .exited(code: code)
        case "crashed": cause = .crashed(signal: signal)
        case "killedItself": cause = .killedItself(signal: signal)
        case "limitReached":
            guard let kind = json["limit"]?.stringValue.flatMap(ResourceLimitKind.init(rawValue:)) else { return nil }
            cause = .limitReached(kind, signal: signal)
        case "outOfMemory":
            if json["evidence"]?.stringValue == "cgroupOutOfMemoryKills" {
                cause = .outOfMemory(.cgroupOutOfMemoryKills(json["outOfMemoryKills"]?.intValue ?? 0))
            } else {
                cause = .outOfMemory(.memoryLimitReached(limitBytes: json["memoryLimitBytes"]?.intValue ?? 0))
            }
        case "killedFromOutside": cause = .killedFromOutside(signal: signal)
        case "templateDied":
            guard let template = json["templatePid"]?.intValue else { return nil }
            let templateStatus: TerminationStatus
            if let code = json["templateExitCode"]?.intValue {
                templateStatus = .exited(Int32(code))
            } else if let signal = json["templateSignal"]?.intValue {
                templateStatus = .signaled(Int32(signal))
            } else {
                return nil
            }
            cause = .templateDied(processID: Int32(template), status: templateStatus)
        default: return nil
        }
        self.init(
            cause: cause, status: status, processID: Int32(json["pid"]?.intValue ?? 0),
            executionID: json["executionId"]?.stringValue,
            memory: KernelMemory(
                lastResidentBytes: json["lastResidentBytes"]?.intValue,
                peakResidentBytes: json["peakResidentBytes"]?.intValue,
                limitBytes: json["memoryLimitBytes"]?.intValue),
            diagnostics: json["diagnostics"]?.stringValue ?? "")
    }
}

extension KernelDeath.StopReason {
    /// The reason a death's JSON names (`reason`, with `graceMs` or `timeoutMs`).
    init?(json: JSONValue) {
        switch json["reason"]?.stringValue {
        case "interruptNotHonoured":
            self = .interruptNotHonoured(grace: .fromMilliseconds(json["graceMs"]?.doubleValue ?? 0))
        case "timeout": self = .timeout(after: .fromMilliseconds(json["timeoutMs"]?.doubleValue ?? 0))
        case "interrupted": self = .interrupted
        case "shutdown": self = .shutdown
        case "eviction": self = .eviction
        case "idleCull": self = .idleCull
        case "reset": self = .reset
        case "configurationChanged": self = .configurationChanged
        case "frameChannelLost": self = .frameChannelLost
        case "hostExit": self = .hostExit
        default: return nil
        }
    }
}

extension Duration {
    /// A duration from a JSON number of milliseconds.
    static func fromMilliseconds(_ milliseconds: Double) -> Duration {
        guard milliseconds.isFinite, milliseconds > 0 else { return .zero }
        return .nanoseconds(Int64(min(milliseconds * 1e6, 9e18)))
    }
}
