import Logging

/// pyrun's logging: bootstrapped once, to stderr, so log lines never mix with the program's
/// stdout (or the NDJSON of `--json`).
enum PyrunLogging {
    /// Sets up swift-log; call once, before anything logs.
    static func bootstrap(verbose: Bool) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .warning
            return handler
        }
    }

    /// The logger handed to kernels. Without `--verbose` it reports errors only: the
    /// kernel's warnings (an unexpected exit, an interrupt that needed a kill) are what
    /// pyrun itself turns into its exit status and notices, and saying them twice is noise.
    static func kernelLogger(verbose: Bool) -> Logger {
        var logger = Logger(label: "pyrun.kernel")
        logger.logLevel = verbose ? .debug : .error
        return logger
    }
}
