#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One runner process as the kernel tracks it, from spawn to reaping; confined to the kernel
/// actor. Everything that explains its end is gathered here while it lives.
final class RunnerProcess {
    let process: KernelProcess
    /// Which of the kernel's processes this is.
    let number: Int
    /// Whether it runs behind a launcher (ssh, `kubectl exec`) that carries no signal: then
    /// it is interrupted and killed in-band.
    let isRemote: Bool
    var pid: Int32 { process.pid }
    /// Its `hello`, once it said it.
    var hello: KernelHello?
    /// Fulfilled by `hello`, or by a failure to start.
    let helloWaiter = SetOnceValue<Result<KernelHello, KernelError>>()
    /// Fulfilled when the process is reaped.
    let exited = SetOnceValue<KernelDeath>()
    /// Why pyrun is stopping it, once it is.
    var stopReason: KernelDeath.StopReason?
    /// The signal a `self_signal` frame announced.
    var selfSignal: Int32?
    /// The frame channel reached end of file while the process lived: the check that kills
    /// it unless it exits on its own first.
    var frameChannelLossCheck: Task<Void, Never>?
    /// The execution that ran last: late output is attributed to it.
    var lastExecutionID: String?
    /// Its prelude failed in part, and no execution has said so yet.
    var preludeNoticeDue = false
    /// The highest `peakRssBytes` a `done` reported.
    var reportedPeakResidentBytes: Int?
    /// What the interpreter wrote on the frame channel before `hello` (a `sitecustomize` that
    /// prints), kept within `startupNoiseLimit`.
    private(set) var startupNoise: [String] = []
    private var startupNoiseBytes = 0

    /// How much start-up noise is kept.
    static let startupNoiseLimit = 16 * 1024

    init(process: KernelProcess, number: Int, isRemote: Bool = false) {
        self.process = process
        self.number = number
        self.isRemote = isRemote
    }

    /// Interrupts the running code, as SIGINT to the process group does, in-band for a
    /// remote runner.
    func interrupt() {
        if isRemote {
            try? process.send(.interrupt)
        } else {
            process.signal(SIGINT)
        }
    }

    func keepStartupNoise(_ line: String) {
        guard startupNoiseBytes < Self.startupNoiseLimit else { return }
        let kept = String(line.prefix(Self.startupNoiseLimit - startupNoiseBytes))
        startupNoise.append(kept)
        startupNoiseBytes += kept.utf8.count + 1
    }

    /// The noise as one text, lines ended; empty when there was none.
    var startupNoiseText: String {
        startupNoise.isEmpty ? "" : startupNoise.joined(separator: "\n") + "\n"
    }
}
