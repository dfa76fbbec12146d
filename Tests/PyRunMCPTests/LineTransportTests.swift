import Foundation
import MCP
import Testing

@testable import PyRunMCP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct MessageSplitterTests {
    private func split(_ chunks: [String], maximum: Int = 1 << 20) -> [MessageSplitter.Piece] {
        var splitter = MessageSplitter(maximumMessageBytes: maximum)
        var pieces: [MessageSplitter.Piece] = []
        for chunk in chunks {
            pieces += Array(chunk.utf8).withUnsafeBytes { splitter.append($0) }
        }
        if let last = splitter.finish() { pieces.append(last) }
        return pieces
    }

    private func message(_ text: String) -> MessageSplitter.Piece { .message(Array(text.utf8)) }

    @Test func aMessageSplitAcrossChunksArrivesWhole() {
        #expect(split(["{\"a\":", "1}\n{\"b\"", ":2}\n"]) == [message("{\"a\":1}"), message("{\"b\":2}")])
    }

    @Test func severalMessagesInOneChunk() {
        #expect(split(["1\n2\n3\n"]) == [message("1"), message("2"), message("3")])
    }

    @Test func emptyLinesAndCarriageReturnsAreDropped() {
        #expect(split(["\n\r\n{}\r\n\n"]) == [message("{}")])
    }

    @Test func aLastMessageWithoutNewlineIsDeliveredAtTheEnd() {
        #expect(split(["1\n{\"last\":", "true}"]) == [message("1"), message("{\"last\":true}")])
    }

    @Test func aMessageAtTheLimitPassesAndOneByteMoreIsSkippedWithItsSize() {
        let atLimit = String(repeating: "x", count: 16)
        let over = String(repeating: "y", count: 17)
        #expect(
            split([atLimit + "\n" + over + "\n" + "ok\n"], maximum: 16) == [
                message(atLimit), .oversized(byteCount: 17), message("ok"),
            ])
    }

    @Test func anOversizedMessageIsNeverHeldInMemory() {
        var splitter = MessageSplitter(maximumMessageBytes: 1000)
        let block = [UInt8](repeating: 0x61, count: 600)
        var pieces: [MessageSplitter.Piece] = []
        for _ in 0..<100 {
            pieces += block.withUnsafeBytes { splitter.append($0) }
            #expect(splitter.pendingByteCount <= 1000)
        }
        pieces += Array("\n{}\n".utf8).withUnsafeBytes { splitter.append($0) }
        #expect(pieces == [.oversized(byteCount: 60_000), message("{}")])
    }

    @Test func aHugeMessageInSmallChunksIsIntact() {
        let huge = String(repeating: "0123456789abcdef", count: 1 << 16)  // 1 MiB
        let chunks = stride(from: 0, to: huge.utf8.count, by: 4093).map { start in
            String(decoding: Array(huge.utf8)[start..<min(start + 4093, huge.utf8.count)], as: UTF8.self)
        }
        #expect(split(chunks + ["\n"], maximum: 2 << 20) == [message(huge)])
    }
}

@Suite struct LineTransportTests {
    /// A connected transport reading `input` and writing `output`.
    private func connected(
        _ input: PipePair, _ output: PipePair, maximum: Int = LineTransport.defaultMaximumMessageBytes
    )
        async throws -> LineTransport
    {
        let transport = LineTransport(input: input.readEnd, output: output.writeEnd, maximumMessageBytes: maximum)
        try await transport.connect()
        return transport
    }

    private func strings(_ stream: AsyncThrowingStream<Data, any Error>, count: Int) async throws -> [String] {
        var received: [String] = []
        for try await data in stream {
            received.append(String(decoding: data, as: UTF8.self))
            if received.count == count { break }
        }
        return received
    }

    @Test func partialLinesAreJoinedAndTheEndOfInputEndsTheStream() async throws {
        let input = PipePair()
        let output = PipePair()
        let transport = try await connected(input, output)
        let stream = transport.receive()
        input.write("{\"jsonrpc\":\"2.0\",")
        input.write("\"method\":\"a\"}\n{\"second\":")
        input.write("2}\n")
        input.closeWriteEnd()
        var received: [String] = []
        for try await data in stream { received.append(String(decoding: data, as: UTF8.self)) }
        #expect(received == ["{\"jsonrpc\":\"2.0\",\"method\":\"a\"}", "{\"second\":2}"])
        await transport.disconnect()
    }

    @Test func aMessageArrivesBeforeTheInputEnds() async throws {
        let input = PipePair()
        let output = PipePair()
        let transport = try await connected(input, output)
        input.write("{\"first\":1}\n")
        // The writer keeps the pipe open: the message must still arrive (no waiting for more).
        let first = try await strings(transport.receive(), count: 1)
        #expect(first == ["{\"first\":1}"])
        await transport.disconnect()
    }

    @Test func aHugeMessageArrivesIntact() async throws {
        let input = PipePair()
        let output = PipePair()
        let transport = try await connected(input, output)
        let payload = String(repeating: "abcdefghij", count: 800_000)  // 8 MB
        let writer = Thread { input.write("{\"p\":\"" + payload + "\"}\n") }
        writer.start()
        let received = try await strings(transport.receive(), count: 1)
        #expect(received.first?.utf8.count == payload.utf8.count + 8)
        #expect(received.first == "{\"p\":\"" + payload + "\"}")
        await transport.disconnect()
    }

    @Test func anOversizedMessageIsAnsweredWithAnErrorAndTheNextOneStillArrives() async throws {
        let input = PipePair()
        let output = PipePair()
        let transport = try await connected(input, output, maximum: 1024)
        input.write(String(repeating: "z", count: 5000) + "\n{\"after\":true}\n")
        let received = try await strings(transport.receive(), count: 1)
        #expect(received == ["{\"after\":true}"])
        let reply = await output.readLines(1)
        let object = try JSONSerialization.jsonObject(with: Data(reply[0].utf8)) as? [String: Any]
        #expect(object?["id"] is NSNull)
        let error = object?["error"] as? [String: Any]
        #expect(error?["code"] as? Int == -32600)
        #expect((error?["message"] as? String)?.contains("5000 bytes") == true)
        #expect((error?["message"] as? String)?.contains("1024 bytes") == true)
        await transport.disconnect()
    }

    @Test func concurrentSendsNeverInterleave() async throws {
        let input = PipePair()
        let output = PipePair()
        let transport = try await connected(input, output)
        // Sizes straddle the pipe's atomic-write size and its whole buffer.
        let sizes = [10, 4095, 4096, 4097, 70_000, 200_000]
        let messages = (0..<24).map { index in
            "{\"n\":\(index),\"pad\":\""
                + String(repeating: Character(UnicodeScalar(97 + index % 26)!), count: sizes[index % sizes.count])
                + "\"}"
        }
        let reader = Task { await output.readLines(messages.count) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for message in messages {
                group.addTask { try await transport.send(Data(message.utf8)) }
            }
            try await group.waitForAll()
        }
        let lines = await reader.value
        #expect(lines.sorted() == messages.sorted())
        await transport.disconnect()
    }

    @Test func disconnectEndsTheStreamWhileTheInputIsStillOpen() async throws {
        let input = PipePair()
        let output = PipePair()
        let transport = try await connected(input, output)
        let stream = transport.receive()
        let drained = Task {
            var count = 0
            for try await _ in stream { count += 1 }
            return count
        }
        await transport.disconnect()
        #expect(try await drained.value == 0)
        await #expect(throws: TransportError.self) { try await transport.send(Data("{}".utf8)) }
    }

    @Test func aClientThatWentAwayFailsTheSendAndEndsTheInput() async throws {
        signal(SIGPIPE, SIG_IGN)
        let input = PipePair()
        let output = PipePair()
        let transport = try await connected(input, output)
        let stream = transport.receive()
        output.closeReadEnd()
        await #expect(throws: TransportError.self) { try await transport.send(Data("{}".utf8)) }
        var count = 0
        for try await _ in stream { count += 1 }
        #expect(count == 0)
        await transport.disconnect()
    }

    @Test func aNonBlockingInputIsReadWithoutErrors() async throws {
        let input = PipePair()
        let output = PipePair()
        _ = fcntl(input.readEnd, F_SETFL, fcntl(input.readEnd, F_GETFL) | O_NONBLOCK)
        let transport = try await connected(input, output)
        let stream = transport.receive()
        try await Task.sleep(for: .milliseconds(50))
        input.write("{\"late\":1}\n")
        input.closeWriteEnd()
        var received: [String] = []
        for try await data in stream { received.append(String(decoding: data, as: UTF8.self)) }
        #expect(received == ["{\"late\":1}"])
        await transport.disconnect()
    }

    @Test func theSDKServerAnswersOverIt() async throws {
        let input = PipePair()
        let output = PipePair()
        let transport = LineTransport(input: input.readEnd, output: output.writeEnd)
        let server = Server(name: "test", version: "0", instructions: "hello")
        try await server.start(transport: transport)
        input.write(
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#
                + "\n")
        let reply = await output.readLines(1)
        let object = try JSONSerialization.jsonObject(with: Data(reply[0].utf8)) as? [String: Any]
        #expect(object?["id"] as? Int == 1)
        let result = object?["result"] as? [String: Any]
        #expect(result?["instructions"] as? String == "hello")
        #expect(result?["protocolVersion"] as? String == "2025-06-18")
        // The end of input ends the server's loop: the signal a host waits for to shut down.
        input.closeWriteEnd()
        await server.waitUntilCompleted()
        await server.stop()
    }

    @Test(.timeLimit(.minutes(1))) func itLearnsWithoutWritingThatTheClientStoppedReading() async throws {
        let input = PipePair()
        let output = PipePair()
        let transport = try await connected(input, output)
        let watch = Task { await transport.clientStoppedReading() }
        output.closeReadEnd()
        await watch.value
        await transport.disconnect()
    }

    @Test(.timeLimit(.minutes(1))) func waitingForTheClientToStopReadingEndsWhenCancelled() async throws {
        let input = PipePair()
        let output = PipePair()
        let transport = try await connected(input, output)
        let watch = Task { await transport.clientStoppedReading() }
        watch.cancel()
        await watch.value
        // The client still reads: a message still gets through.
        try await transport.send(Data("{}".utf8))
        #expect(await output.readLines(1) == ["{}"])
        await transport.disconnect()
    }
}
