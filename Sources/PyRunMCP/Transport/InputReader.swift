import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads one descriptor on a thread of its own, sleeping in `poll(2)` on it and on a wake
/// pipe, and passes each complete message on as soon as its newline arrives.
final class InputReader: Sendable {
    private let wake: WakePipe

    /// Starts the thread. The callbacks run on it, `onEnd` exactly once and last.
    init(
        descriptor: Int32, maximumMessageBytes: Int,
        onMessage: @escaping @Sendable ([UInt8]) -> Void,
        onOversized: @escaping @Sendable (Int) -> Void,
        onEnd: @escaping @Sendable ((any Error)?) -> Void
    ) throws {
        let wake = try WakePipe()
        self.wake = wake
        let thread = Thread {
            var splitter = MessageSplitter(maximumMessageBytes: maximumMessageBytes)
            let deliver = { (piece: MessageSplitter.Piece) in
                switch piece {
                case .message(let bytes): onMessage(bytes)
                case .oversized(let size): onOversized(size)
                }
            }
            let failure = InputReader.readLoop(descriptor: descriptor, wakeReader: wake.reader) { chunk in
                for piece in splitter.append(chunk) { deliver(piece) }
            }
            if let last = splitter.finish() { deliver(last) }
            onEnd(failure)
        }
        thread.name = "pyrun.mcp.stdin"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Wakes the thread and makes it return without reading further; harmless after it ended.
    /// - Returns: Whether the wake-up was written (it is, unless the pipe is full of earlier ones).
    @discardableResult
    func stop() -> Bool {
        wake.wake()
    }

    /// Reads until end of file, a read error (returned) or a wake-up (nil).
    private static func readLoop(
        descriptor: Int32, wakeReader: Int32, onChunk: (UnsafeRawBufferPointer) -> Void
    ) -> (any Error)? {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        var watched = [
            pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            if poll(&watched, 2, -1) < 0 {
                if errno == EINTR { continue }
                return TransportError("cannot wait for the client's input", errno: errno)
            }
            if watched[1].revents != 0 { return nil }
            guard watched[0].revents != 0 else { continue }
            let count = read(descriptor, chunk.baseAddress, chunk.count)
            if count > 0 {
                onChunk(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
            } else if count == 0 {
                return nil
            } else if errno != EINTR, errno != EAGAIN, errno != EWOULDBLOCK {
                return TransportError("cannot read the client's input", errno: errno)
            }
        }
    }
}

/// The pipe that wakes an `InputReader`'s thread. Both ends close only when the reader object
/// and its thread have both let go of it: a wake-up after the thread ended (a `disconnect()`
/// after end of input) then lands in a pipe that still has a reader, where writing into one
/// without a reader would raise SIGPIPE and kill a process that does not ignore it.
private final class WakePipe: Sendable {
    let reader: Int32
    private let writer: Int32

    init() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw TransportError("cannot create the reader's wake pipe", errno: errno) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        // Never blocks: a full pipe already holds a wake-up.
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        reader = ends[0]
        writer = ends[1]
    }

    deinit {
        close(reader)
        close(writer)
    }

    func wake() -> Bool {
        var byte: UInt8 = 1
        return write(writer, &byte, 1) == 1
    }
}
