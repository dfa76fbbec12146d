import ArgumentParser
import Foundation
import Logging
import PyRunConsole
import PyRunKit

/// `pyrun-console`: the browser console of a running pyrun server, a program of its own so
/// that `pyrun` does not link an HTTP server. `pyrun serve --http` and `pyrun mcp --http` start
/// it as their child; it can also be started by hand for a server already running.
@main
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: ConsoleProcess.executableName,
        abstract: "Serve the browser console of a running pyrun server.",
        discussion: """
            Prints the address to open, with its token, on stdout, and serves until the server stops. `pyrun serve --http ADDRESS` and `pyrun mcp --http ADDRESS` start it for you; by hand it opens a console on a server that already runs:

              pyrun-console --server NAME --http 127.0.0.1:8888
            """)

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The server, by name (default: the only one running, else `default`).", valueName: "name"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("The server's Unix socket, instead of its name.", valueName: "path"))
    var socket: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where to listen: PORT, HOST:PORT or [IPV6]:PORT (0: any free port). Loopback unless asked.",
            valueName: "address"))
    var http: String = "127.0.0.1:0"

    @Flag(
        name: .long,
        help: ArgumentHelp("Stop at end of file on stdin (how a parent's death is seen).", visibility: .hidden))
    var exitWithStdin = false

    @Flag(name: .long, help: "Log every request, to stderr.")
    var verbose = false

    mutating func validate() throws {
        if server != nil, socket != nil { throw ValidationError("give --server or --socket, not both") }
        do {
            _ = try ConsoleAddress(parsing: http)
        } catch {
            throw ValidationError("--http \(error)")
        }
    }

    func run() async throws {
        let logLevel: Logger.Level = verbose ? .debug : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let address = try ConsoleAddress(parsing: http)
        let socketPath: String
        let control: ServeClient
        do {
            socketPath = try socket ?? RunDirectory.standard().liveServer(named: server).socketPath
            // Held open for the console's life: its end is the server's.
            control = try await ServeClient.connect(socketPath: socketPath)
        } catch {
            say("\(error)")
            throw ExitCode.failure
        }
        if !address.isLoopback {
            say(
                "warning: the console on \(address) can be reached from other machines; anyone who gets its link runs code as you"
            )
        }
        let console = ConsoleServer(
            socketPath: socketPath, server: control.server, address: address,
            logger: Logger(label: "pyrun.console"))
        let ending = await withTaskGroup(of: Ending.self) { group in
            group.addTask {
                do {
                    // One unbuffered write: the parent waits for this line.
                    try await console.run { url in FileHandle.standardOutput.write(Data("\(url)\n".utf8)) }
                    return .stopped
                } catch {
                    return .cannotListen("\(error)")
                }
            }
            group.addTask {
                await control.waitUntilDisconnected()
                return .stopped
            }
            if exitWithStdin {
                group.addTask {
                    await StandardInput.waitForEnd()
                    return .stopped
                }
            }
            defer { group.cancelAll() }
            return await group.next() ?? .stopped
        }
        await control.close()
        if case .cannotListen(let reason) = ending {
            say("cannot listen on \(address): \(reason)")
            throw ExitCode.failure
        }
    }

    /// Why the console stopped.
    private enum Ending: Sendable {
        /// The server or the parent went, or a signal came.
        case stopped
        case cannotListen(String)
    }

    private func say(_ line: String) {
        FileHandle.standardError.write(Data("\(ConsoleProcess.executableName): \(line)\n".utf8))
    }
}
