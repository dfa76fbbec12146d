#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a process ended: its exit code, or the signal that killed it.
public enum TerminationStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    init(waitStatus status: Int32) {
        // The W* macros are not imported into Swift; these are their POSIX definitions.
        let termSignal = status & 0x7F
        if termSignal == 0 {
            self = .exited((status >> 8) & 0xFF)
        } else {
            self = .signaled(termSignal)
        }
    }

    /// The status a shell would report: the exit code, or 128 + signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    /// "exited with status 3", "was killed by signal 9 (SIGKILL)": a predicate for a
    /// sentence about the process. Who sent a signal is not known here (see `KernelDeath`).
    public var description: String {
        switch self {
        case .exited(let code):
            return "exited with status \(code)"
        case .signaled(let signal):
            return "was killed by signal \(signal) (\(TerminationStatus.signalName(signal)))"
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGILL: "SIGILL"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGSEGV: "SIGSEGV"
        case SIGPIPE: "SIGPIPE"
        case SIGALRM: "SIGALRM"
        case SIGTERM: "SIGTERM"
        case SIGXCPU: "SIGXCPU, CPU time limit exceeded"
        case SIGXFSZ: "SIGXFSZ, file size limit exceeded"
        default: "signal \(signal)"
        }
    }
}
