import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct KernelLifecycleTests {
    @Test func gracefulShutdown() async throws {
        let kernel = PythonKernel()
        let hello = try await kernel.start()
        // A generous grace: under a full parallel test run an idle runner can take seconds to
        // read `exit` and leave, and only a runner that never leaves should fail this.
        #expect(await kernel.shutdown(grace: .seconds(60)) == .graceful)
        #expect(await waitUntilGone(hello.pid))
        #expect(await kernel.isRunning == false)
    }

    @Test func shutdownOfAKernelThatIgnoresSIGTERMAndExit() async throws {
        let kernel = PythonKernel()
        // Busy in an execution that swallows everything, so `exit` is never read in time,
        // and SIGTERM is ignored: only SIGKILL ends it.
        _ = try await kernel.run("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)")
        let pid = try #require(await kernel.pid)
        let execution = await kernel.execute(
            "import time\nwhile True:\n    try:\n        time.sleep(100)\n    except BaseException:\n        pass")
        var iterator = execution.makeAsyncIterator()
        _ = await iterator.next()
        #expect(await kernel.shutdown(grace: .milliseconds(300)) == .killed)
        #expect(await waitUntilGone(pid))
        #expect(try await execution.result().status == .cancelled)
    }

    @Test func noGrandchildSurvivesShutdownEvenIgnoringSIGTERM() async throws {
        let kernel = PythonKernel()
        let result = try await kernel.run(
            """
            import subprocess, sys
            daemon = subprocess.Popen([sys.executable, '-c', 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)'])
            sleeper = subprocess.Popen(['sleep', '300'])
            print(daemon.pid)
            print(sleeper.pid)
            """)
        let pids = result.stdout.split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 2)
        for pid in pids { #expect(processIsAlive(pid)) }
        await kernel.shutdown(grace: .milliseconds(500))
        for pid in pids { #expect(await waitUntilGone(pid), "grandchild \(pid) survived") }
    }

    @Test func grandchildDiesWhenTheKernelDiesUnexpectedly() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let spawned = try await kernel.run("import subprocess\nprint(subprocess.Popen(['sleep', '300']).pid)")
            let grandchild = try #require(lastInteger(in: spawned.stdout))
            let died = try await kernel.run("import os\nos._exit(3)")
            #expect(died.status == .kernelDied)
            #expect(await waitUntilGone(grandchild))
        }
    }

    @Test func deathByOsExitIsReportedWithOutputFirst() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run("import os, sys\nprint('last words', flush=True)\nos._exit(3)")
            #expect(result.status == .kernelDied)
            #expect(result.stdout == "last words\n")
            #expect(result.death?.status == .exited(3))
            #expect(result.death?.executionID == result.id)
            #expect(await kernel.lastDeath?.status == .exited(3))
            // It restarts on next use.
            #expect(try await kernel.run("2 * 21").resultText == "42")
            #expect(await kernel.processStarts == 2)
        }
    }

    @Test func deathIsNoticedWhileAForkedChildHoldsTheFramePipe() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let result = try await kernel.run(
                "import os, time\npid = os.fork()\nif pid == 0:\n    time.sleep(300)\n    os._exit(0)\nprint(pid, flush=True)\nos._exit(3)"
            )
            #expect(result.status == .kernelDied)
            #expect(result.death?.status == .exited(3))
        }
    }

    @Test func deathBySIGKILLFromOutsideIsBlamedOnOutsideNotOnMemory() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let pid = try await kernel.start().pid
            let execution = await kernel.execute("import time\ntime.sleep(100)")
            var iterator = execution.makeAsyncIterator()
            _ = await iterator.next()
            kill(pid, SIGKILL)
            let result = try await execution.result()
            #expect(result.status == .kernelDied)
            #expect(result.death?.status == .signaled(SIGKILL))
            // Issue 10: no evidence of memory trouble, so no talk of it; the blame is outside.
            #expect(result.death?.cause == .killedFromOutside(signal: SIGKILL))
            #expect(!result.notices.map(\.description).joined().contains("out of memory"))
            #expect(result.notices.map(\.description).joined().contains("from outside"))
        }
    }

    @Test func queuedExecutionsEndWhenTheKernelDies() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            let dying = await kernel.execute("import os\nos._exit(5)")
            let queued = await kernel.execute("print('never')")
            #expect(try await dying.result().status == .kernelDied)
            let second = try await queued.result()
            #expect(second.status == .kernelDied)
            #expect(second.stdout.isEmpty)
        }
    }

    @Test func writingToADeadKernelNeitherCrashesTheHostNorHangs() async throws {
        // SIGPIPE is ignored and a failed write is a dead kernel: the request fails cleanly.
        try await withKernel(configuration: .forTests) { kernel throws in
            let pid = try await kernel.start().pid
            kill(pid, SIGKILL)
            #expect(await waitUntilGone(pid))
            // Whether the exit was noticed before this call or not, the answer is a clean
            // error or a fresh kernel, never a crash.
            do {
                let info = try await kernel.info()
                #expect(info.pid != pid)
            } catch let error as KernelError {
                #expect(error.code == .kernelDied)
            }
            #expect(try await kernel.run("1 + 1").resultText == "2")
        }
    }

    @Test func restartGivesFreshState() async throws {
        try await withKernel(configuration: .forTests) { kernel throws in
            _ = try await kernel.run("x = 1")
            let oldPid = try #require(await kernel.pid)
            let hello = try await kernel.restart()
            #expect(hello.pid != oldPid)
            #expect(try await kernel.run("'x' in globals()").resultText == "False")
        }
    }

    @Test func workingDirectoryEnvironmentAndPrelude() async throws {
        try await withTemporaryDirectory { directory throws in
            let prelude = "\(directory)/prelude.py"
            try "def helper():\n    return 'from prelude'\n".write(toFile: prelude, atomically: true, encoding: .utf8)
            let configuration = KernelConfiguration(
                workingDirectory: directory,
                environment: .clean(setting: ["PYRUN_TEST_VALUE": "42"]),
                prelude: [.file(URL(fileURLWithPath: prelude))])
            try await withKernel(configuration: configuration) { kernel throws in
                let result = try await kernel.run(
                    "import os\nprint(os.getcwd())\nprint(os.environ.get('PYRUN_TEST_VALUE'))\nprint('HOSTNAME_SECRET' in os.environ)\nhelper()"
                )
                let lines = result.stdout.split(separator: "\n").map(String.init)
                #expect(
                    lines.first.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
                        == URL(fileURLWithPath: directory).resolvingSymlinksInPath().path)
                #expect(lines.dropFirst().first == "42")
                #expect(result.resultText == "'from prelude'")
            }
        }
    }

    @Test func preludeErrorIsReportedAndTheKernelStaysUsable() async throws {
        try await withTemporaryDirectory { directory throws in
            let prelude = "\(directory)/prelude.py"
            try "raise ValueError('bad prelude')\n".write(toFile: prelude, atomically: true, encoding: .utf8)
            let configuration = KernelConfiguration(prelude: [.file(URL(fileURLWithPath: prelude))])
            try await withKernel(configuration: configuration) { kernel throws in
                let hello = try await kernel.start()
                #expect(hello.preludeError?.name == "ValueError")
                #expect(hello.preludeFailures.first?.file == prelude)
                #expect(hello.preludeFailures.first?.line == 1)
                #expect(try await kernel.run("1 + 2").resultText == "3")
            }
        }
    }

    @Test func memoryLimitGivesMemoryErrorNotADeadKernel() async throws {
        try await withKernel(configuration: KernelConfiguration(limits: ResourceLimits(memoryBytes: 1 << 30))) {
            kernel throws in
            let result = try await kernel.run("x = bytearray(4 * 1024 ** 3)")
            #expect(result.status == .error)
            #expect(result.error?.name == "MemoryError")
            #expect(try await kernel.run("'alive'").resultText == "'alive'")
        }
    }

    #if os(Linux)
    @Test func kernelInheritsNoDescriptorOfTheHost() async throws {
        try await withTemporaryDirectory { directory throws in
            // A descriptor without close-on-exec, as careless host code would leave one.
            let marker = "\(directory)/host-only-file"
            let fd = open(marker, O_WRONLY | O_CREAT, 0o600)
            #expect(fd >= 3)
            defer { close(fd) }
            try await withKernel(configuration: .forTests) { kernel throws in
                let result = try await kernel.run(
                    """
                    import os
                    def target(n):
                        try:
                            return os.readlink('/proc/self/fd/' + n)
                        except OSError:  # the descriptor listdir itself used
                            return ''
                    [target(n) for n in os.listdir('/proc/self/fd')]
                    """)
                let targets = try #require(result.resultText)
                #expect(targets.contains("/dev/null"))  // the listing works: fd 0 is /dev/null
                #expect(!targets.contains("host-only-file"), "the host's descriptor leaked: \(targets)")
            }
        }
    }
    #endif

    @Test func droppingTheKernelKillsItsProcess() async throws {
        var kernel: PythonKernel? = PythonKernel()
        let pid = try await kernel!.start().pid
        kernel = nil
        #expect(await waitUntilGone(pid))
    }
}
