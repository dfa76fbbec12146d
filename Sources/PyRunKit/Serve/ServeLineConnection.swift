/// A connection to a pyrun server's Unix socket that moves the protocol's lines as they are,
/// for a front end in another process that relays them (the browser console, `pyrun-console`,
/// gives each tab one). `ServeClient` is the typed client; this one parses nothing it reads.
///
/// The server's `welcome` is the first line read. Both directions are bounded as the
/// server's own connections are: a relay that does not read holds the server back only on
/// this connection.
public final class ServeLineConnection: Sendable {
    private let channel: SocketLineChannel

    private init(channel: SocketLineChannel) {
        self.channel = channel
    }

    /// Connects to the server listening at `socketPath`.
    /// - Throws: `ServeError` with `.serverNotFound` when nothing listens there.
    public static func connect(socketPath: String) throws(ServeError) -> ServeLineConnection {
        let fd = try UnixSocket.connect(to: socketPath)
        return ServeLineConnection(channel: SocketLineChannel(fd: fd, name: "pyrun relay"))
    }

    /// The next line the server sent, without its newline; nil once the connection ended.
    public func nextLine() async -> [UInt8]? {
        await channel.nextLine()
    }

    /// Sends one request, serialized on one line (so no text inside it can start another).
    /// - Returns: false once the connection is gone.
    public func send(_ request: JSONValue) async -> Bool {
        await channel.send(request)
    }

    /// Ends the connection both ways: `nextLine()` returns nil, `send` fails.
    public func close() {
        channel.close()
    }
}
