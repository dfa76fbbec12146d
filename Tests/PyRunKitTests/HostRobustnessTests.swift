import Foundation
import PyRunTesting
import Testing

@testable import PyRunKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host against a scripted runner over a real pipe: what a buggy or newer runner may
/// send must never take the host down.
@Suite struct HostRobustnessTests {
    /// A stand-in interpreter: it answers the probe, then plays a runner that sends an
    /// unknown frame type, a line that is not JSON, a frame split across writes, and then a
    /// proper end for each execution.
    private static let scriptedRunner = #"""
        #!/usr/bin/env python3
        import json, os, sys, time
        if "-S" in sys.argv:  # the host's one-time probe: name this script as the executable
            print(json.dumps({"executable": os.path.abspath(sys.argv[0]), "version": [3, 11, 0]}))
            sys.exit(0)
        def send(text):
            os.write(1, text.encode())
        send(json.dumps({"type": "hello", "protocol": 1, "pid": os.getpid(), "python": "3.11.0",
                         "executable": sys.executable, "cwd": os.getcwd(), "futureField": [1, 2]}) + "\n")
        for line in sys.stdin:
            request = json.loads(line)
            ident = request.get("id")
            if request.get("type") != "execute":
                continue
            send(json.dumps({"type": "started", "id": ident, "executionCount": 1}) + "\n")
            send(json.dumps({"type": "progress", "id": ident, "percent": 50}) + "\n")
            send("this is not json\n")
            send('{"type":"stdout","id":"' + ident + '","da')
            time.sleep(0.05)
            send('ta":"split frame\\n"}\n')
            send(json.dumps({"type": "stdout", "id": ident, "data": "big:" + "y" * 300000}) + "\n")
            send(json.dumps({"type": "done", "id": ident, "status": "ok", "executionCount": 1,
                             "cancelled": False, "durationMs": 1, "cpuMs": 1, "peakRssBytes": 1}) + "\n")
        """#

    @Test func unknownFramesInvalidLinesAndSplitFramesAreHandled() async throws {
        try await withTemporaryDirectory { directory throws in
            let fake = "\(directory)/python3"
            try writeScript(fake, Self.scriptedRunner)
            try await withKernel(configuration: KernelConfiguration(interpreter: .path(fake))) { kernel throws in
                let execution = await kernel.execute("anything")
                var unknown: [JSONValue] = []
                var stdout = ""
                for await event in execution {
                    switch event {
                    case .unknown(let raw): unknown.append(raw)
                    case .stdout(let text): stdout += text
                    default: break
                    }
                }
                let result = try await execution.result()
                #expect(result.status == .ok)
                #expect(unknown.count == 1)
                #expect(unknown.first?["percent"]?.intValue == 50)
                #expect(stdout.hasPrefix("split frame\nbig:yyy"))
                #expect(stdout.utf8.count == "split frame\n".utf8.count + 4 + 300000)
                // The kernel is still there for the next execution.
                #expect(try await kernel.run("again").status == .ok)
            }
        }
    }

    /// A stand-in runner whose start is `startup` (Python), then answers executions as
    /// `behaviour` (Python, with `request` and `send` in scope) says.
    private static func scriptedRunner(startup: String, behaviour: String = "") -> String {
        """
        #!/usr/bin/env python3
        import json, os, sys, time
        if "-S" in sys.argv:  # the host's one-time probe: name this script as the executable
            print(json.dumps({"executable": os.path.abspath(sys.argv[0]), "version": [3, 11, 0]}))
            sys.exit(0)
        def send(obj):
            os.write(1, (json.dumps(obj) + "\\n").encode())
        HELLO = {"type": "hello", "protocol": 1, "pid": os.getpid(), "python": "3.11.0",
                 "executable": sys.executable, "cwd": os.getcwd()}
        \(startup)
        for line in sys.stdin:
            request = json.loads(line)
            if request.get("type") != "execute":
                continue
        \(behaviour.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n"))
        """
    }

    @Test func startupNoiseBeforeHelloIsKeptAndTheHelloStillRead() async throws {
        try await withTemporaryDirectory { directory throws in
            let fake = "\(directory)/python3"
            // A sitecustomize-like partial line, then the runner's newline and hello.
            try writeScript(
                fake,
                Self.scriptedRunner(
                    startup: #"os.write(1, b"note: "); os.write(1, b"\n" + (json.dumps(HELLO) + "\n").encode())"#))
            try await withKernel(configuration: KernelConfiguration(interpreter: .path(fake))) { kernel throws in
                let hello = try await kernel.start()
                #expect(hello.pythonVersion == "3.11.0")
                let late = await kernel.takeLateOutput()
                #expect(late == [LateOutput(executionID: nil, stream: .stderr, text: "note: \n")])
            }
        }
    }

    @Test func startupNoiseIsQuotedWhenNoHelloComes() async throws {
        try await withTemporaryDirectory { directory throws in
            let fake = "\(directory)/python3"
            try writeScript(
                fake, Self.scriptedRunner(startup: #"print("sitecustomize says hi", flush=True); sys.exit(1)"#))
            // The exit is what is tested: the start-up timeout must not come first on a slow machine.
            let configuration = KernelConfiguration(interpreter: .path(fake), startupTimeout: .seconds(300))
            try await withKernel(configuration: configuration) { kernel throws in
                do {
                    try await kernel.start()
                    Issue.record("a runner that never said hello started")
                } catch let error as KernelError {
                    #expect(error.code == .startupFailed)
                    #expect(error.message.contains("exited with status 1"))
                    #expect(error.message.contains("sitecustomize says hi"))
                }
            }
        }
    }

    @Test func aMemoryLimitTooLowForTheRunnerIsSaidSo() async throws {
        try await withTemporaryDirectory { directory throws in
            let fake = "\(directory)/python3"
            try writeScript(
                fake,
                Self.scriptedRunner(
                    startup:
                        #"sys.stderr.write("pyrun runner: the memory limit is too low for the runner (at least 96 MiB)\n"); sys.exit(77)"#
                ))
            let configuration = KernelConfiguration(
                interpreter: .path(fake), limits: ResourceLimits(memoryBytes: 64 << 20), startupTimeout: .seconds(300))
            try await withKernel(configuration: configuration) { kernel throws in
                do {
                    try await kernel.start()
                    Issue.record("a runner that exited 77 started")
                } catch let error as KernelError {
                    #expect(error.code == .memoryLimitTooLow)
                    #expect(error.isConfigurationError)
                    #expect(error.message.contains("64 MiB"))
                    #expect(error.message.contains("at least 96 MiB"))
                }
            }
        }
    }

    @Test func aSelfSignalFrameMakesTheDeathTheCodesOwn() async throws {
        try await withTemporaryDirectory { directory throws in
            let fake = "\(directory)/python3"
            let behaviour = """
                send({"type": "started", "id": request["id"], "executionCount": 1})
                send({"type": "self_signal", "id": request["id"], "signal": 9})
                os.kill(os.getpid(), 9)
                """
            try writeScript(fake, Self.scriptedRunner(startup: "send(HELLO)", behaviour: behaviour))
            try await withKernel(configuration: KernelConfiguration(interpreter: .path(fake))) { kernel throws in
                let result = try await kernel.run("os.kill(os.getpid(), 9)")
                #expect(result.status == .kernelDied)
                #expect(result.death?.cause == .killedItself(signal: SIGKILL))
                #expect(result.death?.description.contains("own code") == true)
            }
        }
    }
}
