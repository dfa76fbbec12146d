import Foundation
import Testing

/// The interactive session on a real pseudo-terminal, as a person uses it: plain `pyrun` with
/// no arguments on a terminal starts it, prompts are shown, Ctrl-C at the prompt drops the
/// line, Ctrl-D leaves. Python's `pty` module plays the terminal.
@Suite struct TerminalReplTests {
    /// Drives pyrun (argv[1]) on a pty; exits non-zero with the screen when something is missing.
    private static let terminalDriver = #"""
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1]])
out = b""
def read_until(token, count=1, timeout=30.0):
    """Reads the terminal until `token` has appeared `count` times."""
    global out
    end = time.monotonic() + timeout
    while out.count(token) < count:
        left = end - time.monotonic()
        if left <= 0:
            sys.exit("timed out waiting for %r; screen so far: %r" % (token, out[-800:]))
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                sys.exit("pyrun closed the terminal early; screen: %r" % out[-800:])
            out += data
read_until(b"In [1]: ")
os.write(fd, b"x = 6 * 7\r")
read_until(b"In [2]: ")
os.write(fd, b"x\r")
read_until(b"Out[2]: 42")
read_until(b"In [3]: ")
os.write(fd, b"half a line\x03")  # Ctrl-C at the prompt drops the line
read_until(b"In [3]: ", count=2)
os.write(fd, b"x + 1\r")
read_until(b"Out[3]: 43")
os.write(fd, b"\x04")
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"""#

    @Test func plainPyrunOnATerminalIsAnInteractiveSession() async throws {
        let driver = try PyrunProcess(
            ["python3", "-c", Self.terminalDriver, pyrunExecutable], executable: "/usr/bin/env")
        let outcome = await driver.finish()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("In [1]: "))
        #expect(outcome.stdout.contains("Out[2]: 42"))
        #expect(outcome.stdout.contains("KeyboardInterrupt"))
        // The half-typed line was dropped: `x + 1` ran alone.
        #expect(outcome.stdout.contains("Out[3]: 43"))
    }
}
