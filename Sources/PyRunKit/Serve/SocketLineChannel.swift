import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// NDJSON over one connected socket: lines are read on a thread of their own and written
/// from a serial queue, so a slow peer blocks only its own threads, never the cooperative pool.
///
/// Both directions are bounded. The reader stops reading while `readHighWater` bytes of lines
/// wait to be taken (the peer's writes then block in the kernel); `send` waits while
/// `writeHighWater` bytes wait to be written. The descriptor is closed when the channel is
/// released, after both threads let go of it.
final class SocketLineChannel: ServeMessageSink, Sendable {
    static let readHighWater = 4 << 20
    static let readLowWater = 1 << 20
    static let writeHighWater = 1 << 20
    /// The longest line read: a peer that sends more without a newline is cut off (a request
    /// of code, or a message with an image, is far below it).
    static let maximumLineBytes = 256 << 20

    private struct ReadState {
        var lines = FIFOQueue<[UInt8]>()
        var bufferedBytes = 0
        var ended = false
        var readerWaitsForRoom = false
        var waiter: CheckedContinuation<[UInt8]?, Never>?
    }

    private struct WriteState {
        var pending: [UInt8] = []
        var draining = false
        var failed = false
        var spaceWaiters: [CheckedContinuation<Bool, Never>] = []
    }

    let fd: Int32
    private let readState = Mutex(ReadState())
    private let writeState = Mutex(WriteState())
    private let room = DispatchSemaphore(value: 0)
    private let closed = Atomic<Bool>(false)
    private let writeQueue = DispatchQueue(label: "pyrun.serve.write")

    /// Takes `fd`, a connected stream socket, and starts reading it.
    init(fd: Int32, name: String) {
        self.fd = fd
        let thread = Thread { [self] in readLoop() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit {
        closeDescriptor(fd)
    }

    // MARK: - Reading

    /// The next line, without its newline; nil once the peer closed the connection (or `close()`).
    func nextLine() async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            let (ready, wakeReader): ([UInt8]??, Bool) = readState.withLock { state in
                if let line = state.lines.popFirst() {
                    state.bufferedBytes -= line.count + 1
                    if state.readerWaitsForRoom, state.bufferedBytes <= Self.readLowWater {
                        state.readerWaitsForRoom = false
                        return (.some(line), true)
                    }
                    return (.some(line), false)
                }
                if state.ended { return (.some(nil), false) }
                state.waiter = continuation
                return (nil, false)
            }
            if wakeReader { room.signal() }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func readLoop() {
        var splitter = LineBuffer()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        while !closed.load(ordering: .relaxed) {
            let count = read(fd, chunk.baseAddress, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            let lines = splitter.append(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
            if splitter.remainder.count > Self.maximumLineBytes { break }
            guard !lines.isEmpty else { continue }
            let (handOff, mustWait) = readState.withLock {
                state -> ((waiter: CheckedContinuation<[UInt8]?, Never>, line: [UInt8])?, Bool) in
                for line in lines {
                    state.lines.append(line)
                    state.bufferedBytes += line.count + 1
                }
                var handOff: (CheckedContinuation<[UInt8]?, Never>, [UInt8])?
                if let waiter = state.waiter, let first = state.lines.popFirst() {
                    state.waiter = nil
                    state.bufferedBytes -= first.count + 1
                    handOff = (waiter, first)
                }
                let full = state.bufferedBytes > Self.readHighWater
                if full { state.readerWaitsForRoom = true }
                return (handOff, full)
            }
            if let handOff { handOff.waiter.resume(returning: handOff.line) }
            if mustWait { room.wait() }
        }
        let waiter = readState.withLock { state in
            state.ended = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    // MARK: - Writing

    /// Sends one message as a line (the sink of a server connection).
    func send(_ message: JSONValue) async -> Bool {
        var line = Array(message.serialized().utf8)
        line.append(0x0A)
        return await send(line: line)
    }

    /// Queues `line` (newline included) for writing; waits while too much waits already.
    /// - Returns: false once the connection failed or was closed.
    func send(line: [UInt8]) async -> Bool {
        let (accepted, startDrain, mustWait) = writeState.withLock { state -> (Bool, Bool, Bool) in
            guard !state.failed else { return (false, false, false) }
            state.pending.append(contentsOf: line)
            let start = !state.draining
            state.draining = true
            return (true, start, state.pending.count > Self.writeHighWater)
        }
        guard accepted else { return false }
        if startDrain { writeQueue.async { self.drain() } }
        guard mustWait else { return true }
        return await withCheckedContinuation { continuation in
            let immediate: Bool? = writeState.withLock { state in
                if state.failed { return false }
                if state.pending.count <= Self.writeHighWater { return true }
                state.spaceWaiters.append(continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// Writes what is pending until nothing is, on the write queue.
    private func drain() {
        while true {
            let (chunk, relieved) = writeState.withLock { state -> ([UInt8]?, [CheckedContinuation<Bool, Never>]) in
                guard !state.pending.isEmpty, !state.failed else {
                    state.draining = false
                    return (nil, [])
                }
                let chunk = state.pending
                state.pending = []
                defer { state.spaceWaiters.removeAll() }
                return (chunk, state.spaceWaiters)
            }
            for waiter in relieved { waiter.resume(returning: true) }
            guard let chunk else { return }
            if !writeAll(chunk) {
                fail()
                return
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                #if canImport(Glibc)
                let written = Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                #else
                let written = Darwin.send(fd, buffer.baseAddress! + offset, buffer.count - offset, 0)
                #endif
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR || errno == EAGAIN {
                    continue
                } else {
                    return false
                }
            }
            return true
        }
    }

    private func fail() {
        let waiters = writeState.withLock { state in
            state.failed = true
            state.pending = []
            state.draining = false
            defer { state.spaceWaiters.removeAll() }
            return state.spaceWaiters
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }

    // MARK: - Closing

    /// Closes once what was sent so far is written, or after `limit` if the peer does not
    /// read it.
    func closeAfterFlushing(within limit: Duration = .seconds(2)) {
        writeQueue.async { self.close() }
        Task {
            try? await Task.sleep(for: limit)
            self.close()
        }
    }

    /// Ends the connection both ways: the reader sees end of file, `send` fails from now on.
    func close() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        room.signal()
        fail()
    }
}

/// `close(2)`, under a name the method `close()` does not shadow.
func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
