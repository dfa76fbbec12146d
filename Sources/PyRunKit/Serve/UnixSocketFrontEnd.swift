import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Unix-socket front end of a `SessionHost`: accepts connections at a socket path (mode
/// 0600) and runs one `ServeConnection` per client over NDJSON lines. Connections from
/// another user are refused, even where the socket's mode would let them in.
public final class UnixSocketFrontEnd: Sendable {
    /// Where it listens.
    public let socketPath: String
    private let listener: Int32
    private let host: SessionHost
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let channels = Mutex<[ObjectIdentifier: SocketLineChannel]>([:])
    private let acceptLoopEnded = DispatchSemaphore(value: 0)

    /// Starts listening at `socketPath` (which must not exist) and accepting clients.
    /// - Throws: `ServeError` when the socket cannot be made there.
    public init(host: SessionHost, socketPath: String, logger: Logger = Logger(label: "pyrun.serve")) throws(ServeError)
    {
        self.socketPath = socketPath
        self.host = host
        self.logger = logger
        self.listener = try UnixSocket.listen(at: socketPath)
        let thread = Thread { [self] in
            acceptLoop()
            acceptLoopEnded.signal()
        }
        thread.name = "pyrun serve accept"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Stops accepting, ends every connection, and removes the socket file.
    public func close() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        // Wakes the accept loop's poll at once where the system allows (Linux); else its
        // timeout does, within 200 ms.
        shutdown(listener, Int32(SHUT_RDWR))
        acceptLoopEnded.wait()
        closeDescriptor(listener)
        unlink(socketPath)
        let open = channels.withLock { channels in
            defer { channels.removeAll() }
            return Array(channels.values)
        }
        for channel in open { channel.closeAfterFlushing() }
    }

    private func acceptLoop() {
        var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        while !stopping.load(ordering: .relaxed) {
            // A timeout only to notice `close()`; a connection wakes it at once.
            let ready = poll(&poller, 1, 200)
            guard ready > 0 else {
                if ready < 0, errno != EINTR { return }
                continue
            }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            guard UnixSocket.peerUserID(of: fd) == geteuid() else {
                logger.warning("refused a connection from another user", metadata: ["serve.socket": "\(socketPath)"])
                closeDescriptor(fd)
                continue
            }
            serve(SocketLineChannel(fd: fd, name: "pyrun serve client"))
        }
    }

    /// Runs one client until it leaves (or the front end closes).
    private func serve(_ channel: SocketLineChannel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        let connection = ServeConnection(host: host, sink: channel)
        Task {
            await connection.start()
            while let line = await channel.nextLine() {
                await connection.receive(line: line)
            }
            await connection.close()
            channel.close()
            _ = self.channels.withLock { $0.removeValue(forKey: id) }
        }
    }
}
