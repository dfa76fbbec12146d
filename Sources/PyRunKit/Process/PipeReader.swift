import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads one pipe on its own thread until end of file, or until told to give up: a process
/// outside the kernel's group (a `setsid` daemon, a forked child) may hold the write end
/// open forever, and the host must still learn that the kernel died.
final class PipeReader: Sendable {
    /// Why reading stopped.
    enum End: Sendable {
        /// Every writer closed its end.
        case endOfFile
        /// `finish(waitingAtMost:)` gave up waiting for the writers.
        case abandoned
        /// The read failed (not seen in practice; EBADF if the descriptor was wrong).
        case failed
    }

    private let abandoned = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts reading `fd` (which the reader closes). `onChunk` and then `onEnd`, once, run
    /// on the reader thread; `finish` returns only after `onEnd` has.
    init(
        fd: Int32, name: String, onChunk: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        onEnd: @escaping @Sendable (End) -> Void = { _ in }
    ) {
        let thread = Thread { [self] in
            let end = readLoop(fd: fd, onChunk: onChunk)
            close(fd)
            onEnd(end)
            finished.signal()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func readLoop(fd: Int32, onChunk: (UnsafeRawBufferPointer) -> Void) -> End {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
        defer { chunk.deallocate() }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            // Poll with a timeout only to notice abandonment; data wakes it at once.
            let ready = poll(&poller, 1, 200)
            if ready == 0 {
                if abandoned.load(ordering: .relaxed) { return .abandoned }
                continue
            }
            if ready < 0 {
                if errno == EINTR { continue }
                return .failed
            }
            let count = read(fd, chunk.baseAddress, chunk.count)
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            if count == 0 { return .endOfFile }
            guard count > 0 else { return .failed }
            onChunk(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
            // A writer that never pauses must not keep the reader past its deadline either.
            if abandoned.load(ordering: .relaxed) { return .abandoned }
        }
    }

    /// Waits for end of file at most `seconds`; past that, stops reading what is left.
    func finish(waitingAtMost seconds: Double) {
        if finished.wait(timeout: .now() + seconds) == .timedOut {
            abandoned.store(true, ordering: .relaxed)
            finished.wait()
        }
        finished.signal()  // let later callers through
    }
}
