import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A registration made with `ProcessSignals.handle(_:with:)`; `cancel()` ends it.
public final class SignalSubscription: Sendable {
    private let id: Int

    init(id: Int) {
        self.id = id
    }

    /// Stops handling. A signal nobody handles any more gets back the disposition it had
    /// before the first handler for it was installed.
    public func cancel() {
        ProcessSignals.remove(id)
    }
}

/// Signals of the host process turned into ordinary code.
///
/// A signal handler may do almost nothing safely, so pyrun's only writes the signal number to
/// a pipe (a self-pipe); one thread reads the pipe and calls the registered handlers there,
/// where they may do anything. (A Dispatch signal source is not used: on Linux it only sees
/// a signal that every thread of the process blocks, which a library cannot arrange.)
///
/// The kernels pyrun starts never inherit these handlers: they are spawned with every
/// signal at its default action.
public enum ProcessSignals {
    /// Calls `handler` for every delivery of any of `signals` from now on, instead of the
    /// signal's default action, until the subscription is cancelled. Handlers run one at a
    /// time on pyrun's signal thread, so each should return quickly (start a `Task` for
    /// slow work). Several subscriptions may handle one signal; each is called.
    /// - Returns: the subscription; keep it and call `cancel()` when done.
    public static func handle(
        _ signals: Set<Int32>, with handler: @escaping @Sendable (Int32) -> Void
    ) -> SignalSubscription {
        startReaderThreadOnce()
        // Dispositions change under the lock, so two subscribers of a new signal cannot both
        // save "the previous one" (and one of them save pyrun's own handler as it).
        let id = state.withLock { state in
            state.nextID += 1
            state.subscriptions[state.nextID] = Subscription(signals: signals, handler: handler)
            for signalNumber in signals where state.previousDispositions[signalNumber] == nil {
                state.previousDispositions[signalNumber] = Disposition(
                    handler: signal(signalNumber, forwardSignalToPipe))
            }
            return state.nextID
        }
        return SignalSubscription(id: id)
    }

    /// Ends the process with `signalNumber`'s default action, as if the signal had never been
    /// caught (a shell then reports 128 + the signal number).
    public static func terminateAsIfUncaught(by signalNumber: Int32) -> Never {
        signal(signalNumber, SIG_DFL)
        // To the process, not one thread: a worker thread may block the signal.
        kill(getpid(), signalNumber)
        // A signal whose default action is not to end the process (SIGCHLD, say): exit as a
        // shell would report it.
        exit(128 + signalNumber)
    }

    // MARK: - Internals

    private struct Subscription {
        var signals: Set<Int32>
        var handler: @Sendable (Int32) -> Void
    }

    /// A disposition saved to be restored: a C function pointer, `SIG_DFL` or `SIG_IGN`.
    private struct Disposition: @unchecked Sendable {
        // Safe: a C function pointer is an immutable address, readable from any thread.
        var handler: SignalDisposition?
    }

    private struct State {
        var nextID = 0
        var subscriptions: [Int: Subscription] = [:]
        /// Signals whose handler is `forwardSignalToPipe`, with what they had before.
        var previousDispositions: [Int32: Disposition] = [:]
    }

    private static let state = Mutex(State())
    /// The pipe's write end, read by the signal handler: an atomic, since a handler may not lock.
    static let pipeWriteEnd = Atomic<Int32>(-1)

    static func remove(_ id: Int) {
        state.withLock { state in
            guard state.subscriptions.removeValue(forKey: id) != nil else { return }
            let stillHandled = state.subscriptions.values.reduce(into: Set<Int32>()) { $0.formUnion($1.signals) }
            for (signalNumber, previous) in state.previousDispositions where !stillHandled.contains(signalNumber) {
                signal(signalNumber, previous.handler)
                state.previousDispositions.removeValue(forKey: signalNumber)
            }
        }
    }

    private static let readerStarted = Mutex(false)

    private static func startReaderThreadOnce() {
        let start = readerStarted.withLock { started in
            defer { started = true }
            return !started
        }
        guard start else { return }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let readEnd = ends[0]
        pipeWriteEnd.store(ends[1], ordering: .releasing)
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count == 1 {
                    deliver(Int32(byte))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
        thread.name = "pyrun signals"
        thread.start()
    }

    private static func deliver(_ signalNumber: Int32) {
        let handlers = state.withLock { state in
            state.subscriptions.sorted { $0.key < $1.key }.map(\.value).filter { $0.signals.contains(signalNumber) }
        }
        for subscription in handlers { subscription.handler(signalNumber) }
    }
}

#if canImport(Glibc)
typealias SignalDisposition = __sighandler_t
#elseif canImport(Darwin)
typealias SignalDisposition = sig_t
#endif

/// The signal handler: async-signal-safe (an atomic load and `write`), and errno is kept.
private func forwardSignalToPipe(_ signalNumber: Int32) {
    let savedErrno = errno
    defer { errno = savedErrno }
    let writeEnd = ProcessSignals.pipeWriteEnd.load(ordering: .acquiring)
    guard writeEnd >= 0 else { return }
    var byte = UInt8(truncatingIfNeeded: signalNumber)
    _ = write(writeEnd, &byte, 1)
}
