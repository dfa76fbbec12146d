/// Why a request to a pyrun server failed, on either side of the wire. The `code` says which
/// failure (it travels as a string, so new codes never break old clients); `message` says it
/// for a person.
public struct ServeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A kind of failure.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String

        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// The message was not a request the server understands (not JSON, a missing field).
        public static let badRequest = Code(rawValue: "badRequest")
        /// The `op` is not one the server knows.
        public static let unknownOperation = Code(rawValue: "unknownOperation")
        /// A server or session name that cannot be used.
        public static let invalidName = Code(rawValue: "invalidName")
        /// The kernel could not do it (it could not start, it did not answer).
        public static let kernelFailed = Code(rawValue: "kernelFailed")
        /// The server is shutting down.
        public static let stopping = Code(rawValue: "stopping")
        /// No server of that name is running, or it cannot be reached.
        public static let serverNotFound = Code(rawValue: "serverNotFound")
        /// The connection ended before the answer came.
        public static let connectionLost = Code(rawValue: "connectionLost")
        /// The run directory or a connection file is not safe or not usable.
        public static let runDirectory = Code(rawValue: "runDirectory")
        /// A server of that name is already running.
        public static let alreadyRunning = Code(rawValue: "alreadyRunning")
        /// The server speaks another protocol version.
        public static let protocolMismatch = Code(rawValue: "protocolMismatch")

        public var description: String { rawValue }
    }

    /// Which failure this is.
    public var code: Code
    /// What happened, for a person.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
