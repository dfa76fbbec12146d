import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a kernel process reports, in the order it happened.
enum ProcessEvent: Sendable {
    case frame(Frame)
    /// A line that was not a JSON object; logged and skipped.
    case malformedLine(preview: String, reason: String)
    /// The frame pipe reached end of file while the process still lived (user code closed
    /// or replaced the runner's frame descriptor): no more frames can come from it.
    case frameChannelClosed
    /// The process is gone and reaped; every frame it wrote came before this.
    case exited(ProcessExit)
}

/// How a kernel process ended, as the process layer saw it: the facts a death cause is
/// built from.
struct ProcessExit: Sendable, Hashable {
    /// The exit code or signal.
    var status: TerminationStatus
    /// The tail of what the process wrote to its real stderr.
    var diagnostics: String
    /// The process's peak resident memory: the OS's accounting at reaping (`ru_maxrss`)
    /// where it can be told apart from the host's own (see `KernelProcess.peakResidentBytes`),
    /// else the highest sampled; nil when neither is known.
    var peakResidentBytes: Int? = nil
    /// The last resident memory sampled while it lived; nil if never sampled.
    var lastResidentBytes: Int? = nil
    /// The last signal the host itself sent to the process or its group before it ended
    /// (SIGINT excluded: an interrupt is not meant to end it); nil if none.
    var hostSignal: Int32? = nil
    /// How many processes the kernel's memory cgroup saw OOM-killed during the kernel's
    /// life (the kernel, or a neighbour in the same cgroup), where the platform exposes the
    /// counter (Linux, cgroup v2 or v1); nil when unknown.
    var outOfMemoryKills: Int? = nil
    /// Set when the process was forked from a template that ended before it reported the
    /// process's end: only the template, its parent, could learn that status, so `status`
    /// reads `.exited(-1)`, and this says how the template ended.
    var templateDeath: TemplateDeath? = nil
}

/// Why a request could not be written.
struct KernelInputClosed: Error {}

/// Who can wait for a kernel process and reap it.
enum ProcessParent: Sendable {
    /// The host spawned it.
    case host
    /// A template forked it; its identity (pid and start time, taken while the template held
    /// it) tells whether it still runs once the template is gone.
    case template(KernelTemplate, identity: ProcessIdentity?)
}

/// One spawned runner process: pipes, signals, exit status, and everything it starts. It
/// knows nothing of Python; frames are decoded on its reader thread so the actor above only
/// routes.
///
/// Nothing the process starts outlives it: at a kill, and again once the process has exited,
/// every member of its `ProcessFamily` (descendants, its session and groups, those sampled at
/// earlier signals) is stopped and killed. No signal is ever sent after the process is
/// reaped, when its pid could name a stranger.
final class KernelProcess: Sendable {
    let pid: pid_t
    /// Frames and the final exit, in order; finishes after `.exited`.
    /// Events in batches: every frame decoded from one read comes as one element, so a
    /// runner's `started` + `result` + `done` (one write) cost the consumer one wake-up.
    /// Only one task may iterate it: a consumer that falls behind holds the frame pipe's
    /// reader back (`FrameIntake`), and with it the runner's output.
    let events: FrameIntake.Batches

    private struct InputState {
        var fd: Int32
    }

    /// The stdin write end, -1 once closed. Writes hold the lock so two requests never
    /// interleave on the pipe.
    private let input: Mutex<InputState>

    /// What the host did to the process and learnt of it while it lived. Signals are sent
    /// under this lock and reaping sets `isReaped` under it.
    private struct Watch {
        var isReaped = false
        var lastHostSignal: Int32?
        /// Members of the family seen at the last signal, `exit` request or `closeInput()`:
        /// found again by identity at the exit even if they were orphaned in between.
        var knownFamily: Set<ProcessIdentity> = []
        var lastResidentBytes: Int?
        /// The highest VmHWM sampled.
        var sampledPeakResidentBytes: Int?
    }

    private let watch = Mutex(Watch())
    private let family: ProcessFamily

    /// How much of the runner's own stderr is kept to explain a death.
    private static let diagnosticsLimit = 8192

    /// The environment variable that names the host's pid to the runner, so it can check that
    /// its parent is still the host that started it.
    static let hostPIDVariable = "PYRUN_HOST_PID"

    /// Who waits for the process: the host, which spawned it, or the template that forked it
    /// and holds it as a zombie until the host releases it.
    private let parent: ProcessParent

    /// The tail of what the process wrote to stderr.
    private let diagnostics: DiagnosticsCollector

    /// What the process has written to stderr so far (its last 8 KB at most): a launcher's
    /// prompt or complaint, when a start hangs before the runner's hello.
    var diagnosticsSoFar: String { diagnostics.text }

    /// Spawns `command` (in a session of its own on Linux, a process group elsewhere) and
    /// starts its reader threads. `environment` gains `PYRUN_HOST_PID`.
    ///
    /// With a `bootstrapLine`, `command` is a launcher (ssh, `kubectl exec`) whose far side
    /// reads that line first: the line is written from a thread of its own (it is larger than
    /// a pipe holds, and a launcher still connecting reads nothing), and the launcher, which
    /// sets no parent-death signal of its own, is tied to the host's life (`Spawn.startTied`).
    /// It is not told the host's pid: its child is not the host's.
    convenience init(
        command: LaunchCommand, environment: [String: String], bootstrapLine: [UInt8]? = nil, logger: Logger
    ) throws(SpawnError) {
        let child: SpawnedChild
        if bootstrapLine == nil {
            var environment = environment
            environment[Self.hostPIDVariable] = String(getpid())
            child = try Spawn.start(command, environment: environment)
        } else {
            child = try Spawn.startTied(command, environment: environment)
        }
        self.init(child: child, parent: .host, bootstrapLine: bootstrapLine, logger: logger)
    }

    /// Forks a kernel from `template` (see `KernelTemplate.fork`) and starts its reader
    /// threads.
    convenience init(
        forkingFrom template: KernelTemplate, options: [String: String], logger: Logger
    ) throws(TemplateFailure) {
        let child = try template.fork(options: options)
        // The template holds the child until released: the pid is surely the child's here.
        let identity = ProcessTable.record(of: child.pid)?.identity
        self.init(child: child, parent: .template(template, identity: identity), bootstrapLine: nil, logger: logger)
    }

    private init(child: SpawnedChild, parent: ProcessParent, bootstrapLine: [UInt8]?, logger: Logger) {
        self.parent = parent
        pid = child.pid
        family = ProcessFamily(root: child.pid)
        input = Mutex(InputState(fd: child.stdin))
        let (intake, batches) = FrameIntake.make()
        events = batches

        var stderrLogger = logger
        stderrLogger[metadataKey: "kernel.pid"] = "\(child.pid)"
        let diagnostics = DiagnosticsCollector(limit: Self.diagnosticsLimit, logger: stderrLogger)
        self.diagnostics = diagnostics
        let diagnosticsReader = PipeReader(fd: child.stderr, name: "pyrun.stderr.\(child.pid)") { chunk in
            diagnostics.append(chunk)
        }
        let pid = child.pid
        let exitSeen = ExitLatch()
        let frameDecoder = FrameDecoder { events, bytes in intake.deliver(events, bytes: bytes) }
        let frameReader = PipeReader(
            fd: child.stdout, name: "pyrun.frames.\(child.pid)",
            onChunk: { chunk in frameDecoder.decode(chunk) },
            onEnd: { end in
                frameDecoder.finish()
                if end == .endOfFile, Self.livesOnAfterEndOfFile(pid, exitSeen: exitSeen) {
                    intake.deliver([.frameChannelClosed], bytes: 0)
                }
            })

        // Death is watched apart from the pipes: a forked child may keep the frame pipe open
        // long after the runner is gone. The thread keeps this object alive until then.
        let exitWatcher = Thread {
            // Read off the start path: the host's peak now bounds the one the kernel's
            // accounting began with (see `peakResidentBytes`).
            let hostPeakAtSpawn = ResidentMemory.sampleHost()?.peak
            // The kernel starts in the host's cgroup; if it has exited already, ask for the host's.
            let outOfMemoryCounter = OutOfMemoryCounter.forProcess(pid) ?? OutOfMemoryCounter.forProcess(getpid())
            let outOfMemoryKillsAtSpawn = outOfMemoryCounter?.read()

            let heldStatus = self.waitForExitWithoutReaping()
            exitSeen.open()
            // What is left in the pipe is read at once, consumer or not: reading it to the end
            // (or abandoning it) must not wait for anyone.
            intake.open()
            // The process is gone but may have left others: end them before reaping, while
            // its ids cannot be reused. That also closes the pipes, unless a process the host
            // cannot trace to the kernel holds them.
            self.watch.withLock { watch in
                guard !watch.isReaped else { return }
                watch.knownFamily = self.family.killAll(remembered: watch.knownFamily)
            }
            frameReader.finish(waitingAtMost: 2)
            diagnosticsReader.finish(waitingAtMost: 0.5)
            let (reaped, watched) = self.watch.withLock { watch in
                let reaped = self.reap(heldStatus: heldStatus)
                watch.isReaped = true
                return (reaped, watch)
            }
            // A status nobody could learn: the template ended first, and took the kernel along.
            var templateDeath: TemplateDeath?
            if case .template(let template, _) = self.parent, case .some(nil) = heldStatus {
                templateDeath = TemplateDeath(processID: template.pid, status: template.waitForEnd())
            }
            let outOfMemoryKills = outOfMemoryKillsAtSpawn.flatMap { before in
                outOfMemoryCounter?.read().map { max(0, $0 - before) }
            }
            let exit = ProcessExit(
                status: reaped.status, diagnostics: diagnostics.text,
                peakResidentBytes: Self.peakResidentBytes(
                    reported: reaped.maximumResidentBytes, hostPeakAtSpawn: hostPeakAtSpawn,
                    sampled: watched.sampledPeakResidentBytes),
                lastResidentBytes: watched.lastResidentBytes, hostSignal: watched.lastHostSignal,
                outOfMemoryKills: outOfMemoryKills, templateDeath: templateDeath)
            intake.finish(with: [.exited(exit)])
        }
        exitWatcher.name = "pyrun.exit.\(child.pid)"
        exitWatcher.stackSize = 1 << 20
        exitWatcher.start()

        if let bootstrapLine {
            // Requests wait for the line (they need the input lock), and only come after the
            // runner's hello, which comes after it has read the line.
            let writer = Thread { [self] in
                do throws(KernelInputClosed) {
                    try self.writeWhole(bootstrapLine)
                } catch {
                    // The launcher ended before it took the line: its exit says why.
                }
            }
            writer.name = "pyrun.bootstrap.\(child.pid)"
            writer.stackSize = 1 << 18
            writer.start()
        }
    }

    /// Writes one request line, whole. Before an `exit` request the kernel's family is noted,
    /// to be found and ended after the runner is gone: the runner may exit, and orphan them,
    /// as soon as it reads the line.
    /// - Throws: `KernelInputClosed` when the process no longer reads (it died or stdin is closed).
    func send(_ request: Request) throws(KernelInputClosed) {
        if case .exit = request { rememberFamily() }
        try writeWhole(request.encodedLine())
    }

    /// Writes `line` whole under the input lock.
    private func writeWhole(_ line: [UInt8]) throws(KernelInputClosed) {
        try input.withLock { state throws(KernelInputClosed) in
            guard state.fd >= 0 else { throw KernelInputClosed() }
            var offset = 0
            while offset < line.count {
                let written = line.withUnsafeBytes { buffer in
                    write(state.fd, buffer.baseAddress! + offset, buffer.count - offset)
                }
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    // EPIPE, or a zero-byte write: either way nobody reads the other end.
                    throw KernelInputClosed()
                }
            }
        }
    }

    /// Closes the request channel: the runner finishes what it received and exits. What it
    /// started is noted first (it may be orphaned the moment the runner exits), to be found
    /// and ended after the exit.
    func closeInput() {
        input.withLock { state in
            guard state.fd >= 0 else { return }
            rememberFamily()
            close(state.fd)
            state.fd = -1
        }
    }

    /// Sends `signal` to the kernel; a no-op once it is reaped.
    ///
    /// SIGKILL ends the kernel and its whole family (see `ProcessFamily.killAll`). Any other
    /// signal goes to the kernel's process group while the kernel leads it, else to the
    /// kernel's pid alone: never to a group user code moved the kernel into. Every signal but
    /// SIGINT is remembered as `ProcessExit.hostSignal`.
    func signal(_ signal: Int32) {
        watch.withLock { watch in
            guard !watch.isReaped else { return }
            if signal != SIGINT { watch.lastHostSignal = signal }
            if signal == SIGKILL {
                watch.knownFamily.formUnion(family.killAll(remembered: watch.knownFamily))
                return
            }
            // Noted before a signal that may end the kernel and orphan them at once; after an
            // interrupt, which the runner handles, so the look adds nothing to its latency.
            if signal != SIGINT { watch.knownFamily = family.sample(remembered: watch.knownFamily) }
            // One delivery, not two: a second SIGINT could interrupt the handler of the first.
            _ = getpgid(pid) == pid ? kill(-pid, signal) : kill(pid, signal)
            if signal == SIGINT { watch.knownFamily = family.sample(remembered: watch.knownFamily) }
        }
    }

    /// The former name of `signal(_:)`, kept while callers move over.
    func signalGroup(_ signal: Int32) {
        self.signal(signal)
    }

    /// The kernel's resident memory now (VmRSS), in bytes; also kept for `ProcessExit`
    /// (`lastResidentBytes`, and the peak). Nil once it has exited, or where the platform does
    /// not say (macOS). One read of `/proc/<pid>/status`, a few microseconds.
    func sampleResidentMemory() -> Int? {
        watch.withLock { watch in
            guard !watch.isReaped, let memory = ResidentMemory.sample(pid) else { return nil }
            watch.lastResidentBytes = memory.current
            watch.sampledPeakResidentBytes = max(watch.sampledPeakResidentBytes ?? 0, memory.peak)
            return memory.current
        }
    }

    /// Blocks until the process has exited, without reaping it: while it is a zombie its
    /// pid, group and session ids cannot be reused, so signalling them stays safe. For a
    /// forked kernel, the template's report of its status; nil when the template went away
    /// first: then nobody holds the zombie, so no signal is sent by its pid any more, and
    /// this waits until the process is gone.
    private func waitForExitWithoutReaping() -> TerminationStatus?? {
        switch parent {
        case .host:
            Spawn.waitForExitWithoutReaping(pid)
            return .none
        case .template(let template, let identity):
            if let status = template.waitForExit(of: pid) { return .some(status) }
            watch.withLock { $0.isReaped = true }
            while let identity, let record = ProcessTable.record(of: identity.pid),
                record.startTime == identity.startTime, !record.isGone
            {
                usleep(20_000)
            }
            return .some(nil)
        }
    }

    /// Reaps the process (the host's child), or lets the template reap it (a forked one).
    private func reap(heldStatus: TerminationStatus??) -> ReapedProcess {
        switch parent {
        case .host:
            return Spawn.reapWithUsage(pid)
        case .template(let template, _):
            template.release(pid)
            // The OS's accounting went to the template; the sampled peak stands in.
            // A status nobody could learn (the template died first) reads as -1, as a failed
            // reap of a spawned process does; `ProcessExit.templateDeath` says why.
            return ReapedProcess(status: (heldStatus ?? nil) ?? .exited(-1), maximumResidentBytes: nil)
        }
    }

    /// Notes the family as it is now, for the teardown at the exit.
    private func rememberFamily() {
        watch.withLock { watch in
            guard !watch.isReaped else { return }
            watch.knownFamily = family.sample(remembered: watch.knownFamily)
        }
    }

    /// Whether the process still runs after its frame pipe reached end of file: then it
    /// closed or replaced its frame descriptor, rather than exiting.
    private static func livesOnAfterEndOfFile(_ pid: pid_t, exitSeen: ExitLatch) -> Bool {
        if exitSeen.isOpen { return false }
        if ProcessTable.isAvailable {
            // A process closes its files only after it is marked as exiting, so this answer
            // is exact. It is not reaped yet: reaping waits for this reader.
            guard let record = ProcessTable.record(of: pid) else { return false }
            return !record.isGone && !record.isExiting
        }
        // Without /proc, give the exit a moment to be seen.
        return !exitSeen.wait(seconds: 1)
    }

    /// The peak resident memory of the kernel's program.
    ///
    /// On Linux `ru_maxrss` does not start from zero: the spawned child runs on the host's
    /// memory until it executes the interpreter, and exec carries the host's peak over. A
    /// figure above the host's peak at spawn is therefore the kernel's own; one at or below
    /// it says only "no more than the host", and the highest VmHWM sampled while it lived is
    /// all that is known (nil if never sampled).
    static func peakResidentBytes(reported: Int?, hostPeakAtSpawn: Int?, sampled: Int?) -> Int? {
        guard let reported else { return sampled }
        if let hostPeakAtSpawn, reported <= hostPeakAtSpawn { return sampled }
        return max(reported, sampled ?? 0)
    }

    deinit {
        closeInput()
    }
}

/// Opens once, when the exit watcher has seen the process exit.
private final class ExitLatch: Sendable {
    private let opened = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)

    var isOpen: Bool { opened.load(ordering: .acquiring) }

    func open() {
        opened.store(true, ordering: .releasing)
        semaphore.signal()
    }

    /// Waits at most `seconds` for it to open; true if it did.
    func wait(seconds: Double) -> Bool {
        if isOpen { return true }
        guard semaphore.wait(timeout: .now() + seconds) == .success else { return false }
        semaphore.signal()  // let later callers through
        return true
    }
}

/// The tail of a runner's own stderr, kept to explain why it died; each line is also logged.
private final class DiagnosticsCollector: Sendable {
    private struct State {
        var lines = LineBuffer()
        var text = ""
    }

    private let state = Mutex(State())
    private let limit: Int
    private let logger: Logger

    init(limit: Int, logger: Logger) {
        self.limit = limit
        self.logger = logger
    }

    func append(_ chunk: UnsafeRawBufferPointer) {
        let complete = state.withLock { state in
            let lines = state.lines.append(chunk).map { String(decoding: $0, as: UTF8.self) }
            for line in lines { state.text += line + "\n" }
            if state.text.utf8.count > limit {
                state.text = String(state.text.suffix(limit / 2))
            }
            return lines
        }
        for line in complete { logger.warning("runner: \(line)") }
    }

    /// What was collected, including a last line without a newline.
    var text: String {
        state.withLock { state in
            state.text + String(decoding: state.lines.remainder, as: UTF8.self)
        }
    }
}
