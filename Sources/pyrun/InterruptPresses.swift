import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one Ctrl-C should do.
enum InterruptAction: Equatable {
    /// Interrupt the running code (a `KeyboardInterrupt` in Python).
    case interrupt
    /// The code ignored the first one: kill the kernel.
    case kill
}

/// Tells a first Ctrl-C from a second one that follows it closely: a second press within
/// `killWindow` means the user wants the code gone, not politely interrupted.
final class InterruptPresses: Sendable {
    static let killWindow: Duration = .seconds(2)

    private let lastPress = Mutex<ContinuousClock.Instant?>(nil)

    /// Records a press and says what it should do.
    func press(at now: ContinuousClock.Instant = .now) -> InterruptAction {
        lastPress.withLock { last in
            defer { last = now }
            if let previous = last, previous.duration(to: now) < Self.killWindow { return .kill }
            return .interrupt
        }
    }

    /// Forgets earlier presses, so the next one is a first one again.
    func reset() {
        lastPress.withLock { $0 = nil }
    }
}

/// Remembers that Ctrl-C was pressed, for the moments when no code runs to receive it
/// (the kernel is starting, or one execution has ended and the next is not yet sent).
final class PendingInterrupt: Sendable {
    private let pressed = Atomic<Bool>(false)

    func record() {
        pressed.store(true, ordering: .sequentiallyConsistent)
    }

    var wasRecorded: Bool { pressed.load(ordering: .sequentiallyConsistent) }
}

/// The termination signal (SIGTERM, SIGHUP) that arrived while a program ran, if any: it decides
/// the exit status however the run then ends (the kernel shut down under it reports a cancelled
/// execution, which would otherwise read as an interrupt).
final class PendingTermination: Sendable {
    private let signalNumber = Atomic<Int32>(0)

    func record(_ signal: Int32) {
        signalNumber.store(signal, ordering: .sequentiallyConsistent)
    }

    /// `128 + signal` once a termination signal arrived, else nil.
    var exitStatus: Int32? {
        let signal = signalNumber.load(ordering: .sequentiallyConsistent)
        return signal == 0 ? nil : 128 + signal
    }
}

/// Whether the kernel has said hello: before that there is no code for Ctrl-C to interrupt,
/// so it ends the start instead (a launcher that never answers would otherwise hold the
/// one-shot for the whole start-up timeout).
final class KernelStartMark: Sendable {
    private let started = Atomic<Bool>(false)

    func markStarted() {
        started.store(true, ordering: .sequentiallyConsistent)
    }

    var hasStarted: Bool { started.load(ordering: .sequentiallyConsistent) }
}
