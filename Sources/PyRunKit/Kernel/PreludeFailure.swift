/// A prelude source that raised while the kernel started. The kernel is usable: the other
/// sources loaded, and the one that failed keeps what it defined before the error.
public struct PreludeFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file that failed (a module's name, for a module that could not be imported); nil
    /// when the prelude list itself could not be read.
    public var file: String?
    /// The line of `file` where the exception was raised.
    public var line: Int?
    /// The exception, with a traceback of the file's own frames.
    public var error: PythonError

    /// Creates a failure.
    public init(file: String?, line: Int?, error: PythonError) {
        self.file = file
        self.line = line
        self.error = error
    }

    /// "the prelude /w/tools.py raised at line 5: ValueError: bad".
    public var description: String {
        let place = file.map { "the prelude \($0)" } ?? "the prelude list"
        let at = line.map { " at line \($0)" } ?? ""
        return "\(place) raised\(at): \(error)"
    }
}
