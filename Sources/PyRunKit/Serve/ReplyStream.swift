import Synchronization

/// The messages that answer one request of a `ServeClient`, in order, ending after the last
/// one (`finished`, `observe_end`, a single reply, or an error). If the connection is lost
/// first, the last message is an `error` with `.connectionLost`.
///
/// Iterate every reply stream you ask for: the client reads one connection, so a stream
/// nobody reads holds back the others once its buffer is full (or cancel it).
public struct ReplyStream: AsyncSequence, Sendable {
    public typealias Element = ServeMessage
    public typealias Failure = Never

    let buffer: ReplyBuffer

    public func makeAsyncIterator() -> Iterator {
        Iterator(buffer: buffer)
    }

    /// Drops what is buffered and what comes; the iterator then ends.
    public func cancel() {
        buffer.abandon()
    }

    public struct Iterator: AsyncIteratorProtocol, Sendable {
        let buffer: ReplyBuffer

        public mutating func next() async -> ServeMessage? {
            await buffer.next()
        }
    }
}

/// A bounded queue of messages between the client's reader and one reply stream: the reader
/// waits while `capacity` messages wait to be taken.
final class ReplyBuffer: Sendable {
    private struct State {
        var messages = FIFOQueue<ServeMessage>()
        var finished = false
        var abandoned = false
        var reader: CheckedContinuation<ServeMessage?, Never>?
        var writers: [CheckedContinuation<Void, Never>] = []
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// Adds a message, waiting while the buffer is full.
    func push(_ message: ServeMessage) async {
        let reader: CheckedContinuation<ServeMessage?, Never>?? = state.withLock { state in
            guard !state.finished, !state.abandoned else { return .some(nil) }
            if let reader = state.reader {
                state.reader = nil
                return .some(reader)
            }
            state.messages.append(message)
            return state.messages.count >= capacity ? nil : .some(nil)
        }
        switch reader {
        case .some(let waiting?): waiting.resume(returning: message)
        case .some(nil): return
        case nil:
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state in
                    guard state.messages.count >= capacity, !state.abandoned, !state.finished else { return true }
                    state.writers.append(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// No more messages come; the reader gets what is buffered, then nil.
    func finish() {
        let (reader, writers) = state.withLock { state in
            state.finished = true
            defer {
                state.reader = nil
                state.writers.removeAll()
            }
            return (state.messages.isEmpty ? state.reader : nil, state.writers)
        }
        reader?.resume(returning: nil)
        for writer in writers { writer.resume() }
    }

    func abandon() {
        let (reader, writers) = state.withLock { state in
            state.abandoned = true
            state.messages.removeAll()
            defer {
                state.reader = nil
                state.writers.removeAll()
            }
            return (state.reader, state.writers)
        }
        reader?.resume(returning: nil)
        for writer in writers { writer.resume() }
    }

    func next() async -> ServeMessage? {
        await withCheckedContinuation { continuation in
            let (ready, relieved): (ServeMessage??, [CheckedContinuation<Void, Never>]) = state.withLock { state in
                if let message = state.messages.popFirst() {
                    var relieved: [CheckedContinuation<Void, Never>] = []
                    if state.messages.count < capacity / 2 {
                        relieved = state.writers
                        state.writers.removeAll()
                    }
                    return (.some(message), relieved)
                }
                if state.finished || state.abandoned { return (.some(nil), []) }
                state.reader = continuation
                return (nil, [])
            }
            for writer in relieved { writer.resume() }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
