import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Switches a terminal to the mode a line editor needs (every key at once, no echo, Ctrl-C
/// and Ctrl-Z as keys) and back, and makes sure "back" happens however the process ends
/// while the terminal is raw: a normal return, `exit()` (an exit handler), or a crash (a
/// handler for the fatal signals that puts the settings back before the crash goes on).
/// A shell left in raw mode shows no typing and ignores Enter, so this matters.
///
/// Only one terminal is raw at a time in a process; `enter` fails while one is.
enum RawMode {
    /// The descriptor in raw mode, or -1. Set after `savedSettings` is written and cleared
    /// before it may change, so a handler that sees a descriptor also sees its settings.
    private static let rawDescriptor = Atomic<Int32>(-1)

    /// The settings to put back. `nonisolated(unsafe)` is safe: the pointer never changes,
    /// and the pointee is written only by `enter` while `rawDescriptor` is -1 (no handler
    /// reads it then), and only read afterwards. A pointer rather than a global `termios`,
    /// so that a signal handler reads it without Swift's exclusivity bookkeeping.
    nonisolated(unsafe) private static let savedSettings: UnsafeMutablePointer<termios> = {
        let pointer = UnsafeMutablePointer<termios>.allocate(capacity: 1)
        pointer.initialize(to: termios())
        return pointer
    }()

    /// The signals that end a process with a crash, whose default action would leave the
    /// terminal raw.
    private static let fatalSignals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGQUIT]

    /// The actions our crash handler replaced, indexed by signal number (all below 32). `nonisolated(unsafe)` is
    /// safe: written by `enter` before the handlers are installed, read by the handler and
    /// by `leave` afterwards, never written while a handler may run.
    nonisolated(unsafe) private static let previousActions: UnsafeMutablePointer<sigaction> = {
        let pointer = UnsafeMutablePointer<sigaction>.allocate(capacity: 32)
        pointer.initialize(repeating: sigaction(), count: 32)
        return pointer
    }()

    /// Registers the exit handler once, on first use.
    private static let exitHandlerRegistered: Bool = {
        atexit { RawMode.restoreSettings() }
        return true
    }()

    /// Puts `descriptor` in raw mode; false (and nothing changed) when it is not a terminal
    /// or another one is raw already.
    static func enter(_ descriptor: Int32) -> Bool {
        _ = exitHandlerRegistered
        guard rawDescriptor.load(ordering: .acquiring) == -1 else { return false }
        guard tcgetattr(descriptor, savedSettings) == 0 else { return false }
        var raw = savedSettings.pointee
        // No line buffering, echo, signal keys (Ctrl-C, Ctrl-Z, Ctrl-\ arrive as bytes), or
        // Ctrl-V literal-next; no Ctrl-S/Ctrl-Q flow control. Carriage return still becomes
        // a line feed and output still turns "\n" into CR LF, so bytes handed back to a
        // line-by-line reader, and text written by others, behave as usual.
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | BRKINT | INPCK | ISTRIP)
        withUnsafeMutableBytes(of: &raw.c_cc) { characters in
            characters[Int(VMIN)] = 1
            characters[Int(VTIME)] = 0
        }
        rawDescriptor.store(descriptor, ordering: .releasing)
        installCrashHandlers()
        guard tcsetattr(descriptor, TCSADRAIN, &raw) == 0 else {
            leave()
            return false
        }
        return true
    }

    /// Puts the settings from before `enter` back.
    static func leave() {
        restoreSettings()
        for signalNumber in fatalSignals {
            sigaction(signalNumber, previousActions + Int(signalNumber), nil)
        }
        rawDescriptor.store(-1, ordering: .releasing)
    }

    /// Async-signal-safe: an atomic load and `tcsetattr`.
    private static func restoreSettings() {
        let descriptor = rawDescriptor.load(ordering: .acquiring)
        guard descriptor >= 0 else { return }
        _ = tcsetattr(descriptor, TCSADRAIN, savedSettings)
    }

    private static func installCrashHandlers() {
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_sigaction = crashed
        #else
        action.__sigaction_u.__sa_sigaction = crashed
        #endif
        action.sa_flags = Int32(SA_SIGINFO | SA_ONSTACK)
        sigemptyset(&action.sa_mask)
        for signalNumber in fatalSignals {
            sigaction(signalNumber, &action, previousActions + Int(signalNumber))
        }
    }
}

/// The crash handler: puts the terminal's settings back, then lets the crash go on as if we
/// had not been there. The previous action (the default, or the Swift runtime's backtracer)
/// is put back; a fault from an instruction happens again when this returns and reaches it,
/// and a signal another process sent is sent again.
private func crashed(_ signalNumber: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?) {
    RawMode.restoreSettingsForCrash(signalNumber)
    let sentByProcess = (info?.pointee.si_code ?? 0) <= 0
    if sentByProcess { raise(signalNumber) }
}

extension RawMode {
    fileprivate static func restoreSettingsForCrash(_ signalNumber: Int32) {
        restoreSettings()
        sigaction(signalNumber, previousActions + Int(signalNumber), nil)
    }
}
