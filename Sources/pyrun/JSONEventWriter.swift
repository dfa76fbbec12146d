import PyRunKit

/// Writes a run as NDJSON for scripts and agents: one object per line, the protocol's frames
/// as the library encodes them (`hello`, `started`, `stdout`, `stderr`, `display`, `result`,
/// `error`, `input_request`, `call`, `done`; a host call's end as `host_call_ended`), and
/// then exactly one `outcome` line, always last.
struct JSONEventWriter {
    let output: OutputSink

    /// The kernel's `hello`.
    func writeHello(_ hello: KernelHello) {
        write(Frame.hello(hello).json)
    }

    /// One event that came from a frame, or a host call's end; the host's other events go
    /// into the outcome.
    func writeEvent(_ event: ExecutionEvent, executionID: String) {
        if case .hostCallEnded = event {
            write(event.json(executionID: executionID))
            return
        }
        guard let frame = event.frame(executionID: executionID) else { return }
        write(frame.json)
    }

    /// The runner's `done` report, when it sent one.
    func writeDone(_ outcome: ExecutionOutcome, executionID: String) {
        guard let report = outcome.report else { return }
        write(Frame.done(id: executionID, report).json)
    }

    /// The one last line: how the run ended (`ExecutionOutcome.json`, or a status of pyrun's
    /// own such as `usageError`), the notices, and the exit status pyrun gives.
    func writeOutcome(
        status: String? = nil, exitCode: Int32, outcome: ExecutionOutcome?, notices: [KernelNotice] = [],
        message: String? = nil
    ) {
        var object = outcome?.json.objectValue ?? [:]
        object["type"] = .string("outcome")
        if let status { object["status"] = .string(status) }
        object["exitCode"] = .number(Double(exitCode))
        object["notices"] = .array(notices.map(\.json))
        if let message { object["message"] = .string(message) }
        write(.object(object))
    }

    private func write(_ value: JSONValue) {
        output.writeLine(value.serialized())
    }
}
