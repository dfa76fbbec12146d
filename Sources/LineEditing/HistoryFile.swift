import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// History kept in a file, one entry a line, so that several sessions can add to it at once:
/// each entry is appended with a single write, and the file is cut back to `limit` entries
/// only when it has grown to twice that.
///
/// An entry's line breaks and backslashes are escaped (`\n`, `\\`), so a multi-line entry
/// stays one line in the file and comes back whole. The file and its folder are private to
/// the user (0600, 0700): code typed at a prompt can hold secrets.
public struct HistoryFile: HistoryStore {
    public let path: String
    public let limit: Int

    public init(path: String, limit: Int = History.defaultLimit) {
        self.path = path
        self.limit = max(limit, 1)
    }

    /// `$XDG_STATE_HOME/<application>/history`, else `~/.local/state/<application>/history`,
    /// as the XDG base directory specification places state; nil without either variable.
    public static func standardPath(application: String, environment: [String: String]) -> String? {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return "\(state)/\(application)/history"
        }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return "\(home)/.local/state/\(application)/history"
    }

    /// The last `limit` entries, oldest first; none when the file does not exist yet.
    public func load() throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let contents = try String(contentsOfFile: path, encoding: .utf8)
        let entries = contents.split(separator: "\n", omittingEmptySubsequences: true).map(Self.decode)
        if entries.count >= 2 * limit {
            try rewrite(Array(entries.suffix(limit)))
        }
        return Array(entries.suffix(limit))
    }

    public func append(_ entry: String) throws {
        try createFolder()
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw HistoryFileError(path: path, operation: "open", code: errno) }
        defer { close(descriptor) }
        try write(Self.encode(entry) + "\n", to: descriptor)
    }

    // MARK: - Encoding

    static func encode(_ entry: String) -> String {
        var line = ""
        for character in entry.unicodeScalars {
            switch character {
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            default: line.unicodeScalars.append(character)
            }
        }
        return line
    }

    static func decode(_ line: Substring) -> String {
        var entry = ""
        var escaping = false
        for character in line.unicodeScalars {
            if escaping {
                switch character {
                case "n": entry += "\n"
                case "r": entry += "\r"
                default: entry.unicodeScalars.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                entry.unicodeScalars.append(character)
            }
        }
        return entry
    }

    // MARK: - Files

    private func createFolder() throws {
        let folder = (path as NSString).deletingLastPathComponent
        guard !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) else { return }
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Replaces the file with `entries` through a temporary file and a rename, so a reader
    /// never sees half of it.
    private func rewrite(_ entries: [String]) throws {
        let temporary = "\(path).\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw HistoryFileError(path: temporary, operation: "open", code: errno) }
        do {
            defer { close(descriptor) }
            try write(entries.map { Self.encode($0) + "\n" }.joined(), to: descriptor)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw HistoryFileError(path: path, operation: "replace", code: code)
        }
    }

    private func write(_ text: String, to descriptor: Int32) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                writeBytes(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw HistoryFileError(path: path, operation: "write", code: errno) }
            offset += written
        }
    }
}

/// `write(2)`, under a name that the method named `write` does not shadow.
func writeBytes(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

/// A history file could not be read or written.
public struct HistoryFileError: Error, CustomStringConvertible {
    public let path: String
    public let operation: String
    public let code: Int32

    public var description: String {
        "could not \(operation) \(path): \(String(cString: strerror(code)))"
    }
}
