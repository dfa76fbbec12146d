import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One of pyrun's own output streams, written with `write(2)` so output reaches the reader
/// as soon as the kernel produced it (no stdio buffer to flush), and whole even when a
/// signal interrupts a write.
final class OutputSink: Sendable {
    /// The process's standard output.
    static let standardOutput = OutputSink(fileDescriptor: STDOUT_FILENO)
    /// The process's standard error.
    static let standardError = OutputSink(fileDescriptor: STDERR_FILENO)

    let fileDescriptor: Int32
    /// Set once a write failed because nobody reads the other end (`pyrun … | head`);
    /// SIGPIPE is ignored in this process (the kernel library needs that), so this is how
    /// pyrun learns it should stop.
    private let readerIsGone = Atomic<Bool>(false)

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// True once the reader of this stream has gone away.
    var isBroken: Bool { readerIsGone.load(ordering: .relaxed) }

    /// Whether this stream is a terminal.
    var isTerminal: Bool { isatty(fileDescriptor) == 1 }

    /// Writes `text` completely, or drops it once the reader is gone.
    func write(_ text: String) {
        guard !text.isEmpty, !isBroken else { return }
        var bytes = text
        bytes.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR || errno == EAGAIN {
                    continue
                } else {
                    readerIsGone.store(true, ordering: .relaxed)
                    return
                }
            }
        }
    }

    /// Writes `text` and a line break.
    func writeLine(_ text: String) {
        write(text + "\n")
    }
}

/// `write(2)`, under a name that the methods named `write` do not shadow.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// pyrun's standard input, read line by line (or, by the line editor, as raw bytes). `read(2)` blocks, so it runs on a dispatch
/// queue rather than on the cooperative pool that the kernel's tasks need; a waiter that
/// is cancelled leaves, and the line it would have had goes to the next one.
actor StandardInput {
    static let shared = StandardInput()

    private struct LineWaiter {
        let id: Int
        let continuation: CheckedContinuation<String?, Never>
    }

    private struct ChunkWaiter {
        let id: Int
        let continuation: CheckedContinuation<[UInt8]?, Never>
    }

    private var buffered: [UInt8] = []
    private var reachedEnd = false
    private var readInFlight = false
    private var lineWaiters: [LineWaiter] = []
    /// Readers of raw bytes (the line editor), served once no line reader waits.
    private var byteWaiters: [ChunkWaiter] = []
    private var chunkWaiters: [CheckedContinuation<Void, Never>] = []
    private var nextWaiterID = 0
    private let readQueue = DispatchQueue(label: "pyrun.stdin")

    /// Whether standard input is a terminal.
    nonisolated var isTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    /// The next line without its line break, or nil at end of input (or when the calling
    /// task is cancelled). A last line without a line break is returned as it is.
    func nextLine() async -> String? {
        if let line = takeLine() { return line }
        nextWaiterID += 1
        let id = nextWaiterID
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Cancelled before waiting: the cancellation handler found no waiter to end.
                guard !Task.isCancelled else { return continuation.resume(returning: nil) }
                lineWaiters.append(LineWaiter(id: id, continuation: continuation))
                serveWaiters()
            }
        } onCancel: {
            Task { await self.abandonWaiter(id) }
        }
    }

    /// Whatever bytes have arrived (all that is buffered), else those of the next read; nil
    /// at end of input or when the calling task is cancelled, and then bytes that arrive
    /// stay buffered for the next reader.
    func nextChunk() async -> [UInt8]? {
        if let chunk = takeBuffered() { return chunk }
        if reachedEnd { return nil }
        nextWaiterID += 1
        let id = nextWaiterID
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard !Task.isCancelled else { return continuation.resume(returning: nil) }
                byteWaiters.append(ChunkWaiter(id: id, continuation: continuation))
                serveWaiters()
            }
        } onCancel: {
            Task { await self.abandonWaiter(id) }
        }
    }

    /// Puts bytes back in front of what is buffered: a reader that took more than it used
    /// (the line editor, at Enter) leaves the rest for the next one.
    func unread(_ bytes: [UInt8]) {
        buffered.insert(contentsOf: bytes, at: 0)
        serveWaiters()
    }

    /// Everything up to the end of input.
    func readToEnd() async -> String {
        while !reachedEnd {
            await withCheckedContinuation { continuation in
                chunkWaiters.append(continuation)
                startReading()
            }
        }
        defer { buffered.removeAll() }
        return String(decoding: buffered, as: UTF8.self)
    }

    private func takeLine() -> String? {
        if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: buffered[..<newline], as: UTF8.self)
            buffered.removeSubrange(...newline)
            return line
        }
        if reachedEnd, !buffered.isEmpty {
            defer { buffered.removeAll() }
            return String(decoding: buffered, as: UTF8.self)
        }
        return nil
    }

    private func takeBuffered() -> [UInt8]? {
        guard !buffered.isEmpty else { return nil }
        defer { buffered.removeAll() }
        return buffered
    }

    private func serveWaiters() {
        while !lineWaiters.isEmpty {
            if let line = takeLine() {
                lineWaiters.removeFirst().continuation.resume(returning: line)
            } else if reachedEnd {
                lineWaiters.removeFirst().continuation.resume(returning: nil)
            } else {
                startReading()
                return
            }
        }
        while !byteWaiters.isEmpty {
            if let chunk = takeBuffered() {
                byteWaiters.removeFirst().continuation.resume(returning: chunk)
            } else if reachedEnd {
                byteWaiters.removeFirst().continuation.resume(returning: nil)
            } else {
                startReading()
                return
            }
        }
    }

    private func abandonWaiter(_ id: Int) {
        if let index = lineWaiters.firstIndex(where: { $0.id == id }) {
            lineWaiters.remove(at: index).continuation.resume(returning: nil)
        } else if let index = byteWaiters.firstIndex(where: { $0.id == id }) {
            byteWaiters.remove(at: index).continuation.resume(returning: nil)
        }
    }

    private func startReading() {
        guard !readInFlight, !reachedEnd else { return }
        readInFlight = true
        readQueue.async {
            var bytes = [UInt8](repeating: 0, count: 1 << 16)
            var count: Int
            repeat {
                count = bytes.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            } while count < 0 && errno == EINTR
            let chunk = Array(bytes.prefix(max(count, 0)))
            Task { await self.received(chunk) }
        }
    }

    private func received(_ chunk: [UInt8]) {
        readInFlight = false
        if chunk.isEmpty {
            reachedEnd = true
        } else {
            buffered.append(contentsOf: chunk)
        }
        let waiting = chunkWaiters
        chunkWaiters.removeAll()
        for waiter in waiting { waiter.resume() }
        serveWaiters()
    }
}

/// Turns terminal echo off while a password is typed, then back on.
enum TerminalEcho {
    /// Runs `body` with echo off on standard input, if it is a terminal.
    static func withEchoDisabled<T>(_ body: () async -> T) async -> T {
        var original = termios()
        guard isatty(STDIN_FILENO) == 1, tcgetattr(STDIN_FILENO, &original) == 0 else { return await body() }
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        defer { tcsetattr(STDIN_FILENO, TCSANOW, &original) }
        return await body()
    }
}
