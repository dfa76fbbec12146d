import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import PyRunKit
import Synchronization

/// The browser console of a `SessionHost`: an HTTP server that serves the page (embedded from
/// `Resources/console/`) and, at `/api/socket`, the serve protocol over one WebSocket per tab,
/// each a `ServeConnection` on the host, so tabs, terminals and agents share the same
/// sessions and journals. Every request must carry the token; see docs/console-protocol.md.
///
/// ```swift
/// let console = ConsoleServer(host: daemon.host, address: try ConsoleAddress(parsing: "127.0.0.1:8888"))
/// try await console.run { url in print("console: \(url)") }  // until the task is cancelled
/// ```
public final class ConsoleServer: Sendable {
    /// Where it listens (as asked; `run` reports the bound port).
    public let address: ConsoleAddress
    /// The secret of the printed URL, the cookie, and `Authorization: Bearer`.
    public let token: String
    private let host: SessionHost
    private let logger: Logger
    private let boundPort: Mutex<Int>

    /// The largest message a tab may send (code to run); larger ones end its socket.
    static let maximumMessageBytes = 16 << 20

    /// - Parameters:
    ///   - host: the sessions the console shows and drives.
    ///   - address: where to listen; the caller warns when it is not loopback.
    ///   - logger: where the HTTP server logs; it never bootstraps logging.
    public init(host: SessionHost, address: ConsoleAddress, logger: Logger = Logger(label: "pyrun.console")) {
        self.host = host
        self.address = address
        self.token = ConsoleToken.make()
        self.logger = logger
        self.boundPort = Mutex(address.port)
    }

    /// The address to open, with the token: `http://HOST:PORT/?token=TOKEN`.
    public func url(port: Int) -> String {
        "http://\(address.authority(port: port))/?token=\(token)"
    }

    /// Serves until the calling task is cancelled.
    /// - Parameter onListening: called once the port is bound, with the URL to open.
    /// - Throws: when the address cannot be bound (in use, not this machine's).
    public func run(onListening: @escaping @Sendable (String) async -> Void) async throws {
        let access: @Sendable () -> ConsoleAccess = { [self] in
            ConsoleAccess(token: token, address: address, port: boundPort.withLock { $0 })
        }
        let host = self.host
        let application = Application(
            responder: ConsoleResponder(access: access, server: host.info),
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
                    await Self.serve(host: host, inbound: inbound, outbound: outbound)
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
        try await application.run()
    }

    /// One tab's socket: a `ServeConnection` on the host, its requests admitted by the
    /// console's rules, until the tab goes.
    private static func serve(host: SessionHost, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter)
        async
    {
        let sink = WebSocketMessageSink(outbound: outbound)
        let connection = ServeConnection(host: host, sink: sink)
        await connection.start()
        do {
            for try await message in inbound.messages(maxSize: maximumMessageBytes) {
                guard case .text(let text) = message else { continue }
                let bytes = Array(text.utf8)
                guard let request = try? JSONValue.parse(bytes) else {
                    await connection.receive(line: bytes)  // answers that it is not JSON
                    continue
                }
                switch ConsoleClientRequests.admit(request) {
                case .success(let admitted):
                    await connection.receive(admitted)
                case .failure(let error):
                    _ = await sink.send(ServeMessage.error(error).json(tag: request["tag"]?.stringValue))
                }
            }
        } catch {
            // The socket failed or sent too much; either way this tab is done.
        }
        await connection.close()
    }
}
