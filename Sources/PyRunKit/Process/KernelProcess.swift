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
    /// The process's peak resident memory, from the kernel's accounting at reaping; nil
    /// where the platform does not report it.
    var peakResidentBytes: Int? = nil
    /// The last resident memory sampled while it lived; nil if never sampled.
    var lastResidentBytes: Int? = nil
    /// The last signal the host itself sent to the process or its group before it ended
    /// (SIGINT excluded: an interrupt is not meant to end it); nil if none.
    var hostSignal: Int32? = nil
    /// How many processes the kernel's cgroup saw OOM-killed during the kernel's life,
    /// where the platform exposes the counter; nil when unknown.
    var outOfMemoryKills: Int? = nil
}

/// Why a request could not be written.
struct KernelInputClosed: Error {}

/// One spawned runner process: pipes, signals to its process group, exit status. It knows
/// nothing of Python; frames are decoded on its reader thread so the actor above only routes.
final class KernelProcess: Sendable {
    let pid: pid_t
    /// Frames and the final exit, in order; finishes after `.exited`.
    /// Events in batches: every frame decoded from one read comes as one element, so a
    /// runner's `started` + `result` + `done` (one write) cost the consumer one wake-up.
    let events: AsyncStream<[ProcessEvent]>

    private struct InputState {
        var fd: Int32
    }

    /// The stdin write end, -1 once closed. Writes hold the lock so two requests never
    /// interleave on the pipe.
    private let input: Mutex<InputState>
    /// Set once the process is reaped: signalling the group after that could hit a stranger
    /// that reused the id.
    private let reaped = Mutex(false)

    /// How much of the runner's own stderr is kept to explain a death.
    private static let diagnosticsLimit = 8192

    /// The environment variable that names the host's pid to the runner, so it can check that
    /// its parent is still the host that started it.
    static let hostPIDVariable = "PYRUN_HOST_PID"

    /// Spawns `command` (in a session of its own on Linux, a process group elsewhere) and
    /// starts its reader threads. `environment` gains `PYRUN_HOST_PID`.
    init(command: LaunchCommand, environment: [String: String], logger: Logger) throws(SpawnError) {
        var environment = environment
        environment[Self.hostPIDVariable] = String(getpid())
        let child = try Spawn.start(command, environment: environment)
        pid = child.pid
        input = Mutex(InputState(fd: child.stdin))
        let (stream, continuation) = AsyncStream<[ProcessEvent]>.makeStream()
        events = stream

        var stderrLogger = logger
        stderrLogger[metadataKey: "kernel.pid"] = "\(child.pid)"
        let diagnostics = DiagnosticsCollector(limit: Self.diagnosticsLimit, logger: stderrLogger)
        let diagnosticsReader = PipeReader(fd: child.stderr, name: "pyrun.stderr.\(child.pid)") { chunk in
            diagnostics.append(chunk)
        }
        let pid = child.pid
        let exitSeen = ExitLatch()
        let frameDecoder = FrameDecoder { continuation.yield($0) }
        let frameReader = PipeReader(
            fd: child.stdout, name: "pyrun.frames.\(child.pid)",
            onChunk: { chunk in frameDecoder.decode(chunk) },
            onEnd: { end in
                frameDecoder.finish()
                if end == .endOfFile, Self.livesOnAfterEndOfFile(pid, exitSeen: exitSeen) {
                    continuation.yield([.frameChannelClosed])
                }
            })

        // Death is watched apart from the pipes: a forked child may keep the frame pipe open
        // long after the runner is gone. The thread keeps this object alive until then.
        let exitWatcher = Thread {
            Spawn.waitForExitWithoutReaping(pid)
            exitSeen.open()
            // The leader is gone but may have left children: end the whole group before
            // reaping, while the group id still cannot be reused. That also closes the
            // pipes, unless a process outside the group holds them.
            kill(-pid, SIGKILL)
            frameReader.finish(waitingAtMost: 2)
            diagnosticsReader.finish(waitingAtMost: 0.5)
            let status = self.reaped.withLock { isReaped in
                let status = Spawn.reap(pid)
                isReaped = true
                return status
            }
            continuation.yield([.exited(ProcessExit(status: status, diagnostics: diagnostics.text))])
            continuation.finish()
        }
        exitWatcher.name = "pyrun.exit.\(child.pid)"
        exitWatcher.start()
    }

    /// Writes one request line, whole.
    /// - Throws: `KernelInputClosed` when the process no longer reads (it died or stdin is closed).
    func send(_ request: Request) throws(KernelInputClosed) {
        let line = request.encodedLine()
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

    /// Closes the request channel: the runner finishes what it received and exits.
    func closeInput() {
        input.withLock { state in
            if state.fd >= 0 {
                close(state.fd)
                state.fd = -1
            }
        }
    }

    /// Sends `signal` to every process of the kernel's group; a no-op once it is reaped.
    func signalGroup(_ signal: Int32) {
        reaped.withLock { isReaped in
            if !isReaped { _ = kill(-pid, signal) }
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
