import PyRunKit

extension ExecutionReport.Notice {
    /// A kernel notice in a model's terms: sessions rather than pool keys, and what the
    /// notice means for the state this call and the next one see.
    ///
    /// The pool's notices (they carry a key) come before the code runs and are about what the
    /// session lost since its previous call; the kernel's own (no key) are about this call.
    init(_ notice: KernelNotice, session: String) {
        let name = "session \"\(session)\""
        let fresh = "this call runs in a fresh interpreter: earlier variables and imports are gone"
        let lost = notice.stateLost
        switch notice.kind {
        case .evicted(let maximum):
            self.init(
                kind: "evicted", stateLost: lost,
                message:
                    "\(name) was closed to keep at most \(maximum) interpreters alive (it was the least recently used idle one); \(fresh)"
            )
        case .culled(let idleFor, let idleTimeout):
            self.init(
                kind: "culled", stateLost: lost,
                message:
                    "\(name) was closed after \(ExecutionReport.formatSeconds(idleFor.seconds)) idle (the limit is \(ExecutionReport.formatSeconds(idleTimeout.seconds))); \(fresh)"
            )
        case .shutDown:
            self.init(kind: "closed", stateLost: lost, message: "\(name) was closed; \(fresh)")
        case .reset:
            self.init(kind: "reset", stateLost: lost, message: "\(name) was reset; \(fresh)")
        case .configurationChanged:
            // The server gives every session the same configuration; said as the pool says it.
            self.init(kind: "configuration_changed", stateLost: lost, message: notice.description)
        case .died(let death):
            let kind = Self.kind(of: death)
            if notice.key != nil {
                let ended = death.wasRequested ? "was stopped" : "ended"
                self.init(
                    kind: kind, stateLost: lost,
                    message: "the previous interpreter of \(name) \(ended): \(death); \(fresh)")
            } else {
                self.init(
                    kind: kind, stateLost: lost,
                    message:
                        "the interpreter of \(name) ended: \(death). Its state is gone; the next call starts a fresh one"
                )
            }
        case .timedOut(let after):
            self.init(
                kind: "timed_out", stateLost: lost,
                message:
                    "the code ran past timeout_s (\(ExecutionReport.formatSeconds(after.seconds))) and was interrupted")
        case .cancelledBeforeStart:
            self.init(kind: "cancelled", stateLost: lost, message: "the call was cancelled before the code started")
        case .shutDownBeforeStart:
            self.init(
                kind: "closed", stateLost: lost, message: "\(name) was closed before this code ran; it did not run")
        case .runnerRejected(let message):
            self.init(kind: "rejected", stateLost: lost, message: "the interpreter rejected the request: \(message)")
        case .preludeFailed(let failures):
            let what = failures.map(\.description).joined(separator: "; ")
            self.init(
                kind: "prelude_failed", stateLost: lost,
                message:
                    "part of the helpers \(name) loads at its start failed (\(what)); the rest loaded and the code ran")
        case .collectedOutputTruncated:
            self.init(kind: "output_truncated", stateLost: lost, message: notice.description)
        }
    }

    /// `killed_after_interrupt` and `killed_after_timeout` say that pyrun ended code that
    /// did not stop when asked; `died` is every other end.
    private static func kind(of death: KernelDeath) -> String {
        switch death.cause {
        case .stoppedByPyrun(.interruptNotHonoured), .stoppedByPyrun(.interrupted): "killed_after_interrupt"
        case .stoppedByPyrun(.timeout): "killed_after_timeout"
        default: "died"
        }
    }
}

extension Duration {
    /// The duration in seconds, as a fraction.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
