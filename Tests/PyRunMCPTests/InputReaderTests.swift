import Foundation
import Testing

@testable import PyRunMCP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct InputReaderTests {
    /// `LineTransport.disconnect()` after the end of the client's input stops a reader whose
    /// thread has already ended: the wake-up must still land in a pipe with a reader. Into a
    /// pipe without one it fails with EPIPE (SIGPIPE is ignored here so that the failure is
    /// an answer, not the death of the whole test process, as it was when another test had not
    /// ignored SIGPIPE first).
    @Test func stoppingAReaderWhoseInputEndedWritesItsWakeUp() async throws {
        signal(SIGPIPE, SIG_IGN)
        let input = PipePair()
        let (ended, endedContinuation) = AsyncStream.makeStream(of: Void.self)
        let reader = try InputReader(
            descriptor: input.readEnd, maximumMessageBytes: 1 << 10,
            onMessage: { _ in }, onOversized: { _ in },
            onEnd: { _ in
                endedContinuation.yield()
                endedContinuation.finish()
            })
        input.closeWriteEnd()
        var iterator = ended.makeAsyncIterator()
        #expect(await iterator.next() != nil)
        #expect(reader.stop())
        #expect(reader.stop(), "a second stop is harmless too")
    }
}
