import Foundation
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `pyrun serve` of its own for one test: a private run directory (through
/// `XDG_RUNTIME_DIR`) that every client command of the test shares.
final class ServerFixture: Sendable {
    let name: String
    /// `$XDG_RUNTIME_DIR` of the test.
    let runtimeDirectory: String
    let server: PyrunProcess

    /// The pyrun run directory inside it.
    var runDirectory: String { "\(runtimeDirectory)/pyrun" }
    var connectionFile: String { "\(runDirectory)/\(name).json" }
    var socket: String { "\(runDirectory)/\(name).sock" }
    var environment: [String: String] { ["XDG_RUNTIME_DIR": runtimeDirectory] }

    /// Starts `pyrun serve --name name extraArguments` and waits for its connection file.
    init(in directory: String, name: String = "test", extraArguments: [String] = []) async throws {
        self.name = name
        self.runtimeDirectory = "\(directory)/runtime"
        try FileManager.default.createDirectory(atPath: runtimeDirectory, withIntermediateDirectories: true)
        server = try PyrunProcess(
            ["serve", "--name", name] + extraArguments, environment: ["XDG_RUNTIME_DIR": runtimeDirectory])
        let file = "\(runtimeDirectory)/pyrun/\(name).json"
        let started = await poll(seconds: 30) { FileManager.default.fileExists(atPath: file) }
        try #require(started, "pyrun serve did not write its connection file; stderr: \(server.stderr)")
    }

    /// Runs a client command of pyrun against this server's run directory.
    func pyrun(_ arguments: [String], input: String = "") async throws -> PyrunOutcome {
        try await runPyrun(arguments, input: input, environment: environment)
    }

    /// Starts a client command and leaves it running.
    func start(_ arguments: [String]) throws -> PyrunProcess {
        try PyrunProcess(arguments, environment: environment)
    }

    /// The kernel pid of `session`, asked through `pyrun exec`.
    func kernelPID(session: String = "main") async throws -> Int32 {
        let outcome = try await pyrun(["exec", "--server", name, "--session", session, "-c", "import os; os.getpid()"])
        return try #require(Int32(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(outcome)")
    }

    /// Ends the server however the test went: SIGTERM (a stop) if it still runs, then waits.
    func shutDownIfRunning() async {
        guard processIsAlive(server.pid) else { return }
        server.send(signal: SIGTERM)
        _ = await server.finish()
    }

    /// Stops the server with `pyrun stop` and waits for it to exit.
    func stop() async throws -> PyrunOutcome {
        let stopped = try await pyrun(["stop", name])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        return await server.finish()
    }
}

/// The mode bits of `path`.
func permissions(of path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o777
}

/// Runs `body` with a server of its own in a scratch directory; the server is stopped and the
/// directory removed afterwards, also when `body` throws.
func withServer<T>(
    name: String = "test", extraArguments: [String] = [], _ body: (ServerFixture, String) async throws -> T
) async throws -> T {
    try await withTemporaryDirectory { directory in
        let server = try await ServerFixture(in: directory, name: name, extraArguments: extraArguments)
        do {
            let result = try await body(server, directory)
            await server.shutDownIfRunning()
            return result
        } catch {
            await server.shutDownIfRunning()
            throw error
        }
    }
}
