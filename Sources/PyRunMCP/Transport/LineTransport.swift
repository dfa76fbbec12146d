import Foundation
import Logging
import MCP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The MCP stdio transport without polling: newline-delimited JSON-RPC messages read from one
/// descriptor and written to another.
///
/// The SDK's `StdioTransport` sets its descriptors non-blocking and retries every 10 ms, so
/// each request waits up to 10 ms before the server sees it. Here a thread of its own sleeps
/// in `poll(2)` on the input and on a wake pipe, and hands a message to the server the moment
/// its newline arrives; `disconnect()` wakes it through the pipe, so nothing ever spins or
/// wakes on a timer.
///
/// Writes are whole lines: each message and its newline leave in one buffer, and the actor
/// sends one message at a time. The actor runs on its own queue, so a client that reads
/// slowly blocks that queue only.
///
/// The input ends (the stream from `receive()` finishes) at end of file, on a read error, or
/// when a write finds the client gone (`EPIPE`); `MCPServer` then answers the requests still
/// open and ends its message loop, which is the signal to shut every kernel down.
public actor LineTransport: Transport {
    /// The default bound on one incoming message: far above any real request (code, however
    /// long, is text), low enough that a runaway client cannot exhaust memory.
    public static let defaultMaximumMessageBytes = 64 << 20

    public nonisolated let logger: Logger
    private let inputDescriptor: Int32
    private let outputDescriptor: Int32
    private let closesDescriptors: Bool
    private let maximumMessageBytes: Int
    private let executor = QueueExecutor(label: "pyrun.mcp.transport")
    private let messages: AsyncThrowingStream<Data, any Error>
    private let messageSink: AsyncThrowingStream<Data, any Error>.Continuation
    private var reader: InputReader?
    private var isConnected = false

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// A transport over two descriptors that the caller keeps open while it is connected.
    /// - Parameters:
    ///   - input: read for messages (a pipe, a socket, a file).
    ///   - output: written with responses and notifications.
    ///   - closesDescriptors: close both on `disconnect()`.
    ///   - maximumMessageBytes: an incoming message longer than this is skipped and answered
    ///     with a JSON-RPC error (id `null`) that gives its size.
    public init(
        input: Int32, output: Int32, closesDescriptors: Bool = false,
        maximumMessageBytes: Int = LineTransport.defaultMaximumMessageBytes,
        logger: Logger = Logger(label: "pyrun.mcp.transport")
    ) {
        self.inputDescriptor = input
        self.outputDescriptor = output
        self.closesDescriptors = closesDescriptors
        self.maximumMessageBytes = maximumMessageBytes
        self.logger = logger
        (messages, messageSink) = AsyncThrowingStream.makeStream(of: Data.self, throwing: (any Error).self)
    }

    /// The transport for a server started by an MCP client: the process's stdin and stdout.
    ///
    /// It takes both for itself: the protocol moves to private copies of descriptors 0 and 1
    /// (close-on-exec, so no child inherits them), descriptor 1 then points at stderr and
    /// descriptor 0 at `/dev/null`. A stray `print` in the server, or a child process that
    /// writes to its inherited stdout, can then never corrupt the JSON-RPC stream, and nothing
    /// but the transport reads the client's messages.
    ///
    /// It also ignores SIGPIPE for the process: a client that goes away must make a write fail
    /// with `EPIPE` (which ends the input, so the server shuts its kernels down), not kill the
    /// server before it can.
    /// - Throws: `TransportError` when the descriptors cannot be duplicated.
    public static func standardIO(
        maximumMessageBytes: Int = LineTransport.defaultMaximumMessageBytes,
        logger: Logger = Logger(label: "pyrun.mcp.transport")
    ) throws -> LineTransport {
        signal(SIGPIPE, SIG_IGN)
        let input = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)
        guard input >= 0 else { throw TransportError("cannot duplicate stdin", errno: errno) }
        let output = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)
        guard output >= 0 else {
            let failure = errno
            close(input)
            throw TransportError("cannot duplicate stdout", errno: failure)
        }
        _ = dup2(STDERR_FILENO, STDOUT_FILENO)
        let devNull = open("/dev/null", O_RDONLY)
        if devNull >= 0 {
            _ = dup2(devNull, STDIN_FILENO)
            close(devNull)
        }
        return LineTransport(
            input: input, output: output, closesDescriptors: true, maximumMessageBytes: maximumMessageBytes,
            logger: logger)
    }

    /// Starts the reader thread.
    /// - Throws: `TransportError` when its wake pipe cannot be made.
    public func connect() throws {
        guard !isConnected, reader == nil else { return }
        let sink = messageSink
        let maximum = maximumMessageBytes
        let logger = logger
        reader = try InputReader(
            descriptor: inputDescriptor, maximumMessageBytes: maximum,
            onMessage: { sink.yield(Data($0)) },
            onOversized: { [weak self] size in
                logger.warning("skipped an incoming message of \(size) bytes (limit \(maximum))")
                Task { await self?.rejectOversizedMessage(byteCount: size) }
            },
            onEnd: { failure in
                if let failure {
                    logger.error("reading the client's messages failed: \(failure)")
                    sink.finish(throwing: failure)
                } else {
                    logger.debug("end of the client's input")
                    sink.finish()
                }
            })
        isConnected = true
    }

    /// Stops reading, ends the message stream and (if it owns them) closes the descriptors.
    public func disconnect() {
        guard isConnected else { return }
        isConnected = false
        reader?.stop()
        reader = nil
        messageSink.finish()
        if closesDescriptors {
            close(inputDescriptor)
            close(outputDescriptor)
        }
    }

    /// Writes one message and its newline.
    /// - Throws: `TransportError` when not connected or when the write fails; a client that
    ///   went away (`EPIPE`) also ends the input.
    public func send(_ data: Data) throws {
        guard isConnected else { throw TransportError("the transport is not connected", errno: ENOTCONN) }
        var line = data
        line.append(0x0A)
        do {
            try line.withUnsafeBytes { try writeFully($0) }
        } catch let error as TransportError where error.errno == EPIPE {
            messageSink.finish()
            throw error
        }
    }

    /// The messages as they arrive; finishes at the end of the input.
    public nonisolated func receive() -> AsyncThrowingStream<Data, any Error> {
        messages
    }

    /// Returns when the client no longer reads the output (it closed its end), or when the
    /// calling task is cancelled; for an output that cannot tell (a file), only then.
    nonisolated func clientStoppedReading() async {
        await ReaderDeparture.wait(on: outputDescriptor)
    }

    private func rejectOversizedMessage(byteCount: Int) {
        let text =
            "a message of \(byteCount) bytes exceeds this server's limit of \(maximumMessageBytes) bytes and was skipped"
        let reply = #"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"\#(text)"}}"#
        try? send(Data(reply.utf8))
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = write(outputDescriptor, base + offset, bytes.count - offset)
            if written >= 0 {
                offset += written
                continue
            }
            switch errno {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                // Someone made the descriptor non-blocking: wait until the client reads.
                var waiter = pollfd(fd: outputDescriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&waiter, 1, -1)
            case let failure:
                throw TransportError("cannot write to the client", errno: failure)
            }
        }
    }
}

/// A failure of the transport's own I/O.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    /// What the transport was doing.
    public var message: String
    /// The system error number.
    public var errno: Int32

    init(_ message: String, errno: Int32) {
        self.message = message
        self.errno = errno
    }

    public var description: String { "\(message): \(String(cString: strerror(errno)))" }
}
