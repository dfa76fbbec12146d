import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pipe whose ends a test closes by hand or leaves to `deinit`.
final class PipePair: @unchecked Sendable {
    // @unchecked: the descriptors are set once here; `close*` is called from one test task at a time.
    private(set) var readEnd: Int32
    private(set) var writeEnd: Int32

    init() {
        var ends: [Int32] = [0, 0]
        precondition(pipe(&ends) == 0, "pipe failed")
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        if readEnd >= 0 { close(readEnd) }
        if writeEnd >= 0 { close(writeEnd) }
    }

    func closeWriteEnd() {
        close(writeEnd)
        writeEnd = -1
    }

    func closeReadEnd() {
        close(readEnd)
        readEnd = -1
    }

    /// Writes all of `bytes` (blocking).
    func write(_ bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        var offset = 0
        while offset < array.count {
            let written = array.withUnsafeBytes {
                systemWrite(writeEnd, $0.baseAddress! + offset, array.count - offset)
            }
            precondition(written > 0 || errno == EINTR, "write failed: \(errno)")
            if written > 0 { offset += written }
        }
    }

    func write(_ text: String) { write(Array(text.utf8)) }

    /// Reads lines until `count` have arrived, on a thread of its own: a blocking read on the
    /// cooperative pool could starve the very tasks that are to write them.
    func readLines(_ count: Int) async -> [String] {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.readLinesBlocking(count)) }.start()
        }
    }

    private func readLinesBlocking(_ count: Int) -> [String] {
        var buffer: [UInt8] = []
        var lines: [String] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while lines.count < count {
            let got = chunk.withUnsafeMutableBytes { systemRead(readEnd, $0.baseAddress, $0.count) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { break }
            buffer.append(contentsOf: chunk[0..<got])
            while let newline = buffer.firstIndex(of: 0x0A) {
                lines.append(String(decoding: buffer[..<newline], as: UTF8.self))
                buffer.removeSubrange(...newline)
            }
        }
        return lines
    }
}

// The class's own `write`/`read` shadow the system calls inside it.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
