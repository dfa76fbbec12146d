import Foundation
import Logging
import MCP
import PyRunKit
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pyrun mcp`: the MCP server that gives a model persistent Python sessions as tools.
public enum MCPServer {
    /// Why `serve` returned.
    public enum Ending: Sendable, Hashable {
        /// The client closed the server's input or stopped reading its output.
        case clientGone
        /// The server received this termination signal (SIGINT, SIGTERM or SIGHUP).
        case signal(Int32)
    }

    /// Serves the tools over `transport` until the client goes away (or, with
    /// `handlesTerminationSignals`, a SIGINT, SIGTERM or SIGHUP arrives), then shuts every
    /// session's interpreter down, and everything they started, before it returns.
    ///
    /// When the client's input ends, every request read before that is answered first (each
    /// call is bounded by its own `wait_s` and `timeout_s`), unless the client stops reading
    /// (it closes its end of the output, or a write fails) or a signal comes. A second
    /// termination signal during the shutdown ends the process at once.
    ///
    /// No interpreter starts before the client's `initialize` request has been read (or a
    /// `tools/call` came first, or the client left): when that request declares the `sampling`
    /// capability, every session's code gets `host.complete(prompt, max_tokens=1024, system=None,
    /// temperature=None)`, served by `sampling/createMessage` requests to the client (unless
    /// `configuration.kernel` already has a host function named `complete`).
    /// - Parameters:
    ///   - configuration: how sessions start, what they see, and the tools' limits.
    ///   - transport: usually `LineTransport.standardIO()`.
    ///   - handlesTerminationSignals: catch SIGINT, SIGTERM and SIGHUP to shut down cleanly;
    ///     the caller then ends the process with the signal (see `ProcessSignals`).
    ///   - logger: where the server, the pool and the kernels log (never to the protocol).
    /// - Returns: how it ended.
    /// - Throws: `RunRegistryError` when the run directory cannot be made, `ServeError` when
    ///   the console's socket cannot be made, or the transport's error when it cannot connect.
    public static func serve(
        _ configuration: MCPServerConfiguration, transport: any Transport, handlesTerminationSignals: Bool = true,
        logger: Logger = Logger(label: "pyrun.mcp")
    ) async throws -> Ending {
        let shutdown = ShutdownTrigger()
        let subscription =
            handlesTerminationSignals
            ? ProcessSignals.handle([SIGINT, SIGTERM, SIGHUP]) { signalNumber in shutdown.fire(signalNumber) } : nil
        defer { subscription?.cancel() }

        let ownsDirectory = configuration.runDirectory == nil
        let directory = configuration.runDirectory ?? temporaryRunDirectory()
        defer { if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) } }
        let registry = try RunRegistry(
            configuration: RunRegistry.Configuration(
                directory: directory, budget: OutputBudget(limit: configuration.limits.outputCharacters),
                redactor: configuration.redactor))
        let server = await makeServer(configuration)
        let router = ToolCallRouter(over: transport, logger: logger)
        try await server.start(transport: router)
        if !shutdown.attach(server) { await server.stop() }

        // No interpreter starts before the client's `initialize` request has been read (not
        // even the warm spare): the host functions are declared when an interpreter starts,
        // and `complete` is among them only for a client that offers sampling.
        let kernel = sessionKernel(configuration, for: await router.handshake.value, sampling: router.sampling)
        logger.debug(
            "serving",
            metadata: [
                "mcp.runDirectory": "\(directory)", "mcp.kernel": "\(kernel)",
                "mcp.withheldEnvironment":
                    "\(configuration.environmentPolicy.withheldNames(of: configuration.serverEnvironment))",
            ])

        let sessions = PoolConfiguration(defaultConfiguration: kernel, warmSpares: configuration.warmSpares)
        do {
            try await withPool(configuration: sessions, logger: logger) { pool in
                let console = try configuration.console.map { console throws(ServeError) in
                    try RunningConsole.start(console, pool: pool, logger: logger)
                }
                router.serve(
                    with: PythonTools(
                        pool: pool, sessions: console?.host, registry: registry, generations: SessionGenerations(),
                        limits: configuration.limits, interruptGrace: kernel.interruptGrace))
                await server.waitUntilCompleted()
                await server.stop()
                logger.debug("the client is gone or a signal came; shutting every session down")
                await console?.stop()
            }
        } catch {
            await server.stop()
            throw error
        }
        return shutdown.ending
    }

    /// The configuration of every session's interpreter, for the client `handshake` describes:
    /// with `host.complete` when it offers sampling (unless `--host-fn complete` took the name).
    private static func sessionKernel(
        _ configuration: MCPServerConfiguration, for handshake: ClientHandshake, sampling: ClientSampling
    ) -> KernelConfiguration {
        var kernel = configuration.sessionKernel
        if handshake.offersSampling, !kernel.hostFunctions.contains(where: { $0.name == HostFunction.completeName }) {
            kernel.hostFunctions.append(.complete(through: sampling))
        }
        return kernel
    }

    /// The SDK server: the handshake, `ping` and `tools/list` (calls are the router's).
    private static func makeServer(_ configuration: MCPServerConfiguration) async -> Server {
        let server = Server(
            name: "pyrun", version: configuration.serverVersion, title: "pyrun: persistent Python sessions",
            instructions: ServerInstructions.text(configuration.limits),
            capabilities: Server.Capabilities(tools: Server.Capabilities.Tools(listChanged: false)))
        let catalog = ToolCatalog.tools(configuration.limits)
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: catalog) }
        return server
    }

    /// A fresh directory of the server's own for run output, readable by its user only.
    private static func temporaryRunDirectory() -> String {
        let base = FileManager.default.temporaryDirectory.path
        var template = Array("\(base)/pyrun-mcp-\(getpid())-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        if made != nil {
            return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return "\(base)/pyrun-mcp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }
}

/// Turns a termination signal into a stop of the server, whenever it comes: before the
/// server exists (it then never starts), while it serves, or during the shutdown (a second
/// signal ends the process at once).
private final class ShutdownTrigger: Sendable {
    private struct State {
        var server: Server?
        var signal: Int32?
    }

    private let state = Mutex(State())

    var ending: MCPServer.Ending {
        state.withLock { $0.signal.map { .signal($0) } ?? .clientGone }
    }

    /// Registers the started server; false when a signal already came (stop it).
    func attach(_ server: Server) -> Bool {
        state.withLock { state in
            state.server = server
            return state.signal == nil
        }
    }

    func fire(_ signalNumber: Int32) {
        let (server, isSecond) = state.withLock { state in
            defer { state.signal = state.signal ?? signalNumber }
            return (state.server, state.signal != nil)
        }
        if isSecond { ProcessSignals.terminateAsIfUncaught(by: signalNumber) }
        if let server { Task { await server.stop() } }
    }
}
