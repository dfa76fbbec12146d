import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 10 item 4: every stream ends with `finished`; issue 9 item 2: collection is bounded.
@Suite struct ExecutionStreamTests {
    /// Every event of `execution`, in order.
    private func events(of execution: Execution) async -> [ExecutionEvent] {
        var all: [ExecutionEvent] = []
        for await event in execution { all.append(event) }
        return all
    }

    // MARK: - The terminal event

    @Test func aStreamEndsWithFinishedWhenTheCodeKillsItsOwnProcess() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let execution = await kernel.execute("import os\nprint('bye', flush=True)\nos._exit(3)")
            let all = await events(of: execution)
            guard case .finished(let outcome)? = all.last else {
                Issue.record("the stream did not end with finished: \(all)")
                return
            }
            #expect(outcome.status == .kernelDied)
            #expect(outcome.death?.cause == .exited(code: 3))
            #expect(all.contains(.stdout("bye\n")))
            #expect(all.filter { if case .finished = $0 { true } else { false } }.count == 1)
            // The death is also a notice, just before the end.
            #expect(all.dropLast().last == .notice(KernelNotice(.died(try #require(outcome.death)))))
        }
    }

    @Test func everyOutcomeEndsAStream() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let ok = await events(of: await kernel.execute("1"))
            #expect(ok.last.map(Self.status) == .ok)
            let error = await events(of: await kernel.execute("1/0"))
            #expect(error.last.map(Self.status) == .error)
            let timedOut = await events(
                of: await kernel.execute("import time\ntime.sleep(60)", options: ExecutionOptions(timeout: .seconds(1)))
            )
            #expect(timedOut.last.map(Self.status) == .timedOut)
            #expect(timedOut.contains(.notice(KernelNotice(.timedOut(after: .seconds(1))))))
            // Queued behind a death, an execution ends too.
            let dying = await kernel.execute("import os\nos._exit(4)")
            let queued = await kernel.execute("print('never')")
            #expect(await events(of: dying).last.map(Self.status) == .kernelDied)
            let queuedEvents = await events(of: queued)
            #expect(queuedEvents.last.map(Self.status) == .kernelDied)
            #expect(!queuedEvents.contains(.stdout("never\n")))
        }
        // A kernel that cannot start ends its stream with failedToStart.
        try await withKernel(configuration: KernelConfiguration(interpreter: .path("/no/such/python3"))) {
            kernel throws in
            let all = await events(of: await kernel.execute("1"))
            #expect(all.count == 1)
            guard case .finished(let outcome)? = all.last else { return }
            #expect(outcome.status == .failedToStart)
            #expect(outcome.startFailure?.code == .interpreterNotFound)
        }
    }

    @Test func aConsumerWhoseTaskIsCancelledStillSeesTheEnd() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let execution = await kernel.execute("import time\nprint('going', flush=True)\ntime.sleep(60)")
            let consumer = Task {
                var seen: [ExecutionEvent] = []
                for await event in execution {
                    seen.append(event)
                    if case .stdout = event { withUnsafeCurrentTask { $0?.cancel() } }
                }
                return seen
            }
            let seen = await consumer.value
            guard case .finished(let outcome)? = seen.last else {
                Issue.record("the cancelled consumer's stream did not end with finished: \(seen)")
                return
            }
            #expect(outcome.status == .cancelled)
            #expect(outcome.error?.name == "KeyboardInterrupt")
            // Interrupted once: the kernel is fine afterwards.
            #expect(try await kernel.run("'still here'").resultText == "'still here'")
        }
    }

    @Test func outcomeNeedsNoIteration() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let execution = await kernel.execute("print('x')\n6 * 7")
            let outcome = await execution.outcome()
            #expect(outcome.status == .ok)
            #expect(outcome.executionCount == 1)
        }
    }

    private static func status(_ event: ExecutionEvent) -> ExecutionStatus? {
        if case .finished(let outcome) = event { return outcome.status }
        return nil
    }

    // MARK: - Bounded collection

    @Test func aCollectedResultKeepsHeadAndTailWithinTheLimit() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            // 10 000 numbered lines of 7 bytes: 70 000 bytes, collected within 10 000.
            let options = ExecutionOptions(collectedOutputLimit: 10_000)
            let code = "import sys\nfor i in range(10000): sys.stdout.write('%06d\\n' % i)"
            let result = try await kernel.run(code, options: options)
            #expect(result.status == .ok)
            let total = 70_000
            #expect(result.stdout.utf8.count <= 10_000)
            #expect(result.stdout.utf8.count + result.stdoutOmittedBytes == total)
            #expect(result.stdout.hasPrefix("000000\n000001\n"))
            #expect(result.stdout.hasSuffix("009998\n009999\n"))
            #expect(
                result.notices.map(\.kind) == [
                    .collectedOutputTruncated(stream: .stdout, omittedBytes: result.stdoutOmittedBytes)
                ])
            // Consuming a stream with result() is bounded the same way.
            let streamed = try await kernel.execute(code, options: options).result()
            #expect(streamed.stdout == result.stdout)
            #expect(streamed.stdoutOmittedBytes == result.stdoutOmittedBytes)
        }
    }

    @Test func boundedTextCutsOnScalarBoundaries() {
        var text = BoundedText(limit: 10)
        for _ in 0..<20 { text.append("é😀") }  // 6 bytes each, 120 in all
        let kept = text.text
        #expect(kept.utf8.count <= 10)
        #expect(kept.utf8.count + text.omittedBytes == 120)
        #expect(kept.hasPrefix("é"))
        #expect(kept.hasSuffix("😀"))
        var small = BoundedText(limit: 100)
        small.append("abc")
        small.append("def")
        #expect(small.text == "abcdef")
        #expect(small.omittedBytes == 0)
    }

    // MARK: - Flow control

    @Test func aLaggingConsumerHoldsTheProducerBack() async {
        let channel = ExecutionEventChannel()
        let chunk = String(repeating: "x", count: 1 << 20)
        // Nobody iterates yet: the buffer takes what comes (an `outcome()`-only caller).
        #expect(!channel.send(.stdout(chunk)))
        #expect(await channel.next() == .stdout(chunk))
        // Once a consumer iterates, past the high-water mark the producer is told to wait.
        let count = (ExecutionEventChannel.highWaterBytes >> 20) + 1
        var congested: [Bool] = []
        for _ in 0..<count { congested.append(channel.send(.stdout(chunk))) }
        #expect(congested.last == true)
        #expect(congested.first == false)
        let relieved = Task {
            await channel.waitForSpace()
            return true
        }
        // The consumer takes the buffer down; the producer may go on.
        for _ in 0..<count { #expect(await channel.next() == .stdout(chunk)) }
        #expect(await relieved.value)
        // The end wakes a waiting producer too.
        for _ in 0..<count { channel.send(.stdout(chunk)) }
        let ended = Task { await channel.waitForSpace() }
        channel.finish(ExecutionOutcome(status: .ok))
        await ended.value
    }

    /// The whole path, not only the channel: past the channel's bound the kernel stops taking
    /// batches, past the intake's the frame pipe's reader stops reading, the pipe fills and
    /// the runner's write blocks. Without the intake, the reader would read all 128 MiB into
    /// the host while the consumer sleeps.
    @Test func aConsumerThatStopsReadingHoldsTheCodeBackAndThenGetsEveryLineOnce() async throws {
        let progress = FileManager.default.temporaryDirectory
            .appendingPathComponent("pyrun-progress-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: progress) }
        let lineCount = 1000
        try await withKernel(configuration: .forTests) { kernel throws in
            // 64 KiB lines, 64 MiB in all: far more than every buffer on the way together.
            let execution = await kernel.execute(
                """
                import sys
                for i in range(\(lineCount)):
                    sys.stdout.write('%05d' % i + 'x' * 65530 + '\\n')
                    sys.stdout.flush()
                    with open('\(progress.path)', 'w') as f:
                        f.write(str(i))
                """)
            var iterator = execution.makeAsyncIterator()
            var lines = LineNumbers()
            // Take one event, so a consumer iterates, then stop reading.
            if case .stdout(let text)? = await iterator.next() { lines.add(text) }

            // The code goes on until the buffers are full, then stops making progress.
            var lastSeen = -1
            var unchangedLooks = 0
            let deadline = ContinuousClock.now + .seconds(120)
            while unchangedLooks < 4, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
                let seen = (try? String(contentsOf: progress, encoding: .utf8)).flatMap { Int($0) } ?? -1
                if seen == lastSeen { unchangedLooks += 1 } else { (lastSeen, unchangedLooks) = (seen, 0) }
            }
            #expect(unchangedLooks >= 4, "the code never stopped writing")
            // About 10 MiB are in flight (channel 4, intake 4, the pipe, the runner's buffer).
            #expect(lastSeen < 400, "the code wrote \(lastSeen + 1) of \(lineCount) lines while nobody read")

            // Reading again lets it finish; every line arrives once, in order.
            var outcome: ExecutionOutcome?
            while let event = await iterator.next() {
                switch event {
                case .stdout(let text): lines.add(text)
                case .finished(let ended): outcome = ended
                default: break
                }
            }
            #expect(outcome?.status == .ok)
            #expect(lines.numbers == Array(0..<lineCount))
            #expect(lines.column == 0)
        }
    }

    /// The five-digit number that starts each complete line, without keeping the text.
    private struct LineNumbers {
        var numbers: [Int] = []
        private var number = 0
        /// Bytes of the line in progress seen so far.
        private(set) var column = 0

        mutating func add(_ text: String) {
            for byte in text.utf8 {
                if byte == UInt8(ascii: "\n") {
                    numbers.append(number)
                    (number, column) = (0, 0)
                    continue
                }
                if column < 5 { number = number * 10 + Int(byte) - Int(UInt8(ascii: "0")) }
                column += 1
            }
        }
    }

    // MARK: - Faults

    @Test func aKillInTheMiddleOfFiftyMegabytesDeliversEveryByteReadInOrderThenTheDeath() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let pid = try await kernel.start().pid
            // Numbered 10-byte lines, 50 MB: any loss, duplicate or reordering shows.
            let execution = await kernel.execute(
                "import sys\nfor block in range(500):\n    sys.stdout.write(''.join('%09d\\n' % i for i in range(block * 10000, (block + 1) * 10000)))"
            )
            var received: [UInt8] = []
            var killed = false
            var last: ExecutionEvent?
            for await event in execution {
                last = event
                if case .stdout(let text) = event {
                    received.append(contentsOf: text.utf8)
                    if !killed, received.count > 5_000_000 {
                        killed = true
                        kill(pid, SIGKILL)
                    }
                }
            }
            #expect(killed)
            guard case .finished(let outcome)? = last else {
                Issue.record("no finished event at the end")
                return
            }
            #expect(outcome.status == .kernelDied)
            #expect(outcome.death?.cause == .killedFromOutside(signal: SIGKILL))
            // What arrived is exactly the start of the output: whole lines 0, 1, 2, … and at
            // most a partial last one.
            #expect(received.count > 5_000_000)
            #expect(received.count < 50_000_000, "the kill came too late to test anything")
            let wholeLines = received.count / 10
            for index in stride(from: 0, to: wholeLines, by: 997) {
                let line = String(decoding: received[(index * 10)..<(index * 10 + 10)], as: UTF8.self)
                #expect(line == String(format: "%09d\n", index), "line \(index)")
            }
            let lastWhole = wholeLines - 1
            #expect(
                String(decoding: received[(lastWhole * 10)..<(lastWhole * 10 + 10)], as: UTF8.self)
                    == String(format: "%09d\n", lastWhole))
            let expectedTail = Array(String(format: "%09d\n", wholeLines).utf8.prefix(received.count - wholeLines * 10))
            #expect(Array(received[(wholeLines * 10)...]) == expectedTail)
        }
    }
}
