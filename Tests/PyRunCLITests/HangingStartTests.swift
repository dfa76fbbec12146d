import Foundation
import PyRunTesting
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 16 (newcomer trial): a start that hangs (a server that accepts and never answers)
/// ends at once on Ctrl-C, with status 130 and nothing left running, where it used to wait out
/// the 30 s start-up timeout; `--startup-timeout` sets that timeout, in the one-shot and
/// `pyrun mcp` alike.
@Suite struct HangingStartTests {
    /// Writes a launcher to `directory` that accepts the start and never answers, as a server
    /// that hangs does; it writes its pid to `directory/pid` first.
    private func hangingLauncher(in directory: String) throws -> String {
        let launcher = "\(directory)/hang"
        try "#!/bin/sh\necho $$ > \(directory)/pid\nexec sleep 300\n".write(
            toFile: launcher, atomically: true, encoding: .utf8)
        chmod(launcher, 0o755)
        return launcher
    }

    /// Starts `pyrun arguments` (with a start-up timeout past the 60 s this waits for pyrun
    /// to exit), waits for the hanging start to write its pid to `pidFile`,
    /// presses Ctrl-C, and checks the one-shot ends as interrupted with that process gone.
    private func interruptHangingStart(_ arguments: [String], pidFile: String) async throws {
        let pyrun = try PyrunProcess(arguments)
        let written = await poll(seconds: 60) {
            ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").hasSuffix("\n")
        }
        try #require(written, "the start never began: \(pyrun.stderr)")
        let hanging = try #require(
            Int32(
                (try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(processIsAlive(hanging))
        pyrun.send(signal: SIGINT)
        // The start-up timeout is set past finish's 60 s: an ignored Ctrl-C shows as a pyrun
        // that does not exit (and is killed), or as the timeout's status 1.
        let outcome = await pyrun.finish(seconds: 60)
        #expect(outcome.status == 130, "\(outcome.stderr)")
        #expect(outcome.stderr.isEmpty, "\(outcome.stderr)")
        #expect(await waitUntilGone(hanging, seconds: 30), "the hanging start (pid \(hanging)) outlived pyrun")
        if processIsAlive(hanging) { kill(hanging, SIGKILL) }
    }

    @Test func ctrlCEndsARemoteStartThatNeverAnswers() async throws {
        try await withTemporaryDirectory { directory in
            let launcher = try hangingLauncher(in: directory)
            try await interruptHangingStart(
                ["--via", launcher, "--startup-timeout", "90", "-c", "1"], pidFile: "\(directory)/pid")
        }
    }

    @Test func startupTimeoutSetsHowLongAStartMayTake() async throws {
        try await withTemporaryDirectory { directory in
            let launcher = try hangingLauncher(in: directory)
            let outcome = try await runPyrun(["--via", launcher, "--startup-timeout", "1.5", "-c", "1"])
            #expect(outcome.status == 1)
            // The timeout used is the one given, not the default 30 s.
            #expect(outcome.stderr.contains("did not say hello within 1.5 s"), "\(outcome.stderr)")
        }
    }

    @Test func aTimedOutStartShowsWhatTheLauncherSaidOnStderr() async throws {
        try await withTemporaryDirectory { directory in
            // A launcher that asks for a password nobody will type, as ssh without BatchMode does.
            let launcher = "\(directory)/asks"
            try "#!/bin/sh\necho 'Password for builder@far:' >&2\nexec sleep 300\n".write(
                toFile: launcher, atomically: true, encoding: .utf8)
            chmod(launcher, 0o755)
            let outcome = try await runPyrun(["--via", launcher, "--startup-timeout", "1.5", "-c", "1"])
            #expect(outcome.status == 1)
            #expect(
                outcome.stderr.contains(
                    "did not say hello within 1.5 s; on stderr it said:\nPassword for builder@far:"),
                "\(outcome.stderr)")
            // The runner is named once, with the launcher's words.
            #expect(outcome.stderr.contains("the runner (python3 via \(launcher))"), "\(outcome.stderr)")
        }
    }

    @Test func mcpTakesTheStartupTimeoutToo() async throws {
        try await withTemporaryDirectory { directory in
            let launcher = try hangingLauncher(in: directory)
            let client = try await MCPTestClient(["--via", launcher, "--startup-timeout", "1.5"])
            let reply = try await client.python("1 + 1")
            #expect(reply.status != "ok", "\(reply.text)")
            #expect(reply.text.contains("did not say hello within 1.5 s"), "\(reply.text)")
            #expect(await client.process.finish().status == 0)
        }
    }

    @Test func ctrlCEndsARemoteReplStartThatNeverAnswers() async throws {
        try await withTemporaryDirectory { directory in
            let launcher = try hangingLauncher(in: directory)
            try await interruptHangingStart(
                ["repl", "--via", launcher, "--startup-timeout", "90"], pidFile: "\(directory)/pid")
        }
    }

    @Test func ctrlCEndsALocalStartThatHangs() async throws {
        try await withTemporaryDirectory { directory in
            // The interpreter hangs while it starts, before the runner can say hello.
            try
                "import os, time\nopen(\(String(reflecting: "\(directory)/pid")), 'w').write('%d\\n' % os.getpid())\ntime.sleep(300)\n"
                .write(toFile: "\(directory)/sitecustomize.py", atomically: true, encoding: .utf8)
            try await interruptHangingStart(
                ["--env", "PYTHONPATH=\(directory)", "--startup-timeout", "90", "-c", "1"], pidFile: "\(directory)/pid")
        }
    }
}
