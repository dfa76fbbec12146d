import ArgumentParser
import Foundation
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pyrun ls`: the running servers and their sessions; stale connection files are removed.
struct ListServersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List running pyrun servers and their sessions.",
        discussion: "Connection files of servers that are gone are removed on the way.")

    @Flag(name: .long, help: "One JSON object per server, with its sessions.")
    var json = false

    func run() async throws {
        let output = OutputSink.standardOutput
        let errors = OutputSink.standardError
        let runDirectory = RunDirectory.standard()
        for stale in runDirectory.removeStaleConnectionFiles() {
            errors.writeLine("pyrun: removed the connection file of '\(stale.name)' (pid \(stale.pid) is gone)")
        }
        let files = runDirectory.connectionFiles()
        if files.isEmpty, !json { errors.writeLine("no pyrun server is running (start one with: pyrun serve)") }
        for file in files {
            var sessions: [SessionStatus] = []
            var problem: String?
            do {
                let client = try await ServeClient.connect(socketPath: file.socketPath)
                sessions = try await client.sessions()
                await client.close()
            } catch {
                problem = error.message
            }
            if json {
                var object = file.json.objectValue ?? [:]
                object["sessions"] = .array(sessions.map(\.json))
                if let problem { object["error"] = .string(problem) }
                output.writeLine(JSONValue.object(object).serialized())
                continue
            }
            output.writeLine(file.description)
            if let problem { output.writeLine("  (\(problem))") }
            if sessions.isEmpty, problem == nil { output.writeLine("  no sessions yet") }
            for session in sessions { output.writeLine("  \(session)") }
        }
    }
}

/// `pyrun stop NAME`: shuts a server's kernels down and waits until it has exited.
struct StopServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a pyrun server: every kernel is shut down and the server exits.")

    @Argument(help: ArgumentHelp("The server (default: the only one running, or 'default').", valueName: "name"))
    var name: String?

    func run() async throws {
        let errors = OutputSink.standardError
        let file: ConnectionFile
        do {
            file = try RunDirectory.standard().liveServer(named: name)
            let client = try await ServeClient.connect(socketPath: file.socketPath)
            try await client.stopServer()
            // The server ends its connections once every kernel is gone (each with the
            // library's escalation), just before it exits.
            await client.waitUntilDisconnected()
        } catch {
            errors.writeLine("pyrun stop: \(error.message)")
            throw ExitCode(PyrunExit.usage)
        }
        errors.writeLine("pyrun: stopped '\(file.name)'")
    }
}

/// Where a client command goes: `[SERVER:]SESSION`.
struct SessionTarget: ExpressibleByArgument, Equatable {
    var server: String?
    var session: String

    init(server: String?, session: String) {
        self.server = server
        self.session = session
    }

    init?(argument: String) {
        if let colon = argument.firstIndex(of: ":") {
            let server = String(argument[..<colon])
            let session = String(argument[argument.index(after: colon)...])
            self.server = server.isEmpty ? nil : server
            self.session = session.isEmpty ? ServeNames.defaultSession : session
        } else {
            self.server = nil
            self.session = argument.isEmpty ? ServeNames.defaultSession : argument
        }
    }
}

/// The label a client shows others: `alice exec 4242` (user, command, pid) unless `--as` gives one.
func clientLabel(command: String, chosen: String?) -> String {
    if let chosen, !chosen.isEmpty { return chosen }
    let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(getuid())"
    return "\(user) \(command) \(getpid())"
}
