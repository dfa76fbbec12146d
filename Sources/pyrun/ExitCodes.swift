import PyRunKit

/// The exit statuses of `pyrun`, chosen to match what `python3` and `timeout(1)` give, so
/// scripts that already test those keep working.
enum PyrunExit {
    static let ok: Int32 = 0
    /// An uncaught Python exception, or a kernel that could not start.
    static let pythonException: Int32 = 1
    /// Bad options or arguments (also a missing file or interpreter, as `python3` gives 2).
    static let usage: Int32 = 2
    /// `--timeout` ran out (the status `timeout(1)` uses).
    static let timedOut: Int32 = 124
    /// Ctrl-C (128 + SIGINT, what a shell reports for a process ended by it).
    static let interrupted: Int32 = 130

    /// The table shown by `pyrun --help`.
    static let helpTable = """
        Exit status:
          0        the code ran to the end (also sys.exit() or sys.exit(0))
          1        an uncaught Python exception, or the kernel could not start
          2        usage error: bad option, missing file or interpreter
          124      --timeout ran out
          130      interrupted with Ctrl-C
          N        the code called sys.exit(N) or os._exit(N)
          128+N    the kernel was killed by signal N (137: SIGKILL, e.g. out of memory;
                   152: SIGXCPU, --cpu-limit ran out)
        """

    /// The status for an execution's outcome, as `python3` would have exited.
    static func status(for outcome: ExecutionOutcome) -> Int32 {
        switch outcome.status {
        case .ok:
            return ok
        case .error:
            guard let error = outcome.error else { return pythonException }
            if error.name == "SystemExit" { return SystemExitCode(exceptionValue: error.value).status }
            if error.name == "KeyboardInterrupt" { return interrupted }
            return pythonException
        case .cancelled:
            return interrupted
        case .timedOut:
            return timedOut
        case .kernelDied:
            return outcome.death?.status.shellStatus ?? pythonException
        case .failedToStart:
            return outcome.startFailure?.isConfigurationError == true ? usage : pythonException
        }
    }
}

/// What `sys.exit(arg)` means for the exit status, recovered from `str(SystemExit(arg))`,
/// which is all the protocol carries: python exits with an integer argument as given, with
/// 0 for none, and prints any other argument to stderr and exits with 1.
struct SystemExitCode: Equatable {
    /// The process status (0–255, as the operating system truncates it).
    var status: Int32
    /// Text python would print to stderr, if any.
    var message: String?

    init(exceptionValue value: String) {
        switch value {
        case "", "None", "False":
            self.status = 0
        case "True":
            self.status = 1
        default:
            if let code = Int(value) {
                self.status = Int32(UInt8(truncatingIfNeeded: code))
            } else {
                self.status = 1
                self.message = value
            }
        }
    }
}
