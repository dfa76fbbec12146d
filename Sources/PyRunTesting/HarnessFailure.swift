import PyRunKit

/// An expectation of `PreludeHarness` or `HarnessKernel` that did not hold, with what the
/// kernel did instead: the code, how it ended, its traceback and its output. It reads as a
/// test failure message.
public struct HarnessFailure: Error, Sendable, CustomStringConvertible {
    /// What was expected and did not happen.
    public var message: String
    /// The execution it is about, if any.
    public var result: ExecutionResult?
    /// The prelude sources that failed to load, when that is the failure.
    public var preludeFailures: [PreludeFailure]

    /// Creates a failure.
    public init(_ message: String, result: ExecutionResult? = nil, preludeFailures: [PreludeFailure] = []) {
        self.message = message
        self.result = result
        self.preludeFailures = preludeFailures
    }

    public var description: String {
        var lines = [message]
        for failure in preludeFailures {
            lines.append("\(failure)")
            lines += failure.error.traceback.map { "    " + $0 }
        }
        if let result {
            lines.append("outcome: \(result.outcome)")
            if let error = result.error {
                lines += (error.traceback.isEmpty ? [error.description] : error.traceback).map { "    " + $0 }
            }
            if !result.stdout.isEmpty { lines.append("stdout:\n" + Self.tail(result.stdout)) }
            if !result.stderr.isEmpty { lines.append("stderr:\n" + Self.tail(result.stderr)) }
            for notice in result.notices { lines.append("notice: \(notice)") }
        }
        return lines.joined(separator: "\n")
    }

    private static func tail(_ text: String) -> String {
        text.count > 4000 ? "…" + String(text.suffix(4000)) : text
    }
}
