import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The browser console of a pyrun server, run as a child process: `pyrun-console`, a program
/// of its own so that `pyrun` does not link an HTTP server (docs/console-protocol.md says
/// what that saves). The child relays each browser tab to a connection on the server's Unix
/// socket, and keeps the console's admission rules (token, origin, host) to itself.
///
/// It prints its address, with the token, as the first line of its stdout (`url()` returns
/// it); what it says on stderr goes to `log`, a line at a time. It ends when the server's
/// socket closes, and when this process goes, however it goes: it stops at end of file on its
/// stdin, whose only writer is this process.
///
/// ```swift
/// let console = try ConsoleProcess.start(
///     executable: try ConsoleProcess.locate(), socketPath: daemon.connectionFile.socketPath,
///     address: try ConsoleAddress(parsing: "127.0.0.1:8888")
/// ) { line in print(line) }
/// if let url = await console.url() { print("console at \(url)") }
/// // …
/// await console.stop()
/// ```
public final class ConsoleProcess: Sendable {
    /// The program's name, as `swift build` makes it and `locate` looks for it.
    public static let executableName = "pyrun-console"

    /// The child's process id.
    public let pid: Int32
    private let stdinWriteEnd: Int32
    private let stdinClosed = Atomic<Bool>(false)
    private let announced = SetOnceValue<Announcement>()
    private let ended = SetOnceValue<TerminationStatus>()
    /// Whether the child has exited; set, and the child reaped, under this lock, so a signal
    /// sent under it never reaches a reused pid.
    private let exited = Mutex(false)

    /// The first line of the child's stdout, or its absence.
    private struct Announcement: Sendable {
        var url: String?
    }

    /// Why the console's program cannot be run.
    public struct NotFound: Error, Sendable, Hashable, CustomStringConvertible {
        /// The directory of the running program, looked in first.
        public var programDirectory: String?

        public var description: String {
            let nextTo = programDirectory.map { " next to this program (in \($0)) nor" } ?? ""
            return
                "the browser console is a program of its own, \(ConsoleProcess.executableName), and it is neither\(nextTo) on PATH: build it with `swift build --product \(ConsoleProcess.executableName)` (plain `swift build` builds it too), or put it on PATH"
        }
    }

    private init(pid: Int32, stdinWriteEnd: Int32) {
        self.pid = pid
        self.stdinWriteEnd = stdinWriteEnd
    }

    /// Finds `pyrun-console`: next to the running program first (where `swift build` puts
    /// both), then on `PATH`.
    /// - Parameters:
    ///   - programPath: the running program's path; nil: this process's executable.
    ///   - environment: where `PATH` is read.
    /// - Throws: `NotFound`, which says how to build it.
    public static func locate(
        programPath: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(NotFound) -> String {
        let programDirectory = (programPath ?? currentExecutablePath()).map {
            URL(fileURLWithPath: $0).deletingLastPathComponent().path
        }
        let path = environment["PATH"].map { $0.split(separator: ":").map(String.init) } ?? []
        for directory in (programDirectory.map { [$0] } ?? []) + path where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(executableName).path
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw NotFound(programDirectory: programDirectory)
    }

    /// The running program, symbolic links resolved, so a linked `pyrun` finds the console
    /// built next to the real one.
    private static func currentExecutablePath() -> String? {
        #if os(Linux)
        return try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        #else
        return Bundle.main.executableURL?.resolvingSymlinksInPath().path
        #endif
    }

    /// Starts the console for the server listening at `socketPath`.
    /// - Parameters:
    ///   - executable: the program (see `locate`).
    ///   - socketPath: the server's Unix socket; the console connects to it once to learn who
    ///     the server is, and once per browser tab.
    ///   - address: where the console listens (the child warns when it is not loopback).
    ///   - verbose: the child logs each request.
    ///   - environment: the child's environment.
    ///   - log: each line the child writes to stderr (its warnings and errors).
    /// - Throws: `SpawnError` when the program cannot be started.
    public static func start(
        executable: String, socketPath: String, address: ConsoleAddress, verbose: Bool = false,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        log: @escaping @Sendable (String) -> Void
    ) throws(SpawnError) -> ConsoleProcess {
        var arguments = ["--socket", socketPath, "--http", address.description, "--exit-with-stdin"]
        if verbose { arguments.append("--verbose") }
        let child = try Spawn.start(
            LaunchCommand(executable: executable, arguments: arguments), environment: environment)
        let console = ConsoleProcess(pid: child.pid, stdinWriteEnd: child.stdin)
        let readers = DispatchGroup()
        readers.enter()
        console.startThread("pyrun console stdout") {
            readLines(child.stdout) { line in
                if !console.announced.fulfill(Announcement(url: line)) { log(line) }
            }
            console.announced.fulfill(Announcement(url: nil))
            readers.leave()
        }
        readers.enter()
        console.startThread("pyrun console stderr") {
            readLines(child.stderr, log)
            readers.leave()
        }
        console.startThread("pyrun console reaper") {
            // Waits without reaping, so `stop()` may still signal the pid until it is reaped here.
            Spawn.waitForExitWithoutReaping(child.pid)
            let status = console.exited.withLock { exited in
                exited = true
                return Spawn.reap(child.pid)
            }
            // What it wrote before it ended is logged before its end is told, unless something
            // it started still holds its pipes open.
            _ = readers.wait(timeout: .now() + .seconds(5))
            console.ended.fulfill(status)
        }
        return console
    }

    /// The address to open, with the token, once the console listens; nil when it ended
    /// without listening (its stderr, given to `log`, says why).
    public func url() async -> String? {
        await announced.wait()?.url
    }

    /// Returns how the child ended, once it has and its last lines have gone to `log`.
    public func waitForExit() async -> TerminationStatus {
        // Only a cancelled wait returns nil; the child is then not known to have ended.
        await ended.wait() ?? .exited(-1)
    }

    /// Ends the console: closes its stdin (it stops serving and exits), and kills it if it
    /// has not exited within `grace`.
    /// - Returns: how it ended.
    @discardableResult
    public func stop(grace: Duration = .seconds(10)) async -> TerminationStatus {
        closeStdin()
        let ended = self.ended
        let inTime = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await ended.wait() != nil }
            group.addTask {
                try? await Task.sleep(for: grace)
                return false
            }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
        if !inTime {
            exited.withLock { exited in
                if !exited { _ = kill(pid, SIGKILL) }
            }
        }
        return await waitForExit()
    }

    private func closeStdin() {
        guard !stdinClosed.exchange(true, ordering: .relaxed) else { return }
        closeDescriptor(stdinWriteEnd)
    }

    private func startThread(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Reads `fd` to its end, handing each line (without its newline) to `each`; then closes it.
    private static func readLines(_ fd: Int32, _ each: (String) -> Void) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            pending.append(contentsOf: chunk[0..<count])
            while let newline = pending.firstIndex(of: 0x0A) {
                each(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { each(String(decoding: pending, as: UTF8.self)) }
        closeDescriptor(fd)
    }
}
