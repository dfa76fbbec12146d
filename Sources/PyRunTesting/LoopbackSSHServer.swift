import Foundation
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private OpenSSH server on the loopback interface, for testing remote kernels: a
/// throwaway host key, a throwaway user key authorized for the current user, a free port, all
/// in a temporary directory. `start()` fails when OpenSSH is not installed, so a test that
/// needs it fails loudly instead of passing silently (`scripts/install-remote-test-deps`).
public final class LoopbackSSHServer: Sendable {
    /// Why the server could not start.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Where the server program is expected.
    public static let serverPath = "/usr/sbin/sshd"

    /// The port it listens on (127.0.0.1).
    public let port: Int
    /// Its temporary directory: keys, configuration, log.
    public let directory: String
    /// The listening server's pid.
    public let serverPID: pid_t
    /// The user the key logs in as: the current one.
    public let user: String

    /// Where ssh takes the user key from.
    public var keyPath: String { "\(directory)/user_key" }

    /// The client options that reach this server with its key and no questions asked.
    public var clientOptions: [String] {
        [
            "-p", String(port), "-i", keyPath, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR",
        ]
    }

    /// A launcher for kernels on this server.
    public func launcher(python: String = "python3") -> KernelLauncher {
        .ssh(host: "\(user)@127.0.0.1", options: clientOptions, python: python)
    }

    /// Starts a server; fails with `Unavailable` when OpenSSH is not installed or will not start.
    public static func start() throws -> LoopbackSSHServer {
        guard access(serverPath, X_OK) == 0 else {
            throw Unavailable(
                description: "\(serverPath) is missing: install openssh-server (scripts/install-remote-test-deps)")
        }
        let searchPath = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/bin"
        guard let keygen = findProgram("ssh-keygen", searchPath: searchPath),
            findProgram("ssh", searchPath: searchPath) != nil
        else {
            throw Unavailable(
                description: "ssh or ssh-keygen is missing: install openssh-client (scripts/install-remote-test-deps)")
        }
        let directory = try makeTemporaryDirectory()
        for key in ["host_key", "user_key"] {
            try run(keygen, ["-q", "-t", "ed25519", "-N", "", "-f", "\(directory)/\(key)"])
        }
        try FileManager.default.copyItem(atPath: "\(directory)/user_key.pub", toPath: "\(directory)/authorized_keys")
        // Privilege separation needs this directory when the server runs as root.
        if geteuid() == 0 {
            try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        }
        let user = String(cString: getpwuid(geteuid()).pointee.pw_name)

        var lastLog = ""
        for _ in 0..<5 {
            let port = try freePort()
            let config = """
                ListenAddress 127.0.0.1
                Port \(port)
                HostKey \(directory)/host_key
                PidFile none
                UsePAM no
                AuthorizedKeysFile \(directory)/authorized_keys
                StrictModes no
                PermitRootLogin prohibit-password
                PasswordAuthentication no

                """
            try config.write(toFile: "\(directory)/sshd_config", atomically: true, encoding: .utf8)
            // Not Foundation's `Process`: sshd closes every inherited descriptor at start,
            // the one Foundation watches among them, and Foundation then blocks its only
            // reaping thread in waitpid for a server that runs on, so no child of the test
            // process is reaped any more.
            let serverPID = try spawnServer(config: "\(directory)/sshd_config", log: "\(directory)/sshd.log")
            let deadline = Date().addingTimeInterval(30)
            var status: Int32 = 0
            while Date() < deadline, waitpid(serverPID, &status, WNOHANG) == 0 {
                if let text = try? String(contentsOfFile: "\(directory)/sshd.log", encoding: .utf8),
                    text.contains("Server listening on 127.0.0.1 port \(port)")
                {
                    return LoopbackSSHServer(port: port, directory: directory, serverPID: serverPID, user: user)
                }
                usleep(20_000)
            }
            if waitpid(serverPID, &status, WNOHANG) == 0 {
                kill(serverPID, SIGKILL)
                _ = waitpid(serverPID, &status, 0)
            }
            lastLog = (try? String(contentsOfFile: "\(directory)/sshd.log", encoding: .utf8)) ?? ""
        }
        throw Unavailable(description: "sshd did not start: \(lastLog)")
    }

    private init(port: Int, directory: String, serverPID: pid_t, user: String) {
        self.port = port
        self.directory = directory
        self.serverPID = serverPID
        self.user = user
    }

    /// Stops the listening server (sessions it started end with their connections) and
    /// removes its directory.
    public func stop() {
        kill(serverPID, SIGTERM)
        var status: Int32 = 0
        _ = waitpid(serverPID, &status, 0)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A port nothing listens on right now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw Unavailable(description: "no free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts `sshd -D -e -f config`, its output appended to `log`.
    private static func spawnServer(config: String, log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = [serverPath, "-D", "-e", "-f", config]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, serverPath, &actions, nil, argv, environ)
        guard result == 0 else { throw Unavailable(description: "cannot start \(serverPath): errno \(result)") }
        return pid
    }

    private static func findProgram(_ name: String, searchPath: String) -> String? {
        searchPath.split(separator: ":").map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }

    private static func makeTemporaryDirectory() throws -> String {
        var template = Array("\(NSTemporaryDirectory())/pyrun-sshd-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Unavailable(description: "mkdtemp failed: errno \(errno)") }
        return String(cString: made)
    }

    private static func run(_ program: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Unavailable(description: "\(program) \(arguments.joined(separator: " ")) failed")
        }
    }
}
