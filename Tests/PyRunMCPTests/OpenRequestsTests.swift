import PyRunKit
import Testing

@testable import PyRunMCP

/// `OpenRequests`: what the server waits for between the end of the client's input and its
/// own end.
@Suite struct OpenRequestsTests {
    /// A body that runs until the test releases it (or its task is cancelled).
    private struct Gate: Sendable {
        let stream: AsyncStream<Void>
        let release: AsyncStream<Void>.Continuation

        init() { (stream, release) = AsyncStream.makeStream(of: Void.self) }

        func wait() async {
            for await _ in stream { return }
        }
    }

    @Test func theWaitEndsOnlyOnceTheLastCallAndTheLastForwardedRequestAreAnswered() async {
        let open = OpenRequests()
        let call = Gate()
        let log = EventLog()
        open.startCall(.number(1)) {
            await call.wait()
            log.note("call answered")
        }
        open.forwarded(.string("init"))
        let (started, waiterStarted) = AsyncStream.makeStream(of: Void.self)
        let waiter = Task {
            waiterStarted.yield()
            await open.allAnswered()
            log.note("all answered")
        }
        for await _ in started { break }
        log.note("releasing the call")
        call.release.yield()
        log.note("answering the forwarded request")
        open.answered(.string("init"))
        await waiter.value
        #expect(log.all.first == "releasing the call", "\(log.all)")
        #expect(log.all.last == "all answered", "\(log.all)")
        #expect(log.all.contains("call answered"), "\(log.all)")
    }

    @Test func aCancelledCallIsNoLongerWaitedFor() async {
        let open = OpenRequests()
        let never = Gate()
        open.startCall(.string("c")) { await never.wait() }
        #expect(open.cancelCall(.string("c")))
        #expect(!open.cancelCall(.string("c")))
        await open.allAnswered()
    }

    @Test func aFailedWriteEndsTheWaitForEverythingElse() async {
        struct Unwritable: Error {}
        let open = OpenRequests()
        open.forwarded(.number(7))
        open.startCall(.number(8)) { throw Unwritable() }
        await open.allAnswered()
    }

    @Test func aCancelledWaiterStopsWaiting() async {
        let open = OpenRequests()
        open.forwarded(.number(1))
        let waiter = Task { await open.allAnswered() }
        waiter.cancel()
        await waiter.value
    }

    @Test func idsTheSDKCannotEchoAreNotWaitedFor() async {
        let open = OpenRequests()
        open.forwarded(.number(1.5))
        open.forwarded(.bool(true))
        await open.allAnswered()
    }
}
