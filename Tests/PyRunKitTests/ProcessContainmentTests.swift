import Foundation
import Logging
import PyRunTesting
import Synchronization
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Nothing a kernel starts escapes it, the host never signals anything that is not the
/// kernel's, and a lost frame channel is noticed (issue 9, items 3, 4, 5, 6, 7). The process
/// layer alone, with short Python programs standing in for the runner.
@Suite struct ProcessContainmentTests {
    private static let linuxProc = ProcessTable.isAvailable

    // MARK: - The frame channel

    @Test func closingTheFramePipeWhileRunningIsNoticed() async throws {
        let (process, log) = try startStandIn("import os, time\nos.close(1)\ntime.sleep(61)")
        #expect(await log.until(20) { log.sawFrameChannelClosed ? true : nil } == true)
        #expect(log.exit == nil, "reported as closed only while the process lives")
        #expect(processIsAlive(process.pid))
        process.signalGroup(SIGKILL)
        #expect(await log.exited()?.status == .signaled(SIGKILL))
    }

    @Test func replacingTheFramePipeWithAFileIsNoticed() async throws {
        try await withTemporaryDirectory { directory in
            let (process, log) = try startStandIn(
                """
                import os, time
                target = os.open(\"\(directory)/diverted.txt\", os.O_WRONLY | os.O_CREAT)
                os.dup2(target, 1)
                print("this goes to the file")
                time.sleep(61)
                """)
            #expect(await log.until(20) { log.sawFrameChannelClosed ? true : nil } == true)
            process.signalGroup(SIGKILL)
            #expect(await log.exited() != nil)
        }
    }

    @Test func aProcessThatExitsNeverSaysItsFrameChannelClosed() async throws {
        // End of file at an exit races the exit itself; it must never be taken for a channel
        // closed by a live process, however the process ends.
        let endings = ["pass", "import sys; sys.exit(4)", "import os; os._exit(1)", "raise SystemExit('bye')",
                       "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
        for round in 0..<40 {
            let ending = endings[round % endings.count]
            let (_, log) = try startStandIn("print('{\"type\":\"started\",\"id\":\"e\",\"executionCount\":1}')\n\(ending)")
            let exit = try #require(await log.exited())
            #expect(!log.sawFrameChannelClosed, "\(ending) was reported as a closed frame channel")
            #expect(log.all.count == 2, "\(log.all)")
            _ = exit
        }
    }

    // MARK: - Spawning and the parent-death signal

    #if os(Linux)

    @Test(.enabled(if: linuxProc)) func aChildAskingForAParentDeathSignalOutlivesTheThreadThatCreatedIt() async throws {
        // Linux sends the parent-death signal when the *thread* that spawned it exits.
        // The process is created on a thread that ends once the child has asked for the
        // signal; the child must live on, and see the host's pid as its parent and in
        // PYRUN_HOST_PID.
        try await withTemporaryDirectory { directory in
            let asked = "\(directory)/asked"
            let script = """
                import ctypes, json, os, signal, sys
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
                open("\(asked)", "w").close()
                print("host" if os.environ.get("PYRUN_HOST_PID") == str(os.getppid()) else "stranger")
                for line in sys.stdin:
                    print("echo", json.loads(line)["id"])
                """
            let made = Mutex<(KernelProcess, ProcessEventLog)?>(nil)
            let creator = try runOnThreadThatEnds {
                guard let started = try? startStandIn(script) else { return }
                made.withLock { $0 = started }
                // The thread ends only once the child has asked for the signal. The marker is
                // a file, not the event log, which needs the cooperative pool to fill.
                let deadline = ContinuousClock.now + .seconds(60)
                while access(asked, F_OK) != 0, ContinuousClock.now < deadline { usleep(5000) }
            }
            let (process, log) = try #require(made.withLock { $0 })
            #expect(access(asked, F_OK) == 0, "the child never asked for the signal")
            // Once the creating thread has left the task list its exit has been processed: any
            // parent-death signal would have been sent by then.
            #expect(await log.until(20) { access("/proc/self/task/\(creator)", F_OK) != 0 ? true : nil } == true)
            #expect(await log.printedLine(0) == "host")
            try process.send(.info(id: "ping"))
            #expect(await log.printedLine(1) == "echo ping")
            process.closeInput()
            #expect(await log.exited()?.status == .exited(0))
        }
    }
    #endif
}

#if os(Linux)
/// Runs `body` on a new thread and returns once that thread has ended (joined); the result
/// is the thread's id, to see it leave the task list.
func runOnThreadThatEnds(_ body: @escaping @Sendable () -> Void) throws -> Int32 {
    final class Context: Sendable {
        let body: @Sendable () -> Void
        let threadID = Mutex<Int32>(0)
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Context(body)
    var handle = pthread_t()
    let started = pthread_create(
        &handle, nil,
        { raw in
            let context = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
            // gettid() is not exported to Swift; /proc/thread-self links to "<pid>/task/<tid>".
            let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
            context.threadID.withLock { $0 = link.split(separator: "/").last.flatMap { Int32($0) } ?? 0 }
            context.body()
            return nil
        }, Unmanaged.passRetained(context).toOpaque())
    guard started == 0 else { throw POSIXError(POSIXErrorCode(rawValue: started) ?? .EAGAIN) }
    pthread_join(handle, nil)
    let threadID = context.threadID.withLock { $0 }
    guard threadID > 0 else { throw POSIXError(.ENOENT) }
    return threadID
}
#endif
