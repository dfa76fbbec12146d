/// Folds an execution's events into an `ExecutionResult`, keeping stdout and stderr within
/// the collection limit. Used by `run` (in the kernel, with no event stream at all) and by
/// `Execution.result()` (consuming the stream).
struct ExecutionCollector {
    private var stdout: BoundedText
    private var stderr: BoundedText
    private var displays: [DisplayOutput] = []
    private var result: MIMEBundle?
    private var notices: [KernelNotice] = []
    private var hostCalls: [HostCallReport] = []

    init(limit: Int) {
        stdout = BoundedText(limit: limit)
        stderr = BoundedText(limit: limit)
    }

    mutating func add(_ event: ExecutionEvent) {
        switch event {
        case .notice(let notice): notices.append(notice)
        case .stdout(let text): stdout.append(text)
        case .stderr(let text): stderr.append(text)
        case .display(let bundle, let metadata): displays.append(DisplayOutput(bundle: bundle, metadata: metadata))
        case .result(let bundle, _): result = bundle
        case .hostCallEnded(let report): hostCalls.append(report)
        case .started, .error, .inputRequest, .hostCallStarted, .unknown, .finished: break
        }
    }

    /// The collected result, ending with `outcome`; a truncated stream adds a notice.
    func result(id: String, outcome: ExecutionOutcome) -> ExecutionResult {
        var collected = ExecutionResult(id: id, outcome: outcome)
        collected.stdout = stdout.text
        collected.stderr = stderr.text
        collected.stdoutOmittedBytes = stdout.omittedBytes
        collected.stderrOmittedBytes = stderr.omittedBytes
        collected.displays = displays
        collected.result = result
        collected.notices = notices
        collected.hostCalls = hostCalls
        if stdout.omittedBytes > 0 {
            collected.notices.append(
                KernelNotice(.collectedOutputTruncated(stream: .stdout, omittedBytes: stdout.omittedBytes)))
        }
        if stderr.omittedBytes > 0 {
            collected.notices.append(
                KernelNotice(.collectedOutputTruncated(stream: .stderr, omittedBytes: stderr.omittedBytes)))
        }
        return collected
    }
}
