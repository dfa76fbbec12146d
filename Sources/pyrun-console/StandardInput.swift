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
    /// `pyrun`, the moment its parent closes the pipe or dies.
    static func waitForEnd() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                var byte: UInt8 = 0
                while true {
                    let count = read(0, &byte, 1)
                    if count > 0 || (count < 0 && errno == EINTR) { continue }
                    break
                }
                continuation.resume()
            }
            thread.name = "pyrun-console stdin"
            thread.stackSize = 1 << 16
            thread.start()
        }
    }
}
