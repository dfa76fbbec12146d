import Foundation
import Logging
import MCP
import PyRunKit
import Testing

@testable import PyRunMCP

/// A transport that keeps what the server sends, as JSON, for a test to read.
private actor SentMessages: Transport {
    nonisolated let logger = Logger(label: "pyrun.tests.sent-messages")
    private(set) var messages: [JSONValue] = []

    func connect() async throws {}
    func disconnect() async {}
    func send(_ data: Data) async throws { messages.append(try JSONValue.parse(Array(data))) }
    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> { AsyncThrowingStream { $0.finish() } }

    /// Waits until `count` messages were sent (a liveness bound of 30 s), and returns them.
    func waitFor(_ count: Int) async throws -> [JSONValue] {
        let deadline = ContinuousClock.now + .seconds(30)
        while messages.count < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        return messages
    }
}

/// `ClientSampling`: the server's own `sampling/createMessage` requests, matched with their
/// responses, withdrawn when their caller stops waiting; and `host.complete`'s reading of them.
@Suite struct ClientSamplingTests {
    private let params: JSONValue = ["messages": [], "maxTokens": 5]

    private func response(_ id: JSONValue?, result: JSONValue? = nil, error: JSONValue? = nil) -> JSONValue {
        var message: [String: JSONValue] = ["jsonrpc": "2.0", "id": id ?? .null]
        if let result { message["result"] = result }
        if let error { message["error"] = error }
        return .object(message)
    }

    @Test func aResponseWithTheRequestsIdIsItsAnswerAndOthersAreNotTaken() async throws {
        let transport = SentMessages()
        let sampling = ClientSampling(transport: transport)
        let waiting = Task { try await sampling.createMessage(params) }
        let request = try #require(try await transport.waitFor(1).first)
        #expect(request["method"]?.stringValue == "sampling/createMessage")
        #expect(request["params"] == params)
        let id = try #require(request["id"]?.stringValue)
        #expect(id.hasPrefix(ClientSampling.idPrefix))

        #expect(!sampling.receive(response(.number(3), result: "the SDK's")))  // an SDK request's id
        #expect(!sampling.receive(["jsonrpc": "2.0", "id": .string(id), "method": "ping"]))  // a request
        #expect(sampling.receive(response(.string(id), result: ["answer": 42])))
        #expect(try await waiting.value == ["answer": 42])
        #expect(sampling.receive(response(.string(id), result: "again")))  // a second answer: taken, dropped
    }

    @Test func anErrorResponseIsAHostCallErrorWithTheClientsMessage() async throws {
        let transport = SentMessages()
        let sampling = ClientSampling(transport: transport)
        let waiting = Task { try await sampling.createMessage(params) }
        let id = try #require(try await transport.waitFor(1).first?["id"])
        _ = sampling.receive(response(id, error: ["code": -1, "message": "User rejected sampling request"]))
        await #expect(throws: HostCallError(type: "SamplingError", message: "User rejected sampling request")) {
            try await waiting.value
        }

        let silent = Task { try await sampling.createMessage(params) }
        let second = try #require(try await transport.waitFor(2).last?["id"])
        #expect(second != id)
        _ = sampling.receive(response(second, error: ["code": -32603]))
        await #expect(
            throws: HostCallError(type: "SamplingError", message: "the client refused (JSON-RPC error -32603)")
        ) {
            try await silent.value
        }
    }

    @Test func cancellingTheCallerWithdrawsTheRequestWithACancellation() async throws {
        let transport = SentMessages()
        let sampling = ClientSampling(transport: transport)
        let waiting = Task { try await sampling.createMessage(params) }
        let id = try #require(try await transport.waitFor(1).first?["id"])
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        let cancellation = try await transport.waitFor(2).last
        #expect(cancellation?["method"]?.stringValue == "notifications/cancelled")
        #expect(cancellation?["params"]?["requestId"] == id)
        #expect(sampling.receive(response(id, result: "late")))  // taken, so the SDK never sees it
    }

    @Test func whenTheClientIsGoneWaitingAndLaterRequestsFail() async throws {
        let transport = SentMessages()
        let sampling = ClientSampling(transport: transport)
        let waiting = Task { try await sampling.createMessage(params) }
        _ = try await transport.waitFor(1)
        sampling.close()
        await #expect(throws: HostCallError.self) { try await waiting.value }
        do {
            _ = try await sampling.createMessage(params)
            Issue.record("a request after the client left was sent")
        } catch let error as HostCallError {
            #expect(error.type == "ClientGone")
        }
        #expect(await transport.messages.count == 1)
    }

    @Test func completeSendsOneUserMessageAndReadsTheTextBack() throws {
        let call = HostCall(
            function: "complete", arguments: ["prompt": "Hi", "max_tokens": 7, "temperature": 0.1],
            callID: "c1", executionID: "e1")
        #expect(
            HostFunction.samplingParameters(of: call) == [
                "messages": [["role": "user", "content": ["type": "text", "text": "Hi"]]], "maxTokens": 7,
                "temperature": 0.1,
            ])
        let bare = HostCall(function: "complete", arguments: ["prompt": "Hi"], callID: "c2", executionID: "e1")
        #expect(HostFunction.samplingParameters(of: bare)["maxTokens"]?.intValue == 1024)

        #expect(try HostFunction.text(of: ["content": ["type": "text", "text": "one"]]) == "one")
        #expect(
            try HostFunction.text(of: [
                "content": [
                    ["type": "text", "text": "a"], ["type": "image", "data": ""], ["type": "text", "text": "b"],
                ]
            ]) == "ab")
        #expect(throws: HostCallError.self) { try HostFunction.text(of: ["content": ["type": "audio", "data": ""]]) }
        #expect(throws: HostCallError.self) { try HostFunction.text(of: ["model": "m"]) }
    }
}
