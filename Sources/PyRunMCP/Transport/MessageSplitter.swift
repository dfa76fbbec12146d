#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream into newline-delimited messages, as the MCP stdio transport frames
/// them, keeping a partial message for the next chunk and never holding more than
/// `maximumMessageBytes` of one.
///
/// A message that grows past the maximum is skipped up to its newline, and reported once as
/// `.oversized` with its full length, so the memory a client can make the server hold is
/// bounded and the client still hears why its message went unanswered.
struct MessageSplitter {
    /// What one chunk completed, in order.
    enum Piece: Equatable {
        /// One message without its newline (and without a trailing `\r`).
        case message([UInt8])
        /// A message of this many bytes (newline excluded) that was skipped.
        case oversized(byteCount: Int)
    }

    let maximumMessageBytes: Int
    private var pending: [UInt8] = []
    /// Bytes of the oversized message being skipped; nil while not skipping.
    private var skippedBytes: Int?

    init(maximumMessageBytes: Int) {
        precondition(maximumMessageBytes > 0, "the maximum message size must be positive")
        self.maximumMessageBytes = maximumMessageBytes
    }

    /// Appends a chunk and returns the messages it completed.
    mutating func append(_ chunk: UnsafeRawBufferPointer) -> [Piece] {
        let bytes = chunk.bindMemory(to: UInt8.self)
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return [] }
        var pieces: [Piece] = []
        var start = 0
        while start < bytes.count {
            let found = memchr(base + start, 0x0A, bytes.count - start)
            let end = found.map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } ?? bytes.count
            take(UnsafeBufferPointer(rebasing: bytes[start..<end]))
            guard found != nil else { break }
            if let piece = completeMessage() { pieces.append(piece) }
            start = end + 1
        }
        return pieces
    }

    /// Ends the stream: the last message if the input stopped without its newline.
    mutating func finish() -> Piece? {
        completeMessage()
    }

    /// The bytes of the message in progress (for tests of the bound).
    var pendingByteCount: Int { pending.count }

    private mutating func take(_ part: UnsafeBufferPointer<UInt8>) {
        if let skipped = skippedBytes {
            skippedBytes = skipped + part.count
        } else if pending.count + part.count > maximumMessageBytes {
            skippedBytes = pending.count + part.count
            pending = []
        } else {
            pending.append(contentsOf: part)
        }
    }

    private mutating func completeMessage() -> Piece? {
        if let skipped = skippedBytes {
            skippedBytes = nil
            return .oversized(byteCount: skipped)
        }
        var message = pending
        pending = []
        if message.last == 0x0D { message.removeLast() }
        return message.isEmpty ? nil : .message(message)
    }
}
