import Foundation
import Logging
import MCP
import PyRunKit

/// A JSON-RPC error response's `error`.
struct JSONRPCError: Error, CustomStringConvertible {
    enum Code: Int {
        case invalidParams = -32602
        case internalError = -32603
    }

    var code: Code
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}

/// The transport the SDK server sees: it serves `tools/call` requests itself, and passes
/// every other message (initialize, ping, tools/list, notifications) on to the SDK.
///
/// Why not the SDK's own handler: the SDK decodes a request's params into its `Value` type,
/// re-encodes and decodes them for the handler, and turns the result into `Value` again,
/// and its `Value` decoding compiles a regular expression for every string it meets (to spot
/// data URLs). A `1+1` reply holds a dozen strings, which made the SDK's handling cost
/// several times the kernel's round trip. Here a call is parsed once with PyRunKit's JSON
/// parser and its reply written once.
///
/// Being the reader of the client's messages also closes the SDK's cancellation race: a
/// call is registered before the next message is read, so a `notifications/cancelled` that
/// follows at once still finds it. And it sees the `initialize` request as it arrives, so
/// the sessions can be made to fit the client (`host.complete` when it offers sampling)
/// before any of them starts, and it takes the responses to the server's own sampling
/// requests (`ClientSampling`).
actor ToolCallRouter: Transport {
    nonisolated let logger: Logger
    /// The server's `sampling/createMessage` requests to the client.
    nonisolated let sampling: ClientSampling
    /// What the client declared: set at its `initialize` request, or at whatever comes first
    /// of a `tools/call` (a client that skipped the handshake declared nothing) and the end
    /// of its input.
    nonisolated let handshake = Eventual<ClientHandshake>()
    private let inner: any Transport
    private let tools = Eventual<PythonTools>()
    private let forwarded: AsyncThrowingStream<Data, any Error>
    private let forward: AsyncThrowingStream<Data, any Error>.Continuation
    private let open = OpenRequests()
    private var pump: Task<Void, Never>?

    /// - Parameter inner: the transport to the client (usually `LineTransport`).
    init(over inner: any Transport, logger: Logger) {
        self.inner = inner
        self.logger = logger
        sampling = ClientSampling(transport: inner)
        (forwarded, forward) = AsyncThrowingStream.makeStream(of: Data.self, throwing: (any Error).self)
    }

    /// Serves the calls with `tools` from now on; calls that came before wait for them.
    nonisolated func serve(with tools: PythonTools) {
        self.tools.resolve(tools)
    }

    /// Connects the inner transport and starts reading its messages.
    func connect() async throws {
        guard pump == nil else { return }
        try await inner.connect()
        let messages = await inner.receive()
        let route = Routes(
            forward: forward, open: open, tools: tools, sampling: sampling, handshake: handshake, reply: inner)
        let open = open
        let logger = logger
        pump = Task {
            do {
                for try await message in messages { route.take(message) }
                route.clientGone()
                // The client closed its input but may still read: answer what it asked first
                // (a signal cancels this wait through `disconnect()`).
                if !Task.isCancelled {
                    logger.debug("the client's input ended; answering its open requests before the server ends")
                    await Self.answers(to: open, unlessNobodyReads: inner)
                }
                forward.finish()
            } catch {
                route.clientGone()
                forward.finish(throwing: error)
            }
        }
    }

    /// Waits until the open requests are answered, or until the client closes its end of
    /// `transport`'s output (then nobody would read the answers).
    private static func answers(to open: OpenRequests, unlessNobodyReads transport: any Transport) async {
        guard let lines = transport as? LineTransport else {
            await open.allAnswered()
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await open.allAnswered() }
            group.addTask { await lines.clientStoppedReading() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Stops reading (and waiting for open requests after the end of the input) and
    /// disconnects the inner transport. Calls still running finish; their replies have
    /// nowhere to go.
    func disconnect() async {
        pump?.cancel()
        pump = nil
        await inner.disconnect()
        sampling.close()
        handshake.resolve(ClientHandshake())
        forward.finish()
    }

    /// What the SDK sends (its responses and notifications) goes out unchanged; a response
    /// answers its request.
    func send(_ data: Data) async throws {
        do {
            try await inner.send(data)
        } catch {
            open.clientIsUnreachable()
            throw error
        }
        if let message = try? JSONValue.parse(Array(data)), message["method"] == nil, let id = message["id"] {
            open.answered(id)
        }
    }

    /// The messages for the SDK: everything but the calls served here.
    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> {
        forwarded
    }

    // MARK: - Routing

    /// Where each message of the client goes; synchronous, so each message is placed before
    /// the next is read.
    private struct Routes: Sendable {
        let forward: AsyncThrowingStream<Data, any Error>.Continuation
        let open: OpenRequests
        let tools: Eventual<PythonTools>
        let sampling: ClientSampling
        let handshake: Eventual<ClientHandshake>
        let reply: any Transport

        /// Serves a `tools/call`, cancels a call of ours, takes a response to a sampling
        /// request, notes the client's capabilities, or passes the message on.
        func take(_ data: Data) {
            guard let message = try? JSONValue.parse(Array(data)) else {
                forward.yield(data)
                return
            }
            guard let method = message["method"]?.stringValue else {
                if !sampling.receive(message) { forward.yield(data) }
                return
            }
            switch method {
            case Initialize.name:
                handshake.resolve(ClientHandshake(initializeParams: message["params"]))
            case CallTool.name:
                guard let id = message["id"], id != .null else { break }
                handshake.resolve(ClientHandshake())
                let tools = self.tools
                let reply = self.reply
                let open = self.open
                open.startCall(id) {
                    try await ToolCallRouter.serve(
                        message["params"], id: id, tools: await tools.value, transport: reply, open: open)
                }
                return
            case CancelledNotification.name:
                guard let id = message["params"]?["requestId"] else { break }
                if open.cancelCall(id) { return }
                open.answered(id)
            default:
                break
            }
            if let id = message["id"], id != .null { open.forwarded(id) }
            forward.yield(data)
        }

        /// The client's input ended: nothing it would have answered can come.
        func clientGone() {
            sampling.close()
            handshake.resolve(ClientHandshake())
        }
    }

    /// Runs one call and writes its response; a cancelled call gets none (as the protocol asks).
    /// - Throws: the transport's error when the response cannot be written.
    private static func serve(
        _ params: JSONValue?, id: JSONValue, tools: PythonTools, transport: any Transport, open: OpenRequests
    ) async throws {
        let response: JSONValue
        do {
            guard let name = params?["name"]?.stringValue else {
                throw JSONRPCError(.invalidParams, "tools/call needs params.name, the tool to call")
            }
            let arguments: [String: JSONValue]?
            switch params?["arguments"] {
            case nil, .null?: arguments = nil
            case .object(let members)?: arguments = members
            case let other?: throw JSONRPCError(.invalidParams, "params.arguments must be an object, not \(other)")
            }
            let progress = params?["_meta"]?["progressToken"].map { token in
                progressSink(token: token, transport: transport, open: open)
            }
            let result = try await tools.call(name, arguments, progress: progress)
            try Task.checkCancellation()
            response = .object(["jsonrpc": .string("2.0"), "id": id, "result": result.json])
        } catch let error as JSONRPCError {
            response = errorResponse(id: id, code: error.code.rawValue, message: error.message)
        } catch is CancellationError {
            return
        } catch {
            response = errorResponse(id: id, code: JSONRPCError.Code.internalError.rawValue, message: "\(error)")
        }
        try await transport.send(Data(response.serialized().utf8))
    }

    private static func errorResponse(id: JSONValue, code: Int, message: String) -> JSONValue {
        .object([
            "jsonrpc": .string("2.0"), "id": id,
            "error": .object(["code": .number(Double(code)), "message": .string(message)]),
        ])
    }

    /// Sends `notifications/progress` for the call that carried `token`.
    private static func progressSink(token: JSONValue, transport: any Transport, open: OpenRequests) -> ProgressSink {
        { progress, message in
            let notification: JSONValue = .object([
                "jsonrpc": .string("2.0"), "method": .string(ProgressNotification.name),
                "params": .object([
                    "progressToken": token, "progress": .number(progress), "message": .string(message),
                ]),
            ])
            do {
                try await transport.send(Data(notification.serialized().utf8))
            } catch {
                open.clientIsUnreachable()
            }
        }
    }
}
