"""Hostile code and faults (issue 9): each class is one numbered item.

Every test drives runner.py as a real subprocess over the real pipe, as a
hostile user (or an unlucky environment) would.
"""

import os
import tempfile
import unittest

from kernel import Kernel


def _scratch_dir() -> str:
    return os.path.realpath(tempfile.mkdtemp(prefix="pyrun-hostile-"))


class StartupNoiseTests(unittest.TestCase):
    """Item 10: a partial stdout line written at interpreter start cannot break hello."""

    def _kernel_with_sitecustomize(self, body: str) -> Kernel:
        d = _scratch_dir()
        with open(os.path.join(d, "sitecustomize.py"), "w") as f:
            f.write(body)
        return Kernel(env={"PYTHONPATH": d})

    def test_partial_line_before_hello_ends_as_its_own_line(self):
        k = self._kernel_with_sitecustomize("import sys\nsys.stdout.write('note: ')\n")
        try:
            self.assertEqual(k.hello["type"], "hello")
            self.assertEqual(k.noise, [b"note: "])
            self.assertEqual(k.run("6*7")[-2]["bundle"]["text/plain"], "42")
        finally:
            k.close()

    def test_whole_noise_line_is_kept_not_merged(self):
        k = self._kernel_with_sitecustomize("print('a whole line')\n")
        try:
            self.assertEqual(k.hello["type"], "hello")
            self.assertEqual(k.noise, [b"a whole line"])
        finally:
            k.close()


class ExecuteWithoutIdTests(unittest.TestCase):
    """Item 12: an execute without a string id is rejected, never split across channels."""

    def test_missing_or_non_string_id_gets_error_reply_and_nothing_else(self):
        k = Kernel()
        try:
            for request in ({"type": "execute", "code": "print('lost?')"},
                            {"code": "print('lost?')"},
                            {"type": "execute", "id": 7, "code": "print('lost?')"},
                            {"type": "execute", "id": None, "code": "print('lost?')"}):
                k.send(request)
                reply = k.next_frame()
                self.assertEqual(reply["type"], "error_reply", request)
                self.assertIsNone(reply["id"])
                self.assertIn("id", reply["message"])
            frames = k.run("print('next')")  # the very next frame is this execution's
            self.assertEqual([f["type"] for f in frames], ["started", "stdout", "done"])
            self.assertEqual(Kernel.text(frames), "next\n")
            self.assertEqual(frames[0]["executionCount"], 1)  # nothing ran before it
            k.close()
            self.assertNotIn(b"lost?", k.stderr)
        finally:
            k.close()


class SigintHandlerRearmTests(unittest.TestCase):
    """Item 11: user code replacing the SIGINT handler cannot make an idle kernel killable."""

    def test_default_int_handler_and_sig_dfl_are_undone_after_the_execution(self):
        for handler in ("signal.default_int_handler", "signal.SIG_DFL"):
            k = Kernel()
            try:
                frames = k.run("import signal\nsignal.signal(signal.SIGINT, %s)" % handler)
                self.assertEqual(frames[-1]["status"], "ok", handler)
                k.sigint()  # idle: must be ignored
                frames = k.run("'alive'")
                self.assertEqual(frames[-2]["bundle"]["text/plain"], "'alive'", handler)
                self.assertEqual(frames[-1]["cancelled"], False, handler)
                ident = k.submit("import time; time.sleep(30)")  # interrupts still cancel
                k.wait_for(lambda f: f["type"] == "started" and f["id"] == ident)
                k.sigint()
                frames = [f for f in k.until_done(ident, timeout=10) if f["id"] == ident]
                self.assertEqual(frames[-1]["cancelled"], True, handler)
                self.assertIsNone(k.proc.poll())
            finally:
                k.close()


if __name__ == "__main__":
    unittest.main()
