import Foundation
import PyRunKit
import Testing

@testable import PyRunMCP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The adapter between the pool and the run registry, against a real pool.
@Suite struct PoolRunTests {
    private func events(of run: PoolRun) async -> [RunEvent] {
        var events: [RunEvent] = []
        for await event in run.events() { events.append(event) }
        return events
    }

    @Test func aPoolExecutionBecomesRunEventsEndingWithItsOutcome() async throws {
        try await withPool { pool in
            let run = PoolRun(await pool.execute("print('hi')\n6 * 7", key: "s"), session: "s")
            let events = await events(of: run)
            #expect(events.first == .started(executionCount: 1))
            #expect(events.contains(.stdout("hi\n")))
            #expect(events.contains { if case .result(let bundle) = $0 { bundle.plainText == "42" } else { false } })
            guard case .finished(let outcome)? = events.last else {
                Issue.record("no outcome at the end: \(events)")
                return
            }
            #expect(outcome.status == .ok)
            #expect(outcome.cpuSeconds != nil)
            #expect((outcome.peakRSSBytes ?? 0) > 0)
            #expect(!outcome.interpreterEnded)
        }
    }

    @Test func aDeathEndsTheRunAndTheNextRunStartsWithTheNotice() async throws {
        try await withPool { pool in
            let dying = await events(of: PoolRun(await pool.execute("import os\nos._exit(3)", key: "s"), session: "s"))
            guard case .finished(let outcome)? = dying.last else {
                Issue.record("no outcome at the end: \(dying)")
                return
            }
            #expect(outcome.status == .died)
            #expect(outcome.interpreterEnded)
            #expect(dying.contains { if case .notice(let notice) = $0 { notice.kind == "died" } else { false } })

            let next = await events(of: PoolRun(await pool.execute("1", key: "s"), session: "s"))
            guard case .notice(let notice)? = next.first else {
                Issue.record("the next run did not start with a notice: \(next)")
                return
            }
            #expect(notice.kind == "died")
            #expect(notice.stateLost)
            #expect(notice.message.hasPrefix("the previous interpreter of session \"s\" ended: "))
            #expect(notice.message.contains("exited with status 3"))
        }
    }

    @Test func anInterruptStopsTheCodeAndKeepsTheInterpreter() async throws {
        try await withPool { pool in
            let run = PoolRun(
                await pool.execute("import time\nprint('go', flush=True)\ntime.sleep(60)", key: "s"), session: "s")
            var events: [RunEvent] = []
            for await event in run.events() {
                events.append(event)
                if event == .stdout("go\n") { await run.interrupt() }
            }
            guard case .finished(let outcome)? = events.last else {
                Issue.record("no outcome at the end: \(events)")
                return
            }
            #expect(outcome.status == .interrupted)
            #expect(!outcome.interpreterEnded)
            #expect(
                events.contains { if case .error(let error) = $0 { error.name == "KeyboardInterrupt" } else { false } })
        }
    }

    @Test func aKernelThatCannotStartIsAnErrorWithTheReason() async throws {
        let configuration = PoolConfiguration(
            defaultConfiguration: KernelConfiguration(interpreter: .path("/nowhere/python3")))
        try await withPool(configuration: configuration) { pool in
            let events = await events(of: PoolRun(await pool.execute("1", key: "s"), session: "s"))
            guard case .finished(let outcome)? = events.last else {
                Issue.record("no outcome at the end: \(events)")
                return
            }
            #expect(outcome.status == .error)
            #expect(outcome.startFailure?.contains("/nowhere/python3") == true)
        }
    }
}

/// Kernel notices as a model reads them.
@Suite struct NoticeWordingTests {
    private func death(_ cause: KernelDeath.Cause) -> KernelDeath {
        KernelDeath(cause: cause, status: .signaled(SIGKILL), processID: 4242)
    }

    @Test func deathsSayWhoEndedTheInterpreterAndWhatIsLost() {
        let killed = ExecutionReport.Notice(
            KernelNotice(.died(death(.stoppedByPyrun(.interruptNotHonoured(grace: .seconds(2))))), key: "work"),
            session: "work")
        #expect(killed.kind == "killed_after_interrupt")
        #expect(killed.stateLost)
        #expect(killed.message.hasPrefix("the previous interpreter of session \"work\" ended: "))
        #expect(
            killed.message.hasSuffix("this call runs in a fresh interpreter: earlier variables and imports are gone"))

        let duringThisCall = ExecutionReport.Notice(
            KernelNotice(.died(death(.stoppedByPyrun(.timeout(after: .seconds(5)))))), session: "work")
        #expect(duringThisCall.kind == "killed_after_timeout")
        #expect(duringThisCall.message.contains("the next call starts a fresh one"))

        let crashed = ExecutionReport.Notice(
            KernelNotice(.died(death(.crashed(signal: SIGSEGV))), key: "work"), session: "work")
        #expect(crashed.kind == "died")
    }

    @Test func everyOtherKindNamesTheSession() {
        let kinds: [(KernelNotice.Kind, String, Bool)] = [
            (.evicted(maximumLiveKernels: 4), "evicted", true),
            (.culled(idleFor: .seconds(700), idleTimeout: .seconds(600)), "culled", true),
            (.shutDown, "closed", true),
            (.reset, "reset", true),
            (.timedOut(after: .seconds(3)), "timed_out", false),
            (.cancelledBeforeStart, "cancelled", false),
        ]
        for (kind, name, lost) in kinds {
            let notice = ExecutionReport.Notice(KernelNotice(kind, key: "data"), session: "data")
            #expect(notice.kind == name)
            #expect(notice.stateLost == lost, "\(name)")
            if lost { #expect(notice.message.contains("session \"data\""), "\(name)") }
        }
    }

    @Test func aPreludeFailureNamesTheFileAndLine() {
        let failure = PreludeFailure(
            file: "/w/tools.py", line: 5, error: PythonError(name: "ValueError", value: "bad", traceback: []))
        let notice = ExecutionReport.Notice(KernelNotice(.preludeFailed([failure])), session: "data")
        #expect(notice.kind == "prelude_failed")
        #expect(!notice.stateLost)
        #expect(notice.message.contains("session \"data\""))
        #expect(notice.message.contains("the prelude /w/tools.py raised at line 5: ValueError: bad"))
    }
}
