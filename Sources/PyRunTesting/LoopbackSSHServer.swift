import Foundation

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private OpenSSH server on the loopback interface for the remote-kernel tests: a throwaway
/// host key, a throwaway user key authorized for the current user, a free port, all in a
/// temporary directory. A machine without `sshd` or `ssh` fails the tests that need them
/// (`scripts/install-remote-test-deps` installs them); nothing is skipped.
final class SSHServer: Sendable {
    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    static let serverPath = "/usr/sbin/sshd"

    let port: Int
    let directory: String
    let serverPID: pid_t
    let user: String

    /// Where ssh takes the user key from.
    var keyPath: String { "\(directory)/user_key" }

    /// The client options that reach this server with its key and no questions asked.
    var clientOptions: [String] {
        [
            "-p", String(port), "-i", keyPath, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR",
        ]
    }

    /// A launcher for kernels on this server.
    func launcher(python: String = "python3") -> KernelLauncher {
        .ssh(host: "\(user)@127.0.0.1", options: clientOptions, python: python)
    }

    /// Starts a server; fails with `Unavailable` when OpenSSH is not installed or will not start.
    static func start() throws -> SSHServer {
        guard access(serverPath, X_OK) == 0 else {
            throw Unavailable(description: "\(serverPath) is missing: install openssh-server (scripts/install-remote-test-deps)")
        }
        guard let keygen = InterpreterResolver.findOnPath("ssh-keygen", searchPath: "/usr/bin:/bin:/usr/local/bin"),
            InterpreterResolver.findOnPath("ssh", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin")
                != nil
        else {
            throw Unavailable(description: "ssh or ssh-keygen is missing: install openssh-client (scripts/install-remote-test-deps)")
        }
        let directory = try makeTemporaryDirectory()
        for key in ["host_key", "user_key"] {
            try run(keygen, ["-q", "-t", "ed25519", "-N", "", "-f", "\(directory)/\(key)"])
        }
        try FileManager.default.copyItem(atPath: "\(directory)/user_key.pub", toPath: "\(directory)/authorized_keys")
        // Privilege separation needs this directory when the server runs as root.
        if geteuid() == 0 { try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true) }
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
            let server = Process()
            server.executableURL = URL(fileURLWithPath: serverPath)
            server.arguments = ["-D", "-e", "-f", "\(directory)/sshd_config"]
            guard FileManager.default.createFile(atPath: "\(directory)/sshd.log", contents: nil),
                let log = FileHandle(forWritingAtPath: "\(directory)/sshd.log")
            else { throw Unavailable(description: "cannot write \(directory)/sshd.log") }
            server.standardError = log
            server.standardOutput = log
            server.standardInput = FileHandle.nullDevice
            try server.run()
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, server.isRunning {
                if let text = try? String(contentsOfFile: "\(directory)/sshd.log", encoding: .utf8),
                    text.contains("Server listening on 127.0.0.1 port \(port)")
                {
                    return SSHServer(port: port, directory: directory, serverPID: server.processIdentifier, user: user)
                }
                usleep(20_000)
            }
            if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            server.waitUntilExit()
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

    /// Stops the listening server (sessions it started end with their connections).
    func stop() {
        kill(serverPID, SIGTERM)
        var status: Int32 = 0
        _ = waitpid(serverPID, &status, 0)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A port nothing listens on right now.
    static func freePort() throws -> Int {
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
