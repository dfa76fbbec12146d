/// Why a kernel could not do what was asked. The `code` says which failure it was, in a form
/// that can grow without breaking callers; `message` says it for a person.
public struct KernelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A kind of kernel failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Kind: String, Sendable, Hashable {
            case interpreterNotFound
            case interpreterTooOld
            case interpreterUnusable
            case runnerInstallFailed
            case spawnFailed
            case startupFailed
            case startupTimedOut
            case kernelDied
            case shutDown
            case runnerRejected
            case memoryLimitTooLow
            case invalidConfiguration
        }

        let kind: Kind

        /// No Python interpreter at the given path, or none found automatically.
        public static let interpreterNotFound = Code(kind: .interpreterNotFound)
        /// The interpreter is older than Python 3.9.
        public static let interpreterTooOld = Code(kind: .interpreterTooOld)
        /// The interpreter exists but could not report what it is.
        public static let interpreterUnusable = Code(kind: .interpreterUnusable)
        /// The runner source could not be written to its private directory.
        public static let runnerInstallFailed = Code(kind: .runnerInstallFailed)
        /// The operating system refused to start the process.
        public static let spawnFailed = Code(kind: .spawnFailed)
        /// The runner exited before saying hello.
        public static let startupFailed = Code(kind: .startupFailed)
        /// The runner did not say hello within the startup timeout.
        public static let startupTimedOut = Code(kind: .startupTimedOut)
        /// The kernel process died while a request was waiting for it.
        public static let kernelDied = Code(kind: .kernelDied)
        /// The kernel was shut down while a request was waiting for it.
        public static let shutDown = Code(kind: .shutDown)
        /// The runner answered a request with `error_reply`.
        public static let runnerRejected = Code(kind: .runnerRejected)
        /// The memory limit leaves too little memory for the runner itself (it exited with
        /// status 77 before it was ready).
        public static let memoryLimitTooLow = Code(kind: .memoryLimitTooLow)
        /// The configuration cannot be used as given (two host functions with one name).
        public static let invalidConfiguration = Code(kind: .invalidConfiguration)

        public var description: String { kind.rawValue }
    }

    /// Which failure this is.
    public let code: Code
    /// What happened, for a person.
    public let message: String

    /// An error of kind `code`, said for people by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// True when the failure lies in how the kernel was configured (no such interpreter, one
    /// too old or unusable, a memory limit too low to start), so a command line reports it as
    /// a usage error rather than a failure of the code.
    public var isConfigurationError: Bool {
        [.interpreterNotFound, .interpreterTooOld, .interpreterUnusable, .memoryLimitTooLow, .invalidConfiguration]
            .contains(code)
    }
}
