/// A request about runs that cannot be served, with a message a model can act on.
public struct RunRegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Value: String, Sendable, Hashable {
            case unknownRun = "unknown run"
            case invalidPattern = "invalid pattern"
            case invalidArgument = "invalid argument"
            case storage = "storage"
        }

        let value: Value

        /// No run has this id (or it is so old that it was forgotten).
        public static let unknownRun = Code(value: .unknownRun)
        /// The `grep` pattern is not a regular expression.
        public static let invalidPattern = Code(value: .invalidPattern)
        /// An argument is out of range.
        public static let invalidArgument = Code(value: .invalidArgument)
        /// The run directory could not be written or read.
        public static let storage = Code(value: .storage)

        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
