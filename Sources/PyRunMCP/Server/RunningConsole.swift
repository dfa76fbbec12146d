import Logging
import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An MCP server's browser console while the server runs: the sessions' host, the private
/// Unix socket that serves it, and the `pyrun-console` child bridged to that socket.
final class RunningConsole: Sendable {
    /// The agent's sessions, with their journals; the tools run code through it.
    let host: SessionHost
    private let frontEnd: UnixSocketFrontEnd
    private let process: ConsoleProcess?
    private let announcing: Task<Void, Never>?

    private init(
        host: SessionHost, frontEnd: UnixSocketFrontEnd, process: ConsoleProcess?, announcing: Task<Void, Never>?
    ) {
        self.host = host
        self.frontEnd = frontEnd
        self.process = process
        self.announcing = announcing
    }

    /// Serves `pool`'s sessions on a socket in the private run directory and starts the
    /// console on it. A console that cannot start or listen is reported, and the agent is
    /// served without it.
    /// - Throws: `ServeError` when the socket cannot be made.
    static func start(
        _ console: MCPConsole, pool: KernelPool, runDirectory: RunDirectory = .standard(), logger: Logger
    ) throws(ServeError) -> RunningConsole {
        try runDirectory.prepare()
        // Named after the process, and with no connection file: `pyrun ls` does not list it,
        // and no other client takes it for a server of its own.
        let socketPath = runDirectory.socketPath(server: "mcp-console-\(getpid())")
        unlink(socketPath)
        let host = SessionHost(name: "pyrun mcp", pool: pool)
        let frontEnd = try UnixSocketFrontEnd(host: host, socketPath: socketPath, logger: logger)
        let process: ConsoleProcess
        do {
            process = try ConsoleProcess.start(
                executable: console.executable, socketPath: socketPath, address: console.address,
                verbose: console.verbose, log: console.report)
        } catch {
            console.report("pyrun mcp: the console cannot start: \(error); the agent's sessions are served without it")
            return RunningConsole(host: host, frontEnd: frontEnd, process: nil, announcing: nil)
        }
        let announcing = Task {
            if let url = await process.url() {
                console.report("pyrun mcp: console at \(url)")
            } else {
                let status = await process.waitForExit()
                console.report(
                    "pyrun mcp: the console on \(console.address) ended before it listened (it \(status)); the agent's sessions are served without it"
                )
            }
        }
        return RunningConsole(host: host, frontEnd: frontEnd, process: process, announcing: announcing)
    }

    /// Closes the sessions (the page sees each kernel stop), then the socket and the console.
    func stop() async {
        await host.stop()
        frontEnd.close()
        await process?.stop()
        await announcing?.value
    }
}
