import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The end of stdin, seen from a thread of its own (a blocking read must not hold a thread of
/// the cooperative pool).
enum StandardInput {
    /// Returns once stdin reaches end of file (or cannot be read): for a console started by
    /// `pyrun`, the moment its parent closes the pipe or dies. Returns at once when the
    /// calling task is cancelled; the reading thread then stays blocked until the process
    /// exits, which the console does next.
    static func waitForEnd() async {
        let (ended, reachedEnd) = AsyncStream<Never>.makeStream()
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                let count = read(0, &byte, 1)
                if count > 0 || (count < 0 && errno == EINTR) { continue }
                break
            }
            reachedEnd.finish()
        }
        thread.name = "pyrun-console stdin"
        thread.stackSize = 1 << 16
        thread.start()
        // Ends at the stream's finish, or when the task is cancelled.
        for await _ in ended {}
    }
}
