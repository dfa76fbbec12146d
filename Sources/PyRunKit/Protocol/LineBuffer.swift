#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream into newline-terminated lines, keeping a partial tail for the next
/// chunk. Lines of any length are accepted: a 5 MB image frame is one line.
struct LineBuffer {
    private var pending: [UInt8] = []

    /// Appends a chunk and returns the complete lines it finished, without their newlines.
    mutating func append(_ chunk: UnsafeRawBufferPointer) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var lineStart = 0
        let bytes = chunk.bindMemory(to: UInt8.self)
        guard let base = bytes.baseAddress else { return [] }
        while lineStart < bytes.count,
            let found = memchr(base + lineStart, 0x0A, bytes.count - lineStart)
        {
            let index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if pending.isEmpty {
                lines.append(Array(UnsafeBufferPointer(rebasing: bytes[lineStart..<index])))
            } else {
                pending.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[lineStart..<index]))
                lines.append(pending)
                pending = []
            }
            lineStart = index + 1
        }
        if lineStart < bytes.count {
            pending.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[lineStart..<bytes.count]))
        }
        return lines
    }

    /// Whatever was left without a final newline.
    var remainder: [UInt8] { pending }
}
