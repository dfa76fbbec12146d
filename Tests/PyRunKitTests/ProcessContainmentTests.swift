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
/// kernel's, and a lost frame channel is noticed (issue 9, items 3, 4, 6, 7). The process
/// layer alone, with short Python programs standing in for the runner.
@Suite struct ProcessContainmentTests {
    private static let linuxProc = ProcessTable.isAvailable

    // MARK: - Nothing escapes

    @Test(.enabled(if: linuxProc)) func aKillTakesDownAChildInANewSession() async throws {
        let (process, log) = try startStandIn(
            """
            import subprocess, time
            child = subprocess.Popen(["sleep", "61"], start_new_session=True)
            print(child.pid)
            time.sleep(120)
            """)
        let child = try #require(await log.printedIntegers().first)
        #expect(processIsAlive(child))
        process.signal(SIGKILL)
        let exit = try #require(await log.exited())
        #expect(exit.status == .signaled(SIGKILL))
        #expect(exit.hostSignal == SIGKILL)
        #expect(await waitUntilGone(child), "the child in its own session survived the kill")
    }

    @Test(.enabled(if: linuxProc)) func aKillTakesDownADoubleForkedDaemonOfASubreaper() async throws {
        // The stand-in makes itself a child subreaper, as runner.py does: the daemon, orphaned
        // at birth, becomes its child instead of init's.
        let (process, log) = try startStandIn(
            "import ctypes\nctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER\n"
                + RealRunner.doubleForkDaemon + "\ntime.sleep(120)\n")
        let daemon = try #require(await log.printedIntegers().first)
        #expect(processIsAlive(daemon))
        process.signal(SIGKILL)
        #expect(await log.exited() != nil)
        #expect(await waitUntilGone(daemon), "the daemon survived the kill")
    }

    @Test(.enabled(if: linuxProc)) func anExitAfterInputClosedTakesDownAChildInANewSession() async throws {
        // The host sends no signal: the stand-in exits on its own when its input ends, as the
        // runner does at shutdown, and leaves an orphan in a session of its own.
        let (process, log) = try startStandIn(
            """
            import subprocess, sys
            child = subprocess.Popen(["sleep", "61"], start_new_session=True)
            print(child.pid)
            sys.stdin.read()
            """)
        let child = try #require(await log.printedIntegers().first)
        process.closeInput()
        let exit = try #require(await log.exited())
        #expect(exit.status == .exited(0))
        #expect(exit.hostSignal == nil)
        #expect(await waitUntilGone(child), "the orphan survived the exit")
    }

    @Test(.enabled(if: linuxProc)) func aDeathWithoutWarningTakesDownChildrenThatLeftTheGroup() async throws {
        // Nothing sampled the child: it is found after the death by the session it still
        // carries. It also holds the frame pipe, which must not delay the exit report.
        let (_, log) = try startStandIn(
            """
            import os, time
            child = os.fork()
            if child == 0:
                os.setpgid(0, 0)
                time.sleep(61)
                os._exit(0)
            print(child)
            os._exit(3)
            """)
        let child = try #require(await log.printedIntegers().first)
        let printedAt = ContinuousClock.now
        let exit = try #require(await log.exited())
        let reportedAfter = printedAt.duration(to: .now)
        #expect(exit.status == .exited(3))
        #expect(await waitUntilGone(child), "the forked child survived its parent's death")
        // Past 2 s the host stops waiting for a held frame pipe; the child was killed instead,
        // so end of file came at once.
        #expect(reportedAfter < .milliseconds(1900), "the exit waited for the frame pipe: \(reportedAfter)")
    }

    @Test(.enabled(if: linuxProc)) func aChildOutsideTheSessionSeenAtAnInterruptDiesWhenTheKernelIsKilledFromOutside()
        async throws
    {
        // The host interrupts the stand-in once; later something else kills it outright. The
        // child, in a session of its own and orphaned by then, is found from what the host
        // saw at the interrupt.
        let (process, log) = try startStandIn(
            """
            import signal, subprocess, time
            child = subprocess.Popen(["sleep", "61"], start_new_session=True)
            signal.signal(signal.SIGINT, lambda *_: print("interrupted"))
            print(child.pid)
            time.sleep(120)
            """)
        let child = try #require(await log.printedIntegers().first)
        process.signal(SIGINT)
        #expect(await log.printedLine(1) == "interrupted")
        kill(process.pid, SIGKILL)
        let exit = try #require(await log.exited())
        #expect(exit.status == .signaled(SIGKILL))
        #expect(
            exit.hostSignal == nil, "SIGINT is not a signal meant to end the kernel, and the kill was not the host's")
        #expect(await waitUntilGone(child))
    }

    // MARK: - Only the kernel's own processes are signalled

    @Test func theKernelCannotDragTheHostsGroupIntoItsSignals() async throws {
        let witness = startSleeperInHostGroup()
        defer { stopSleeper(witness) }
        try #require(witness > 0 && getpgid(witness) == getpgrp())
        let (process, log) = try startStandIn(
            """
            import os, signal, time
            try:
                os.setpgid(0, os.getpgid(os.getppid()))
                print("moved")
            except OSError as error:
                print("refused", error.errno)
            signal.signal(signal.SIGINT, lambda *_: print("interrupted"))
            time.sleep(120)
            """)
        let attempt = try #require(await log.printedLine(0))
        #if os(Linux)
        // A session of its own: the kernel cannot even join the host's group.
        #expect(attempt == "refused \(EPERM)")
        #endif
        process.signal(SIGINT)
        #expect(await log.printedLine(1) == "interrupted", "the interrupt did not reach the kernel")
        process.signal(SIGKILL)
        #expect(await log.exited()?.status == .signaled(SIGKILL))
        #expect(processIsAlive(witness), "a process of the host's own group was signalled")
    }

    @Test(.enabled(if: linuxProc)) func aKernelCannotLeaveItsOwnGroup() async throws {
        // As a session leader the kernel cannot move to another group, not even its child's
        // in its own session, so its group always reaches it. (Where it could move, macOS,
        // the host signals its pid alone once it no longer leads the group.)
        let (process, log) = try startStandIn(
            """
            import os, signal, subprocess, time
            child = subprocess.Popen(["sleep", "61"], preexec_fn=os.setpgrp)
            while os.getpgid(child.pid) != child.pid:
                time.sleep(0.01)
            try:
                os.setpgid(0, child.pid)
                print("moved", child.pid)
            except OSError as error:
                print("refused", error.errno, child.pid)
            signal.signal(signal.SIGINT, lambda *_: print("interrupted"))
            time.sleep(120)
            """)
        let attempt = try #require(await log.printedLine(0))
        #expect(attempt.hasPrefix("refused \(EPERM) "))
        let child = try #require(attempt.split(separator: " ").last.flatMap { Int32($0) })
        process.signal(SIGINT)
        #expect(await log.printedLine(1) == "interrupted")
        #expect(processIsAlive(child), "an interrupt reached a group the kernel does not lead")
        process.signal(SIGKILL)
        #expect(await log.exited()?.status == .signaled(SIGKILL))
        #expect(await waitUntilGone(child), "the kill missed a child in a group of its own")
    }

    // MARK: - The frame channel

    @Test func closingTheFramePipeWhileRunningIsNoticed() async throws {
        let (process, log) = try startStandIn("import os, time\nos.close(1)\ntime.sleep(61)")
        #expect(await log.until(20) { log.sawFrameChannelClosed ? true : nil } == true)
        #expect(log.exit == nil, "reported as closed only while the process lives")
        #expect(processIsAlive(process.pid))
        process.signal(SIGKILL)
        #expect(await log.exited()?.hostSignal == SIGKILL)
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
            process.signal(SIGKILL)
            #expect(await log.exited() != nil)
        }
    }

    @Test func aProcessThatExitsNeverSaysItsFrameChannelClosed() async throws {
        // End of file at an exit races the exit itself; it must never be taken for a channel
        // closed by a live process, however the process ends.
        let endings = [
            "pass", "import sys; sys.exit(4)", "import os; os._exit(1)", "raise SystemExit('bye')",
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
        ]
        for round in 0..<40 {
            let ending = endings[round % endings.count]
            let (_, log) = try startStandIn(
                "print('{\"type\":\"started\",\"id\":\"e\",\"executionCount\":1}')\n\(ending)")
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
