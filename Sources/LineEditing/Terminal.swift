#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal a line editor works on: the descriptor keys come from (and whose mode
/// changes) and the one the line is drawn on.
public struct Terminal: Sendable {
    public let inputDescriptor: Int32
    public let outputDescriptor: Int32

    /// Standard input and standard output.
    public static let standard = Terminal(inputDescriptor: STDIN_FILENO, outputDescriptor: STDOUT_FILENO)

    /// The width assumed when the terminal does not say.
    static let fallbackColumns = 80

    public init(inputDescriptor: Int32, outputDescriptor: Int32) {
        self.inputDescriptor = inputDescriptor
        self.outputDescriptor = outputDescriptor
    }

    /// Whether a line editor can work here: keys come from a terminal and the line is drawn
    /// on one, and `TERM` is not `dumb` (Emacs's shell and other pipes that only look like a
    /// terminal, where cursor movement would print as junk).
    public func supportsEditing(environment: [String: String]) -> Bool {
        guard isatty(inputDescriptor) == 1, isatty(outputDescriptor) == 1 else { return false }
        return environment["TERM"] != "dumb"
    }

    /// The terminal's width now; it is asked each time, because windows are resized.
    var columns: Int {
        var size = winsize()
        guard ioctl(outputDescriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else {
            return Self.fallbackColumns
        }
        return Int(size.ws_col)
    }

    /// Writes all of `text`; gives up quietly when the terminal is gone.
    func write(_ text: String) {
        guard !text.isEmpty else { return }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes {
                writeBytes(outputDescriptor, $0.baseAddress! + offset, $0.count - offset)
            }
            if written < 0, errno == EINTR || errno == EAGAIN { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
