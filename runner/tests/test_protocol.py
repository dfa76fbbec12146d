"""Request/frame basics: hello, execution frame order, results, errors, replies."""

import os
import sys
import unittest

from kernel import Kernel, KernelTest


class HelloTests(unittest.TestCase):
    def test_hello_is_first_and_complete(self):
        k = Kernel()
        try:
            h = k.hello
            self.assertEqual(h["type"], "hello")
            self.assertEqual(h["protocol"], 1)
            self.assertEqual(h["pid"], k.proc.pid)
            self.assertEqual(h["python"], "%d.%d.%d" % sys.version_info[:3])
            self.assertEqual(h["executable"], sys.executable)
            self.assertEqual(h["cwd"], os.getcwd())
            self.assertNotIn("preludeError", h)
            self.assertNotIn("limitsIgnored", h)
        finally:
            k.close()

    def test_exit_request_exits_zero_after_queued_work(self):
        k = Kernel()
        try:
            ident = k.submit("import time; time.sleep(0.05); print('last')")
            k.send({"type": "exit"})
            frames = [f for f in k.until_done(ident) if f["id"] == ident]
            self.assertEqual(Kernel.text(frames), "last\n")
            self.assertEqual(k.wait_exit(), 0)
        finally:
            k.close()

    def test_stdin_eof_finishes_queued_work_then_exits_zero(self):
        k = Kernel()
        try:
            ident = k.submit("print('still ran')")
            k.proc.stdin.close()
            frames = [f for f in k.until_done(ident) if f["id"] == ident]
            self.assertEqual(Kernel.text(frames), "still ran\n")
            self.assertEqual(k.wait_exit(5), 0)
        finally:
            k.close()


class ExecutionTests(KernelTest):
    def test_result_bundle_and_counts(self):
        k = self.kernel
        frames = self.run_ok("40 + 2")
        self.assertEqual([f["type"] for f in frames], ["started", "result", "done"])
        count = frames[0]["executionCount"]
        self.assertEqual(frames[1]["bundle"], {"text/plain": "42"})
        self.assertEqual(frames[1]["executionCount"], count)
        self.assertEqual(frames[2]["executionCount"], count)
        self.assertEqual(frames[2]["cancelled"], False)
        for key in ("durationMs", "cpuMs", "peakRssBytes"):
            self.assertIsInstance(frames[2][key], (int, float))
        self.assertGreater(frames[2]["peakRssBytes"], 1_000_000)
        again = self.run_ok("None")
        self.assertEqual([f["type"] for f in again], ["started", "done"])
        self.assertEqual(again[0]["executionCount"], count + 1)
        silent = self.run_ok("'quiet'", silent=True)
        self.assertEqual([f["type"] for f in silent], ["started", "done"])
        self.assertEqual(silent[-1]["executionCount"], count + 1)
        after = self.run_ok("1")
        self.assertEqual(after[-1]["executionCount"], count + 2)
        self.assertIsNone(k.proc.poll())

    def test_state_persists_and_namespace_is_clean(self):
        self.run_ok("persisted_value = 41")
        frames = self.run_ok("persisted_value + 1")
        self.assertEqual(frames[1]["bundle"]["text/plain"], "42")
        k = Kernel()
        try:
            frames = k.run("dir()")
            names = eval(frames[1]["bundle"]["text/plain"])
            standard = {"__builtins__", "__name__", "__doc__", "__loader__", "__package__", "__spec__"}
            self.assertEqual(set(names), standard)  # no runner internals, no __file__
        finally:
            k.close()
        frames = self.run_ok("__name__, type(__builtins__).__name__")
        self.assertEqual(frames[1]["bundle"]["text/plain"], "('__main__', 'module')")

    def test_pickle_user_class(self):
        frames = self.run_ok(
            "import pickle\nclass Point:\n    def __init__(self, x): self.x = x\n"
            "pickle.loads(pickle.dumps(Point(3))).x")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "3")

    def test_execute_without_type(self):
        k = self.kernel
        k.send({"id": "notype", "code": "'x'*3"})
        frames = [f for f in k.until_done("notype") if f["id"] == "notype"]
        self.assertEqual(frames[1]["bundle"]["text/plain"], "'xxx'")

    def test_exception_traceback_user_frames_only(self):
        frames = self.kernel.run("def boom():\n    raise ValueError('bad')\nboom()")
        self.assertValidExecution(frames)
        err = frames[-2]
        self.assertEqual(err["type"], "error")
        self.assertEqual(err["ename"], "ValueError")
        self.assertEqual(err["evalue"], "bad")
        tb = "\n".join(err["traceback"])
        self.assertRegex(tb, r'File "<cell \d+>", line 3, in <module>')
        self.assertIn("    boom()", tb)
        self.assertIn("raise ValueError('bad')", tb)
        self.assertNotIn("runner", tb)
        self.assertEqual(frames[-1]["status"], "error")
        self.assertEqual(frames[-1]["cancelled"], False)

    def test_syntax_error(self):
        frames = self.kernel.run("x = (1,\n")
        self.assertValidExecution(frames)
        err = frames[-2]
        self.assertEqual(err["ename"], "SyntaxError")
        self.assertIn("<cell", "\n".join(err["traceback"]))
        self.assertNotIn("runner", "\n".join(err["traceback"]))

    def test_system_exit_keeps_kernel(self):
        for code in ("import sys; sys.exit(3)", "exit()", "quit()", "raise SystemExit"):
            frames = self.kernel.run(code)
            self.assertValidExecution(frames)
            self.assertEqual(frames[-2]["ename"], "SystemExit", code)
        self.assertEqual(self.run_ok("1+1")[1]["bundle"]["text/plain"], "2")

    def test_keyboard_interrupt_raised_by_code_is_not_cancelled(self):
        frames = self.kernel.run("raise KeyboardInterrupt")
        self.assertValidExecution(frames)
        self.assertEqual(frames[-2]["ename"], "KeyboardInterrupt")
        self.assertEqual(frames[-1]["cancelled"], False)

    def test_unknown_request_and_bad_json(self):
        k = self.kernel
        reply = k.request({"type": "frobnicate", "id": "u1"}, "error_reply")
        self.assertEqual(reply["message"], "unknown request type frobnicate")
        k.write_raw(b"this is not json\n")
        reply = k.wait_for(lambda f: f["type"] == "error_reply")[-1]
        self.assertIsNone(reply["id"])
        k.write_raw(b"[1, 2]\n")
        reply = k.wait_for(lambda f: f["type"] == "error_reply")[-1]
        self.assertIsNone(reply["id"])
        self.assertEqual(self.run_ok("2*3")[1]["bundle"]["text/plain"], "6")

    def test_info_reply(self):
        k = self.kernel
        self.run_ok("pass")
        reply = k.request({"type": "info", "id": "i1"}, "info_reply")
        self.assertEqual(reply["protocol"], 1)
        self.assertEqual(reply["pid"], k.proc.pid)
        self.assertEqual(reply["busy"], False)
        self.assertEqual(reply["executable"], sys.executable)
        self.assertGreaterEqual(reply["executionCount"], 1)

    def test_os_exit_ends_process(self):
        k = Kernel()
        try:
            k.submit("import os; os._exit(7)")
            self.assertEqual(k.wait_exit(), 7)
        finally:
            k.close()

    def _frames_until_eof(self, k):
        frames = []
        while True:
            try:
                frames.append(k.next_frame())
            except AssertionError as closed:
                if "closed stdout" not in str(closed):
                    raise
                return frames

    def test_output_before_os_exit_reaches_the_host(self):
        # Without flush=True too: an unbuffered terminal would have shown it.
        k = Kernel()
        try:
            ident = k.submit("import os, sys\nprint('last words')\nsys.stderr.write('err words\\n')\nos._exit(3)")
            self.assertEqual(k.wait_exit(), 3)
            frames = [f for f in self._frames_until_eof(k) if f.get("id") == ident]
            self.assertEqual(Kernel.text(frames), "last words\n")
            self.assertEqual(Kernel.text(frames, "stderr"), "err words\n")
            self.assertEqual(Kernel.of_type(frames, "done"), [])
        finally:
            k.close()

    def test_flush_sends_pending_output_at_once(self):
        k = Kernel()
        try:
            ident = k.submit("import sys, time\nprint('now', flush=True)\ntime.sleep(30)")
            # The frame comes while the code still sleeps, long before any timer would matter.
            frames = k.wait_for(lambda f: f.get("type") == "stdout", timeout=10)
            self.assertEqual(frames[-1], {"type": "stdout", "id": ident, "data": "now\n"})
        finally:
            k.close()


if __name__ == "__main__":
    unittest.main()
