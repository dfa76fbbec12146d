"""Test helper: drives runner.py as a real subprocess over the real pipe.

Every frame line is parsed strictly (no NaN/Infinity, valid UTF-8, no lone
surrogates), so any test that reads frames also checks the wire format.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
# PYRUN_TEST_RUNNER runs the suite against another runner file (e.g. an older one,
# to see a new test fail without the fix it tests).
RUNNER = os.environ.get("PYRUN_TEST_RUNNER") or os.path.normpath(os.path.join(HERE, "..", "runner.py"))
PYTHON = sys.executable
TIMEOUT = 20.0  # liveness bound only; nothing waits for it on success


def _reject_constant(name):
    raise ValueError("non-strict JSON constant %s" % name)


def _check_strings(obj):
    if isinstance(obj, str):
        for ch in obj:
            if "\ud800" <= ch <= "\udfff":
                raise ValueError("lone surrogate in frame: %r" % obj[:80])
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_strings(k)
            _check_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            _check_strings(v)


def parse_strict(line: bytes) -> dict:
    """Parse one frame line the way a strict decoder (Swift's) would."""
    text = line.decode("utf-8")  # strict: invalid UTF-8 raises
    for ch in text:
        if ch < " ":
            raise ValueError("raw control character in frame line")
    obj = json.loads(text, parse_constant=_reject_constant)
    if not isinstance(obj, dict) or "type" not in obj:
        raise ValueError("frame is not an object with a type: %r" % text[:200])
    if len(text) < 5000:  # full scan of huge frames is slow; they are checked elsewhere
        _check_strings(obj)
    return obj


class Kernel:
    """One runner process in its own process group, frames read with timeouts."""

    def __init__(self, env=None, argv=None, sigint_ignored=False, stdin_prefix=None,
                 wait_hello=True, cwd=None):
        full_env = dict(os.environ)
        full_env.pop("PYRUN_CWD", None)
        full_env.pop("PYRUN_PRELUDE", None)
        full_env.pop("PYRUN_LIMITS", None)
        full_env.pop("PYRUN_HOST_FUNCTIONS", None)
        if env:
            full_env.update(env)
        preexec = None
        if sigint_ignored:
            def preexec():
                signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.proc = subprocess.Popen(
            argv or [PYTHON, "-u", RUNNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=preexec,
            env=full_env,
            cwd=cwd,
        )
        self.frames = queue.Queue()
        self.noise = []  # lines before hello that are not frames (start-up noise)
        self.stderr = b""
        self._n = 0
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()
        if stdin_prefix is not None:
            self.write_raw(stdin_prefix)
        self.hello = self.next_frame() if wait_hello else None

    def _read_stdout(self):
        f = self.proc.stdout
        seen_hello = False
        while True:
            line = f.readline()
            if not line:
                self.frames.put(None)
                return
            if line == b"\n":  # hosts ignore empty lines (one comes before hello)
                continue
            if not seen_hello:  # non-JSON lines before the first frame: start-up noise
                try:
                    parse_strict(line.rstrip(b"\n"))
                    seen_hello = True
                except Exception:
                    self.noise.append(line.rstrip(b"\n"))
                    continue
            try:
                self.frames.put(parse_strict(line.rstrip(b"\n")))
            except Exception as e:  # surfaces in the test that reads it
                self.frames.put(e)

    def _read_stderr(self):
        while True:
            chunk = self.proc.stderr.read1(65536) if hasattr(self.proc.stderr, "read1") else self.proc.stderr.read(65536)
            if not chunk:
                return
            self.stderr += chunk

    # -- sending
    def write_raw(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj: dict):
        self.write_raw((json.dumps(obj) + "\n").encode())

    def new_id(self) -> str:
        self._n += 1
        return "e%d" % self._n

    def submit(self, code: str, **opts) -> str:
        ident = opts.pop("id", None) or self.new_id()
        req = {"type": "execute", "id": ident, "code": code}
        req.update(opts)
        self.send(req)
        return ident

    # -- reading
    def next_frame(self, timeout=TIMEOUT) -> dict:
        try:
            f = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no frame within %ss; stderr: %r" % (timeout, self.stderr[-2000:]))
        if f is None:
            self.frames.put(None)
            raise AssertionError("runner closed stdout; rc=%r stderr=%r" % (self.proc.poll(), self.stderr[-2000:]))
        if isinstance(f, Exception):
            raise AssertionError("bad frame: %s" % f)
        return f

    def wait_for(self, pred, timeout=TIMEOUT) -> list:
        """Frames up to and including the first that satisfies pred."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            f = self.next_frame(max(0.01, deadline - time.monotonic()))
            got.append(f)
            if pred(f):
                return got

    def until_done(self, ident, timeout=TIMEOUT) -> list:
        return self.wait_for(lambda f: f.get("type") == "done" and f.get("id") == ident, timeout)

    def run(self, code: str, timeout=TIMEOUT, **opts) -> list:
        """Execute and return this execution's frames, started ... done."""
        ident = self.submit(code, **opts)
        frames = [f for f in self.until_done(ident, timeout) if f.get("id") == ident]
        return frames

    def request(self, obj: dict, reply_type: str, timeout=TIMEOUT) -> dict:
        self.send(obj)
        frames = self.wait_for(lambda f: f.get("type") == reply_type and f.get("id") == obj.get("id"), timeout)
        return frames[-1]

    # -- helpers over frame lists
    @staticmethod
    def text(frames, stream="stdout") -> str:
        return "".join(f["data"] for f in frames if f["type"] == stream)

    @staticmethod
    def of_type(frames, kind):
        return [f for f in frames if f["type"] == kind]

    def sigint(self):
        os.killpg(self.proc.pid, signal.SIGINT)

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait()
        for t in self._threads:  # everything the runner wrote is read
            t.join(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except Exception:
                pass

    def wait_exit(self, timeout=TIMEOUT) -> int:
        return self.proc.wait(timeout)


class KernelTest(unittest.TestCase):
    """One shared kernel per test class (fast), fresh ones where a test needs it."""

    kernel = None

    @classmethod
    def setUpClass(cls):
        cls.kernel = Kernel()

    @classmethod
    def tearDownClass(cls):
        if cls.kernel is not None:
            cls.kernel.close()

    def run_ok(self, code, **opts) -> list:
        frames = self.kernel.run(code, **opts)
        self.assertValidExecution(frames)
        done = frames[-1]
        if done["status"] != "ok":
            self.fail("execution failed: %r" % (frames,))
        return frames

    def assertValidExecution(self, frames):
        """started first, exactly one done last, at most one error just before it."""
        self.assertEqual(frames[0]["type"], "started", frames)
        self.assertEqual(frames[-1]["type"], "done", frames)
        kinds = [f["type"] for f in frames]
        self.assertEqual(kinds.count("started"), 1, kinds)
        self.assertEqual(kinds.count("done"), 1, kinds)
        self.assertLessEqual(kinds.count("error"), 1, kinds)
        if "error" in kinds:
            self.assertEqual(kinds.index("error"), len(kinds) - 2, kinds)
        ident = frames[0]["id"]
        for f in frames:
            self.assertEqual(f["id"], ident)
