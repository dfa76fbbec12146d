import Foundation
import Logging
import Testing

@testable import PyRunMCP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits until `entry` is noted in `order`; false if it was not within 30 s, a liveness
/// bound (a failure here must not hang the suite).
private func noted(_ entry: String, in order: EventLog) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(30)
    while !order.all.contains(entry), ContinuousClock.now < deadline {
        try? await Task.sleep(for: .milliseconds(10))
    }
    return order.all.contains(entry)
}

/// `ToolCallRouter` at the end of the client's input: it lets the server end only once the
/// open requests are answered, or once nobody reads the answers.
@Suite struct ToolCallRouterTests {
    /// A router over pipes that forwarded a `ping` (id 7), still unanswered, and then saw its
    /// input end; `order` notes "forwarded" and "ended" (its message stream's end). The input
    /// pipe is returned to be kept alive: dropping it would close the end the router reads.
    private func routerWhoseInputEndedAfterAPing() async throws -> (ToolCallRouter, PipePair, PipePair, EventLog) {
        // As `LineTransport.standardIO()` does: a write into a pipe nobody reads must fail, not
        // end the test process.
        signal(SIGPIPE, SIG_IGN)
        let (input, output) = (PipePair(), PipePair())
        let router = ToolCallRouter(
            over: LineTransport(input: input.readEnd, output: output.writeEnd), logger: Logger(label: "test"))
        try await router.connect()
        let order = EventLog()
        Task {
            for try await _ in router.receive() { order.note("forwarded") }
            order.note("ended")
        }
        input.write(#"{"jsonrpc":"2.0","id":7,"method":"ping"}"# + "\n")
        #expect(await noted("forwarded", in: order))
        input.closeWriteEnd()
        return (router, input, output, order)
    }

    @Test(.timeLimit(.minutes(1))) func afterTheInputEndsAnAnswerEndsTheWait() async throws {
        let (router, input, output, order) = try await routerWhoseInputEndedAfterAPing()
        order.note("answering")
        try await router.send(Data(#"{"jsonrpc":"2.0","id":7,"result":{}}"#.utf8))
        #expect(await noted("ended", in: order), "the server's message stream did not end within 30 s")
        #expect(await output.readLines(1) == [#"{"jsonrpc":"2.0","id":7,"result":{}}"#])
        #expect(order.noted("answering", before: "ended"), "\(order.all)")
        await router.disconnect()
        withExtendedLifetime(input) {}
    }

    @Test(.timeLimit(.minutes(1))) func afterTheInputEndsAClientThatStopsReadingEndsTheWait() async throws {
        let (router, input, output, order) = try await routerWhoseInputEndedAfterAPing()
        order.note("closing stdout")
        output.closeReadEnd()
        #expect(await noted("ended", in: order), "the server's message stream did not end within 30 s")
        #expect(order.noted("closing stdout", before: "ended"), "\(order.all)")
        await router.disconnect()
        withExtendedLifetime(input) {}
    }
}
