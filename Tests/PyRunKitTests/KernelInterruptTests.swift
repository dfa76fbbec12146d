import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

@Suite struct KernelInterruptTests {
    /// Waits for the `started` event, so an interrupt lands while the code runs.
    private func startedExecution(_ kernel: PythonKernel, _ code: String, options: ExecutionOptions = .init()) async
        -> (Execution, Execution.Iterator)
    {
        let execution = await kernel.execute(code, options: options)
        var iterator = execution.makeAsyncIterator()
        _ = await iterator.next()
        return (execution, iterator)
    }

    @Test func interruptStopsABusyLoop() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let execution = await kernel.execute(
                "n = 0\nwhile True:\n    n += 1\n    if n == 1000:\n        print('looping', flush=True)")
            // Interrupt once the loop has surely run (right after `started`, `n = 0` may not have;
            // right after a print before the loop, no iteration may have).
            var iterator = execution.makeAsyncIterator()
            while let event = await iterator.next() {
                if case .stdout = event { break }
            }
            await kernel.interrupt()
            let result = try await execution.result()
            #expect(result.status == .cancelled)
            #expect(result.error?.name == "KeyboardInterrupt")
            #expect(try await kernel.run("n >= 1000").resultText == "True")  // state survived
        }
    }

    @Test func interruptStopsSleep() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let (execution, _) = await startedExecution(kernel, "import time\ntime.sleep(100)")
            await kernel.interrupt()
            let result = try await execution.result()
            #expect(result.status == .cancelled)
            #expect(result.duration < .seconds(30))
        }
    }

    @Test func timeoutInterruptsAndReportsTimedOut() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run(
                "print('before', flush=True)\nimport time\ntime.sleep(100)",
                options: ExecutionOptions(timeout: .seconds(1)))
            #expect(result.status == .timedOut)
            #expect(result.timedOut)
            #expect(result.stdout == "before\n")  // output before the timeout is kept
            #expect(try await kernel.run("1").resultText == "1")
        }
    }

    @Test func cancellingTheAwaitingTaskInterruptsTheCode() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            _ = try await kernel.start()
            let execution = await kernel.execute("import time\nprint('going', flush=True)\ntime.sleep(100)")
            // Cancel once the code is surely running: its first output proves it.
            var iterator = execution.makeAsyncIterator()
            var streamed = ""
            while let event = await iterator.next() {
                if case .stdout(let text) = event {
                    streamed += text
                    break
                }
            }
            let waiter = Task { try await execution.result() }
            waiter.cancel()
            let result = try await waiter.value
            #expect(result.status == .cancelled)
            #expect(streamed + result.stdout == "going\n")
        }
    }

    @Test func cancellingAQueuedExecutionWithdrawsIt() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let first = await kernel.execute("import time\ntime.sleep(0.5)\nmarker = 'first'")
            let second = await kernel.execute("marker = 'second'")
            await second.cancel()
            #expect(try await second.result().status == .cancelled)
            #expect(try await first.result().status == .ok)
            #expect(try await kernel.run("marker").resultText == "'first'")
        }
    }

    @Test func swallowedInterruptEscalatesToAKillAndARestart() async throws {
        let configuration = KernelConfiguration(interruptGrace: .milliseconds(500))
        try await withKernel(configuration: configuration) { kernel throws in
            _ = try await kernel.run("secret = 1")
            let firstPid = try #require(await kernel.pid)
            let (execution, _) = await startedExecution(
                kernel,
                """
                import time
                while True:
                    try:
                        time.sleep(100)
                    except KeyboardInterrupt:
                        pass
                """)
            await kernel.interrupt()
            let result = try await execution.result()
            #expect(result.status == .cancelled)
            #expect(result.notices.map(\.description).joined().contains("state is lost"))
            #expect(await waitUntilGone(firstPid))
            // The next use starts a fresh kernel, without the old state.
            let after = try await kernel.run("'secret' in globals()")
            #expect(after.resultText == "False")
            #expect(await kernel.pid != firstPid)
        }
    }

    @Test func anInterruptBeforeTheRunnerStartedTheCodeIsNotLost() async throws {
        // Between executions the runner ignores SIGINT; an interrupt sent right after the
        // code was handed over waits for `started` instead of being lost (which would leave
        // only the kill at the end of the grace).
        try await withKernel(configuration: .forTests) { kernel throws in
            _ = try await kernel.start()
            let execution = await kernel.execute("import time\ntime.sleep(60)")
            await kernel.interrupt()
            let result = try await execution.result()
            #expect(result.status == .cancelled)
            #expect(result.error?.name == "KeyboardInterrupt")
            #expect(result.death == nil)
            #expect(result.duration < .seconds(8))
        }
    }
}
