import Foundation
import PyRunKit
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 16: `--via` in the commands that keep kernels (`repl`, `serve`, `mcp`), end to end through a
/// private OpenSSH server on loopback, with a prelude whose file only the host has read.
@Suite struct ViaCommandsTests {
    private static let parentName = "open('/proc/%d/comm' % __import__('os').getppid()).read().strip()"

    @Test func mcpSessionsRunOnTheFarSideWithThePreludeSentOverThePipe() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let client = try await MCPTestClient(server.viaArguments + ["--prelude", "default"])
        let first = try await client.python("x = 41\n" + Self.parentName)
        #expect(first.status == "ok", "\(first.text)")
        #expect(first.structured["result"]?.stringValue == "'sshd'", "\(first.text)")
        // State stays, and the default prelude's helpers are there.
        let second = try await client.python("x + 1, callable(grep)")
        #expect(second.structured["result"]?.stringValue == "(42, True)", "\(second.text)")
        #expect(await client.process.finish().status == 0)
    }

    @Test func replRunsOnTheFarSide() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let outcome = try await runPyrun(
            ["repl"] + server.viaArguments, input: "y = 2\n\(Self.parentName), y * 21\n")
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("('sshd', 42)"), "\(outcome.stdout)")
    }

    /// `/kernel set` behind `--via` names the far side's interpreter and really switches it;
    /// `/kernels` says it cannot list the far side's; `/info` names the launcher.
    @Test(.enabled(if: alternativeInterpreter != nil))
    func replKernelSetSwitchesTheFarSidesInterpreter() async throws {
        let other = try #require(alternativeInterpreter)
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        let input = "x = 5\n/kernels\n/kernel set \(other)\nimport sys; sys.executable, 'x' in dir()\n/info\n"
        let outcome = try await runPyrun(["repl"] + server.viaArguments, input: input)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("the far side's interpreters cannot be listed from here"), "\(outcome.stderr)")
        #expect(outcome.stdout.contains("state was reset"), "\(outcome.stdout) \(outcome.stderr)")
        #expect(outcome.stdout.contains("Out[1]: ('\(other)', False)"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("launcher    via \(server.viaCommand)"), "\(outcome.stdout)")
    }

    /// A FILE argument behind `--via` is read on the host and its code sent (the far side has
    /// no such file); `__file__` is the host's path and tracebacks quote its lines. The
    /// launcher here keeps a copy of what it was sent, which must hold the file's text.
    @Test func aFileArgumentIsReadOnTheHostAndSent() async throws {
        try await withTemporaryDirectory { directory in
            let launcher = "\(directory)/recording-launcher"
            try "#!/bin/sh\ntee \(directory)/sent | \"$@\"\n".write(toFile: launcher, atomically: true, encoding: .utf8)
            chmod(launcher, 0o755)
            let script = "\(directory)/job.py"
            try "print('from the host file', __file__)\nraise ValueError('line two')\n".write(
                toFile: script, atomically: true, encoding: .utf8)
            let outcome = try await runPyrun(["--via", launcher, script])
            #expect(outcome.status == 1, "\(outcome.stderr)")
            #expect(outcome.stdout == "from the host file \(script)\n")
            #expect(outcome.stderr.contains("File \"\(script)\", line 2"), "\(outcome.stderr)")
            #expect(outcome.stderr.contains("raise ValueError('line two')"), "\(outcome.stderr)")
            #expect(outcome.stderr.contains("ValueError: line two"), "\(outcome.stderr)")
            let sent = try String(contentsOfFile: "\(directory)/sent", encoding: .utf8)
            #expect(
                sent.contains("print('from the host file', __file__)"),
                "the launcher was sent \(sent.utf8.count) bytes without the file's text")
        }
    }

    @Test func serveSessionsRunOnTheFarSide() async throws {
        let server = try LoopbackSSHServer.start()
        defer { server.stop() }
        try await withTemporaryDirectory { directory in
            let serve = try await ServerFixture(in: directory, extraArguments: server.viaArguments)
            let first = try await serve.pyrun(["exec", "--server", "test", "-c", "z = 6\n" + Self.parentName])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout == "'sshd'\n")
            let second = try await serve.pyrun(["exec", "--server", "test", "-c", "z * 7"])
            #expect(second.stdout == "42\n", "\(second.stderr)")
            await serve.shutDownIfRunning()
        }
    }
}
