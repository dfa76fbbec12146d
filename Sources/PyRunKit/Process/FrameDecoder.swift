import Synchronization

/// Turns frame-pipe bytes into events: the reader thread decodes, and a last partial line is
/// flushed once that thread has read everything (the lock is never contended).
final class FrameDecoder: Sendable {
    private let lines = Mutex(LineBuffer())
    private let deliver: @Sendable ([ProcessEvent], _ bytes: Int) -> Void

    /// - Parameter deliver: called with the events of each chunk, in order, never with none,
    ///   and the bytes of the lines they came from.
    init(deliver: @escaping @Sendable ([ProcessEvent], _ bytes: Int) -> Void) {
        self.deliver = deliver
    }

    func decode(_ chunk: UnsafeRawBufferPointer) {
        let lines = lines.withLock { $0.append(chunk) }
        let events = lines.compactMap(Self.event(for:))
        if !events.isEmpty { deliver(events, lines.reduce(0) { $0 + $1.count + 1 }) }
    }

    /// Delivers a last line that had no newline.
    func finish() {
        let remainder = lines.withLock { buffer in
            defer { buffer = LineBuffer() }
            return buffer.remainder
        }
        if let event = Self.event(for: remainder) { deliver([event], remainder.count) }
    }

    /// The event for one line; nil for an empty line, which the runner writes before its
    /// `hello` to end any partial line an interpreter start left on fd 1.
    static func event(for line: [UInt8]) -> ProcessEvent? {
        if line.isEmpty { return nil }
        do {
            return .frame(try Frame.decode(line: line))
        } catch {
            let preview = String(decoding: line.prefix(200), as: UTF8.self)
            return .malformedLine(preview: preview, reason: error.description)
        }
    }
}
