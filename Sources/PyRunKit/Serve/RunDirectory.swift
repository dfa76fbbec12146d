import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The private directory where pyrun servers keep their sockets and connection files:
/// `$XDG_RUNTIME_DIR/pyrun/`, else `~/.pyrun/run/`. It is made with mode 0700 and must belong
/// to the current user; each server has `NAME.sock` (mode 0600) and `NAME.json` (mode 0600).
public struct RunDirectory: Sendable, Hashable, CustomStringConvertible {
    /// The directory's path.
    public var path: String

    /// A run directory at `path`.
    public init(path: String) {
        self.path = path
    }

    /// `$XDG_RUNTIME_DIR/pyrun` when that variable names an absolute path, else `~/.pyrun/run`.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> RunDirectory {
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return RunDirectory(path: (runtime as NSString).appendingPathComponent("pyrun"))
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return RunDirectory(path: (home as NSString).appendingPathComponent(".pyrun/run"))
    }

    public var description: String { path }

    /// The socket of server `name`.
    public func socketPath(server name: String) -> String {
        (path as NSString).appendingPathComponent("\(name).sock")
    }

    /// The connection file of server `name`.
    public func connectionFilePath(server name: String) -> String {
        (path as NSString).appendingPathComponent("\(name).json")
    }

    /// Makes the directory (and its parents) if needed, with mode 0700, and checks that it
    /// is a real directory of this user's with no access for others (tightening the mode of
    /// one that is this user's).
    /// - Throws: `ServeError` with `.runDirectory` when it cannot be made or is not safe.
    public func prepare() throws(ServeError) {
        let parent = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw ServeError(.runDirectory, "cannot make \(parent): \(error.localizedDescription)")
        }
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw ServeError(.runDirectory, "cannot make \(path): \(UnixSocket.errnoText())")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw ServeError(.runDirectory, "cannot inspect \(path): \(UnixSocket.errnoText())")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw ServeError(.runDirectory, "\(path) is not a directory (a symbolic link is not accepted)")
        }
        guard info.st_uid == geteuid() else {
            throw ServeError(.runDirectory, "\(path) belongs to user \(info.st_uid), not to you (\(geteuid()))")
        }
        if info.st_mode & 0o077 != 0, chmod(path, 0o700) != 0 {
            throw ServeError(.runDirectory, "cannot make \(path) private (mode 0700): \(UnixSocket.errnoText())")
        }
    }

    /// Every connection file in the directory, live or stale, sorted by server name.
    public func connectionFiles() -> [ConnectionFile] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            ConnectionFile(contentsOf: (path as NSString).appendingPathComponent(name))
        }
    }

    /// Removes the connection files (and sockets) of servers that are gone.
    /// - Returns: the files removed.
    @discardableResult
    public func removeStaleConnectionFiles() -> [ConnectionFile] {
        connectionFiles().filter { file in
            guard !file.isLive else { return false }
            file.remove()
            return true
        }
    }

    /// The live server `name`, or (when `name` is nil) the only live one, else the one named
    /// `default`. Stale connection files found on the way are removed.
    /// - Throws: `ServeError` with `.serverNotFound` naming what is running instead.
    public func liveServer(named name: String?) throws(ServeError) -> ConnectionFile {
        removeStaleConnectionFiles()
        let live = connectionFiles()
        if let name {
            if let file = live.first(where: { $0.name == name }) { return file }
            let others = live.map(\.name)
            throw ServeError(
                .serverNotFound,
                "no pyrun server named '\(name)' is running\(others.isEmpty ? "; start one with: pyrun serve --name \(name)" : " (running: \(others.joined(separator: ", ")))")"
            )
        }
        if live.count == 1 { return live[0] }
        if let standard = live.first(where: { $0.name == ServeNames.defaultServer }) { return standard }
        if live.isEmpty { throw ServeError(.serverNotFound, "no pyrun server is running; start one with: pyrun serve") }
        throw ServeError(
            .serverNotFound,
            "several pyrun servers are running (\(live.map(\.name).joined(separator: ", "))); name one: pyrun exec --server NAME, pyrun attach NAME:SESSION"
        )
    }
}

/// The names pyrun gives when none is chosen, and the rules for chosen ones.
public enum ServeNames {
    /// The server name `pyrun serve` uses without `--name`.
    public static let defaultServer = "default"
    /// The session name `pyrun exec` and `pyrun attach` use without one.
    public static let defaultSession = "main"

    /// Server names: 1–64 letters, digits, `.`, `_` or `-`, not starting with `.` or `-`.
    public static func validateServerName(_ name: String) throws(ServeError) {
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || ".-_".unicodeScalars.contains(scalar))
        }
        guard !name.isEmpty, name.count <= 64, allowed, !name.hasPrefix("."), !name.hasPrefix("-") else {
            throw ServeError(
                .invalidName,
                "server name \(name.debugDescription) must be 1–64 letters, digits, '.', '_' or '-', not starting with '.' or '-'"
            )
        }
    }
}

/// What a running server writes to `NAME.json` in the run directory, so clients find it.
public struct ConnectionFile: Sendable, Hashable, CustomStringConvertible {
    /// The server's name.
    public var name: String
    /// The server's process id.
    public var pid: Int32
    /// Where it listens.
    public var socketPath: String
    /// When it started.
    public var startedAt: Date
    /// The serve protocol version it speaks.
    public var protocolVersion: Int
    /// Where this file is.
    public var path: String

    public init(name: String, pid: Int32, socketPath: String, startedAt: Date, protocolVersion: Int, path: String) {
        self.name = name
        self.pid = pid
        self.socketPath = socketPath
        self.startedAt = startedAt
        self.protocolVersion = protocolVersion
        self.path = path
    }

    /// `{"name", "pid", "socket", "started" (seconds since 1970), "startedText" (ISO 8601),
    /// "protocol"}`.
    public var json: JSONValue {
        .object([
            "name": .string(name), "pid": .number(Double(pid)), "socket": .string(socketPath),
            "started": .number(startedAt.timeIntervalSince1970),
            "startedText": .string(ISO8601DateFormatter().string(from: startedAt)),
            "protocol": .number(Double(protocolVersion)),
        ])
    }

    /// Reads the file at `path`; nil when it is missing or not a connection file.
    public init?(contentsOf path: String) {
        guard let data = FileManager.default.contents(atPath: path),
            let json = try? JSONValue.parse(Array(data)),
            let name = json["name"]?.stringValue, let pid = json["pid"]?.intValue,
            let socket = json["socket"]?.stringValue
        else { return nil }
        self.init(
            name: name, pid: Int32(pid), socketPath: socket,
            startedAt: Date(timeIntervalSince1970: json["started"]?.doubleValue ?? 0),
            protocolVersion: json["protocol"]?.intValue ?? 0, path: path)
    }

    /// Writes the file with mode 0600, atomically (a reader sees the old file or the whole new one).
    /// - Throws: `ServeError` with `.runDirectory` when it cannot be written.
    public func write() throws(ServeError) {
        let temporary = path + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServeError(.runDirectory, "cannot write \(temporary): \(UnixSocket.errnoText())") }
        let bytes = Array((json.serialized() + "\n").utf8)
        let written = bytes.withUnsafeBytes { writeDescriptor(fd, $0.baseAddress, $0.count) }
        _ = fchmod(fd, 0o600)
        closeDescriptor(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ServeError(.runDirectory, "cannot write \(path): \(UnixSocket.errnoText())")
        }
    }

    /// Removes this file and the server's socket.
    public func remove() {
        unlink(path)
        unlink(socketPath)
    }

    /// Whether the server still runs: its process exists and something accepts connections
    /// at its socket (a reused pid does not).
    public var isLive: Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let fd = try? UnixSocket.connect(to: socketPath) else { return false }
        closeDescriptor(fd)
        return true
    }

    /// `default  pid 4242  /run/user/0/pyrun/default.sock  started 2024-05-01T10:00:00Z`.
    public var description: String {
        "\(name)  pid \(pid)  \(socketPath)  started \(ISO8601DateFormatter().string(from: startedAt))"
    }
}

/// `write(2)`, under a name the method `write()` does not shadow.
private func writeDescriptor(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}
