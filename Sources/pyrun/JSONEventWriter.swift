import PyRunKit

/// Writes a run as NDJSON for scripts and agents: one object per line, shaped like the
/// protocol's frames (`hello`, `started`, `stdout`, `stderr`, `display`, `result`, `error`,
/// `input_request`, `done`), and then exactly one `outcome` line, always last.
struct JSONEventWriter {
    let output: OutputSink

    /// The kernel's `hello`.
    func writeHello(_ hello: KernelHello) {
        var object: [String: JSONValue] = [
            "type": .string("hello"), "protocol": .number(Double(hello.protocolVersion)), "pid": .number(Double(hello.pid)),
            "python": .string(hello.pythonVersion), "executable": .string(hello.executable),
            "cwd": .string(hello.workingDirectory),
        ]
        if let preludeError = hello.preludeError { object["preludeError"] = Self.errorObject(preludeError) }
        if !hello.limitsIgnored.isEmpty { object["limitsIgnored"] = .array(hello.limitsIgnored.map { .string($0) }) }
        write(object)
    }

    /// One execution event, as the frame it came from.
    func writeEvent(_ event: ExecutionEvent, executionID: String) {
        var object: [String: JSONValue]
        switch event {
        case .started(let count):
            object = ["type": .string("started"), "executionCount": .number(Double(count))]
        case .stdout(let text):
            object = ["type": .string("stdout"), "data": .string(text)]
        case .stderr(let text):
            object = ["type": .string("stderr"), "data": .string(text)]
        case .display(let bundle, let metadata):
            object = ["type": .string("display"), "bundle": .object(bundle.values)]
            if let metadata { object["metadata"] = metadata }
        case .result(let bundle, let count):
            object = ["type": .string("result"), "bundle": .object(bundle.values), "executionCount": .number(Double(count))]
        case .error(let error):
            object = Self.errorObject(error).objectValue ?? [:]
            object["type"] = .string("error")
        case .inputRequest(let prompt, let password):
            object = ["type": .string("input_request"), "prompt": .string(prompt), "password": .bool(password)]
        case .unknown(let frame):
            // A frame this host does not know is passed on whole.
            object = frame.objectValue ?? ["type": .string("unknown"), "frame": frame]
        }
        object["id"] = .string(executionID)
        write(object)
    }

    /// The runner's `done` report, when it sent one.
    func writeDone(_ result: ExecutionResult) {
        guard let report = result.report else { return }
        write([
            "type": .string("done"), "id": .string(result.id), "status": .string(report.ok ? "ok" : "error"),
            "executionCount": .number(Double(report.executionCount)), "cancelled": .bool(report.cancelled),
            "durationMs": .number(report.durationMs), "cpuMs": .number(report.cpuMs),
            "peakRssBytes": .number(Double(report.peakRssBytes)), "droppedBytes": .number(Double(report.droppedBytes)),
        ])
    }

    /// The one last line: how the run ended and the exit status pyrun gives.
    func writeOutcome(status: String, exitCode: Int32, result: ExecutionResult?, message: String? = nil) {
        var object: [String: JSONValue] = [
            "type": .string("outcome"), "status": .string(status), "exitCode": .number(Double(exitCode)),
        ]
        if let result {
            object["notices"] = .array(result.notices.map { .string($0) })
            let (seconds, attoseconds) = result.duration.components
            object["durationMs"] = .number(Double(seconds) * 1000 + Double(attoseconds / 1_000_000_000_000) / 1000)
            if let count = result.executionCount { object["executionCount"] = .number(Double(count)) }
            if let cause = result.deathCause {
                var death: [String: JSONValue] = ["description": .string(cause.description)]
                switch cause.exitStatus {
                case .exited(let code): death["exitCode"] = .number(Double(code))
                case .signaled(let signal): death["signal"] = .number(Double(signal))
                }
                object["deathCause"] = .object(death)
            }
        }
        if let message { object["message"] = .string(message) }
        write(object)
    }

    private static func errorObject(_ error: PythonError) -> JSONValue {
        .object([
            "ename": .string(error.name), "evalue": .string(error.value),
            "traceback": .array(error.traceback.map { .string($0) }),
        ])
    }

    private func write(_ object: [String: JSONValue]) {
        output.writeLine(JSONValue.object(object).serialized())
    }
}
