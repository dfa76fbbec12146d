import Foundation
import Logging
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process layer alone, with plain shell commands standing in for a runner.
@Suite struct KernelProcessTests {
    private func shell(_ script: String) throws -> KernelProcess {
        try KernelProcess(
            command: LaunchCommand(executable: "/bin/sh", arguments: ["-c", script]),
            environment: ["PATH": "/usr/bin:/bin"], logger: Logger(label: "test"))
    }

    /// Collects every event until the process is reaped.
    private func drain(_ process: KernelProcess) async -> (lines: [String], status: TerminationStatus?) {
        var lines: [String] = []
        var status: TerminationStatus?
        for await event in process.eventsOneByOne {
            switch event {
            case .malformedLine(let preview, _): lines.append(preview)
            case .frame(let frame): lines.append("\(frame)")
            case .exited(let exit): status = exit.status
            case .frameChannelClosed: break
            }
        }
        return (lines, status)
    }

    @Test func exitStatusAndDiagnosticsAreReported() async throws {
        let process = try shell("echo oops >&2; exit 7")
        var diagnostics = ""
        var status: TerminationStatus?
        for await event in process.eventsOneByOne {
            if case .exited(let exit) = event {
                status = exit.status
                diagnostics = exit.diagnostics
            }
        }
        #expect(status == .exited(7))
        #expect(diagnostics == "oops\n")
    }

    @Test func writingAfterTheProcessDiedThrowsInsteadOfKillingTheHost() async throws {
        // Without SIGPIPE ignored this write would end the test process itself.
        let process = try shell("exec 0<&-; exit 0")
        _ = await drain(process)
        #expect(throws: KernelInputClosed.self) { try process.send(.info(id: "q1")) }
        #expect(throws: KernelInputClosed.self) { try process.send(.info(id: "q2")) }
    }

    @Test func theGroupIsKilledWhenItsLeaderExits() async throws {
        // The leader leaves a background child that ignores SIGTERM and exits at once.
        let process = try shell("trap '' TERM; sleep 300 & echo $!; exit 0")
        let (lines, status) = await drain(process)
        #expect(status == .exited(0))
        let child = try #require(lines.first.flatMap { Int32($0) })
        #expect(await waitUntilGone(child))
    }

    @Test func deathIsReportedEvenWhileAProcessOutsideTheGroupHoldsThePipes() async throws {
        // `setsid` takes the child out of the group, so nothing closes its copy of the pipes.
        let process = try shell("setsid sleep 300 & echo $!; exit 4")
        let (lines, status) = await drain(process)
        #expect(status == .exited(4))
        let outsider = try #require(lines.first.flatMap { Int32($0) })
        kill(outsider, SIGKILL)
    }

    @Test func signalsReachTheWholeGroup() async throws {
        let process = try shell("sleep 300 & echo $!; wait")
        var iterator = process.eventsOneByOne.makeAsyncIterator()
        guard case .malformedLine(let preview, _) = await iterator.next(), let child = Int32(preview) else {
            Issue.record("no pid line")
            return
        }
        #expect(processIsAlive(child))
        process.signalGroup(SIGTERM)
        #expect(await waitUntilGone(child))
        var status: TerminationStatus?
        while let event = await iterator.next() {
            if case .exited(let exit) = event { status = exit.status }
        }
        #expect(status == .signaled(SIGTERM))
        process.signalGroup(SIGKILL)  // after reaping: a harmless no-op, never a stranger
    }

    @Test func aPartialLastLineIsStillDelivered() async throws {
        let process = try shell("printf '{\"type\":\"started\",\"id\":\"e1\",\"executionCount\":3}'")
        let (lines, _) = await drain(process)
        #expect(lines == ["\(Frame.started(id: "e1", executionCount: 3))"])
    }
}

extension KernelProcess {
    /// The batched events one at a time, as these tests read them.
    var eventsOneByOne: AsyncStream<ProcessEvent> {
        let batches = events
        return AsyncStream { continuation in
            let task = Task {
                for await batch in batches {
                    for event in batch { continuation.yield(event) }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
