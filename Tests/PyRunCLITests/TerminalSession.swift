import Foundation
import Testing

/// A person at a terminal, scripted: pyrun runs on a pseudo-terminal (Python's `pty` module
/// plays the terminal) and the steps type keys, wait for text on the screen, resize the
/// window or send a signal. `expect` waits for text after the previous expectation's match,
/// as pexpect does, because the line editor redraws prompts.
struct TerminalSession {
    enum Step {
        /// Bytes typed, as a terminal sends them (`\r` for Enter, `\u{1B}[D` for Left…).
        case type(String)
        /// Waits until `text` appears after the last text waited for.
        case expect(String)
        /// Resizes the window, which sends SIGWINCH to the foreground process.
        case resize(columns: Int)
        /// Sends a signal to pyrun.
        case signal(Int32)
        /// Runs another program to its end meanwhile (another client of a shared session),
        /// with the session's environment.
        case command([String])

        var json: [Any] {
            switch self {
            case .type(let text): ["type", text]
            case .expect(let text): ["expect", text]
            case .resize(let columns): ["resize", columns]
            case .signal(let number): ["signal", Int(number)]
            case .command(let arguments): ["command", arguments]
            }
        }
    }

    /// What the terminal showed and how pyrun left it.
    struct Outcome {
        /// pyrun's exit status (128 + N for signal N).
        var status: Int32
        /// Everything pyrun wrote to the terminal.
        var screen: String
        /// Whether the terminal was back in line mode with echo (as a shell needs it) once pyrun ended.
        var terminalRestored: Bool
        /// What went wrong in the driver (a text that never came), or empty.
        var problem: String
    }

    /// A folder for `XDG_STATE_HOME`, so history goes there and nowhere else.
    let stateFolder: String
    var arguments: [String] = []
    var environment: [String: String] = [:]

    init(arguments: [String] = [], environment: [String: String] = [:]) {
        stateFolder =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("pyrun-terminal-\(UUID().uuidString)").path
        self.arguments = arguments
        self.environment = environment
    }

    /// Where pyrun keeps the history in this session's state folder.
    var historyPath: String { "\(stateFolder)/pyrun/history" }

    /// Runs pyrun through `steps`, then waits for it to end (the last step should make it end).
    func run(_ steps: [Step]) async throws -> Outcome {
        let environment = ["XDG_STATE_HOME": stateFolder, "TERM": "xterm"]
            .merging(self.environment) { _, given in given }
        func json(_ value: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: value), as: UTF8.self)
        }
        let driver = try PyrunProcess(
            [
                "python3", "-c", Self.driver, pyrunExecutable, try json(arguments), try json(steps.map(\.json)),
                try json(environment),
            ],
            executable: "/usr/bin/env")
        let finished = await driver.finish(seconds: 120)
        let report = (try? JSONSerialization.jsonObject(with: Data(finished.stdout.utf8))) as? [String: Any] ?? [:]
        return Outcome(
            status: Int32(report["status"] as? Int ?? -1),
            screen: report["screen"] as? String ?? "",
            terminalRestored: report["restored"] as? Bool ?? false,
            problem: finished.status == 0 ? "" : "the driver failed (\(finished.status)): \(finished.stderr)")
    }

    /// Removes the state folder.
    func cleanUp() {
        try? FileManager.default.removeItem(atPath: stateFolder)
    }

    /// The driver: argv is pyrun's path, its arguments, the steps and the environment (JSON);
    /// prints a JSON report, or exits non-zero with the screen so far when a text never came.
    private static let driver = #"""
        import fcntl, json, os, pty, select, struct, subprocess, sys, termios, time
        program, arguments, steps, environment = sys.argv[1], *map(json.loads, sys.argv[2:5])
        pid, fd = pty.fork()
        if pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            os.execve(program, [program] + arguments, {**os.environ, **environment})
        out, seen = b"", 0

        def fail(message):
            sys.stderr.write("%s; screen so far: %r\n" % (message, out[-1500:]))
            os.kill(pid, 9)
            sys.exit(1)

        def read_some(deadline):
            """Adds what pyrun wrote by `deadline`; False once the terminal is closed."""
            global out
            ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                return True
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            out += data
            return bool(data)

        def expect(text, timeout=60.0):
            global seen
            token, deadline = text.encode(), time.monotonic() + timeout
            while out.find(token, seen) < 0:
                if time.monotonic() > deadline:
                    fail("timed out waiting for %r" % text)
                if not read_some(deadline):
                    fail("pyrun closed the terminal while %r was awaited" % text)
            seen = out.find(token, seen) + len(token)

        for kind, value in steps:
            if kind == "type":
                os.write(fd, value.encode())
            elif kind == "expect":
                expect(value)
            elif kind == "resize":
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, value, 0, 0))
            elif kind == "signal":
                os.kill(pid, value)
            elif kind == "command":
                subprocess.run(value, env={**os.environ, **environment}, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        deadline = time.monotonic() + 60
        while read_some(deadline):
            if time.monotonic() > deadline:
                fail("pyrun did not end")
        _, status = os.waitpid(pid, 0)
        flags = termios.tcgetattr(fd)[3]
        restored = bool(flags & termios.ICANON) and bool(flags & termios.ECHO)
        print(json.dumps({"status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status),
                          "screen": out.decode("utf-8", "replace"), "restored": restored}))
        """#
}
