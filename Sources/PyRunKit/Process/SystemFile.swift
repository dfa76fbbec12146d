#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small files the OS generates (`/proc`, `/sys/fs/cgroup`), read with plain system calls:
/// they are read on spawns, signals and exits, where each microsecond shows.
enum SystemFile {
    /// Reads at most `capacity` bytes of `path` and hands them to `parse`; nil when the file
    /// cannot be opened.
    static func withContents<Value>(
        of path: String, capacity: Int = 4096, _ parse: (UnsafeBufferPointer<UInt8>) -> Value?
    ) -> Value? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var count = 0
            while count < buffer.count {
                let got = read(fd, buffer.baseAddress! + count, buffer.count - count)
                if got > 0 {
                    count += got
                } else if got < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            return parse(UnsafeBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}
