import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A run's whole output in a file, one line per line, for `python_output` to page through
/// and for the model (or a person) to open. Only the file grows: in memory it keeps the byte
/// offset of every `checkpointStride`-th line, so a page is found without reading from the
/// start. Past `maximumBytes` it stops writing and counts what it did not keep.
final class OutputSpool {
    static let checkpointStride = 256

    let path: String
    let maximumBytes: Int
    private var descriptor: Int32
    /// Line numbers given out, including lines the full file could not take.
    private(set) var lineCount = 0
    /// Lines in the file: numbers 1 through this one.
    private(set) var writtenLines = 0
    private(set) var byteCount = 0
    /// Whether a line did not fit (every later one is then left out too, so the file's line
    /// numbers stay those of the output).
    var isFull: Bool { writtenLines < lineCount }
    /// `checkpoints[k]` is the byte offset of line `k * checkpointStride + 1`.
    private var checkpoints: [Int] = [0]

    /// Creates (or truncates) the file, readable by its owner only: it holds a program's output.
    init(path: String, maximumBytes: Int) throws(RunRegistryError) {
        self.path = path
        self.maximumBytes = maximumBytes
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RunRegistryError(.storage, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close()
    }

    /// Appends one line (without newline) and returns its number; once the file is full (or
    /// a write failed) the line gets its number but stays out of the file.
    @discardableResult
    func append(_ line: String) -> Int {
        let wasFull = isFull
        lineCount += 1
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        guard descriptor >= 0, !wasFull, byteCount + bytes.count <= maximumBytes else { return lineCount }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                // A partial line would shift every later line: cut the file back to the last whole one.
                _ = ftruncate(descriptor, off_t(byteCount))
                _ = lseek(descriptor, off_t(byteCount), SEEK_SET)
                return lineCount
            }
            offset += written
        }
        byteCount += bytes.count
        writtenLines += 1
        if writtenLines % Self.checkpointStride == 0 { checkpoints.append(byteCount) }
        return lineCount
    }

    /// Stops writing (the file stays).
    func close() {
        if descriptor >= 0 {
            closeDescriptor(descriptor)
            descriptor = -1
        }
    }

    /// Calls `body` with each line from line `first` (1-based) on, until it returns false.
    func forEachLine(from first: Int, _ body: (Int, Substring) -> Bool) throws(RunRegistryError) {
        guard first <= writtenLines else { return }
        let checkpoint = min((first - 1) / Self.checkpointStride, checkpoints.count - 1)
        var number = checkpoint * Self.checkpointStride + 1
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RunRegistryError(.storage, "cannot read \(path)")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(checkpoints[checkpoint]))
            var pending: [UInt8] = []
            var remaining = byteCount - checkpoints[checkpoint]
            while remaining > 0, number <= writtenLines {
                guard let chunk = try handle.read(upToCount: min(1 << 20, remaining)), !chunk.isEmpty else { break }
                remaining -= chunk.count
                pending.append(contentsOf: chunk)
                var start = 0
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    if number >= first {
                        let text = String(decoding: pending[start..<newline], as: UTF8.self)
                        guard body(number, text[...]) else { return }
                    }
                    number += 1
                    start = newline + 1
                }
                pending.removeFirst(start)
            }
        } catch {
            throw RunRegistryError(.storage, "cannot read \(path): \(error)")
        }
    }
}

/// `close(2)`, which the spool's own `close()` hides inside the class.
private func closeDescriptor(_ descriptor: Int32) {
    close(descriptor)
}
