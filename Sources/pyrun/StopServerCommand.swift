import ArgumentParser
import PyRunKit

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
