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

/// The real runner under the process layer, driven over the wire as the kernel layer drives
/// it: user code that starts processes outside its group, moves the runner's group, or closes
/// its descriptors (issue 9, items 3, 4, 6, 7).
///
/// `aDoubleForkedDaemonDiesAtShutdown` and `aDoubleForkedDaemonDiesAtAKill` need the runner to
/// be a child subreaper (runner.py, phase 1 item 7): without it the daemon is init's child
/// from birth and nothing on the host can tell it came from the kernel.
@Suite struct RunnerContainmentTests {
    private static let linuxProc = ProcessTable.isAvailable

    @Test(.enabled(if: linuxProc)) func aChildInANewSessionDiesAtShutdown() async throws {
        let runner = try await RealRunner()
        let child = try #require(
            await runner.printedInteger(
                "import subprocess\nprint(subprocess.Popen(['sleep', '61'], start_new_session=True).pid)"))
        #expect(processIsAlive(child))
        let exit = try #require(await runner.shutDown())
        #expect(exit.status == .exited(0))
        #expect(await waitUntilGone(child), "a child in its own session outlived the shutdown")
    }

    @Test(.enabled(if: linuxProc)) func childrenThatLeftTheGroupDieAtAKill() async throws {
        let runner = try await RealRunner()
        let printed = await runner.printedIntegers(
            """
            import os, subprocess, sys
            own_session = subprocess.Popen(['sleep', '61'], start_new_session=True)
            setsid_python = subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(61)'])
            own_group = subprocess.Popen(['sleep', '61'], preexec_fn=os.setpgrp)
            print(own_session.pid, setsid_python.pid, own_group.pid)
            """)
        #expect(printed.count == 3)
        runner.process.signal(SIGKILL)
        let exit = try #require(await runner.log.exited())
        #expect(exit.status == .signaled(SIGKILL))
        for pid in printed { #expect(await waitUntilGone(pid), "\(pid) outlived the kill") }
    }

    @Test(.enabled(if: linuxProc)) func aDoubleForkedDaemonDiesAtShutdown() async throws {
        let runner = try await RealRunner()
        let daemon = try #require(await runner.printedInteger(RealRunner.doubleForkDaemon))
        #expect(processIsAlive(daemon))
        _ = await runner.shutDown()
        #expect(await waitUntilGone(daemon), "the daemon outlived the shutdown")
    }

    @Test(.enabled(if: linuxProc)) func aDoubleForkedDaemonDiesAtAKill() async throws {
        let runner = try await RealRunner()
        let daemon = try #require(await runner.printedInteger(RealRunner.doubleForkDaemon))
        runner.process.signal(SIGKILL)
        #expect(await runner.log.exited() != nil)
        #expect(await waitUntilGone(daemon), "the daemon outlived the kill")
    }

    @Test func userCodeCannotMoveTheRunnerIntoTheHostsGroup() async throws {
        let witness = startSleeperInHostGroup()
        defer { stopSleeper(witness) }
        try #require(witness > 0)
        let runner = try await RealRunner()
        let outcome = await runner.printed(
            """
            import os
            try:
                os.setpgid(0, os.getpgid(os.getppid()))
                print('moved')
            except OSError as error:
                print('refused', error.errno)
            """)
        #if os(Linux)
        #expect(outcome == "refused \(EPERM)\n")
        #endif
        // Whatever happened, the runner can still be interrupted, and only it.
        let id = runner.start("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
        #expect(await runner.log.until(20) { runner.stdout(of: id).contains("sleeping") ? true : nil } == true)
        runner.process.signal(SIGINT)
        let done = await runner.done(id)
        #expect(done?.cancelled == true, "the interrupt did not reach the runner")
        runner.process.signal(SIGKILL)
        #expect(await runner.log.exited() != nil)
        #expect(processIsAlive(witness), "a process of the host's group was signalled")
    }

    @Test func closingLowDescriptorsNeverHangs() async throws {
        // What happens depends on where the runner keeps its own descriptors; that the host
        // hears the end of the execution, a lost channel or a death, it does not.
        let runner = try await RealRunner()
        let id = runner.start("import os\nos.closerange(3, 20)")
        let heard = await runner.log.until(20) { () -> String? in
            if runner.frames.contains(where: { if case .done(id, _) = $0 { true } else { false } }) { return "done" }
            if runner.log.sawFrameChannelClosed { return "frame channel closed" }
            return runner.log.exit.map { "exit \($0.status)" }
        }
        #expect(heard != nil, "nothing heard of the execution after os.closerange(3, 20)")
        runner.process.signal(SIGKILL)
        #expect(await runner.log.exited() != nil)
    }

    @Test(.enabled(if: linuxProc)) func closingTheFrameDescriptorIsNoticedWhileTheCodeRuns() async throws {
        // User code finds the runner's private write ends of the pipes the host reads (frames
        // and diagnostics), closes them, and keeps running.
        let runner = try await RealRunner()
        _ = runner.start(
            """
            import fcntl, os, time
            def pipes(pid):
                found = {}
                for name in os.listdir('/proc/%d/fd' % pid):
                    try:
                        target = os.readlink('/proc/%d/fd/%s' % (pid, name))
                    except OSError:
                        continue
                    if target.startswith('pipe:'):
                        found.setdefault(target, []).append(int(name))
                return found
            host_pipes = set(pipes(os.getppid()))
            for target, fds in pipes(os.getpid()).items():
                for fd in fds:
                    if target in host_pipes and fd > 2 and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                        os.close(fd)
            time.sleep(60)
            """)
        let heard = await runner.log.until(20) { () -> Bool? in
            runner.log.sawFrameChannelClosed || runner.log.exit != nil ? true : nil
        }
        #expect(heard == true, "the host did not notice that its frame channel was closed")
        runner.process.signal(SIGKILL)
        #expect(await runner.log.exited() != nil)
    }
}

/// The real runner, spawned by the process layer, spoken to in requests and frames.
final class RealRunner: Sendable {
    let process: KernelProcess
    let log: ProcessEventLog
    private let counter = Mutex(0)

    /// A daemon made the classic way: fork, `setsid`, fork again, the middle process exits
    /// and the daemon's standard descriptors go to /dev/null. Prints the daemon's pid.
    static let doubleForkDaemon = """
        import os, time
        r, w = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.setsid()
            if os.fork() == 0:
                os.write(w, b'%d' % os.getpid())
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.closerange(3, 65536)
                time.sleep(61)
                os._exit(0)
            os._exit(0)
        os.waitpid(middle, 0)
        os.close(w)
        print(os.read(r, 64).decode())
        """

    init() async throws {
        let installation = try RunnerInstallation.current()
        process = try KernelProcess(
            command: LaunchCommand.local(python: standInPython, runner: installation),
            environment: ProcessInfo.processInfo.environment, logger: Logger(label: "test"))
        log = ProcessEventLog(process)
        let hello = await log.until(30) { () -> Bool? in
            log.frames.contains { if case .hello = $0 { true } else { false } } ? true : nil
        }
        try #require(hello == true, "the runner did not say hello: \(log.all)")
    }

    var frames: [Frame] { log.frames }

    /// Sends `code` for execution and returns its id.
    func start(_ code: String) -> String {
        let serial = counter.withLock { count in
            count += 1
            return count
        }
        let id = "t\(serial)"
        try? process.send(.execute(id: id, code: code, options: .init()))
        return id
    }

    /// The stdout of execution `id` so far.
    func stdout(of id: String) -> String {
        frames.reduce(into: "") { text, frame in
            if case .output(id, .stdout, let chunk) = frame { text += chunk }
        }
    }

    /// Waits for execution `id` to end.
    func done(_ id: String, within seconds: Double = 30) async -> DoneReport? {
        await log.until(seconds) { () -> DoneReport? in
            for case .done(id, let report) in frames { return report }
            return nil
        }
    }

    /// Runs `code` and returns what it printed.
    func printed(_ code: String) async -> String? {
        let id = start(code)
        guard await done(id) != nil else { return nil }
        return stdout(of: id)
    }

    func printedIntegers(_ code: String) async -> [Int32] {
        (await printed(code) ?? "").split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
    }

    func printedInteger(_ code: String) async -> Int32? {
        await printedIntegers(code).first
    }

    /// Shuts down as the kernel layer does: an `exit` request, then end of input.
    func shutDown() async -> ProcessExit? {
        try? process.send(.exit)
        process.closeInput()
        return await log.exited()
    }
}

extension ProcessEventLog {
    var frames: [Frame] {
        all.compactMap { event in
            if case .frame(let frame) = event { return frame }
            return nil
        }
    }
}
