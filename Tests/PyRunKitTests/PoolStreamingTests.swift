import Foundation
import PyRunTesting
import Synchronization
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 10 items 2, 3, 5 and 8 through the pool, the closure scopes, and issue 9's
/// many-keys fault test.
@Suite struct PoolStreamingTests {
    // MARK: - Streaming with notices

    @Test func aPoolStreamStartsWithTheNoticesAndEndsWithTheDeath() async throws {
        try await withPool { pool throws in
            // The stream of the execution that dies ends with its death.
            var dyingEvents: [ExecutionEvent] = []
            for await event in await pool.execute("import os\nprint('last', flush=True)\nos._exit(7)", key: "k") {
                dyingEvents.append(event)
            }
            guard case .finished(let died)? = dyingEvents.last else {
                Issue.record("no finished at the end: \(dyingEvents)")
                return
            }
            #expect(died.status == .kernelDied)
            #expect(died.death?.cause == .exited(code: 7))
            #expect(dyingEvents.contains(.stdout("last\n")))

            // The next stream of the key starts with a typed notice saying what was lost.
            var next: [ExecutionEvent] = []
            for await event in await pool.execute("'fresh'", key: "k") { next.append(event) }
            guard case .notice(let notice)? = next.first else {
                Issue.record("the stream did not start with a notice: \(next)")
                return
            }
            #expect(notice.key == "k")
            #expect(notice.stateLost)
            #expect(notice.kind == .died(try #require(died.death)))
            #expect(notice.description.contains("exited with status 7"))
            guard case .finished(let outcome)? = next.last else { return }
            #expect(outcome.status == .ok)
            // Said once: a notice given to a stream is not given again to the next call.
            #expect(try await pool.run("1", key: "k").notices.isEmpty)
        }
    }

    @Test func noticesAreTypedValues() async throws {
        try await withTemporaryDirectory { directory in
            try await withPool(configuration: PoolConfiguration(maximumLiveKernels: 1)) { pool throws in
                _ = try await pool.run("x = 1", key: "a")
                _ = try await pool.run("x = 1", key: "b")  // evicts "a"
                let evicted = try await pool.run("1", key: "a")  // evicts "b"
                #expect(evicted.notices.map(\.kind) == [.evicted(maximumLiveKernels: 1)])
                #expect(evicted.notices.first?.stateLost == true)

                let moved = KernelConfiguration(workingDirectory: directory)
                let changed = try await pool.run("1", key: "a", configuration: moved)
                #expect(changed.notices.map(\.kind) == [.configurationChanged(from: KernelConfiguration(), to: moved)])
                #expect(changed.notices.first?.description.contains("working directory") == true)

                try await pool.reset("a")
                #expect(try await pool.run("1", key: "a").notices.map(\.kind) == [.reset])
                await pool.shutdown("a")
                let afterShutdown = try await pool.run("1", key: "a")
                #expect(afterShutdown.notices.map(\.kind) == [.shutDown])
                #expect(afterShutdown.notices.allSatisfy { $0.key == "a" && $0.stateLost })
                // Notices of the execution itself are typed too.
                let timedOut = try await pool.run(
                    "import time\ntime.sleep(30)", key: "a", options: ExecutionOptions(timeout: .milliseconds(500)))
                #expect(timedOut.notices.map(\.kind) == [.timedOut(after: .milliseconds(500))])
                #expect(timedOut.notices.first?.stateLost == false)
            }
        }
    }

    @Test func aKillAfterAnIgnoredInterruptIsAPoolEvent() async throws {
        let configuration = PoolConfiguration(
            defaultConfiguration: KernelConfiguration(interruptGrace: .milliseconds(500)))
        try await withPool(configuration: configuration) { pool throws in
            let events = pool.events
            let execution = await pool.execute(
                "import time\nwhile True:\n    try:\n        print('ready', flush=True)\n        time.sleep(100)\n    except KeyboardInterrupt:\n        pass",
                key: "stubborn")
            var iterator = execution.makeAsyncIterator()
            while let event = await iterator.next() {
                if case .stdout = event { break }
            }
            await pool.interrupt("stubborn")
            let outcome = await execution.outcome()
            #expect(outcome.status == .cancelled)
            let died = await firstEvent(in: events) { $0.key == "stubborn" && $0.kind.isDied }
            guard case .died(let death)? = died?.kind else {
                Issue.record("no died event for a kill after an ignored interrupt")
                return
            }
            #expect(death.cause == .stoppedByPyrun(.interruptNotHonoured(grace: .milliseconds(500))))
            #expect(death == outcome.death)
            // And the next execution of the key says its state was lost, once.
            let next = try await pool.run("1", key: "stubborn")
            #expect(next.notices.map(\.kind) == [.died(death)])
        }
    }

    @Test func completionAndInterruptNeedNoKernelObject() async throws {
        try await withPool { pool throws in
            _ = try await pool.run("value_alpha = 1", key: "k")
            let completion = try await pool.complete(code: "value_a", key: "k")
            #expect(completion.matches.contains("value_alpha"))
            #expect(try await pool.isComplete(code: "for i in x:", key: "k") == .incomplete(indent: "    "))
        }
    }

    // MARK: - Listing

    @Test func aListingReadsWellAndCountsTheKernelsOwnExecutions() async throws {
        try await withPool { pool throws in
            _ = try await pool.run("a = 1", key: "k")
            // Executions the pool did not run count too, and silent ones do not.
            let kernel = try await pool.kernel(for: "k")
            _ = try await kernel.run("b = 2")
            _ = try await kernel.run("c = 3", options: ExecutionOptions(silent: true))
            let listing = try #require(await pool.list().first)
            #expect(listing.executionCount == 2)
            #expect(listing.executionCount == (try await kernel.info()).executionCount)
            let text = listing.description
            #expect(!text.contains("Optional("))
            #expect(text.hasPrefix("k  pid \(listing.pid!)"))
            #expect(text.contains("Python 3."))
            #expect(text.contains("2 executions"))
            for value in [
                "\(listing.interpreter!)", "\(KernelConfiguration())", "\(ResourceLimits(memoryBytes: 1 << 30))",
                "\(PoolEvent(key: "k", kind: .evicted))",
            ] {
                #expect(!value.contains("Optional("), "\(value)")
            }
        }
    }

    // MARK: - Scopes

    @Test func nothingOutlivesAWithPoolBodyEvenAnEscapedKernel() async throws {
        var escaped: PythonKernel?
        var pid: Int32 = 0
        try await withPool { pool throws in
            pid = try await kernelPID(pool, key: "k")
            escaped = try await pool.kernel(for: "k")
        }
        #expect(await waitUntilGone(pid))
        let kernel = try #require(escaped)
        await #expect(throws: KernelError.self) { try await kernel.run("1") }
        #expect(await kernel.isRunning == false)
    }

    @Test func nothingOutlivesAWithKernelBodyThatThrowsOrIsCancelled() async throws {
        struct Stop: Error {}
        let pids = Mutex<[Int32]>([])
        await #expect(throws: Stop.self) {
            try await withKernel(configuration: .forTests) { kernel throws in
                let pid = try await kernel.start().pid
                pids.withLock { $0.append(pid) }
                throw Stop()
            }
        }
        let started = AsyncStream<Void>.makeStream()
        let cancelled = Task {
            try await withKernel(configuration: .forTests) { kernel throws in
                let pid = try await kernel.start().pid
                pids.withLock { $0.append(pid) }
                started.continuation.yield()
                _ = try await kernel.run("import time\ntime.sleep(60)")
            }
        }
        for await _ in started.stream { break }
        cancelled.cancel()
        _ = try? await cancelled.value
        let all = pids.withLock { $0 }
        #expect(all.count == 2)
        for pid in all { #expect(!processIsAlive(pid), "kernel \(pid) outlived its withKernel body") }
    }

    // MARK: - Faults

    @Test func aThousandExecutionsOverTwentyKeysCountEveryLineOnce() async throws {
        try await withPool { pool throws in
            let keys = 20
            let executions = 1000
            let results = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
                for index in 0..<executions {
                    group.addTask {
                        let key = "agent-\(index % keys)"
                        let code = "for part in range(3): print('line-\(index)-%d' % part)"
                        if index.isMultiple(of: 2) {
                            let result = try await pool.run(code, key: key)
                            #expect(result.status == .ok, "\(result)")
                            return (index, result.stdout.split(separator: "\n").map(String.init))
                        }
                        var text = ""
                        var outcome: ExecutionOutcome?
                        for await event in await pool.execute(code, key: key) {
                            if case .stdout(let chunk) = event { text += chunk }
                            if case .finished(let end) = event { outcome = end }
                        }
                        #expect(outcome?.status == .ok)
                        return (index, text.split(separator: "\n").map(String.init))
                    }
                }
                var all: [Int: [String]] = [:]
                for try await (index, lines) in group { all[index] = lines }
                return all
            }
            #expect(results.count == executions)
            // Each execution got exactly its own three lines, in order: none lost, doubled or
            // handed to another execution.
            for index in 0..<executions {
                #expect(results[index] == (0..<3).map { "line-\(index)-\($0)" }, "execution \(index)")
            }
            #expect(await pool.keys.count == keys)
        }
    }
}
