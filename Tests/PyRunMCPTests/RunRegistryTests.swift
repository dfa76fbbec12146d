import Foundation
import PyRunKit
import Synchronization
import Testing

@testable import PyRunMCP

/// A run whose events the test sends by hand.
final class ScriptedExecution: RunningExecution {
    private let stream: AsyncStream<RunEvent>
    private let continuation: AsyncStream<RunEvent>.Continuation
    private let interrupts = Mutex(0)

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: RunEvent.self)
    }

    func events() -> AsyncStream<RunEvent> { stream }

    /// Interrupting ends the run the way Python does: a KeyboardInterrupt, then the outcome.
    func interrupt() async {
        interrupts.withLock { $0 += 1 }
        send(.stderr("KeyboardInterrupt\n"), .finished(RunOutcome(status: .interrupted)))
    }

    var interruptCount: Int { interrupts.withLock { $0 } }

    func send(_ events: RunEvent...) {
        for event in events { continuation.yield(event) }
    }

    func endWithoutOutcome() { continuation.finish() }
}

/// A run that ignores interrupts until the test ends it.
final class StubbornExecution: RunningExecution {
    private let stream: AsyncStream<RunEvent>
    private let continuation: AsyncStream<RunEvent>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: RunEvent.self)
    }

    func events() -> AsyncStream<RunEvent> { stream }

    func interrupt() async {}

    func end(_ outcome: RunOutcome) { continuation.yield(.finished(outcome)) }
}

/// A registry in a fresh directory, removed afterwards.
private func withRegistry<T>(
    limit: Int = 2000, secrets: [String] = [], _ adjust: (inout RunRegistry.Configuration) -> Void = { _ in },
    _ body: (RunRegistry, String) async throws -> T
) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pyrun-mcp-test-\(UUID().uuidString)")
        .path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var configuration = RunRegistry.Configuration(
        directory: directory, budget: OutputBudget(limit: limit), redactor: SecretRedactor(secrets: secrets))
    adjust(&configuration)
    return try await body(try RunRegistry(configuration: configuration), directory)
}

private func start(_ registry: RunRegistry, _ execution: some RunningExecution, session: String = "main") async throws
    -> String
{
    guard case .started(let id) = try await registry.start(session: session, generation: 1, execution: execution) else {
        Issue.record("the session was busy")
        return ""
    }
    return id
}

private let done = RunEvent.finished(RunOutcome(status: .ok, cpuSeconds: 0.01, peakRSSBytes: 1 << 20))

@Suite struct RunRegistryTests {
    // MARK: - Running and finished

    @Test func aRunningRunShowsItsOutputSoFarAndThenOnlyWhatCameAfter() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(.started(executionCount: 4), .stdout("step 1\nstep 2\n"))
            let first = try await registry.wait(for: id, atMost: .milliseconds(300))
            #expect(first.report.status == .running)
            #expect(first.report.runID == id)
            #expect(first.report.stdout == "step 1\nstep 2\n")
            execution.send(.stdout("step 3\n"), .result(MIMEBundle(["text/plain": .string("42")])), done)
            let second = try await registry.wait(for: id, atMost: .seconds(30))
            #expect(second.report.status == .ok)
            #expect(second.report.stdout == "step 3\n")
            #expect(second.report.result == "42")
            #expect(second.report.executionCount == 4)
            #expect(second.report.cpuSeconds == 0.01)
            #expect(second.report.truncation == nil)
        }
    }

    @Test func waitReturnsWhenTheRunEndsNotWhenTheTimeRunsOut() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            Task {
                try await Task.sleep(for: .milliseconds(100))
                execution.send(done)
            }
            let clock = ContinuousClock()
            let started = clock.now
            // The bound is far from the 100 ms the run takes and far from the wait's own limit,
            // so a test run that starves this task for a while cannot blur the two.
            let snapshot = try await registry.wait(for: id, atMost: .seconds(600))
            #expect(snapshot.report.status == .ok)
            #expect(clock.now - started < .seconds(300))
        }
    }

    @Test func aSessionWithARunGoingIsBusyAndOthersAreNot() async throws {
        try await withRegistry { registry, _ in
            let first = ScriptedExecution()
            let id = try await start(registry, first)
            #expect(
                try await registry.start(session: "main", generation: 1, execution: ScriptedExecution())
                    == .busy(runID: id))
            #expect(await registry.runningRun(in: "main") == id)
            let other = try await start(registry, ScriptedExecution(), session: "other")
            #expect(other != id)
            first.send(done)
            _ = try await registry.wait(for: id, atMost: .seconds(30))
            #expect(await registry.runningRun(in: "main") == nil)
            _ = try await start(registry, ScriptedExecution())
        }
    }

    @Test func twoCallsRacingForAFreeSessionNeverBothLaunch() async throws {
        try await withRegistry { registry, _ in
            let (entered, enteredSignal) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
            let execution = ScriptedExecution()
            let first = Task {
                try await registry.start(session: "main", generation: 1) {
                    enteredSignal.yield()
                    for await _ in release { break }
                    return execution
                }
            }
            for await _ in entered { break }
            let launchedSecond = Mutex(false)
            let second = try await registry.start(session: "main", generation: 1) {
                launchedSecond.withLock { $0 = true }
                return ScriptedExecution()
            }
            #expect(second == .busy(runID: "r1"))
            #expect(!launchedSecond.withLock { $0 })
            releaseSignal.yield()
            #expect(try await first.value == .started(runID: "r1"))
            execution.send(done)
            #expect(try await registry.wait(for: "r1", atMost: .seconds(30)).report.status == .ok)
        }
    }

    @Test func anInterruptDuringTheLaunchReachesTheRunOnceItStarts() async throws {
        try await withRegistry { registry, _ in
            let (entered, enteredSignal) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
            let execution = ScriptedExecution()
            let started = Task {
                try await registry.start(session: "main", generation: 1) {
                    enteredSignal.yield()
                    for await _ in release { break }
                    return execution
                }
            }
            #expect(try await started.value == .started(runID: "r1"))
            for await _ in entered { break }
            try await registry.interrupt("r1")
            #expect(execution.interruptCount == 0)
            releaseSignal.yield()
            #expect(try await registry.wait(for: "r1", atMost: .seconds(30)).report.status == .interrupted)
            #expect(execution.interruptCount == 1)
        }
    }

    @Test func theCallerIsAnsweredWhileTheLaunchIsStillGoing() async throws {
        try await withRegistry { registry, _ in
            let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
            let execution = ScriptedExecution()
            let started = try await registry.start(session: "main", generation: 1) {
                for await _ in release { break }
                return execution
            }
            #expect(started == .started(runID: "r1"))
            let starting = try await registry.wait(for: "r1", atMost: .milliseconds(50))
            #expect(starting.report.status == .running)
            #expect(starting.report.notices.map(\.kind) == ["starting"])
            #expect(
                try await registry.start(session: "main", generation: 1, execution: ScriptedExecution())
                    == .busy(runID: "r1"))
            releaseSignal.yield()
            execution.send(done)
            let finished = try await registry.wait(for: "r1", atMost: .seconds(30)).report
            #expect(finished.status == .ok)
            #expect(finished.notices.isEmpty)
        }
    }

    @Test func aLaunchThatFailsEndsTheRunAsAnErrorWithTheReasonAndFreesTheSession() async throws {
        struct LaunchFailed: Error, CustomStringConvertible {
            var description: String { "no interpreter at /nowhere/python3" }
        }
        try await withRegistry { registry, _ in
            let started = try await registry.start(session: "main", generation: 1) { throw LaunchFailed() }
            #expect(started == .started(runID: "r1"))
            let report = try await registry.wait(for: "r1", atMost: .seconds(30)).report
            #expect(report.status == .error)
            let notice = report.notices.first { $0.kind == "failed_to_start" }
            #expect(notice?.message.contains("no interpreter at /nowhere/python3") == true)
            #expect(await registry.runningRun(in: "main") == nil)
            let next = ScriptedExecution()
            let nextID = try await start(registry, next)
            next.send(done)
            #expect(try await registry.wait(for: nextID, atMost: .seconds(30)).report.status == .ok)
        }
    }

    @Test func aFewShortRepeatedLinesAreShownSquashedNotLeftOut() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(.stdout(String(repeating: "same\n", count: 10)), .stderr("warn\nwarn\nwarn\n"), done)
            let report = try await registry.wait(for: id, atMost: .seconds(30)).report
            #expect(report.stdout.hasPrefix("same\n[pyrun: the line above repeats 9 more times"))
            #expect(report.stderr.hasPrefix("warn\n[pyrun: the line above repeats 2 more times"))
            #expect(report.truncation?.stdout?.elidedCharacters ?? 0 == 0)
            #expect(report.truncation?.stdout?.squashedLines == 9)
        }
    }

    @Test func aProgressBarShowsItsCurrentStateWhileRunningAndItsLastAtTheEnd() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(.stderr("\r 10%"), .stderr("\r 40%"))
            let running = try await registry.wait(for: id, atMost: .milliseconds(300))
            #expect(running.report.stderr == " 40%")
            execution.send(.stderr("\r100%\n"), done)
            let finished = try await registry.wait(for: id, atMost: .seconds(30))
            #expect(finished.report.stderr == "100%\n")
        }
    }

    @Test func anErrorComesWithItsTracebackAndIsAnError() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(
                .stdout("before\n"),
                .error(
                    PythonError(
                        name: "ZeroDivisionError", value: "division by zero",
                        traceback: [
                            "Traceback (most recent call last):", "  File \"<cell 1>\", line 2, in <module>",
                            "ZeroDivisionError: division by zero",
                        ])),
                .finished(RunOutcome(status: .error)))
            let report = try await registry.wait(for: id, atMost: .seconds(30)).report
            #expect(report.status == .error && report.status.isError)
            #expect(report.error?.type == "ZeroDivisionError")
            #expect(report.error?.traceback.last == "ZeroDivisionError: division by zero")
            #expect(report.summaryLine.hasPrefix("error: ZeroDivisionError: division by zero"))
        }
    }

    @Test func aHugeExceptionMessageIsCutInTheReportAndItsSummary() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            let message = String(repeating: "z", count: 500_000)
            execution.send(
                .error(PythonError(name: "ValueError", value: message, traceback: ["ValueError: \(message)"])),
                .finished(RunOutcome(status: .error)))
            let report = try await registry.wait(for: id, atMost: .seconds(30)).report
            let shown = try #require(report.error?.message)
            #expect(shown.hasPrefix(String(repeating: "z", count: RunRecord.messageLimit)))
            #expect(shown.hasSuffix("(499000 more characters; see python_output)"))
            #expect(report.summaryLine.count < 2 * RunRecord.messageLimit)
            #expect(report.error?.traceback.joined().count ?? 0 < 100_000)
        }
    }

    @Test func interruptReachesTheExecution() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            try await registry.interrupt(id)
            let report = try await registry.wait(for: id, atMost: .seconds(30)).report
            #expect(execution.interruptCount == 1)
            #expect(report.status == .interrupted)
            #expect(report.stderr == "KeyboardInterrupt\n")
            try await registry.interrupt(id)  // finished: nothing more to interrupt
            #expect(execution.interruptCount == 1)
        }
    }

    @Test func eventsThatEndWithoutAnOutcomeAreReportedNotLost() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(.stdout("partial"))
            execution.endWithoutOutcome()
            let report = try await registry.wait(for: id, atMost: .seconds(30)).report
            #expect(report.status == .died)
            #expect(report.stdout == "partial")
            #expect(report.notices.map(\.kind) == ["lost_track"])
        }
    }

    @Test func noticesPassOnceAndAreRedacted() async throws {
        try await withRegistry(secrets: ["hunter2hunter2"]) { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(.notice(.init(kind: "restarted", stateLost: true, message: "restarted with hunter2hunter2")))
            let first = try await registry.wait(for: id, atMost: .milliseconds(200)).report
            #expect(first.notices == [.init(kind: "restarted", stateLost: true, message: "restarted with [redacted]")])
            execution.send(done)
            #expect(try await registry.wait(for: id, atMost: .seconds(30)).report.notices.isEmpty)
        }
    }

    // MARK: - Output that does not fit

    @Test func hugeOutputIsCutWithANoteThatPagingCanFollow() async throws {
        try await withRegistry(limit: 3000) { registry, directory in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            for block in 0..<100 {
                execution.send(.stdout((1...1000).map { "line \(block * 1000 + $0)\n" }.joined()))
            }
            execution.send(
                .stderr("Traceback (most recent call last):\nValueError: the end\n"),
                .finished(RunOutcome(status: .error)))
            let report = try await registry.wait(for: id, atMost: .seconds(60)).report
            #expect(report.stdout.unicodeScalars.count + report.stderr.unicodeScalars.count <= 3000)
            #expect(report.stdout.hasPrefix("line 1\n"))
            #expect(report.stdout.hasSuffix("line 100000\n"))
            #expect(report.stderr == "Traceback (most recent call last):\nValueError: the end\n")
            let truncation = try #require(report.truncation)
            let elided = try #require(truncation.stdout)
            #expect(truncation.fullOutputPath == "\(directory)/\(id).txt")
            #expect(report.stdout.contains("python_output(run_id: \"\(id)\", offset: \(elided.firstLine - 1))"))
            // The lines the note names are in the file, in order.
            let page = try await registry.page(of: id, offset: elided.firstLine - 1, limit: 3)
            #expect(page.lines.map(\.number) == [elided.firstLine, elided.firstLine + 1, elided.firstLine + 2])
            #expect(page.lines.first?.text == "line \(elided.firstLine)")
            #expect(page.nextOffset == elided.firstLine + 2)
            #expect(page.totalLines == 100_002)
            #expect(!page.running)
            let file = try String(contentsOfFile: truncation.fullOutputPath, encoding: .utf8)
            #expect(file.hasPrefix("line 1\nline 2\n"))
            #expect(file.contains("line 99999\nline 100000\n"))
        }
    }

    @Test func grepFindsLinesWithTheirNumbers() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(
                .stdout((1...5000).map { $0 % 1000 == 0 ? "checkpoint \($0)\n" : "row \($0)\n" }.joined()), done)
            _ = try await registry.wait(for: id, atMost: .seconds(30))
            let page = try await registry.page(of: id, offset: 1, limit: 2, grep: "^checkpoint [0-9]+$")
            #expect(
                page.lines == [
                    .init(number: 2000, text: "checkpoint 2000"), .init(number: 3000, text: "checkpoint 3000"),
                ])
            #expect(page.matchingLines == 5)
            #expect(page.nextOffset == 3)
            await #expect(throws: RunRegistryError.self) { try await registry.page(of: id, grep: "([unclosed") }
            await #expect(throws: RunRegistryError.self) { try await registry.page(of: "r999") }
        }
    }

    @Test func aPageNeverExceedsTheBudgetAndSaysWhichLinesItShortened() async throws {
        try await withRegistry(limit: 5000) { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(.stdout(String(repeating: "x", count: 50_000) + "\nshort\n"), done)
            _ = try await registry.wait(for: id, atMost: .seconds(30))
            let page = try await registry.page(of: id, limit: 10)
            #expect(page.shortenedLines == [1])
            #expect(page.lines.reduce(0) { $0 + $1.text.count } <= 5000)
            #expect(page.lines.map(\.number) == [1, 2])
        }
    }

    // MARK: - Secrets and images

    @Test func secretsAreRedactedInRepliesAndInTheFileEvenWhenSplit() async throws {
        let secret = "sk-live-0123456789abcdef"
        try await withRegistry(secrets: [secret]) { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(
                .stdout("key: sk-live-01234"), .stdout("56789abcdef\n"), .stderr("again \(secret)\n"),
                .result(MIMEBundle(["text/plain": .string("'\(secret)'")])), done)
            let report = try await registry.wait(for: id, atMost: .seconds(30)).report
            #expect(report.stdout == "key: [redacted]\n")
            #expect(report.stderr == "again [redacted]\n")
            #expect(report.result == "'[redacted]'")
            let file = try String(contentsOfFile: "\(registry.configuration.directory)/\(id).txt", encoding: .utf8)
            #expect(!file.contains("0123456789"))
        }
    }

    @Test func imagesGoInlineWithinTheLimitsAndToFilesBeyondThem() async throws {
        try await withRegistry({
            $0.maximumInlineImages = 2
            $0.maximumInlineImageBytes = 1000
        }) { registry, directory in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            let small = Data(repeating: 1, count: 500).base64EncodedString()
            let large = Data(repeating: 2, count: 5000).base64EncodedString()
            for data in [small, large, small, small] {
                execution.send(.display(MIMEBundle(["image/png": .string(data), "text/plain": .string("<Figure>")])))
            }
            execution.send(done)
            let snapshot = try await registry.wait(for: id, atMost: .seconds(30))
            let images = snapshot.report.images
            #expect(images.map(\.inline) == [true, false, true, false])
            #expect(images.map(\.bytes) == [500, 5000, 500, 500])
            #expect(snapshot.inlineImages.count == 2)
            #expect(snapshot.inlineImages.first?.base64 == small)
            #expect(images[1].path == "\(directory)/\(id)-image-2.png")
            #expect(FileManager.default.contents(atPath: images[1].path!)?.count == 5000)
            #expect(snapshot.report.truncation?.imagesNotInline == 2)
            #expect(snapshot.report.stdout.contains("[pyrun: image 1 (image/png, 500 bytes)]"))
            #expect(
                snapshot.report.stdout.contains(
                    "[pyrun: image 2 (image/png, 5,000 bytes), saved to \(directory)/\(id)-image-2.png]"))
        }
    }

    // MARK: - What the server asks of a run

    @Test func theOutcomeIsReadWithoutTakingWhatTheModelHasNotSeen() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(.stdout("one\ntwo"))
            #expect(try await registry.outcome(of: id, waitingAtMost: .milliseconds(50)) == nil)
            #expect(try await registry.latestLine(of: id) == "two")
            execution.send(.stdout("\n"), done)
            #expect(try await registry.outcome(of: id, waitingAtMost: .seconds(30))?.status == .ok)
            #expect(try await registry.latestLine(of: id) == "two")
            #expect(try await registry.wait(for: id, atMost: .zero).report.stdout == "one\ntwo\n")
        }
    }

    @Test func theGenerationIsTheOneTheLaunchFound() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            guard
                case .started(let id) = try await registry.start(
                    session: "main",
                    launch: {
                        RunRegistry.Launch(execution: execution, generation: 7)
                    })
            else {
                Issue.record("the session was busy")
                return
            }
            execution.send(done)
            #expect(try await registry.wait(for: id, atMost: .seconds(30)).report.generation == 7)
        }
    }

    @Test func howACancelledCallEndedIsToldOnTheSessionsNextRunOnly() async throws {
        try await withRegistry { registry, _ in
            let cancelled = ScriptedExecution()
            let id = try await start(registry, cancelled)
            try await registry.interrupt(id, by: .clientCancellation)
            _ = try await registry.outcome(of: id, waitingAtMost: .seconds(30))
            #expect(cancelled.interruptCount == 1)
            #expect(await !registry.isBeingInterrupted(id))

            let elsewhere = ScriptedExecution()
            let other = try await start(registry, elsewhere, session: "other")
            elsewhere.send(done)
            #expect(try await registry.wait(for: other, atMost: .seconds(30)).report.notices.isEmpty)

            let next = ScriptedExecution()
            let nextID = try await start(registry, next)
            next.send(done)
            let notices = try await registry.wait(for: nextID, atMost: .seconds(30)).report.notices
            #expect(notices.map(\.kind) == ["cancelled"])
            #expect(notices.first?.stateLost == false)
            #expect(notices.first?.message.contains("python_output(run_id: \"\(id)\")") == true)

            let after = ScriptedExecution()
            let afterID = try await start(registry, after)
            after.send(done)
            #expect(try await registry.wait(for: afterID, atMost: .seconds(30)).report.notices.isEmpty)
        }
    }

    @Test func aRunBeingInterruptedSaysSoUntilItEnds() async throws {
        try await withRegistry { registry, _ in
            let stubborn = StubbornExecution()
            let id = try await start(registry, stubborn)
            #expect(await !registry.isBeingInterrupted(id))
            try await registry.interrupt(id)
            #expect(await registry.isBeingInterrupted(id))
            stubborn.end(RunOutcome(status: .interrupted, interpreterEnded: true))
            let outcome = try await registry.outcome(of: id, waitingAtMost: .seconds(30))
            #expect(outcome?.interpreterEnded == true)
            #expect(await !registry.isBeingInterrupted(id))
        }
    }

    @Test func aFinalValueThatIsAnImageIsShownAsOne() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            let png = Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).base64EncodedString()
            execution.send(.result(MIMEBundle(["text/plain": .string("<Figure>"), "image/png": .string(png)])), done)
            let snapshot = try await registry.wait(for: id, atMost: .seconds(30))
            #expect(snapshot.report.result == "<Figure>")
            #expect(snapshot.inlineImages == [InlineImage(mimeType: "image/png", base64: png)])
        }
    }

    @Test func aStartFailureIsAnErrorWithTheReason() async throws {
        try await withRegistry { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(.finished(RunOutcome(status: .error, startFailure: "no interpreter at /nowhere/python")))
            let report = try await registry.wait(for: id, atMost: .seconds(30)).report
            #expect(report.status == .error)
            #expect(report.notices.map(\.kind) == ["failed_to_start"])
            #expect(
                report.summaryLine.hasPrefix(
                    "error: the Python interpreter could not be started: no interpreter at /nowhere/python"))
        }
    }

    // MARK: - Bounds

    @Test func oldFinishedRunsAreForgottenWithTheirFiles() async throws {
        try await withRegistry({ $0.maximumRuns = 3 }) { registry, directory in
            var ids: [String] = []
            for _ in 0..<5 {
                let execution = ScriptedExecution()
                let id = try await start(registry, execution)
                execution.send(.stdout("out\n"), done)
                _ = try await registry.wait(for: id, atMost: .seconds(30))
                ids.append(id)
            }
            // The newest start forgets the oldest beyond three; the other two are kept.
            await #expect(throws: RunRegistryError.self) { try await registry.page(of: ids[0]) }
            await #expect(throws: RunRegistryError.self) { try await registry.page(of: ids[1]) }
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/\(ids[0]).txt"))
            #expect(try await registry.page(of: ids[4]).lines.map(\.text) == ["out"])
        }
    }

    @Test func aFullOutputFileKeepsItsLinesWholeAndNumbered() async throws {
        try await withRegistry({ $0.maximumFileBytes = 100 }) { registry, _ in
            let execution = ScriptedExecution()
            let id = try await start(registry, execution)
            execution.send(.stdout((1...50).map { "line \($0)\n" }.joined()), done)
            _ = try await registry.wait(for: id, atMost: .seconds(30))
            let page = try await registry.page(of: id, limit: 100)
            #expect(page.totalLines == page.lines.count)
            #expect(page.lines.enumerated().allSatisfy { $0.element.text == "line \($0.offset + 1)" })
            #expect(page.lines.count < 50)
        }
    }
}

@Suite struct OutputWindowTests {
    @Test func itKeepsBothEndsAndCountsTheMiddle() {
        var window = OutputWindow(keepingAtEachEnd: 100)
        for number in 1...10_000 { window.append(NumberedLine(number: number, text: "line \(number)")) }
        #expect(window.head.first?.number == 1)
        #expect(window.tail.last?.number == 10_000)
        #expect(window.head.reduce(0) { $0 + $1.originalLength } < 100 + 12)
        #expect(window.tail.reduce(0) { $0 + $1.originalLength } < 100 + 12)
        let omitted = window.omitted!
        #expect(omitted.firstLine == window.head.last!.number + 1)
        #expect(omitted.lastLine == window.tail.first!.number - 1)
        #expect(omitted.lineCount == omitted.lastLine - omitted.firstLine + 1)
        let all = (1...10_000).reduce(0) { $0 + "line \($1)\n".count }
        let kept = (window.head + window.tail).reduce(0) { $0 + $1.originalLength }
        #expect(omitted.characters + kept == all)
    }

    @Test func aFittedWindowReportsWhatItsMiddleDropped() throws {
        var window = OutputWindow(keepingAtEachEnd: 1000)
        for number in 1...10_000 { window.append(NumberedLine(number: number, text: "line \(number)")) }
        let fitted = OutputBudget(limit: 1000).fit(window)
        let elision = try #require(fitted.elision)
        let all = (1...10_000).reduce(0) { $0 + "line \($1)\n".count }
        #expect(fitted.text.hasPrefix("line 1\n"))
        #expect(fitted.text.hasSuffix("line 10000\n"))
        let shown = fitted.text.split(separator: "\n").filter { $0.hasPrefix("line ") }
        #expect(elision.characters + shown.reduce(0) { $0 + $1.count + 1 } == all)
        #expect(shown.count == 10_000 - (elision.lastLine - elision.firstLine + 1))
    }
}

@Suite struct StreamCaptureTests {
    @Test func linesAreRenderedRedactedAndSplit() {
        var capture = StreamCapture(redactor: SecretRedactor(secrets: ["password123"]))
        var lines = capture.feed("\u{1B}[32mok\u{1B}[0m pass")
        #expect(lines.isEmpty)
        #expect(capture.openLine == "ok pass")
        lines += capture.feed("word123\nnext")
        #expect(lines == [.init(text: "ok [redacted]", hasNewline: true)])
        #expect(capture.finish() == [.init(text: "next", hasNewline: false)])
    }

    @Test func aLineWithoutEndIsWrappedOnCharacterBoundaries() {
        var capture = StreamCapture(redactor: .disabled)
        var lines: [StreamCapture.Line] = []
        for _ in 0..<30 { lines += capture.feed(String(repeating: "é👍🏽", count: 3000)) }
        lines += capture.finish()
        #expect(lines.allSatisfy { $0.text.unicodeScalars.count <= StreamCapture.maximumLineLength })
        #expect(lines.map(\.text).joined() == String(repeating: "é👍🏽", count: 90_000))
        #expect(lines.dropLast().allSatisfy { $0.hasNewline })
    }
}

@Suite struct BudgetSharesTests {
    @Test func shortPartsGetWhatTheyNeedAndTheRestGoesToTheLongOnes() {
        #expect(OutputBudget.shares(of: 1000, for: [5000, 100, 0, 50]) == [850, 100, 0, 50])
        #expect(OutputBudget.shares(of: 1000, for: [5000, 5000]) == [500, 500])
        #expect(OutputBudget.shares(of: 1001, for: [5000, 5000]) == [500, 501])
        #expect(OutputBudget.shares(of: 1000, for: [10, 20]) == [10, 20])
        #expect(OutputBudget.shares(of: 1000, for: [400, 700, 700]) == [333, 333, 334])
    }
}
