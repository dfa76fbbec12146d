import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits, on a thread of its own, until nobody reads a descriptor any more: `poll(2)` reports
/// an error or a hang-up on the write end of a pipe whose read end is closed, or on a socket
/// whose peer is gone.
///
/// After the client's input ends, the server answers the requests still open; a client that
/// is gone altogether (killed, or it closed stdout too) would read none of it, and this is
/// how the server learns so without writing.
enum ReaderDeparture {
    /// Returns when `descriptor` has no reader, or when the calling task is cancelled. For a
    /// descriptor that never says so (a regular file, a terminal) only cancellation ends it.
    static func wait(on descriptor: Int32) async {
        if await !pollUntilGone(descriptor) { await waitForCancellation() }
    }

    /// Polls on a thread until `descriptor` has no reader (true), or until the calling task
    /// is cancelled or polling fails (false).
    private static func pollUntilGone(_ descriptor: Int32) async -> Bool {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return false }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let wake = WakePipe(reader: ends[0], writer: ends[1])
        let wakeReader = ends[0]
        defer { wake.close() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let thread = Thread {
                    continuation.resume(returning: pollLoop(descriptor, wakeReader: wakeReader))
                }
                thread.name = "pyrun.mcp.stdout-watch"
                thread.stackSize = 1 << 16
                thread.start()
            }
        } onCancel: {
            wake.wake()
        }
    }

    private static func pollLoop(_ descriptor: Int32, wakeReader: Int32) -> Bool {
        var watched = [
            // No events asked for: errors and hang-ups are always reported.
            pollfd(fd: descriptor, events: 0, revents: 0),
            pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            if poll(&watched, 2, -1) < 0 {
                if errno == EINTR { continue }
                return false
            }
            if watched[1].revents != 0 { return false }
            if watched[0].revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return true }
        }
    }

    private static func waitForCancellation() async {
        let (never, end) = AsyncStream.makeStream(of: Void.self)
        await withTaskCancellationHandler {
            for await _ in never {}
        } onCancel: {
            end.finish()
        }
    }
}

/// The wake pipe: written by a cancellation that may come at any time, and closed (both
/// ends, once the poller is done with it) under one lock, so a late cancellation never writes
/// to a closed, perhaps reused, descriptor, nor into a pipe without a reader (`EPIPE`).
private final class WakePipe: Sendable {
    private let ends: Mutex<(reader: Int32, writer: Int32)?>

    init(reader: Int32, writer: Int32) { ends = Mutex((reader, writer)) }

    func wake() {
        ends.withLock { ends in
            guard let ends else { return }
            var byte: UInt8 = 1
            _ = write(ends.writer, &byte, 1)
        }
    }

    func close() {
        ends.withLock { ends in
            if let open = ends {
                closeDescriptor(open.reader)
                closeDescriptor(open.writer)
            }
            ends = nil
        }
    }
}

// `WakePipe.close()` shadows the system call inside the class.
private func closeDescriptor(_ descriptor: Int32) { _ = close(descriptor) }
