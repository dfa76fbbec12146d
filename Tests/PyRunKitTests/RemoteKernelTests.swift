import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 16: the same kernel behind a launcher. The cheap ones run the launcher path through
/// a local `sh`; the ssh ones through a real OpenSSH server on loopback (`LoopbackSSHServer`), so the
/// "remote" processes are on this machine and their pids can be checked.
@Suite(.serialized) struct RemoteKernelTests {
    /// A launcher that runs the far side's program through `sh` on this machine. `sh` stays in
    /// between, ignoring SIGINT and SIGTERM, so a signal sent to the launcher's group would
    /// never reach the runner (which leads a session of its own): only in-band requests do.
    static func shellLauncher(python: String = "python3") -> KernelLauncher {
        .command(["/bin/sh", "-c", "trap '' INT TERM; \"$@\"", "sh"], python: python)
    }

    static func configuration(_ launcher: KernelLauncher, grace: Duration = .seconds(10)) -> KernelConfiguration {
        KernelConfiguration(startupTimeout: .seconds(60), interruptGrace: grace, launcher: launcher)
    }

    // MARK: - Command lines

    @Test func conveniencesBuildTheLauncherCommandLines() {
        #expect(
            KernelLauncher.kubectl(pod: "p", namespace: "ns", container: "c", context: "k").commandLine(loader: "L")
                == [
                    "kubectl", "--context", "k", "--namespace", "ns", "exec", "-i", "p", "--container", "c", "--",
                    "python3", "-u", "-c", "L",
                ])
        #expect(
            KernelLauncher.docker(container: "box", python: "/usr/bin/python3.12").commandLine(loader: "L")
                == ["docker", "exec", "-i", "box", "/usr/bin/python3.12", "-u", "-c", "L"])
        // ssh hands its arguments to the far side's shell as one line: the loader is quoted.
        #expect(
            KernelLauncher.ssh(host: "build-1", options: ["-p", "2222"]).commandLine(loader: "print('a b')")
                == [
                    "ssh", "-T", "-o", "BatchMode=yes", "-p", "2222", "build-1", "--",
                    #"python3 -u -c 'print('\''a b'\'')'"#,
                ])
        #expect(KernelLauncher.command(["/usr/bin/ssh", "-T", "h", "--"]).joinsArguments)
        #expect(!KernelLauncher.command(["podman", "exec", "-i", "c"]).joinsArguments)
        #expect(!KernelLauncher.local.isRemote)
    }

    @Test func theREADMEsLaunchersBuildTheirCommandLines() {
        // snippet.remoteKernels
        let overSSH = KernelConfiguration(launcher: .ssh(host: "build-1", options: ["-p", "2222"]))
        let inAPod = KernelConfiguration(launcher: .kubectl(pod: "worker-0", namespace: "agents"))
        let inAContainer = KernelConfiguration(launcher: .docker(container: "sandbox"))
        let anyCommand = KernelConfiguration(launcher: .command(["podman", "exec", "-i", "box"], python: "python3.12"))
        // snippet.end
        #expect(
            overSSH.launcher.commandLine(loader: "L").prefix(8) == [
                "ssh", "-T", "-o", "BatchMode=yes", "-p", "2222", "build-1", "--",
            ])
        #expect(
            inAPod.launcher.commandLine(loader: "L")
                == ["kubectl", "--namespace", "agents", "exec", "-i", "worker-0", "--", "python3", "-u", "-c", "L"])
        #expect(inAContainer.launcher.commandLine(loader: "L").prefix(4) == ["docker", "exec", "-i", "sandbox"])
        #expect(
            anyCommand.launcher.commandLine(loader: "L") == [
                "podman", "exec", "-i", "box", "python3.12", "-u", "-c", "L",
            ])
    }

    @Test func theREADMEsRemoteKernelAndPoolKeyRunOverSSH() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let (host, sshOptions) = ("\(server.user)@127.0.0.1", server.clientOptions)
        // snippet.remoteKernel
        let kernel = PythonKernel(configuration: KernelConfiguration(launcher: .ssh(host: host, options: sshOptions)))
        let hello = try await kernel.start()  // connects, sends the runner, waits for its hello
        var output = ""
        for await event in await kernel.execute("for i in range(3): print(i)") {  // an Execution is its events
            if case .stdout(let text) = event { output += text }
        }
        let directory = try await kernel.run("import os; os.getcwd()").resultText  // the far side's $HOME
        await kernel.shutdown()
        // snippet.end
        #expect(hello.pythonVersion.hasPrefix("3."))
        #expect(output == "0\n1\n2\n")
        let home = String(cString: getpwuid(geteuid()).pointee.pw_dir)
        #expect(directory == "'\(home)'")

        try await withPool { pool in
            // snippet.remotePoolKey
            // This key runs on the build host; keys given no configuration keep the pool's default.
            let buildHost = KernelConfiguration(launcher: .ssh(host: host, options: sshOptions))
            let there = try await pool.run(
                "import socket; socket.gethostname()", key: "build", configuration: buildHost)
            // snippet.end
            #expect(there.status == .ok, "\(there)")
            let parent = "import os; open('/proc/%d/comm' % os.getppid()).read().strip()"
            #expect(try await pool.run(parent, key: "build").resultText == "'sshd'")
            #expect(try await pool.run(parent, key: "local").resultText != "'sshd'")
        }
    }

    @Test func theQuotedLoaderReachesPythonIntactThroughAShell() throws {
        let quoted = KernelLauncher.shellQuoted(RunnerBootstrap.loader)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "printf %s \(quoted)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let printed = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: printed, as: UTF8.self) == RunnerBootstrap.loader)
    }

    @Test func theLoaderIsTheRunnersOwn() throws {
        let installation = try RunnerInstallation.current()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import \(installation.moduleName) as r; sys.stdout.write(r.LOADER)",
            installation.directory,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let printed = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: printed, as: UTF8.self) == RunnerBootstrap.loader)
    }

    // MARK: - A launcher on this machine

    @Test func aKernelBehindALauncherRunsKeepsStateAndIsInterruptedInBand() async throws {
        var configuration = Self.configuration(Self.shellLauncher())
        configuration.environment = .inheritUpdating(["PYRUN_REMOTE_TEST": "set on the far side"])
        configuration.workingDirectory = "/tmp"
        try await withKernel(configuration: configuration) { kernel throws in
            let hello = try await kernel.start()
            #expect(hello.workingDirectory == "/tmp")
            #expect(
                try await kernel.run("import os\nos.environ['PYRUN_REMOTE_TEST']").resultText == "'set on the far side'"
            )
            // Not the host's pid: the runner's parent is the launcher's shell.
            #expect(try await kernel.run("'PYRUN_HOST_PID' in os.environ").resultText == "False")
            _ = try await kernel.run("x = 41")
            let execution = await kernel.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
            var iterator = execution.makeAsyncIterator()
            while let event = await iterator.next() {
                if case .stdout = event { break }
            }
            await kernel.interrupt()
            let result = try await execution.result()
            #expect(result.status == .cancelled)
            #expect(result.error?.name == "KeyboardInterrupt")
            #expect(result.duration < .seconds(30))
            #expect(try await kernel.run("x + 1").resultText == "42")
        }
    }

    @Test func theFarSideKeepsTheCompiledRunnerInItsCodeCacheOnlyWhenToldTo() async throws {
        let home = NSTemporaryDirectory() + "pyrun-code-cache-\(getpid())"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        #expect(Self.shellLauncher().codeCache == KernelLauncher.defaultCodeCache)
        #expect(KernelLauncher.local.codeCache == nil)
        // A far side whose home is `home`: `~` in the cache's path is the far side's.
        let farSide = ["/usr/bin/env", "HOME=\(home)", "/bin/sh", "-c", "trap '' INT TERM; \"$@\"", "sh"]
        var caching = KernelLauncher.command(farSide)
        caching.codeCache = "~/cache"
        for _ in 0..<2 {  // the second start finds the file the first one left
            try await withKernel(configuration: Self.configuration(caching)) { kernel throws in
                #expect(try await kernel.run("6*7").resultText == "42")
            }
        }
        let kept = try FileManager.default.contentsOfDirectory(atPath: "\(home)/cache")
        #expect(kept.count == 1)
        #expect(kept.first?.hasPrefix("runner-") == true && kept.first?.hasSuffix(".bin") == true)
        try FileManager.default.removeItem(atPath: "\(home)/cache")

        var compiling = caching
        compiling.codeCache = nil
        try await withKernel(configuration: Self.configuration(compiling)) { kernel throws in
            #expect(try await kernel.run("6*7").resultText == "42")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: home).isEmpty)
    }

    @Test func aCleanEnvironmentKeepsOnlyTheAllowedVariablesOfTheFarSide() async throws {
        var configuration = Self.configuration(Self.shellLauncher())
        configuration.environment = .clean(allowing: ["PATH"], setting: ["ADDED": "1"])
        try await withKernel(configuration: configuration) { kernel throws in
            let names = try await kernel.run(
                "import os\nsorted(n for n in os.environ if n in ('PATH', 'HOME', 'ADDED'))"
            ).resultText
            #expect(names == "['ADDED', 'PATH']")
        }
    }

    @Test func aFarSidePythonOlderThan3_9IsRefusedInWords() async throws {
        let directory = NSTemporaryDirectory() + "pyrun-old-python-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A python3 that claims to be 3.8 before it runs the loader it is given (`-u -c LOADER`).
        let fake = "\(directory)/python3.8"
        try writeScript(
            fake,
            """
            #!/bin/sh
            exec python3 -c "import sys; sys.version_info = (3, 8, 18, 'final', 0); sys.version = '3.8.18 (fake)'; exec(sys.argv[1])" "$3"

            """)
        let kernel = PythonKernel(configuration: Self.configuration(Self.shellLauncher(python: fake)))
        let error = await #expect(throws: KernelError.self) { try await kernel.start() }
        #expect(error?.code == .startupFailed)
        #expect(error?.message.contains("pyrun runner needs Python 3.9 or newer, this is 3.8.18") == true)
        await kernel.shutdown()
    }

    @Test func aRemotePreludeIsSentAsSourcesReadOnTheHost() throws {
        let directory = NSTemporaryDirectory() + "pyrun-sent-prelude-\(getpid())"
        try FileManager.default.createDirectory(atPath: "\(directory)/more", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "def twice(x):\n    return 2 * x\n".write(
            toFile: "\(directory)/tools.py", atomically: true, encoding: .utf8)
        try "A = 1\n".write(toFile: "\(directory)/more/a.py", atomically: true, encoding: .utf8)
        try "B = 2\n".write(toFile: "\(directory)/more/b.py", atomically: true, encoding: .utf8)
        let prelude: [PreludeSource] = [
            .default, .file(URL(fileURLWithPath: "\(directory)/tools.py")),
            .directory(URL(fileURLWithPath: "\(directory)/more")), .module("json"),
        ]
        let entries = try #require(try prelude.sentRunnerEntries())
        #expect(
            entries.map { $0["name"]?.stringValue ?? $0["module"]?.stringValue } == [
                "pyrun_prelude", "tools", "a", "b", "json",
            ])
        // No entry names a file for the far side to open: the text travels.
        #expect(entries.allSatisfy { $0["path"] == nil })
        #expect(entries[0]["source"]?.stringValue == String(decoding: BundledModule.prelude.source, as: UTF8.self))
        #expect(entries[1]["source"]?.stringValue == "def twice(x):\n    return 2 * x\n")
        #expect(entries[1]["filename"]?.stringValue == "\(directory)/tools.py")
        #expect(entries[3]["source"]?.stringValue == "B = 2\n")
        #expect(entries[4] == .object(["module": .string("json")]))
        #expect(try PreludeSource.testSupport.sentRunnerEntries().first?["export"] == .bool(false))
    }

    @Test func aPreludeFileTheHostCannotReadFailsTheStartInWords() async throws {
        var configuration = Self.configuration(Self.shellLauncher())
        configuration.prelude = [.file(URL(fileURLWithPath: "/nonexistent/pyrun-\(getpid())/tools.py"))]
        let kernel = PythonKernel(configuration: configuration)
        let error = await #expect(throws: KernelError.self) { try await kernel.start() }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("cannot be read on this host") == true, "\(error?.message ?? "")")
    }

    @Test func aMissingLauncherIsASpawnFailure() async throws {
        let kernel = PythonKernel(
            configuration: Self.configuration(.command(["pyrun-no-such-launcher-\(getpid())", "--"])))
        let error = await #expect(throws: KernelError.self) { try await kernel.start() }
        #expect(error?.code == .spawnFailed)
        #expect(error?.message.contains("is not on PATH") == true)
    }

    /// A launcher that never answers (a server that accepts and hangs) holds no shutdown for
    /// the start-up timeout: the start is abandoned, and what it spawned is killed.
    @Test func aShutdownAbandonsAStartThatNeverAnswers() async throws {
        try await withTemporaryDirectory { directory in
            let pidFile = "\(directory)/pid"
            let hanging = KernelLauncher.command(["/bin/sh", "-c", "echo $$ > \(pidFile); exec sleep 300", "sh"])
            let kernel = PythonKernel(
                configuration: KernelConfiguration(startupTimeout: .seconds(60), launcher: hanging))
            let start = Task { try await kernel.start() }
            // Polled for, within a liveness bound: the launcher writes its pid once it runs.
            var pidText = ""
            let deadline = ContinuousClock.now + .seconds(60)
            while !pidText.hasSuffix("\n"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                pidText = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
            }
            let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)), "never ran")
            #expect(await kernel.shutdown(grace: .zero) == .notRunning)
            let error = await #expect(throws: KernelError.self) { try await start.value }
            #expect(error?.code == .shutDown, "\(String(describing: error))")
            #expect(await waitUntilGone(pid, seconds: 30), "the abandoned launcher (pid \(pid)) was left running")
            if processIsAlive(pid) { kill(pid, SIGKILL) }
        }
    }

    // MARK: - Over ssh

    @Test func overSSHAKernelRunsInterruptsAndLeavesNothingBehind() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let kernel = PythonKernel(configuration: Self.configuration(server.launcher()))
        let hello = try await kernel.start()
        let runnerPID = pid_t(hello.pid)
        #expect(try await kernel.run("import os\nos.getpid()").resultText == String(runnerPID))
        // It runs as sshd's child, not the host's.
        #expect(try await kernel.run("os.getppid()").resultText != String(getpid()))
        let child = try await kernel.run(
            "import subprocess\nchild = subprocess.Popen(['sleep', '300'])\nchild.pid"
        ).resultText
        let childPID = try #require(child.flatMap { pid_t($0) })

        // Streaming crosses intact and in order.
        let lines = try await kernel.run("for i in range(200000): print(i)")
        #expect(lines.stdout.split(separator: "\n").count == 200_000)
        #expect(lines.stdout.hasSuffix("199999\n"))

        // input() round trip.
        let answered = try await kernel.run(
            "input('name? ')", options: ExecutionOptions(stdinHandler: { _ in "remote" }))
        #expect(answered.resultText == "'remote'")

        // In-band interrupt; state kept.
        let execution = await kernel.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
        var iterator = execution.makeAsyncIterator()
        while let event = await iterator.next() {
            if case .stdout = event { break }
        }
        await kernel.interrupt()
        let interrupted = try await execution.result()
        #expect(interrupted.status == .cancelled)
        #expect(interrupted.error?.name == "KeyboardInterrupt")
        #expect(try await kernel.run("child.pid").resultText == String(childPID))

        #expect(await kernel.shutdown(grace: .seconds(60)) == .graceful)
        #expect(await waitUntilGone(runnerPID, seconds: 60))
        #expect(await waitUntilGone(childPID, seconds: 60))
    }

    @Test func overSSHAnInterruptIgnoringLoopIsKilledWithItsFamily() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        try await withKernel(configuration: Self.configuration(server.launcher(), grace: .seconds(2))) {
            kernel throws in
            // A child that ignores the interrupt too, so only the kill can end it.
            let setup = try await kernel.run(
                "import os, subprocess\nchild = subprocess.Popen(['sh', '-c', \"trap '' INT; exec sleep 300\"])\nprint(os.getpid(), child.pid)"
            )
            let pids = setup.stdout.split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
            try #require(pids.count == 2)
            // Code that ignores SIGINT: its handler does nothing, however often it comes.
            let execution = await kernel.execute(
                "import signal, time\nsignal.signal(signal.SIGINT, lambda *_: None)\nprint('stubborn', flush=True)\nwhile True:\n    time.sleep(0.05)"
            )
            var iterator = execution.makeAsyncIterator()
            while let event = await iterator.next() {
                if case .stdout = event { break }
            }
            await kernel.interrupt()
            let result = try await execution.result()
            #expect(result.status == .cancelled)
            #expect(result.death?.cause == .stoppedByPyrun(.interruptNotHonoured(grace: .seconds(2))))
            for pid in pids { #expect(await waitUntilGone(pid, seconds: 60), "pid \(pid) outlived the kill") }
            // And the next use starts afresh.
            #expect(try await kernel.run("1 + 1").resultText == "2")
        }
    }

    @Test func overSSHAShutdownOfABusyKernelEndsItInBand() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let kernel = PythonKernel(configuration: Self.configuration(server.launcher()))
        let runnerPID = pid_t(try await kernel.start().pid)
        let execution = await kernel.execute(
            "import time\nprint('busy', flush=True)\nwhile True:\n    try:\n        time.sleep(0.05)\n    except BaseException:\n        pass"
        )
        var iterator = execution.makeAsyncIterator()
        while let event = await iterator.next() {
            if case .stdout = event { break }
        }
        // `exit` waits for the execution, which never ends: the in-band kill does it.
        #expect(await kernel.shutdown(grace: .seconds(2)) == .terminated)
        #expect(await waitUntilGone(runnerPID, seconds: 60))
        #expect(try await execution.result().status == .cancelled)
    }

    @Test func overSSHAConnectionThatDiesMidExecutionIsADeathWithSSHsWords() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        try await withKernel(configuration: Self.configuration(server.launcher())) { kernel throws in
            let ids = try await kernel.run("import os\nprint(os.getpid(), os.getppid())").stdout
            let pids = ids.split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
            try #require(pids.count == 2)
            let (runnerPID, sessionPID) = (pids[0], pids[1])
            let execution = await kernel.execute("import time\nprint('waiting', flush=True)\ntime.sleep(60)")
            var iterator = execution.makeAsyncIterator()
            while let event = await iterator.next() {
                if case .stdout = event { break }
            }
            // The server's process for this connection dies: the connection with it.
            #expect(kill(sessionPID, SIGKILL) == 0)
            let result = try await execution.result()
            #expect(result.status == .kernelDied)
            let death = try #require(result.death)
            #expect(death.cause == .exited(code: 255))
            #expect(death.diagnostics.contains("closed"), "ssh's own words: \(death.diagnostics)")
            #expect(await waitUntilGone(runnerPID, seconds: 60))
        }
    }

    @Test func overSSHARefusedConnectionFailsTheStartWithSSHsMessage() async throws {
        let port = try LoopbackSSHServer.freePort()
        let launcher = KernelLauncher.ssh(
            host: "127.0.0.1",
            options: ["-p", String(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
        let kernel = PythonKernel(configuration: Self.configuration(launcher))
        let error = await #expect(throws: KernelError.self) { try await kernel.start() }
        #expect(error?.code == .startupFailed)
        #expect(error?.message.contains("port \(port): Connection refused") == true, "\(error?.message ?? "")")
    }

    @Test func overSSHAMissingFarSidePythonFailsTheStartInWords() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let kernel = PythonKernel(configuration: Self.configuration(server.launcher(python: "pyrun-no-python3")))
        let error = await #expect(throws: KernelError.self) { try await kernel.start() }
        #expect(error?.code == .startupFailed)
        #expect(error?.message.contains("pyrun-no-python3: command not found") == true, "\(error?.message ?? "")")
    }

    @Test func overSSHThePreludeTravelsOverThePipeAndLoadsOnTheFarSide() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let directory = NSTemporaryDirectory() + "pyrun-ssh-prelude-\(getpid())"
        try FileManager.default.createDirectory(atPath: "\(directory)/helpers", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "def twice(x):\n    return 2 * x\n".write(
            toFile: "\(directory)/tools.py", atomically: true, encoding: .utf8)
        try "def greet():\n    return 'hi from ' + __name__\n".write(
            toFile: "\(directory)/helpers/greeting.py", atomically: true, encoding: .utf8)
        var configuration = Self.configuration(server.launcher())
        configuration.prelude = [
            .default, .file(URL(fileURLWithPath: "\(directory)/tools.py")),
            .directory(URL(fileURLWithPath: "\(directory)/helpers")), .module("textwrap"),
        ]
        try await withKernel(configuration: configuration) { kernel throws in
            let hello = try await kernel.start()
            #expect(hello.preludeFailures.isEmpty)
            // The default prelude's helpers, the file's, the directory's, and the module's names.
            let used = try await kernel.run("print(twice(21), greet(), callable(grep), dedent('  x'))")
            #expect(used.stdout == "42 hi from greeting True x\n", "\(used.stderr)")
            // Loaded from the text the host sent (no spec: no importer opened a file there).
            let loaded = try await kernel.run(
                "import sys\nprint([sys.modules[m].__spec__ is None for m in ('pyrun_prelude', 'tools', 'greeting')])")
            #expect(loaded.stdout == "[True, True, True]\n")
            // The runner's parent is sshd's session, not this host.
            #expect(try await kernel.run("import os\nos.getppid()").resultText != String(getpid()))
        }
    }

    @Test func overSSHAHostFunctionCallRoundTrips() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let hostPID = getpid()
        let servingHost = HostFunction(name: "serving_host", summary: "Says which host serves the call.") { call in
            .object(["pid": .string(String(hostPID)), "got": call["x"] ?? .null])
        }
        var configuration = Self.configuration(server.launcher())
        configuration.hostFunctions = [servingHost]
        try await withKernel(configuration: configuration) { kernel throws in
            let result = try await kernel.run(
                "import os\nanswer = host.serving_host(x=['one', 'two'])\nanswer, answer['pid'] != str(os.getpid())")
            #expect(result.resultText == "({'got': ['one', 'two'], 'pid': '\(hostPID)'}, True)", "\(result.stderr)")
        }
    }

    @Test func overSSHTheWatchdogEndsTheFarSideWhenTheLocalSSHIsKilled() async throws {
        try await expectTheFarSideEndsWhenTheLocalSSHIsKilled(
            whileRunning:
                "import os, subprocess, time\nchild = subprocess.Popen(['sleep', '300'])\nprint(os.getpid(), child.pid, flush=True)\ntime.sleep(300)"
        )
    }

    @Test func overSSHTheWatchdogEndsAFarSideRunnerThatHoldsTheGIL() async throws {
        // Code that never lets the runner's own threads run (a regular expression that
        // backtracks for ever holds the GIL): only the watchdog, a process of its own, can
        // see the connection go and end the runner and its child.
        try await expectTheFarSideEndsWhenTheLocalSSHIsKilled(
            whileRunning:
                "import os, re, subprocess\nchild = subprocess.Popen(['sleep', '300'])\nprint(os.getpid(), child.pid, flush=True)\nre.match(r'(a|aa)+$', 'a' * 200 + 'b')"
        )
    }

    /// Runs `code` (which prints the runner's pid and its child's, then blocks) over a real
    /// sshd, SIGKILLs the local ssh, and expects both far-side processes gone: the connection
    /// drops, and no signal or request reaches the far side.
    private func expectTheFarSideEndsWhenTheLocalSSHIsKilled(whileRunning code: String) async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        try await withKernel(configuration: Self.configuration(server.launcher())) { kernel throws in
            _ = try await kernel.start()
            let sshPID = try #require(await kernel.pid)
            let execution = await kernel.execute(code)
            let pids = try await Self.printedPIDs(execution)
            try #require(pids.count == 2)
            for pid in pids { #expect(processIsAlive(pid)) }
            #expect(kill(sshPID, SIGKILL) == 0)
            #expect(try await execution.result().status == .kernelDied)
            for pid in pids {
                #expect(await waitUntilGone(pid, seconds: 60), "far-side pid \(pid) outlived the connection")
                if processIsAlive(pid) { kill(pid, SIGKILL) }
            }
        }
    }

    /// The pids an execution prints on its first line of stdout.
    static func printedPIDs(_ execution: Execution) async throws -> [pid_t] {
        var printed = ""
        var iterator = execution.makeAsyncIterator()
        while !printed.contains("\n"), let event = await iterator.next() {
            if case .stdout(let text) = event { printed += text }
        }
        return printed.split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
    }
}
