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
    /// The process is gone and reaped; every frame it wrote came before this.
    /// `diagnostics` is the tail of what it wrote to its real stderr.
    case exited(ExitStatus, diagnostics: String)
}

/// Why a request could not be written.
struct KernelInputClosed: Error {}

/// One spawned runner process: pipes, signals to its process group, exit status. It knows
/// nothing of Python; frames are decoded on its reader thread so the actor above only routes.
final class KernelProcess: Sendable {
    let pid: pid_t
    /// Frames and the final exit, in order; finishes after `.exited`.
    let events: AsyncStream<ProcessEvent>

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

    /// Spawns `command` in a new process group and starts its reader threads.
    init(command: LaunchCommand, environment: [String: String], logger: Logger) throws(SpawnError) {
        let child = try Spawn.start(command, environment: environment)
        pid = child.pid
        input = Mutex(InputState(fd: child.stdin))
        let (stream, continuation) = AsyncStream<ProcessEvent>.makeStream()
        events = stream

        let diagnostics = DiagnosticsCollector(limit: Self.diagnosticsLimit)
        var stderrLogger = logger
        stderrLogger[metadataKey: "kernel.pid"] = "\(child.pid)"
        let stderrLog = stderrLogger
        let stderrThread = Thread {
            Self.drainDiagnostics(fd: child.stderr, into: diagnostics, logger: stderrLog)
        }
        stderrThread.name = "pyrun.stderr.\(child.pid)"
        stderrThread.start()

        let pid = child.pid
        // The thread keeps this object alive until the process is reaped.
        let readerThread = Thread {
            Self.readFrames(fd: child.stdout, into: continuation)
            Spawn.waitForExitWithoutReaping(pid)
            // The leader is gone but may have left children: end the whole group before
            // reaping, while the group id still cannot be reused.
            kill(-pid, SIGKILL)
            let status = self.reaped.withLock { isReaped in
                let status = Spawn.reap(pid)
                isReaped = true
                return status
            }
            continuation.yield(.exited(status, diagnostics: diagnostics.finish(waitingAtMost: 2)))
            continuation.finish()
        }
        readerThread.name = "pyrun.frames.\(child.pid)"
        readerThread.stackSize = 1 << 20
        readerThread.start()
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

    deinit {
        closeInput()
    }

    private static func readFrames(fd: Int32, into continuation: AsyncStream<ProcessEvent>.Continuation) {
        var lines = LineBuffer()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
        defer {
            chunk.deallocate()
            close(fd)
        }
        while true {
            let count = read(fd, chunk.baseAddress, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            for line in lines.append(UnsafeRawBufferPointer(rebasing: chunk[0..<count])) {
                continuation.yield(event(for: line))
            }
        }
        if !lines.remainder.isEmpty {
            continuation.yield(event(for: lines.remainder))
        }
    }

    private static func event(for line: [UInt8]) -> ProcessEvent {
        do {
            return .frame(try Frame.decode(line: line))
        } catch {
            let preview = String(decoding: line.prefix(200), as: UTF8.self)
            return .malformedLine(preview: preview, reason: error.description)
        }
    }

    private static func drainDiagnostics(fd: Int32, into collector: DiagnosticsCollector, logger: Logger) {
        var lines = LineBuffer()
        var chunk = [UInt8](repeating: 0, count: 8192)
        defer {
            close(fd)
            collector.markFinished()
        }
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            chunk.withUnsafeBytes { buffer in
                for line in lines.append(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) {
                    let text = String(decoding: line, as: UTF8.self)
                    logger.warning("runner: \(text)")
                    collector.append(text + "\n")
                }
            }
        }
        if !lines.remainder.isEmpty {
            collector.append(String(decoding: lines.remainder, as: UTF8.self))
        }
    }
}

/// The tail of a runner's own stderr, kept to explain why it died.
private final class DiagnosticsCollector: Sendable {
    private struct State {
        var text = ""
        var finished = false
    }

    private let state = Mutex(State())
    private let finishedSignal = DispatchSemaphore(value: 0)
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func append(_ text: String) {
        state.withLock { state in
            state.text += text
            if state.text.utf8.count > limit {
                state.text = String(state.text.suffix(limit / 2))
            }
        }
    }

    func markFinished() {
        state.withLock { $0.finished = true }
        finishedSignal.signal()
    }

    /// The collected text once stderr is closed, or what there is after `seconds`.
    func finish(waitingAtMost seconds: Double) -> String {
        if !state.withLock({ $0.finished }) {
            _ = finishedSignal.wait(timeout: .now() + seconds)
        }
        return state.withLock { $0.text }
    }
}
