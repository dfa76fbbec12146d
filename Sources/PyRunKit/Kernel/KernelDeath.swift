#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a kernel process ended, and who ended it.
///
/// The `cause` is worked out from what the host knows for certain: the signals pyrun itself
/// sent, the `self_signal` frame the runner sends before user code signals its own process,
/// the kind of signal, the kernel's memory limit and, where the platform exposes it, the OOM-kill
/// counter of the kernel's cgroup. "Out of memory" is said only with such evidence.
public struct KernelDeath: Sendable, Hashable, CustomStringConvertible {
    /// Who ended the process, and why.
    public enum Cause: Sendable, Hashable {
        /// pyrun stopped it on purpose.
        case stoppedByPyrun(StopReason)
        /// The process exited by itself with this status (`os._exit(3)`, a fatal error in the
        /// interpreter).
        case exited(code: Int32)
        /// The process crashed: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS or SIGTRAP.
        case crashed(signal: Int32)
        /// The code sent this signal to its own process (`os.kill(os.getpid(), 9)`,
        /// `os.abort()`), as the runner announced with a `self_signal` frame.
        case killedItself(signal: Int32)
        /// The operating system enforced one of the kernel's resource limits.
        case limitReached(ResourceLimitKind, signal: Int32)
        /// The kernel ran out of memory, as the evidence shows.
        case outOfMemory(OutOfMemoryEvidence)
        /// A signal from outside pyrun and the kernel's own code ended it (another program, a
        /// person with `kill`, or the system's OOM killer where no evidence says so).
        case killedFromOutside(signal: Int32)
        /// The template process the kernel was forked from (`KernelConfiguration.usesTemplate`)
        /// ended first, with `status`, and the kernel ended with it: a forked kernel does not
        /// outlive its template. The kernel's own status is unknown (only the template, its
        /// parent, could learn it), so the death's `status` reads `.exited(-1)`.
        case templateDied(processID: Int32, status: TerminationStatus)
    }

    /// Why pyrun stopped a kernel.
    public enum StopReason: Sendable, Hashable {
        /// The code did not stop within `grace` of an interrupt.
        case interruptNotHonoured(grace: Duration)
        /// The code ran past its timeout and did not stop when interrupted (or the interrupt
        /// itself ended the process).
        case timeout(after: Duration)
        /// The interrupt pyrun sent ended the process: the code had restored SIGINT's default
        /// action, so there was no `KeyboardInterrupt` to catch.
        case interrupted
        /// `shutdown()` (or the end of a `withKernel`/`withPool` body).
        case shutdown
        /// The pool evicted the idle kernel to stay within `maximumLiveKernels`.
        case eviction
        /// The pool shut the kernel down after its idle timeout.
        case idleCull
        /// The key was reset.
        case reset
        /// The key was asked for with a different configuration.
        case configurationChanged
        /// The code closed or replaced the runner's frame channel, so the runner could no
        /// longer report anything (the runner exits with status 76 when it sees this itself).
        case frameChannelLost
        /// The host is exiting (`shutdownAllOnTermination`).
        case hostExit
    }

    /// Which resource limit the operating system enforced.
    public enum ResourceLimitKind: String, Sendable, Hashable {
        /// `ResourceLimits.cpuSeconds` (SIGXCPU).
        case cpuTime
        /// `ResourceLimits.fileSizeBytes` (SIGXFSZ).
        case fileSize
    }

    /// What shows that a kernel ran out of memory.
    public enum OutOfMemoryEvidence: Sendable, Hashable {
        /// The OOM-kill counter of the kernel's cgroup moved by this much while it lived and
        /// the kernel was killed with SIGKILL.
        case cgroupOutOfMemoryKills(Int)
        /// The kernel ran under a memory limit of `limitBytes` and reached it: it crashed with
        /// its peak resident memory near the limit or with an allocation failure in its last
        /// words, or the runner reported that the limit leaves too little memory for the runner
        /// itself (exit status 77).
        case memoryLimitReached(limitBytes: Int)
    }

    /// Who ended the process, and why.
    public var cause: Cause
    /// The exit code or signal, as the operating system reported it.
    public var status: TerminationStatus
    /// The pid the process had.
    public var processID: Int32
    /// The execution that was running when it ended, if any.
    public var executionID: String?
    /// What is known of its memory when it ended.
    public var memory: KernelMemory
    /// The tail of the runner's own stderr (a crash in the interpreter shows here).
    public var diagnostics: String

    /// Creates a death record; the kernel makes these, tests and hosts may too.
    public init(
        cause: Cause, status: TerminationStatus, processID: Int32, executionID: String? = nil,
        memory: KernelMemory = KernelMemory(), diagnostics: String = ""
    ) {
        self.cause = cause
        self.status = status
        self.processID = processID
        self.executionID = executionID
        self.memory = memory
        self.diagnostics = diagnostics
    }

    /// True when the host asked for the process to end (a shutdown, reset, eviction, cull,
    /// configuration change or host exit), as opposed to a death the host must report.
    public var wasRequested: Bool {
        guard case .stoppedByPyrun(let reason) = cause else { return false }
        switch reason {
        case .shutdown, .eviction, .idleCull, .reset, .configurationChanged, .hostExit: return true
        case .interruptNotHonoured, .timeout, .interrupted, .frameChannelLost: return false
        }
    }

    /// One sentence for people: who ended the kernel, while running what, and its memory.
    public var description: String {
        var text = cause.description
        if let executionID { text += " while running execution \(executionID)" }
        var details: [String] = []
        // Memory figures where they help explain the end: an outside SIGKILL is often the
        // system's OOM killer, and a limit may be what was reached.
        var memoryMatters = memory.limitBytes != nil
        switch cause {
        case .outOfMemory, .killedFromOutside(signal: SIGKILL): memoryMatters = true
        default: break
        }
        if memoryMatters {
            if let peak = memory.peakResidentBytes { details.append("peak resident memory \(ByteFormat.text(peak))") }
            if let last = memory.lastResidentBytes { details.append("last seen \(ByteFormat.text(last))") }
            if let limit = memory.limitBytes { details.append("memory limit \(ByteFormat.text(limit))") }
        }
        let tail = diagnostics.split(separator: "\n").suffix(3).joined(separator: " | ")
        if !tail.isEmpty { details.append("runner stderr: \(tail)") }
        if !details.isEmpty { text += " (\(details.joined(separator: "; ")))" }
        return text
    }
}

/// What is known of a kernel's memory when it ended; each figure is nil where it is unknown.
public struct KernelMemory: Sendable, Hashable, CustomStringConvertible {
    /// Resident memory at the last sample the host took while it lived.
    public var lastResidentBytes: Int?
    /// The highest resident memory the process reached.
    public var peakResidentBytes: Int?
    /// The kernel's memory limit (`ResourceLimits.memoryBytes`), if it had one.
    public var limitBytes: Int?

    /// Memory figures; nil where unknown.
    public init(lastResidentBytes: Int? = nil, peakResidentBytes: Int? = nil, limitBytes: Int? = nil) {
        self.lastResidentBytes = lastResidentBytes
        self.peakResidentBytes = peakResidentBytes
        self.limitBytes = limitBytes
    }

    public var description: String {
        let parts = [
            lastResidentBytes.map { "last resident \(ByteFormat.text($0))" },
            peakResidentBytes.map { "peak resident \(ByteFormat.text($0))" },
            limitBytes.map { "limit \(ByteFormat.text($0))" },
        ].compactMap { $0 }
        return parts.isEmpty ? "unknown" : parts.joined(separator: ", ")
    }
}

extension KernelDeath.Cause: CustomStringConvertible {
    public var description: String {
        switch self {
        case .stoppedByPyrun(let reason):
            return reason.description
        case .exited(let code):
            return "the kernel exited with status \(code)"
        case .crashed(let signal):
            return "the kernel crashed with \(signalText(signal))"
        case .killedItself(let signal):
            return "the kernel's own code ended it with \(signalText(signal))"
        case .limitReached(let kind, let signal):
            let limit = kind == .cpuTime ? "CPU time limit" : "file size limit"
            return "the kernel reached its \(limit) and was ended with \(signalText(signal))"
        case .outOfMemory(.cgroupOutOfMemoryKills(let count)):
            return
                "the kernel ran out of memory: the system's OOM killer ended it (its cgroup counted \(count) OOM kill\(count == 1 ? "" : "s"))"
        case .outOfMemory(.memoryLimitReached(let limit)):
            return "the kernel ran out of memory: it reached its memory limit of \(ByteFormat.text(limit))"
        case .killedFromOutside(let signal):
            return "the kernel was killed from outside pyrun with \(signalText(signal))"
        case .templateDied(let processID, let status):
            return
                "the kernel's template process (pid \(processID)) \(status), and the kernel ended with it"
        }
    }
}

extension KernelDeath.StopReason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .interruptNotHonoured(let grace):
            return
                "pyrun killed the kernel because the code did not stop within \(grace.formattedSeconds) of an interrupt"
        case .timeout(let after):
            return
                "pyrun stopped the kernel because the code ran past its \(after.formattedSeconds) timeout and the interrupt did not end it cleanly"
        case .interrupted:
            return "the kernel ended on pyrun's interrupt (the code had restored SIGINT's default action)"
        case .shutdown:
            return "pyrun shut the kernel down"
        case .eviction:
            return "pyrun shut the idle kernel down to stay within the pool's cap"
        case .idleCull:
            return "pyrun shut the kernel down after its idle timeout"
        case .reset:
            return "pyrun replaced the kernel on a reset"
        case .configurationChanged:
            return "pyrun replaced the kernel because its configuration changed"
        case .frameChannelLost:
            return "pyrun stopped the kernel because the code closed or replaced the runner's frame channel"
        case .hostExit:
            return "pyrun shut the kernel down because the host is exiting"
        }
    }
}

extension KernelDeath {
    /// What the host knows when a process ends, as the classification needs it.
    struct Evidence: Sendable, Hashable {
        var status: TerminationStatus
        /// The last non-SIGINT signal the host sent before the exit.
        var hostSignal: Int32?
        /// Why pyrun was stopping the process, if it was.
        var stopReason: StopReason?
        /// Set when the host had interrupted the running execution: what to call a death by
        /// SIGINT (`.interrupted`, or `.timeout` for an execution that timed out).
        var interruptReason: StopReason?
        /// The signal a `self_signal` frame announced.
        var selfSignal: Int32?
        var memoryLimitBytes: Int?
        var peakResidentBytes: Int?
        var outOfMemoryKills: Int?
        var diagnostics: String = ""
        /// How the kernel's template ended, when it ended before it could report the kernel's
        /// status.
        var templateDeath: TemplateDeath?
    }

    /// The runner's exit status when user code closed or replaced its frame channel.
    static let frameChannelLostStatus: Int32 = 76
    /// The runner's exit status when the resource limits leave too little memory for it.
    static let memoryLimitTooLowStatus: Int32 = 77

    /// Who ended a process, from the evidence; the rules are tried in order.
    static func classify(_ evidence: Evidence) -> Cause {
        if let reason = evidence.stopReason {
            switch evidence.status {
            case .exited:
                // It left when asked (the `exit` request, or its SIGTERM handler).
                return .stoppedByPyrun(reason)
            case .signaled(let signal) where evidence.hostSignal == nil || evidence.hostSignal == signal:
                return .stoppedByPyrun(reason)
            case .signaled:
                break  // something else ended it while pyrun was stopping it
            }
        }
        if let template = evidence.templateDeath {
            return .templateDied(processID: template.processID, status: template.status)
        }
        switch evidence.status {
        case .signaled(let signal):
            if signal == SIGINT, let interruptReason = evidence.interruptReason {
                return .stoppedByPyrun(interruptReason)
            }
            if evidence.selfSignal == signal { return .killedItself(signal: signal) }
            if signal == SIGKILL, let kills = evidence.outOfMemoryKills, kills > 0 {
                return .outOfMemory(.cgroupOutOfMemoryKills(kills))
            }
            if let limit = evidence.memoryLimitBytes, [SIGKILL, SIGABRT, SIGSEGV, SIGBUS].contains(signal),
                reachedMemoryLimit(limit, peak: evidence.peakResidentBytes, diagnostics: evidence.diagnostics)
            {
                return .outOfMemory(.memoryLimitReached(limitBytes: limit))
            }
            if signal == SIGXCPU { return .limitReached(.cpuTime, signal: signal) }
            if signal == SIGXFSZ { return .limitReached(.fileSize, signal: signal) }
            if [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP].contains(signal) {
                return .crashed(signal: signal)
            }
            return .killedFromOutside(signal: signal)
        case .exited(let code):
            if code == frameChannelLostStatus { return .stoppedByPyrun(.frameChannelLost) }
            if code == memoryLimitTooLowStatus, let limit = evidence.memoryLimitBytes {
                return .outOfMemory(.memoryLimitReached(limitBytes: limit))
            }
            return .exited(code: code)
        }
    }

    /// A crash counts as the memory limit reached when the peak came within a tenth of the
    /// limit, or the process's last words name a failed allocation.
    private static func reachedMemoryLimit(_ limit: Int, peak: Int?, diagnostics: String) -> Bool {
        if let peak, peak >= limit - limit / 10 { return true }
        let lastWords = diagnostics.suffix(2000).lowercased()
        return ["memoryerror", "cannot allocate memory", "out of memory", "bad_alloc", "can't start new thread"]
            .contains { lastWords.contains($0) }
    }
}

/// "signal 9 (SIGKILL)".
private func signalText(_ signal: Int32) -> String {
    let name = TerminationStatus.signalName(signal)
    return name.hasPrefix("signal ") ? name : "signal \(signal) (\(name))"
}

/// Byte counts for people: `512 MiB`, `1.5 GiB`, `900 bytes`.
enum ByteFormat {
    static func text(_ bytes: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard bytes >= 1024 else { return "\(bytes) bytes" }
        var value = Double(bytes)
        var unit = -1
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let rounded = (value * 10).rounded() / 10
        let number = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
        return "\(number) \(units[unit])"
    }
}
