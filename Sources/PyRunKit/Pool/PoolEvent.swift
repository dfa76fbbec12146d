import Foundation
import Synchronization

/// Something that happened to a key's kernel, for hosts that log or show lifecycles.
public struct PoolEvent: Sendable, Hashable, CustomStringConvertible {
    /// Why the pool replaced a key's kernel on purpose.
    public enum RestartReason: String, Sendable, Hashable {
        /// The key was asked for with a different configuration.
        case configurationChanged
        /// `reset(_:)` was called.
        case reset
    }

    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// A kernel process for the key is up (a warm spare that was handed over, or a new one).
        case started(pid: Int32, interpreter: PythonInterpreter?, fromWarmSpare: Bool)
        /// The key's kernel process ended without the host asking for it: it exited, crashed,
        /// was killed from outside, or pyrun killed it (an interrupt not honoured, a timeout,
        /// a lost frame channel). The death says which.
        case died(KernelDeath)
        /// The key got a fresh kernel on purpose; its state is gone.
        case restarted(RestartReason)
        /// The key's idle kernel was shut down to stay within `maximumLiveKernels`.
        case evicted
        /// The key's kernel was shut down after running nothing for `idleFor`.
        case culled(idleFor: Duration)
        /// The key's kernel was shut down by `shutdown(_:)` or `shutdownAll()`.
        case shutDown(ShutdownOutcome)
        /// The key's configuration asks for a template (`KernelConfiguration.usesTemplate`),
        /// but its kernel process was started the ordinary way, for `reason` (the template
        /// could not start, it died, the platform has none). Comes before that `started`.
        case templateUnavailable(reason: String)
    }

    /// The agent key the event is about.
    public var key: String
    /// What happened.
    public var kind: Kind
    /// When the pool saw it.
    public var date: Date

    /// Creates an event.
    public init(key: String, kind: Kind, date: Date = Date()) {
        self.key = key
        self.kind = kind
        self.date = date
    }

    public var description: String {
        switch kind {
        case .started(let pid, let interpreter, let fromWarmSpare):
            let python = interpreter.map { " (Python \($0.version))" } ?? ""
            return "[\(key)] started pid \(pid)\(python)\(fromWarmSpare ? " from a warm spare" : "")"
        case .died(let cause): return "[\(key)] died: \(cause)"
        case .restarted(let reason): return "[\(key)] restarted (\(reason.rawValue))"
        case .evicted: return "[\(key)] evicted (least recently used)"
        case .culled(let idleFor): return "[\(key)] culled after \(idleFor.formattedSeconds) idle"
        case .shutDown(let outcome): return "[\(key)] shut down (\(outcome.rawValue))"
        case .templateUnavailable(let reason): return "[\(key)] started without a template: \(reason)"
        }
    }
}

/// Hands every event to each current subscriber. Subscribing and sending may happen from any
/// thread, so the subscribers live behind a mutex.
final class PoolEventBroadcaster: Sendable {
    private struct Subscribers {
        var nextID = 0
        var continuations: [Int: AsyncStream<PoolEvent>.Continuation] = [:]
    }

    private let subscribers = Mutex(Subscribers())

    /// A stream of the events sent from now on; it ends when `finish()` is called.
    func subscribe(bufferingNewest limit: Int) -> AsyncStream<PoolEvent> {
        let (stream, continuation) = AsyncStream<PoolEvent>.makeStream(bufferingPolicy: .bufferingNewest(limit))
        let id = subscribers.withLock { state in
            state.nextID += 1
            state.continuations[state.nextID] = continuation
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    func send(_ event: PoolEvent) {
        let continuations = subscribers.withLock { Array($0.continuations.values) }
        for continuation in continuations { continuation.yield(event) }
    }

    func finish() {
        let continuations = subscribers.withLock { state in
            defer { state.continuations = [:] }
            return Array(state.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }
}
