import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import PyRunKit
import ServiceLifecycle
import Synchronization

/// The browser console of a pyrun server: an HTTP server that serves the page (embedded from
/// `Resources/console/`) and, at `/api/socket`, relays each tab's WebSocket to a connection
/// of its own on the server's Unix socket, so tabs, terminals and agents share the same
/// sessions and journals. Every request must carry the token; see docs/console-protocol.md.
/// `pyrun-console` runs it; `pyrun serve --http` and `pyrun mcp --http` start that program.
///
/// ```swift
/// let server = try await ServeClient.connect(socketPath: socketPath).server
/// let console = ConsoleServer(
///     socketPath: socketPath, server: server, address: try ConsoleAddress(parsing: "127.0.0.1:8888"))
/// try await console.run { url in print(url) }  // until the task is cancelled
/// ```
public final class ConsoleServer: Sendable {
    /// Where it listens (as asked; `run` reports the bound port).
    public let address: ConsoleAddress
    /// The secret of the printed URL, the cookie, and `Authorization: Bearer`.
    public let token: String
    private let socketPath: String
    private let server: ServerInfo
    private let logger: Logger
    private let boundPort: Mutex<Int>

    /// The largest message a tab may send (code to run); larger ones end its socket.
    static let maximumMessageBytes = 16 << 20

    /// - Parameters:
    ///   - socketPath: the pyrun server's Unix socket, one connection per tab.
    ///   - server: who that server is (its `welcome`), for `/api/status`.
    ///   - address: where to listen; the caller warns when it is not loopback.
    ///   - logger: where the HTTP server logs; it never bootstraps logging.
    public init(
        socketPath: String, server: ServerInfo, address: ConsoleAddress,
        logger: Logger = Logger(label: "pyrun.console")
    ) {
        self.socketPath = socketPath
        self.server = server
        self.address = address
        self.token = ConsoleToken.make()
        self.logger = logger
        self.boundPort = Mutex(address.port)
    }

    /// The address to open, with the token: `http://HOST:PORT/?token=TOKEN`.
    public func url(port: Int) -> String {
        "http://\(address.authority(port: port))/?token=\(token)"
    }

    /// Serves until the calling task is cancelled, then stops gracefully: it stops accepting,
    /// lets open connections end (at most `shutdownGrace`), and returns.
    /// - Parameter onListening: called once the port is bound, with the URL to open.
    /// - Throws: when the address cannot be bound (in use, not this machine's).
    public func run(onListening: @escaping @Sendable (String) async -> Void) async throws {
        let machineNames = address.isWildcard ? ConsoleAccess.machineNames() : []
        let access: @Sendable () -> ConsoleAccess = { [self] in
            ConsoleAccess(
                token: token, address: address, port: boundPort.withLock { $0 }, machineNames: machineNames)
        }
        let socketPath = self.socketPath
        let application = Application(
            responder: ConsoleResponder(access: access, server: server),
            server: .http1WebSocketUpgrade(
                configuration: .init(ws: .init(maxFrameSize: Self.maximumMessageBytes))
            ) { request, _, _ in
                let path = request.path?.split(separator: "?", maxSplits: 1).first
                guard path == "/api/socket",
                    access().check(request, queryToken: nil, requireOrigin: true) == nil
                else {
                    // The HTTP responder answers it, with the reason.
                    return .dontUpgrade
                }
                return .upgrade([:]) { inbound, outbound, _ in
                    await ConsoleRelay.run(
                        socketPath: socketPath, inbound: inbound, outbound: outbound,
                        maximumMessageBytes: Self.maximumMessageBytes)
                }
            },
            configuration: ApplicationConfiguration(address: .hostname(address.bindHost, port: address.port)),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port ?? address.port
                boundPort.withLock { $0 = port }
                await onListening(url(port: port))
            },
            logger: logger
        )
        var configuration = ServiceGroupConfiguration(services: [application], logger: logger)
        configuration.maximumGracefulShutdownDuration = Self.shutdownGrace
        let services = ServiceGroup(configuration: configuration)
        // Cancellation is turned into a graceful shutdown: a cancelled Hummingbird server logs
        // an error ("Waiting on child channel: CancellationError()"), and a normal stop is not
        // one. So the group runs in a task the caller's cancellation does not reach.
        let serving = Task { try await services.run() }
        try await withTaskCancellationHandler {
            try await serving.value
        } onCancel: {
            Task { await services.triggerGracefulShutdown() }
        }
    }

    /// How long a stop waits for open connections (a tab's socket ends with the pyrun
    /// server's connection) before it cancels them.
    static let shutdownGrace = Duration.seconds(3)
}
