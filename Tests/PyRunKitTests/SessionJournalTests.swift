import Foundation
import Testing

@testable import PyRunKit

/// The journal alone, without a kernel: numbering, bounds, replay and the seam, the gap
/// marker, a slow observer, closing, and the JSON forms.
@Suite struct SessionJournalTests {
    private func note(_ text: String) -> SessionEvent {
        .execution(executionID: "1", .stdout(text))
    }

    // MARK: - Numbering and bounds

    @Test func numbersGrowByOneAndTheOldestAreDroppedPastTheEntryBound() {
        let journal = SessionJournal(limits: JournalLimits(maximumEntries: 10))
        let sequences = (1...25).compactMap { journal.append(note("line \($0)\n"))?.sequence }
        #expect(sequences == Array(1...25))
        let status = journal.status
        #expect(status.firstSequence == 16)
        #expect(status.nextSequence == 26)
        #expect(status.keptEntries == 10)
        #expect(status.droppedEntries == 15)
        #expect(journal.entries.map(\.sequence) == Array(16...25))
    }

    @Test func theByteBoundDropsOldEntriesButKeepsTheNewest() {
        let journal = SessionJournal(limits: JournalLimits(maximumEntries: 1000, maximumBytes: 10_000))
        for index in 1...20 { journal.append(note(String(repeating: "x", count: 1000) + "\(index)")) }
        let kept = journal.status
        #expect(kept.keptBytes <= 10_000)
        #expect(kept.keptEntries < 20 && kept.keptEntries > 0)
        #expect(journal.entries.last?.sequence == 20)
        // One entry larger than the whole bound is still kept, alone.
        journal.append(note(String(repeating: "y", count: 50_000)))
        #expect(journal.entries.map(\.sequence) == [21])
    }

    @Test func theDefaultsKeepAThousandEntriesAndEightMebibytes() {
        let limits = JournalLimits()
        #expect(limits.maximumEntries == 1000)
        #expect(limits.maximumBytes == 8 << 20)
    }

    // MARK: - Replay, the seam and the gap

    @Test func replayThenLiveLosesAndRepeatsNothingAtTheSeam() async {
        // Observers start while another thread appends as fast as it can (as a kernel's
        // reader thread does): each must see one contiguous run of sequence numbers, whatever
        // moment it joined.
        for round in 0..<10 {
            let journal = SessionJournal(limits: JournalLimits(maximumEntries: 5000, observerBacklogEntries: 100_000))
            for index in 0..<50 { journal.append(note("before \(index)")) }
            let total = 2000
            let appended = DispatchSemaphore(value: 0)
            Thread {
                for index in 0..<total { journal.append(note("during \(index)")) }
                appended.signal()
            }.start()
            let observation = journal.observe(from: 1)
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    appended.wait()
                    continuation.resume()
                }
            }
            journal.close()
            var sequences: [Int] = []
            var liveMarkers: [Int] = []
            for await item in observation {
                switch item {
                case .entry(let entry): sequences.append(entry.sequence)
                case .live(let next): liveMarkers.append(next)
                case .gap, .fellBehind: Issue.record("round \(round): unexpected \(item)")
                }
            }
            #expect(sequences == Array(1...(50 + total)), "round \(round)")
            #expect(liveMarkers.count == 1, "round \(round)")
            if let next = liveMarkers.first {
                #expect(next >= 51 && next <= 50 + total + 1, "round \(round)")
            }
        }
    }

    @Test func aStartOlderThanWhatIsKeptGetsAGapMarkerNamingTheDroppedCount() async {
        let journal = SessionJournal(limits: JournalLimits(maximumEntries: 10))
        for index in 1...25 { journal.append(note("\(index)")) }
        journal.close()

        var items: [JournalObservation.Item] = []
        for await item in journal.observe(from: 3) { items.append(item) }
        guard case .gap(let gap) = items.first else {
            Issue.record("no gap marker first: \(items.prefix(2))")
            return
        }
        #expect(gap.requestedFrom == 3)
        #expect(gap.firstKept == 16)
        #expect(gap.droppedCount == 13)
        #expect(gap.description.contains("13 earlier entries were dropped"))
        let replayed = items.compactMap { item -> Int? in
            if case .entry(let entry) = item { entry.sequence } else { nil }
        }
        #expect(replayed == Array(16...25))
        #expect(items.last == .live(nextSequence: 26))

        // From the oldest kept, or later: no gap.
        var fromKept: [JournalObservation.Item] = []
        for await item in journal.observe(from: 20) { fromKept.append(item) }
        #expect(fromKept.first == .entry(journal.entries[4]))
        #expect(!fromKept.contains { if case .gap = $0 { true } else { false } })
    }

    // MARK: - A slow observer

    @Test func aSlowObserverIsToldItFellBehindAndWhereToResumeWhileOthersGetEverything() async {
        let journal = SessionJournal(limits: JournalLimits(maximumEntries: 100, observerBacklogEntries: 5))
        let slow = journal.observe()
        let fast = journal.observe()
        let fastReader = Task {
            var sequences: [Int] = []
            for await item in fast { if case .entry(let entry) = item { sequences.append(entry.sequence) } }
            return sequences
        }
        // Appending never waits for anyone: 40 entries go in while the slow one reads nothing.
        for index in 1...40 {
            journal.append(note("\(index)"))
            // Give the fast reader its turn now and then, so it stays within its backlog.
            if index % 4 == 0 {
                await Task.yield()
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        #expect(journal.status.nextSequence == 41)

        var slowItems: [JournalObservation.Item] = []
        for await item in slow { slowItems.append(item) }
        let slowSequences = slowItems.compactMap { item -> Int? in
            if case .entry(let entry) = item { entry.sequence } else { nil }
        }
        #expect(slowSequences == [1, 2, 3, 4, 5])
        #expect(slowItems.last == .fellBehind(resumeFrom: 6))

        // Resuming where it was told to gets the rest (all still kept here).
        var resumed: [Int] = []
        for await item in journal.observe(from: 6) {
            if case .entry(let entry) = item { resumed.append(entry.sequence) }
            if case .live = item { break }
        }
        #expect(resumed == Array(6...40))

        journal.close()
        let fastSequences = await fastReader.value
        #expect(fastSequences == Array(1...40))
    }

    @Test func cancellingTheObservingTaskEndsTheObservation() async {
        let journal = SessionJournal()
        let observation = journal.observe()
        let reader = Task {
            var count = 0
            for await _ in observation { count += 1 }
            return count
        }
        #expect(await eventually { journal.status.observers == 1 })
        reader.cancel()
        _ = await reader.value
        #expect(journal.status.observers == 0)
        journal.append(note("after"))
    }

    @Test func closingEndsObservationsAfterWhatTheyWereGiven() async {
        let journal = SessionJournal()
        journal.append(note("one"))
        let observation = journal.observe()
        journal.append(note("two"))
        journal.close()
        #expect(journal.append(note("ignored")) == nil)
        var texts: [String] = []
        for await item in observation {
            if case .entry(let entry) = item, case .execution(_, .stdout(let text)) = entry.event { texts.append(text) }
        }
        #expect(texts == ["one", "two"])
    }

    // MARK: - JSON

    @Test func everyKindOfEntryComesBackFromItsJSON() throws {
        let hello = KernelHello(
            protocolVersion: 1, pid: 4242, pythonVersion: "3.12.1", executable: "/usr/bin/python3",
            workingDirectory: "/tmp", preludeFailures: [], limitsIgnored: [])
        let death = KernelDeath(
            cause: .stoppedByPyrun(.interruptNotHonoured(grace: .seconds(2))), status: .signaled(9), processID: 4242,
            executionID: "e3", memory: KernelMemory(lastResidentBytes: 1000, peakResidentBytes: 2000, limitBytes: nil),
            diagnostics: "Fatal Python error\nsecond line")
        let outcome = ExecutionOutcome(
            status: .kernelDied, executionCount: 3,
            error: PythonError(name: "ValueError", value: "bad", traceback: ["a", "b"]),
            death: death, startFailure: nil,
            report: DoneReport(
                ok: false, executionCount: 3, cancelled: false, durationMs: 12, cpuMs: 4, peakRssBytes: 9000,
                droppedBytes: 17),
            duration: .milliseconds(250))
        let events: [SessionEvent] = [
            .input(executionID: "3", code: "print('hi')\n1/0", client: "alice (tty1)"),
            .execution(executionID: "3", .started(executionCount: 3)),
            .execution(executionID: "3", .stdout("hi\n")),
            .execution(executionID: "3", .stderr("warning\n")),
            .execution(
                executionID: "3",
                .display(MIMEBundle(["text/plain": .string("<img>"), "image/png": .string("iVBO")]), metadata: nil)),
            .execution(executionID: "3", .result(MIMEBundle(["text/plain": .string("42")]), executionCount: 3)),
            .execution(
                executionID: "3",
                .error(PythonError(name: "ZeroDivisionError", value: "division by zero", traceback: []))),
            .execution(executionID: "3", .inputRequest(prompt: "name? ", password: false)),
            .execution(executionID: "3", .notice(KernelNotice(.died(death), key: "main"))),
            .execution(executionID: "3", .notice(KernelNotice(.timedOut(after: .seconds(5))))),
            .execution(executionID: "3", .finished(outcome)),
            .execution(
                executionID: "4",
                .finished(
                    ExecutionOutcome(
                        status: .failedToStart, startFailure: KernelError(.interpreterNotFound, "no python")))),
            .kernelStarted(hello, previousPID: nil),
            .kernelStarted(hello, previousPID: 4000),
            .kernelDied(death),
            .kernelDied(KernelDeath(cause: .killedFromOutside(signal: 9), status: .signaled(9), processID: 7)),
            .kernelDied(KernelDeath(cause: .exited(code: 3), status: .exited(3), processID: 8)),
            .kernelDied(
                KernelDeath(
                    cause: .templateDied(processID: 41, status: .signaled(9)), status: .exited(-1), processID: 9)),
            .kernelDied(
                KernelDeath(cause: .templateDied(processID: 42, status: .exited(1)), status: .exited(-1), processID: 10)
            ),
            .kernelStopped(.idleCull),
            .interruptRequested(client: "bob"),
            .reset(client: "carol"),
        ]
        for (index, event) in events.enumerated() {
            let entry = JournalEntry(
                sequence: index + 1, date: Date(timeIntervalSince1970: 1_700_000_000.25), event: event)
            let line = entry.json.serialized()
            let decoded = JournalEntry(json: try JSONValue.parse(Array(line.utf8)))
            #expect(decoded == entry, "\(line)")
        }
        // The description a remote client shows is the one the server would have shown.
        let decodedDeath = try #require(KernelDeath(json: death.json))
        #expect(decodedDeath.description == death.description)
    }
}
