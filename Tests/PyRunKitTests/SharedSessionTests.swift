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

/// Reads an observation into an array until `done` holds for what was read (or the bound runs out).
final class ObservationRecorder: Sendable {
    private final class Storage: Sendable {
        let items = Mutex<[JournalObservation.Item]>([])
    }

    private let storage = Storage()
    private let reader: Task<Void, Never>

    init(_ observation: JournalObservation) {
        let storage = self.storage
        reader = Task {
            for await item in observation { storage.items.withLock { $0.append(item) } }
        }
    }

    var all: [JournalObservation.Item] { storage.items.withLock { $0 } }

    var events: [SessionEvent] {
        all.compactMap { item in if case .entry(let entry) = item { entry.event } else { nil } }
    }

    var sequences: [Int] {
        all.compactMap { item in if case .entry(let entry) = item { entry.sequence } else { nil } }
    }

    /// Waits until `condition` holds for the events read so far: a liveness bound.
    func waitFor(within seconds: Double = 60, _ condition: @escaping @Sendable ([SessionEvent]) -> Bool) async -> Bool {
        await eventually(within: seconds) { condition(self.events) }
    }

    func stop() {
        reader.cancel()
    }
}

extension [SessionEvent] {
    /// The stdout text of execution `id`, as recorded.
    func stdout(of id: String) -> String {
        compactMap { event -> String? in
            if case .execution(id, .stdout(let text)) = event { text } else { nil }
        }.joined()
    }

    /// Whether the execution `id` has finished.
    func finished(_ id: String) -> Bool {
        contains { if case .execution(id, .finished) = $0 { true } else { false } }
    }

    var deaths: [KernelDeath] {
        compactMap { if case .kernelDied(let death) = $0 { death } else { nil } }
    }

    var starts: [(pid: Int32, previous: Int32?)] {
        compactMap { if case .kernelStarted(let hello, let previous) = $0 { (hello.pid, previous) } else { nil } }
    }

    func index(of predicate: (SessionEvent) -> Bool) -> Int? { firstIndex(where: predicate) }
}

/// A shared session on a real kernel: several clients, their own results, everyone's view,
/// and the kernel's life in the journal.
@Suite struct SharedSessionTests {
    @Test func twoClientsSeeEachOthersExecutionsAndShareState() async throws {
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: .forTests)) { pool in
            let session = SharedSession(name: "shared", pool: pool)
            let aliceView = ObservationRecorder(session.journal.observe())
            let bobView = ObservationRecorder(session.journal.observe())
            defer {
                aliceView.stop()
                bobView.stop()
            }
            let first = try await session.run("x = 20\nprint('alice was here')", client: "alice")
            let second = try await session.run("print('bob sees', x + 1)", client: "bob")
            #expect(first.stdout == "alice was here\n")
            #expect(second.stdout == "bob sees 21\n")

            for view in [aliceView, bobView] {
                #expect(await view.waitFor { $0.finished(second.id) })
                let events = view.events
                #expect(
                    events.contains(
                        .input(executionID: first.id, code: "x = 20\nprint('alice was here')", client: "alice")))
                #expect(
                    events.contains(.input(executionID: second.id, code: "print('bob sees', x + 1)", client: "bob")))
                #expect(events.stdout(of: first.id) == "alice was here\n")
                #expect(events.stdout(of: second.id) == "bob sees 21\n")
                #expect(events.starts.count == 1)
            }
            #expect(aliceView.sequences == bobView.sequences)
            await session.close()
        }
    }

    @Test func executionsRunOneAtATimeInArrivalOrderAndEachClientGetsItsOwnResult() async throws {
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: .forTests)) { pool in
            let session = SharedSession(name: "order", pool: pool)
            let slow = await session.execute(
                "import time\nfor i in range(3):\n    print('slow', i, flush=True)\n    time.sleep(0.1)",
                client: "alice")
            let quick = await session.execute("print('quick')", client: "bob")
            async let slowResult = slow.result()
            async let quickResult = quick.result()
            let (alice, bob) = try await (slowResult, quickResult)
            #expect(alice.stdout == "slow 0\nslow 1\nslow 2\n")
            #expect(bob.stdout == "quick\n")
            #expect(alice.succeeded && bob.succeeded)
            #expect((bob.executionCount ?? 0) == (alice.executionCount ?? 0) + 1)

            // In the journal, bob's code starts only after alice's finished.
            let events = session.journal.entries.map(\.event)
            let aliceEnd = try #require(
                events.index { if case .execution(slow.id, .finished) = $0 { true } else { false } })
            let bobInput = try #require(
                events.index { if case .input(quick.id, _, "bob") = $0 { true } else { false } })
            #expect(aliceEnd < bobInput)
            await session.close()
        }
    }

    @Test func anyClientInterruptsTheRunningExecutionAndTheJournalSaysWho() async throws {
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: .forTests)) { pool in
            let session = SharedSession(name: "interrupt", pool: pool)
            let view = ObservationRecorder(session.journal.observe())
            defer { view.stop() }
            // The kernel is started first, so the bound below never covers a slow start.
            _ = try await session.run("pass", client: "alice")
            let sleeper = await session.execute(
                "import time\nprint('sleeping', flush=True)\ntime.sleep(60)", client: "alice")
            #expect(await view.waitFor { $0.stdout(of: sleeper.id) == "sleeping\n" })
            await session.interrupt(client: "bob")
            let outcome = await sleeper.outcome()
            #expect(outcome.status == .cancelled)
            #expect(outcome.error?.name == "KeyboardInterrupt")
            #expect(await view.waitFor { $0.finished(sleeper.id) })
            #expect(view.events.contains(.interruptRequested(client: "bob")))
            // The kernel lives on with its state.
            let after = try await session.run("print('still here')", client: "bob")
            #expect(after.stdout == "still here\n")
            #expect(view.events.starts.count == 1)
            await session.close()
        }
    }

    @Test func aCrashIsSeenWithItsCauseAndTheNextExecutionRestartsTheKernel() async throws {
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: .forTests)) { pool in
            let session = SharedSession(name: "crash", pool: pool)
            let view = ObservationRecorder(session.journal.observe())
            defer { view.stop() }
            let setup = try await session.run("import os\nstate = 1\nos.getpid()", client: "alice")
            let firstPID = try #require(setup.resultText.flatMap { Int32($0) })

            let crash = try await session.run("import ctypes\nctypes.string_at(0)", client: "alice")
            #expect(crash.status == .kernelDied)
            #expect(crash.death?.cause == .crashed(signal: SIGSEGV))
            #expect(await view.waitFor { $0.finished(crash.id) })
            let deaths = view.events.deaths
            #expect(deaths.count == 1)
            #expect(deaths.first?.processID == firstPID)
            #expect(deaths.first?.cause == .crashed(signal: SIGSEGV))
            // The death comes before the execution's end, and after its input.
            let events = view.events
            let died = try #require(events.index { if case .kernelDied = $0 { true } else { false } })
            let ended = try #require(
                events.index { if case .execution(crash.id, .finished) = $0 { true } else { false } })
            #expect(died < ended)

            let next = try await session.run("import os\nprint('state' in globals())\nos.getpid()", client: "bob")
            #expect(next.stdout == "False\n")
            let secondPID = try #require(next.resultText.flatMap { Int32($0) })
            #expect(secondPID != firstPID)
            #expect(await view.waitFor { $0.finished(next.id) })
            let starts = view.events.starts
            #expect(starts.count == 2)
            #expect(starts.last?.pid == secondPID)
            #expect(starts.last?.previous == firstPID)
            // One numbering for the session's whole life.
            #expect(view.sequences == Array(1...(view.sequences.last ?? 0)))
            await session.close()
            #expect(await waitUntilGone(secondPID))
        }
    }

    @Test func aDeathWhileIdleReachesObserversAtOnce() async throws {
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: .forTests)) { pool in
            let session = SharedSession(name: "idle-death", pool: pool)
            let view = ObservationRecorder(session.journal.observe())
            defer { view.stop() }
            let pidResult = try await session.run("import os\nos.getpid()", client: "alice")
            let pid = try #require(pidResult.resultText.flatMap { Int32($0) })
            kill(pid, SIGKILL)
            #expect(await view.waitFor { !$0.deaths.isEmpty })
            #expect(view.events.deaths.first?.cause == .killedFromOutside(signal: SIGKILL))
            #expect(view.events.deaths.first?.processID == pid)

            let again = try await session.run("1 + 1", client: "bob")
            #expect(again.resultText == "2")
            #expect(await view.waitFor { $0.finished(again.id) })
            #expect(view.events.deaths.count == 1)
            #expect(view.events.starts.last?.previous == pid)
            await session.close()
        }
    }

    @Test func aResetIsRecordedWithWhoAskedAndTheFreshProcess() async throws {
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: .forTests)) { pool in
            let session = SharedSession(name: "reset", pool: pool)
            let before = try await session.run("import os\nx = 1\nos.getpid()", client: "alice")
            let oldPID = try #require(before.resultText.flatMap { Int32($0) })
            try await session.reset(client: "carol")
            let events = session.journal.entries.map(\.event)
            #expect(events.contains(.reset(client: "carol")))
            let restart = try #require(events.starts.last)
            #expect(restart.previous == oldPID)
            let after = try await session.run("print('x' in globals())", client: "alice")
            #expect(after.stdout == "False\n")
            #expect(await waitUntilGone(oldPID))
            await session.close()
        }
    }

    @Test func closingStopsTheKernelAndEndsObservations() async throws {
        try await withPool(configuration: PoolConfiguration(defaultConfiguration: .forTests)) { pool in
            let session = SharedSession(name: "close", pool: pool)
            let result = try await session.run("import os\nos.getpid()", client: "alice")
            let pid = try #require(result.resultText.flatMap { Int32($0) })
            let observation = session.journal.observe()
            let ended = Task {
                var last: SessionEvent?
                for await item in observation { if case .entry(let entry) = item { last = entry.event } }
                return last
            }
            await session.close()
            #expect(await ended.value == .kernelStopped(.shutdown))
            #expect(await waitUntilGone(pid))
            let late = await session.execute("1", client: "alice").outcome()
            #expect(late.status == .failedToStart)
        }
    }
}
