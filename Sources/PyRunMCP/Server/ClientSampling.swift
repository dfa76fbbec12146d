import Foundation
import MCP
import PyRunKit
import Synchronization

/// The server's `sampling/createMessage` requests to the client: sent, matched with their
/// responses and withdrawn here, next to the router that reads every message the client sends.
///
/// Why not the SDK's `Server.requestSampling`: it never tells its caller the request's id, so
/// nothing can send `notifications/cancelled` for it, and cancelling the caller does not end
/// its wait (only the server's stop does). Here a request has an id of ours
/// (`pyrun-sampling-N`, so its response is told apart from the SDK's before the SDK sees it),
/// a cancelled request is withdrawn with `notifications/cancelled`, and a response that comes
/// after that is dropped.
final class ClientSampling: Sendable {
    /// How a request ended, or that it still waits.
    private enum Slot {
        /// Sent; nothing awaits the answer yet.
        case sent
        /// Sent, and its caller waits for the answer.
        case awaited(CheckedContinuation<JSONValue, any Error>)
        /// Answered before the caller began to wait.
        case answered(Result<JSONValue, any Error>)
    }

    private struct State {
        var counter = 0
        var slots: [String: Slot] = [:]
        /// The client closed the connection: no answer can come.
        var isClosed = false
    }

    /// The first part of the id of every request sent here.
    static let idPrefix = "pyrun-sampling-"

    private let transport: any Transport
    private let state = Mutex(State())

    /// - Parameter transport: where requests and cancellations go (the client's connection).
    init(transport: any Transport) {
        self.transport = transport
    }

    /// Sends `sampling/createMessage` with `params` and waits for the client's answer.
    ///
    /// Cancelling the calling task withdraws the request: the client gets
    /// `notifications/cancelled` for it, and an answer that still comes is dropped.
    /// - Returns: the response's `result`.
    /// - Throws: `HostCallError` of type `SamplingError` (with the client's message) for an
    ///   error response, `ClientGone` when the client disconnects first; `CancellationError`.
    func createMessage(_ params: JSONValue) async throws -> JSONValue {
        try Task.checkCancellation()
        let id = try state.withLock { state throws(HostCallError) -> String in
            guard !state.isClosed else { throw Self.clientGone }
            state.counter += 1
            let id = "\(Self.idPrefix)\(state.counter)"
            state.slots[id] = .sent
            return id
        }
        let request: JSONValue = [
            "jsonrpc": "2.0", "id": .string(id), "method": .string(CreateSamplingMessage.name), "params": params,
        ]
        do {
            try await transport.send(Data(request.serialized().utf8))
        } catch {
            _ = state.withLock { $0.slots.removeValue(forKey: id) }
            throw HostCallError(type: "ClientGone", message: "the request could not be sent to the client: \(error)")
        }
        do {
            return try await answer(to: id)
        } catch is CancellationError {
            let notice: JSONValue = [
                "jsonrpc": "2.0", "method": .string(CancelledNotification.name),
                "params": [
                    "requestId": .string(id), "reason": "the Python code stopped waiting (interrupt or timeout)",
                ],
            ]
            try? await transport.send(Data(notice.serialized().utf8))
            throw CancellationError()
        }
    }

    /// Waits for the answer to `id`, which was sent; cancellation forgets the request.
    private func answer(to id: String) async throws -> JSONValue {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<JSONValue, any Error>? = state.withLock { state in
                    switch state.slots[id] {
                    case .answered(let result)?:
                        state.slots[id] = nil
                        return result
                    case .sent? where !Task.isCancelled:
                        state.slots[id] = .awaited(continuation)
                        return nil
                    default:
                        // Cancelled, before or while the request was sent.
                        state.slots[id] = nil
                        return .failure(CancellationError())
                    }
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let slot = state.withLock { $0.slots.removeValue(forKey: id) }
            if case .awaited(let continuation)? = slot { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Takes the client's response if it answers a request of ours.
    /// - Returns: false when `message` is not such a response (it is the SDK's to handle).
    func receive(_ message: JSONValue) -> Bool {
        guard message["method"] == nil, let id = message["id"]?.stringValue, id.hasPrefix(Self.idPrefix) else {
            return false
        }
        let result: Result<JSONValue, any Error>
        if let error = message["error"] {
            let said = error["message"]?.stringValue ?? ""
            let code = error["code"]?.intValue.map { " (JSON-RPC error \($0))" } ?? ""
            result = .failure(
                HostCallError(type: "SamplingError", message: said.isEmpty ? "the client refused\(code)" : said))
        } else {
            result = .success(message["result"] ?? .null)
        }
        let waiter: CheckedContinuation<JSONValue, any Error>? = state.withLock { state in
            switch state.slots[id] {
            case .sent?:
                state.slots[id] = .answered(result)
                return nil
            case .awaited(let continuation)?:
                state.slots[id] = nil
                return continuation
            case .answered?, nil:
                return nil  // a second answer, or one to a request withdrawn: dropped
            }
        }
        waiter?.resume(with: result)
        return true
    }

    /// The client is gone: every request waiting fails with `ClientGone`, and later ones at once.
    func close() {
        let waiters: [CheckedContinuation<JSONValue, any Error>] = state.withLock { state in
            state.isClosed = true
            var waiters: [CheckedContinuation<JSONValue, any Error>] = []
            for (id, slot) in state.slots {
                switch slot {
                case .sent: state.slots[id] = .answered(.failure(Self.clientGone))
                case .awaited(let continuation):
                    state.slots[id] = nil
                    waiters.append(continuation)
                case .answered: break
                }
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(throwing: Self.clientGone) }
    }

    private static let clientGone = HostCallError(
        type: "ClientGone", message: "the MCP client disconnected before it answered the sampling request")
}
