import Foundation
import PyRunKit
import Testing

/// `host.complete` in `pyrun mcp`: the client's model through MCP sampling, there only for a
/// client that declared the `sampling` capability (issue 17). The test is the client: it
/// answers the server's `sampling/createMessage` requests itself.
@Suite struct MCPSamplingTests {
    private static let sampling: JSONValue = .object(["sampling": .object([:])])

    /// The server's `sampling/createMessage` requests so far, in order.
    private func samplingRequests(_ client: MCPTestClient) -> [JSONValue] {
        client.messages.filter { $0["method"]?.stringValue == "sampling/createMessage" && $0["id"] != nil }
    }

    /// Waits for the server's `number`-th sampling request (from 1); nil if it did not come
    /// within a liveness bound.
    private func samplingRequest(_ number: Int, of client: MCPTestClient) async -> JSONValue? {
        guard await poll(seconds: 60, { self.samplingRequests(client).count >= number }) else { return nil }
        return samplingRequests(client)[number - 1]
    }

    /// Answers a sampling request as a client's model would.
    private func answer(_ request: JSONValue, with content: JSONValue, on client: MCPTestClient) {
        client.send(
            .object([
                "jsonrpc": .string("2.0"), "id": request["id"] ?? .null,
                "result": .object([
                    "role": .string("assistant"), "content": content, "model": .string("test-model"),
                    "stopReason": .string("endTurn"),
                ]),
            ]))
    }

    @Test func aClientThatOffersSamplingGivesEverySessionHostComplete() async throws {
        let client = try await MCPTestClient(capabilities: Self.sampling)
        // "main" takes the warm spare, started as the handshake was read; "other" starts later.
        for (number, session) in ["main", "other"].enumerated() {
            let call = client.startCall(
                "python",
                [
                    "session": .string(session),
                    "code": .string(
                        "reply = host.complete('Name a colour.', max_tokens=20, system='One word.', temperature=0.5)\n(type(reply).__name__, reply)"
                    ),
                ])
            let request = try #require(await samplingRequest(number + 1, of: client), "\(client.process.stderr)")
            let params = request["params"]
            #expect(params?["messages"] == [["role": "user", "content": ["type": "text", "text": "Name a colour."]]])
            #expect(params?["maxTokens"]?.intValue == 20)
            #expect(params?["systemPrompt"]?.stringValue == "One word.")
            #expect(params?["temperature"]?.doubleValue == 0.5)
            answer(request, with: ["type": "text", "text": .string("teal \(session)")], on: client)
            let reply = ToolCallReply(result: try await client.result(of: call))
            #expect(reply.structured["result"]?.stringValue == "('str', 'teal \(session)')", "\(reply.text)")
        }

        // The defaults, and an answer of several blocks: the text blocks joined.
        let call = client.startCall("python", ["code": .string("host.complete(prompt='Two parts?')")])
        let request = try #require(await samplingRequest(3, of: client))
        #expect(request["params"]?["maxTokens"]?.intValue == 1024)
        #expect(request["params"]?["systemPrompt"] == nil)
        #expect(request["params"]?["temperature"] == nil)
        answer(request, with: [["type": "text", "text": "one, "], ["type": "text", "text": "two"]], on: client)
        let reply = ToolCallReply(result: try await client.result(of: call))
        #expect(reply.structured["result"]?.stringValue == "'one, two'", "\(reply.text)")

        // Arguments are checked in Python before anything is sent.
        let wrong = try await client.python(
            "try:\n    host.complete('x', max_tokens=0)\nexcept TypeError as e:\n    print(e)\nhost.complete.__doc__")
        #expect(wrong.text.contains("max_tokens"), "\(wrong.text)")
        #expect(wrong.structured["result"]?.stringValue?.contains("MCP client's model") == true)
        #expect(samplingRequests(client).count == 3)
        #expect(await client.process.finish().status == 0)
    }

    @Test func aRefusalOfTheClientIsAHostCallErrorWithItsMessage() async throws {
        let client = try await MCPTestClient(capabilities: Self.sampling)
        let call = client.startCall(
            "python",
            [
                "code": .string(
                    "try:\n    host.complete('Hi')\nexcept HostCallError as e:\n    caught = (e.type, e.message)\ncaught"
                )
            ])
        let request = try #require(await samplingRequest(1, of: client))
        client.send(
            .object([
                "jsonrpc": .string("2.0"), "id": request["id"] ?? .null,
                "error": .object(["code": .number(-1), "message": .string("User rejected sampling request")]),
            ]))
        let reply = ToolCallReply(result: try await client.result(of: call))
        #expect(
            reply.structured["result"]?.stringValue == "('SamplingError', 'User rejected sampling request')",
            "\(reply.text)")

        // An answer without text is an error too, not an empty string.
        let image = client.startCall(
            "python",
            [
                "code": .string(
                    "try:\n    host.complete('Draw')\nexcept HostCallError as e:\n    caught = e.type\ncaught")
            ])
        let second = try #require(await samplingRequest(2, of: client))
        answer(second, with: ["type": "image", "data": "AAAA", "mimeType": "image/png"], on: client)
        let imageReply = ToolCallReply(result: try await client.result(of: image))
        #expect(imageReply.structured["result"]?.stringValue == "'InvalidSamplingResult'", "\(imageReply.text)")
        #expect(await client.process.finish().status == 0)
    }

    @Test func anInterruptWithdrawsTheSamplingRequestAndALateAnswerIsDropped() async throws {
        let client = try await MCPTestClient(capabilities: Self.sampling)
        _ = try await client.python("kept = 7")
        let waiting = try await client.python(
            "try:\n    host.complete('Think slowly')\nexcept KeyboardInterrupt:\n    print('interrupted in Python')\n    raise",
            ["wait_s": .number(0.5)])
        #expect(waiting.status == "running", "\(waiting.text)")
        let request = try #require(await samplingRequest(1, of: client))
        let requestID = try #require(request["id"])

        let interrupted = try await client.call("python_interrupt", [:])
        #expect(interrupted.structured["outcome"]?.stringValue == "interrupted", "\(interrupted.text)")
        // The client is told the request is withdrawn (MCP cancellation).
        let withdrawn = await client.waitForMessage {
            $0["method"]?.stringValue == "notifications/cancelled" && $0["params"]?["requestId"] == requestID
        }
        #expect(withdrawn)
        let ended = try await client.call("python_wait", ["run_id": .string(waiting.runID ?? "")])
        #expect(ended.status == "interrupted")
        #expect(ended.text.contains("interrupted in Python"), "\(ended.text)")

        // The answer that comes now is dropped; the next call gets its own answer.
        answer(request, with: ["type": "text", "text": "too late"], on: client)
        let next = client.startCall("python", ["code": .string("(kept, host.complete('Again'))")])
        let second = try #require(await samplingRequest(2, of: client))
        #expect(second["id"] != requestID)
        answer(second, with: ["type": "text", "text": "in time"], on: client)
        let reply = ToolCallReply(result: try await client.result(of: next))
        #expect(reply.structured["result"]?.stringValue == "(7, 'in time')", "\(reply.text)")
        #expect(await client.process.finish().status == 0)
    }

    @Test func withoutTheSamplingCapabilityThereIsNoHostComplete() async throws {
        let client = try await MCPTestClient()
        let code = """
            try:
                host.call("complete", prompt="Hi")
            except AttributeError as e:
                message = str(e)
            (hasattr(host, "complete"), message)
            """
        for session in ["main", "other"] {
            let reply = try await client.python(code, ["session": .string(session)])
            #expect(
                reply.structured["result"]?.stringValue
                    == "(False, \"the host has no function 'complete' (its functions: none)\")",
                "\(session): \(reply.text)")
        }
        #expect(samplingRequests(client).isEmpty)
        #expect(await client.process.finish().status == 0)
    }

    @Test func aClientThatCallsBeforeInitializeIsServedAsOneWithoutSampling() async throws {
        let client = try await MCPTestClient(initialize: false)
        let early = try await client.python("hasattr(host, 'complete')")
        #expect(early.structured["result"]?.stringValue == "False", "\(early.text)")
        // The sessions were shaped by the first message; a later initialize does not change them.
        _ = try await client.initialize(capabilities: Self.sampling)
        let later = try await client.python("hasattr(host, 'complete')", ["session": .string("other")])
        #expect(later.structured["result"]?.stringValue == "False", "\(later.text)")
        #expect(samplingRequests(client).isEmpty)
        #expect(await client.process.finish().status == 0)
    }

    @Test func aHostFunctionNamedCompleteKeepsItsName() async throws {
        let client = try await MCPTestClient(["--host-fn", "complete=echo '\"mine\"'"], capabilities: Self.sampling)
        let reply = try await client.python("host.complete(prompt='Hi')")
        #expect(reply.structured["result"]?.stringValue == "'mine'", "\(reply.text)")
        #expect(samplingRequests(client).isEmpty)
        #expect(await client.process.finish().status == 0)
    }
}
