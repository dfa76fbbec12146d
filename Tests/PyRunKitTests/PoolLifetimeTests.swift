import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Eviction, culling, crash recovery, warm spares, shutdown of everything.
@Suite struct PoolLifetimeTests {
    /// A liveness bound for a spare to start unasked. The whole test run starts a hundred
    /// kernels at once on a machine others load too; a start can take half a minute then.
    private let spareStartBound = 90.0

    // MARK: - Eviction and culling

    @Test func theLeastRecentlyUsedIdleKernelIsEvictedWithANotice() async throws {
        try await withPool(configuration: PoolConfiguration(maximumLiveKernels: 2)) { pool in
            let events = pool.events
            _ = try await pool.run("mine = 'first'", key: "first")
            let firstPID = try await kernelPID(pool, key: "first")
            _ = try await pool.run("mine = 'second'", key: "second")
            _ = try await pool.run("mine = 'third'", key: "third")

            #expect(await firstEvent(in: events) { $0.key == "first" && $0.kind.isEvicted } != nil)
            #expect(await waitUntilGone(firstPID))
            #expect(await pool.keys == ["second", "third"])

            let back = try await pool.run("'mine' in globals()", key: "first")
            #expect(back.resultText == "False")
            #expect(back.notices.first?.description.contains("evicted") == true)
            #expect(back.notices.first?.description.contains("earlier state is gone") == true)
            // "second" was now the least recently used.
            #expect(await pool.keys == ["first", "third"])
            #expect(try await pool.run("mine", key: "third").resultText == "'third'")
        }
    }

    @Test func aBusyKernelIsNeverEvicted() async throws {
        try await withPool(configuration: PoolConfiguration(maximumLiveKernels: 1)) { pool in
            let events = pool.events
            _ = try await pool.run("state = 'busy one'", key: "busy")
            let busy = Task {
                try await pool.run("import time\ntime.sleep(1.5)\nstate", key: "busy")
            }
            #expect(await eventually { await pool.list().first { $0.key == "busy" }?.busy == true })
            // Over the cap, but the only other kernel is busy: it must live on.
            #expect(try await pool.run("1 + 1", key: "newcomer").resultText == "2")
            let busyResult = try await busy.value
            #expect(busyResult.succeeded)
            #expect(busyResult.resultText == "'busy one'")
            #expect(busyResult.notices.isEmpty)
            // Once idle again, one of the two goes so the pool is back within its cap.
            #expect(await firstEvent(in: events) { $0.kind.isEvicted } != nil)
            #expect(await eventually { await pool.keys.count == 1 })
        }
    }

    @Test func aKernelBusyThroughDirectUseIsNeverEvicted() async throws {
        try await withPool(configuration: PoolConfiguration(maximumLiveKernels: 1)) { pool in
            let kernel = try await pool.kernel(for: "direct")
            // Busy until this test says so: however slow the machine, it is busy throughout.
            let execution = await kernel.execute("import time\nprint('begun', flush=True)\ntime.sleep(300)")
            var events = execution.makeAsyncIterator()
            _ = await events.next()  // started: the kernel is busy now
            #expect(try await pool.run("1", key: "other").resultText == "1")
            #expect(await pool.keys.contains("direct"))
            await execution.cancel()
            let result = try await execution.result()
            #expect(result.status == .cancelled)
            #expect(result.stdout == "begun\n")
        }
    }

    @Test func anIdleKernelIsCulledAndTheNextResultSaysSo() async throws {
        try await withPool(configuration: PoolConfiguration(idleTimeout: .milliseconds(300))) { pool in
            let events = pool.events
            _ = try await pool.run("note = 'remember me'", key: "sleepy")
            let pid = try await kernelPID(pool, key: "sleepy")
            let culled = await firstEvent(in: events) { $0.key == "sleepy" && $0.kind.isCulled }
            #expect(culled != nil)
            #expect(await waitUntilGone(pid))
            #expect(await pool.keys.isEmpty)
            let back = try await pool.run("'note' in globals()", key: "sleepy")
            #expect(back.resultText == "False")
            #expect(back.notices.first?.description.contains("idle") == true)
            // The notice is said once.
            #expect(try await pool.run("1", key: "sleepy").notices.isEmpty)
        }
    }

    @Test func aRunningKernelIsNotCulled() async throws {
        try await withPool(configuration: PoolConfiguration(idleTimeout: .milliseconds(200))) { pool in
            let result = try await pool.run("import time\nx = 1\ntime.sleep(1)\nx", key: "working")
            #expect(result.succeeded)
            #expect(result.resultText == "1")
        }
    }

    // MARK: - Crash recovery

    @Test func aKernelThatExitedIsReplacedAndTheCauseIsReported() async throws {
        try await withPool { pool in
            let events = pool.events
            _ = try await pool.run("precious = 1", key: "fragile")
            let died = try await pool.run("import os\nos._exit(7)", key: "fragile")
            #expect(died.status == .kernelDied)
            #expect(died.death?.status == .exited(7))
            let event = await firstEvent(in: events) { $0.key == "fragile" && $0.kind.isDied }
            #expect(event?.kind == .died(died.death!))

            let next = try await pool.run("'precious' in globals()", key: "fragile")
            #expect(next.succeeded)
            #expect(next.resultText == "False")
            #expect(next.notices.count == 1)
            #expect(next.notices.first?.description.contains("died") == true)
            #expect(next.notices.first?.description.contains("exited with status 7") == true)
            #expect(try await pool.run("1", key: "fragile").notices.isEmpty)
        }
    }

    @Test func aKernelKilledWhileIdleIsReplacedWithTheCause() async throws {
        try await withPool(configuration: PoolConfiguration(maintenanceInterval: .milliseconds(100))) { pool in
            let events = pool.events
            _ = try await pool.run("precious = 1", key: "victim")
            _ = try await pool.run("kept = 1", key: "bystander")
            let pid = try await kernelPID(pool, key: "victim")
            kill(pid, SIGKILL)
            #expect(await waitUntilGone(pid))
            let next = await eventually {
                await pool.list().first { $0.key == "victim" }?.pid == nil
            }
            #expect(next)
            // The death of an idle kernel is an event without anybody using the key.
            let died = await firstEvent(in: events) { $0.key == "victim" && $0.kind.isDied }
            guard case .died(let cause)? = died?.kind else {
                Issue.record("no died event")
                return
            }
            #expect(cause.status == .signaled(SIGKILL))
            let result = try await pool.run("'precious' in globals()", key: "victim")
            #expect(result.resultText == "False")
            #expect(result.notices.first?.description.contains("SIGKILL") == true)
            #expect(try await pool.run("kept", key: "bystander").resultText == "1")
        }
    }

    @Test func aSegfaultIsReportedAsTheCause() async throws {
        try await withPool { pool in
            let died = try await pool.run("import ctypes\nctypes.string_at(0)", key: "segv")
            #expect(died.status == .kernelDied)
            #expect(died.death?.status == .signaled(SIGSEGV))
            let next = try await pool.run("1", key: "segv")
            #expect(next.notices.first?.description.contains("SIGSEGV") == true)
        }
    }

    // MARK: - Shutdown of everything

    @Test func shutdownAllLeavesNoProcess() async throws {
        let pool = KernelPool(configuration: PoolConfiguration(warmSpares: 1))
        var pids: [Int32] = []
        for key in ["a", "b", "c"] {
            let result = try await pool.run(
                "import os, subprocess\nchild = subprocess.Popen(['sleep', '300'])\nprint(os.getpid())\nprint(child.pid)",
                key: key)
            pids += result.stdout.split(separator: "\n").compactMap { Int32($0) }
        }
        #expect(pids.count == 6)
        // One key is busy when everything is shut down.
        // Streamed, so the test knows the code is running (not only requested) before the shutdown.
        let busy = await pool.execute("import time\nprint('running', flush=True)\ntime.sleep(60)", key: "busy")
        var events = busy.makeAsyncIterator()
        while let event = await events.next() {
            if case .stdout = event { break }
        }
        pids.append(try #require(await pool.list().first { $0.key == "busy" }?.pid))
        #expect(await eventually(within: spareStartBound) { await pool.readySpareCount == 1 })

        let outcomes = await pool.shutdownAll()
        #expect(Set(outcomes.keys) == ["a", "b", "c", "busy"])
        for pid in pids { #expect(!processIsAlive(pid), "process \(pid) survived shutdownAll") }
        #expect(await busy.outcome().status == .cancelled)
        #expect(await pool.list().isEmpty)
        #expect(await pool.readySpareCount == 0)
    }

    @Test func twentyKeysStartedConcurrentlyAllAnswer() async throws {
        let pool = KernelPool()
        let clock = ContinuousClock()
        let start = clock.now
        let answers = try await withThrowingTaskGroup(of: (Int, String?, Int32?).self) { group in
            for index in 0..<20 {
                group.addTask {
                    let result = try await pool.run(
                        "import os\nprint(os.getpid())\n\(index) * \(index)", key: "agent-\(index)")
                    return (index, result.resultText, lastInteger(in: result.stdout))
                }
            }
            var answers: [(Int, String?, Int32?)] = []
            for try await answer in group { answers.append(answer) }
            return answers
        }
        let elapsed = start.duration(to: clock.now)
        print("pool: 20 kernels started concurrently and answered in \(elapsed)")
        #expect(answers.count == 20)
        for (index, text, _) in answers { #expect(text == "\(index * index)") }
        let pids = answers.compactMap(\.2)
        #expect(Set(pids).count == 20)
        let listing = await pool.list()
        #expect(listing.count == 20)
        if let resident = listing.compactMap(\.residentMemoryBytes).min() {
            print("pool: idle kernel resident memory \(resident / 1024) KiB (smallest of 20)")
        }
        await pool.shutdownAll()
        for pid in pids { #expect(!processIsAlive(pid), "process \(pid) survived shutdownAll") }
    }

    // MARK: - Warm spares

    @Test func aWarmSpareIsHandedToANewKey() async throws {
        try await withPool(configuration: PoolConfiguration(warmSpares: 1)) { pool in
            let events = pool.events
            #expect(await eventually(within: spareStartBound) { await pool.readySpareCount == 1 })
            let result = try await pool.run("1 + 1", key: "fresh")
            #expect(result.resultText == "2")
            let started = await firstEvent(in: events) { $0.key == "fresh" && $0.kind.isStarted }
            guard case .started(_, _, let fromWarmSpare)? = started?.kind else {
                Issue.record("no started event")
                return
            }
            #expect(fromWarmSpare)
            // The pool makes a new spare for the next key.
            #expect(await eventually(within: spareStartBound) { await pool.readySpareCount == 1 })
            // A key with another configuration does not get the default-configured spare.
            try await withTemporaryDirectory { directory in
                _ = try await pool.run(
                    "1", key: "elsewhere", configuration: KernelConfiguration(workingDirectory: directory))
                #expect(await pool.readySpareCount == 1)
            }
        }
    }

    // MARK: - Host exit

    @Test func terminationSignalShutsEverythingDown() async throws {
        let pool = KernelPool()
        let pid = try await kernelPID(pool, key: "k")
        // SIGUSR2 stands in for SIGTERM, so the test process keeps its own SIGTERM handling.
        let watch = pool.shutdownAllOnTermination(signals: [SIGUSR2], thenExit: false)
        defer { watch.cancel() }
        // Process-directed, as a SIGTERM from outside is (`raise` would target this thread,
        // which may be a worker thread that blocks signals).
        kill(getpid(), SIGUSR2)
        #expect(await waitUntilGone(pid))
        #expect(await eventually { await pool.keys.isEmpty })
    }
}
