import ArgumentParser
import PyRunKit

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
