import Foundation
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pyrun serve` and its clients, each a real process: exec, attach, ls, stop, signals, and the
/// private socket.
@Suite struct ServeCommandTests {
    // MARK: - Clients

    @Test func execRunsInTheSharedSessionWithTheOneShotsExitStatuses() async throws {
        try await withServer { server, directory in
            let first = try await server.pyrun(["exec", "-c", "x = 41\nprint('set')"])
            #expect(first.status == 0)
            #expect(first.stdout == "set\n")
            let second = try await server.pyrun(["exec", "-c", "x + 1"])
            #expect(second.stdout == "42\n")
            let failing = try await server.pyrun(["exec", "-c", "1/0"])
            #expect(failing.status == 1)
            #expect(failing.stderr.contains("ZeroDivisionError: division by zero"))
            let exiting = try await server.pyrun(["exec", "-c", "import sys; sys.exit(3)"])
            #expect(exiting.status == 3)
            let piped = try await server.pyrun(["exec", "--session", "other"], input: "print('x' in globals())\n")
            #expect(piped.stdout == "False\n")

            let json = try await server.pyrun(["exec", "--json", "-c", "print('hi')\n2 + 2"])
            let lines = json.stdout.split(separator: "\n").map {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(lines.allSatisfy { $0 != nil })
            #expect(lines.compactMap { $0?["type"] as? String } == ["started", "stdout", "result", "done", "outcome"])
            #expect(lines.last??["exitCode"] as? Int == 0)

            let timedOut = try await server.pyrun(["exec", "--timeout", "0.5", "-c", "import time; time.sleep(30)"])
            #expect(timedOut.status == 124)

            // A file runs as a program: no value of a final expression is printed.
            try "print('from a file')\nx * 100\n".write(
                toFile: "\(directory)/program.py", atomically: true, encoding: .utf8)
            let file = try await server.pyrun(["exec", "\(directory)/program.py"])
            #expect(file.stdout == "from a file\n")
            // input() is answered from exec's own standard input when asked to be.
            let asked = try await server.pyrun(
                ["exec", "--allow-stdin", "-c", "name = input('who? ')\nprint('hi', name)"], input: "bob\n")
            #expect(asked.stdout == "who? hi bob\n")
            let refused = try await server.pyrun(["exec", "-c", "input('who? ')"])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("EOFError"))
            _ = try await server.stop()
        }
    }

    @Test func execWithoutAServerSaysHowToStartOne() async throws {
        try await withTemporaryDirectory { directory in
            let outcome = try await runPyrun(["exec", "-c", "1"], environment: ["XDG_RUNTIME_DIR": directory])
            #expect(outcome.status == 2)
            #expect(outcome.stderr.contains("no pyrun server is running; start one with: pyrun serve"))
        }
    }

    @Test func twoClientsSeeEachOthersExecutions() async throws {
        try await withServer { server, directory in
            // The kernel is started first, so the bounds below never cover a slow start.
            #expect(try await server.pyrun(["exec", "-c", "pass"]).status == 0)
            let alice = try server.start(["attach", "test:main", "--as", "alice"])
            #expect(await alice.waitForStdoutOrStderr(containing: "attached to 'main'"))
            let bob = try server.start(["attach", "test:main", "--as", "bob"])
            #expect(await bob.waitForStdoutOrStderr(containing: "attached to 'main'"))

            alice.write("shared = 'from alice'; print(shared)\n")
            #expect(
                await bob.waitForStdout(containing: "[alice] In [2]: shared = 'from alice'; print(shared)", seconds: 60)
            )
            #expect(await bob.waitForStdout(containing: "from alice\n", seconds: 60))
            bob.write("print(shared.upper())\n")
            #expect(await alice.waitForStdout(containing: "[bob] In [3]: print(shared.upper())"))
            #expect(await alice.waitForStdout(containing: "FROM ALICE\n"))
            // One-shot clients too, with their own result and everyone watching.
            let exec = try await server.pyrun(["exec", "--as", "carol", "-c", "len(shared)"])
            #expect(exec.stdout == "10\n")
            #expect(await alice.waitForStdout(containing: "[carol] In [4]: len(shared)\nOut[4]: 10\n"))
            #expect(await bob.waitForStdout(containing: "[carol] In [4]: len(shared)\nOut[4]: 10\n"))

            // Each sees its own input once (it typed it), the other's marked with who sent it.
            let aliceDone = await alice.finish()
            let bobDone = await bob.finish()
            #expect(aliceDone.status == 0)
            #expect(!aliceDone.stdout.contains("[alice]"))
            #expect(aliceDone.stderr.contains("detached; the kernel keeps running"))
            #expect(bobDone.stdout.contains("[alice] In [2]"))
            #expect(!bobDone.stdout.contains("[bob]"))

            // Detaching left the kernel and its state.
            let after = try await server.pyrun(["exec", "-c", "shared"])
            #expect(after.stdout == "'from alice'\n")
            _ = try await server.stop()
        }
    }

    @Test func attachReplaysTheHistoryFirstWithAGapWhenTheJournalDroppedSome() async throws {
        try await withServer(extraArguments: ["--journal-entries", "12"]) { server, directory in
            for index in 1...6 {
                let outcome = try await server.pyrun(["exec", "--as", "agent", "-c", "print('step \(index)')"])
                #expect(outcome.status == 0)
            }
            let attach = try await server.pyrun(["attach", "test:main"], input: "")
            #expect(attach.status == 0)
            // Each exec is 4 entries (input, started, stdout, finished), plus the kernel's start.
            #expect(attach.stderr.contains("pyrun: 13 earlier entries were dropped"))
            #expect(attach.stdout.contains("[agent] In [6]: print('step 6')\nstep 6\n"))
            #expect(!attach.stdout.contains("step 1\n"))
            let replayEnd = try #require(attach.stderr.range(of: "attached to 'main'"))
            let gap = try #require(attach.stderr.range(of: "earlier entries were dropped"))
            #expect(gap.lowerBound < replayEnd.lowerBound)
            _ = try await server.stop()
        }
    }

    @Test func attachAfterACrashShowsTheDeathWithItsCauseAndTheRestart() async throws {
        try await withServer { server, directory in
            let watcher = try server.start(["attach", "--as", "watcher"])
            #expect(await watcher.waitForStdoutOrStderr(containing: "attached to 'main'"))
            let setup = try await server.pyrun(["exec", "-c", "import os\nstate = 1\nos.getpid()"])
            let firstPID = try #require(Int32(setup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            let crash = try await server.pyrun(["exec", "-c", "import ctypes\nctypes.string_at(0)"])
            #expect(crash.status == 128 + SIGSEGV)
            // The attached client sees the death as it happens, with its cause.
            #expect(await watcher.waitForStderr(containing: "kernel died: the kernel crashed with signal 11 (SIGSEGV)"))

            // A client that attaches afterwards sees it in the replay, then the restart.
            let late = try await server.pyrun(["attach"], input: "print('state' in globals())\n")
            #expect(late.stderr.contains("pyrun: kernel died: the kernel crashed with signal 11 (SIGSEGV)"))
            #expect(late.stderr.contains("pyrun: kernel restarted:"))
            #expect(late.stderr.contains("replaces \(firstPID)"))
            #expect(late.stdout.hasSuffix("False\n"))
            #expect(await watcher.waitForStderr(containing: "replaces \(firstPID)"))
            _ = await watcher.finish()
            _ = try await server.stop()
        }
    }

    @Test func attachAnswersInputOfItsOwnCellsFromItsInput() async throws {
        try await withServer { server, _ in
            let attach = try await server.pyrun(["attach"], input: "name = input('who? ')\nbob\nprint('hello', name)\n")
            #expect(attach.status == 0)
            #expect(attach.stdout == "who? hello bob\n")
        }
    }

    @Test func ctrlCInAttachInterruptsTheSessionsRunningExecution() async throws {
        try await withServer { server, directory in
            #expect(try await server.pyrun(["exec", "-c", "pass"]).status == 0)
            let sleeper = try server.start([
                "exec", "--as", "agent", "-c", "import time\nprint('sleeping', flush=True)\ntime.sleep(60)",
            ])
            #expect(await sleeper.waitForStdout(containing: "sleeping", seconds: 60))
            let watcher = try server.start(["attach", "--as", "human"])
            #expect(await watcher.waitForStdoutOrStderr(containing: "attached to 'main'"))
            watcher.send(signal: SIGINT)
            let interrupted = await sleeper.finish()
            #expect(interrupted.status == 130)
            #expect(interrupted.stderr.contains("KeyboardInterrupt"))
            #expect(await watcher.waitForStderr(containing: "pyrun: [human] interrupted"))
            _ = await watcher.finish()
            _ = try await server.stop()
        }
    }

    // MARK: - Listing and stale files

    @Test func lsListsServersAndSessionsAndRemovesStaleConnectionFiles() async throws {
        try await withServer(name: "live") { server, directory in
            _ = try await server.pyrun(["exec", "--session", "analysis", "-c", "1"])
            // A server that was killed left its files behind: its pid is gone.
            let gone = Process()
            gone.executableURL = URL(fileURLWithPath: "/bin/true")
            try gone.run()
            gone.waitUntilExit()
            let staleFile = "\(server.runDirectory)/ghost.json"
            try """
            {"name":"ghost","pid":\(gone.processIdentifier),"socket":"\(server.runDirectory)/ghost.sock","started":0,"protocol":1}
            """.write(toFile: staleFile, atomically: true, encoding: .utf8)

            let listing = try await server.pyrun(["ls"])
            #expect(listing.status == 0)
            #expect(
                listing.stderr.contains(
                    "removed the connection file of 'ghost' (pid \(gone.processIdentifier) is gone)"))
            #expect(!FileManager.default.fileExists(atPath: staleFile))
            #expect(listing.stdout.contains("live  pid \(server.server.pid)"))
            #expect(listing.stdout.contains("  analysis  pid "))
            #expect(listing.stdout.contains("1 execution"))

            // `serve` removes a stale file of its own name, and refuses a live one.
            try """
            {"name":"ghost","pid":\(gone.processIdentifier),"socket":"\(server.runDirectory)/ghost.sock","started":0,"protocol":1}
            """.write(toFile: staleFile, atomically: true, encoding: .utf8)
            let ghost = try PyrunProcess(["serve", "--name", "ghost"], environment: server.environment)
            defer { if processIsAlive(ghost.pid) { ghost.send(signal: SIGTERM) } }
            #expect(await poll(seconds: 30) { ConnectionFileProbe.pid(at: staleFile) == ghost.pid })
            let duplicate = try await server.pyrun(["serve", "--name", "live"])
            #expect(duplicate.status == 1)
            #expect(duplicate.stderr.contains("a pyrun server named 'live' is already running"))
            _ = try await server.pyrun(["stop", "ghost"])
            _ = await ghost.finish()
            _ = try await server.stop()
        }
    }

    // MARK: - Stopping

    @Test func stopShutsEveryKernelDownAndLeavesNoProcessOrFile() async throws {
        try await withServer { server, directory in
            let child = try await server.pyrun([
                "exec", "--session", "a", "-c",
                "import subprocess\nchild = subprocess.Popen(['sleep', '300'])\nchild.pid",
            ])
            let childPID = try #require(Int32(child.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            let kernelA = try await server.kernelPID(session: "a")
            let kernelB = try await server.kernelPID(session: "b")
            let watcher = try server.start(["attach", "test:a"])
            #expect(await watcher.waitForStdoutOrStderr(containing: "attached to 'a'"))
            let ended = try await server.stop()
            #expect(ended.status == 0)
            for pid in [kernelA, kernelB, childPID] { #expect(await waitUntilGone(pid), "pid \(pid)") }
            // An attached client sees the kernel stop and leaves by itself (its input still open).
            #expect(await waitUntilGone(watcher.pid))
            let watched = await watcher.finish()
            #expect(watched.status == 1)
            #expect(watched.stderr.contains("pyrun: kernel stopped: pyrun shut the kernel down"))
            #expect(watched.stderr.contains("the session ended"))
            #expect(!FileManager.default.fileExists(atPath: server.connectionFile))
            #expect(!FileManager.default.fileExists(atPath: server.socket))
        }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aTerminationSignalStopsTheServerAsStopDoes(signal: Int32) async throws {
        try await withServer { server, directory in
            let kernel = try await server.kernelPID()
            server.server.send(signal: signal)
            let ended = await server.server.finish()
            #expect(ended.status == 0)
            #expect(ended.stderr.contains("'test' stopped"))
            #expect(await waitUntilGone(kernel))
            #expect(!FileManager.default.fileExists(atPath: server.connectionFile))
        }
    }

    @Test func noKernelSurvivesASIGKILLOfTheServer() async throws {
        try await withServer { server, directory in
            let child = try await server.pyrun([
                "exec", "-c", "import subprocess\nchild = subprocess.Popen(['sleep', '300'])\nchild.pid",
            ])
            let childPID = try #require(Int32(child.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            let idle = try await server.kernelPID()
            // A kernel busy in user code, with a child of its own.
            let busy = try server.start([
                "exec", "--session", "busy", "-c",
                "import os, subprocess, time\nchild = subprocess.Popen(['sleep', '300'])\nprint(os.getpid(), child.pid, flush=True)\ntime.sleep(300)",
            ])
            #expect(await poll(seconds: 30) { busy.stdout.hasSuffix("\n") })
            let busyPIDs = busy.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
            try #require(busyPIDs.count == 2, "\(busy.stdout)")
            server.server.send(signal: SIGKILL)
            _ = await server.server.finish()
            for pid in [idle, childPID] + busyPIDs { #expect(await waitUntilGone(pid), "pid \(pid)") }
            let busyEnded = await busy.finish()
            #expect(busyEnded.status != 0)
            // The next `ls` finds the files the killed server left and removes them.
            let listing = try await server.pyrun(["ls"])
            #expect(listing.stderr.contains("removed the connection file of 'test'"))
            #expect(!FileManager.default.fileExists(atPath: server.connectionFile))
        }
    }

    // MARK: - Privacy

    @Test func theSocketAndItsDirectoryArePrivateAndAnotherUserCannotConnect() async throws {
        try await withServer { server, directory in
            #expect(permissions(of: server.runDirectory) == 0o700)
            #expect(permissions(of: server.socket) == 0o600)
            #expect(permissions(of: server.connectionFile) == 0o600)

            guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
            else {
                _ = try await server.stop()
                return  // the mode bits above are what can be checked without another user
            }
            // `nobody` tries to connect: first the directory stops it, then (with the
            // directory opened up) the socket's mode, then (with the socket opened up too) the
            // server itself, which checks the peer's uid and hangs up without a word.
            chmod(directory, 0o755)
            chmod(server.runtimeDirectory, 0o755)
            let attempt = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(sys.argv[1])
                except PermissionError:
                    print("refused: permission"); sys.exit(0)
                s.settimeout(10)
                print("refused: hung up" if s.recv(100) == b"" else "connected")
                """
            func tryAsNobody() async throws -> String {
                let process = try PyrunProcess(
                    [
                        "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", attempt,
                        server.socket,
                    ],
                    executable: "/usr/bin/setpriv")
                return await process.finish().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(try await tryAsNobody() == "refused: permission")
            chmod(server.runDirectory, 0o711)
            #expect(try await tryAsNobody() == "refused: permission")
            chmod(server.socket, 0o666)
            #expect(try await tryAsNobody() == "refused: hung up")
            chmod(server.socket, 0o600)
            chmod(server.runDirectory, 0o700)
            // The owner still gets in.
            #expect(try await server.pyrun(["exec", "-c", "1 + 1"]).stdout == "2\n")
            _ = try await server.stop()
        }
    }
}

/// Reads the pid of a connection file.
enum ConnectionFileProbe {
    static func pid(at path: String) -> Int32? {
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return (object["pid"] as? Int).map { Int32($0) }
    }
}

extension PyrunProcess {
    func waitForStderr(containing text: String, seconds: Double = 60) async -> Bool {
        await poll(seconds: seconds) { self.stderr.contains(text) }
    }

    func waitForStdoutOrStderr(containing text: String, seconds: Double = 60) async -> Bool {
        await poll(seconds: seconds) { self.stdout.contains(text) || self.stderr.contains(text) }
    }
}

/// `pyrun attach` on a real pseudo-terminal: another client's code appears above the line
/// being typed, which stays whole.
@Suite struct TerminalAttachTests {
    @Test func anotherClientsOutputAppearsAboveTheLineBeingTyped() async throws {
        try await withServer { server, directory in
            let terminal = TerminalSession(arguments: ["attach", "--as", "human"], environment: server.environment)
            defer { terminal.cleanUp() }
            let outcome = try await terminal.run([
                .expect("attached to 'main'"), .expect("In [1]: "),
                .type("half"),
                .command([pyrunExecutable, "exec", "--as", "agent", "-c", "print('from the agent')"]),
                .expect("[agent] In [1]: print('from the agent')"), .expect("from the agent"),
                // The line is drawn again below, with what was typed so far.
                .expect("In [1]: half"),
                .type(" = 5\r"), .expect("In [3]: "), .type("half * 2\r"), .expect("Out[3]: 10"),
                .expect("In [4]: "), .type("\u{04}"), .expect("detached; the kernel keeps running"),
            ])
            #expect(outcome.problem.isEmpty, "\(outcome.problem)")
            #expect(outcome.status == 0, "\(outcome.screen)")
            #expect(outcome.terminalRestored)
            // The agent's code saw the state the person left, and the other way round.
            let check = try await server.pyrun(["exec", "-c", "half"])
            #expect(check.stdout == "5\n")
            _ = try await server.stop()
        }
    }
}
