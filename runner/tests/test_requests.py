"""Requests answered while an execution runs, and stdin (input/getpass)."""

import unittest

from kernel import Kernel, KernelTest


class WhileBusyTests(KernelTest):
    def test_complete_is_complete_info_answered_during_sleep(self):
        k = self.kernel
        self.run_ok("import os\nalpha_value = 1\nalphabet = 2")
        ident = k.submit("import time\nprint('sleeping')\ntime.sleep(30)")
        k.wait_for(lambda f: f["type"] == "stdout" and f["id"] == ident)

        info = k.request({"type": "info", "id": "q1"}, "info_reply", timeout=2)
        self.assertTrue(info["busy"])
        comp = k.request({"type": "complete", "id": "q2", "code": "x = alph", "cursor": 8},
                         "complete_reply", timeout=2)
        self.assertEqual(comp["matches"], ["alpha_value", "alphabet"])
        self.assertEqual((comp["cursorStart"], comp["cursorEnd"]), (4, 8))
        comp = k.request({"type": "complete", "id": "q3", "code": "os.pat", "cursor": 6},
                         "complete_reply", timeout=2)
        self.assertIn("os.path", comp["matches"])
        self.assertEqual(comp["cursorStart"], 0)
        for code, status, indent in (
            ("x = 1", "complete", ""),
            ("for i in range(3):", "incomplete", "    "),
            ("x = (1,", "incomplete", ""),
            ("x = )", "invalid", ""),
            ("await something()", "complete", ""),
            ("!ls -la", "complete", ""),
        ):
            reply = k.request({"type": "is_complete", "id": "ic", "code": code}, "is_complete_reply",
                              timeout=2)
            self.assertEqual((reply["status"], reply["indent"]), (status, indent), code)
        # the execution is still running: nothing of it has ended
        k.sigint()
        frames = [f for f in k.until_done(ident) if f["id"] == ident]
        self.assertTrue(frames[-1]["cancelled"])

    def test_complete_cursor_counts_unicode_scalars(self):
        k = self.kernel
        self.run_ok("zeta_ünï = 3")
        code = "s = '€'; zeta_"
        reply = k.request({"type": "complete", "id": "c1", "code": code, "cursor": len(code)},
                          "complete_reply")
        self.assertEqual(reply["matches"], ["zeta_ünï"])
        self.assertEqual(reply["cursorStart"], len(code) - 5)


class StdinTests(KernelTest):
    def test_input_with_allow_stdin(self):
        k = self.kernel
        ident = k.submit("name = input('who? ')\nprint('hi', name)", allowStdin=True)
        frames = k.wait_for(lambda f: f["type"] == "input_request")
        req = frames[-1]
        self.assertEqual((req["id"], req["prompt"], req["password"]), (ident, "who? ", False))
        k.send({"type": "input_reply", "id": ident, "value": "Ada"})
        frames = [f for f in k.until_done(ident) if f["id"] == ident]
        self.assertEqual(Kernel.text(frames), "hi Ada\n")
        self.assertEqual(frames[-1]["status"], "ok")

    def test_getpass_with_allow_stdin(self):
        k = self.kernel
        ident = k.submit("import getpass\nsecret = getpass.getpass()\nlen(secret)", allowStdin=True)
        req = k.wait_for(lambda f: f["type"] == "input_request")[-1]
        self.assertEqual((req["prompt"], req["password"]), ("Password: ", True))
        k.send({"type": "input_reply", "id": ident, "value": "hunter2"})
        frames = [f for f in k.until_done(ident) if f["id"] == ident]
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "7")

    def test_input_reply_with_eof_raises_eof_error(self):
        k = self.kernel
        ident = k.submit("try:\n    input('more? ')\nexcept EOFError as e:\n    print('eof:', e)", allowStdin=True)
        k.wait_for(lambda f: f["type"] == "input_request")
        k.send({"type": "input_reply", "id": ident, "eof": True})
        frames = [f for f in k.until_done(ident) if f.get("id") == ident]
        self.assertTrue(Kernel.text(frames).startswith("eof: end of input"))
        self.assertEqual(frames[-1]["status"], "ok")

    def test_host_closing_stdin_ends_a_waiting_input(self):
        k = Kernel()
        try:
            ident = k.submit("try:\n    input()\nexcept EOFError as e:\n    print('eof:', e)", allowStdin=True)
            k.wait_for(lambda f: f["type"] == "input_request")
            k.proc.stdin.close()
            frames = [f for f in k.until_done(ident) if f["id"] == ident]
            self.assertIn("eof: stdin is not available", Kernel.text(frames))
            self.assertEqual(k.wait_exit(5), 0)
        finally:
            k.close()

    def test_large_request_line(self):
        payload = "z" * (20 * 1024 * 1024)
        frames = self.kernel.run("s = %r\nlen(s)" % payload)
        self.assertEqual(frames[-2]["bundle"]["text/plain"], str(len(payload)))

    def test_input_without_stdin_is_immediate_eof(self):
        for code in ("input('x')", "import getpass; getpass.getpass()"):
            frames = self.kernel.run(code)
            self.assertValidExecution(frames)
            self.assertEqual(Kernel.of_type(frames, "input_request"), [])
            self.assertEqual(frames[-2]["ename"], "EOFError")
            self.assertIn("stdin is not available", frames[-2]["evalue"])
            # it says what to do about it, for each kind of host
            for remedy in ("ExecutionOptions.stdinHandler", "--allow-stdin", "allowStdin"):
                self.assertIn(remedy, frames[-2]["evalue"])


if __name__ == "__main__":
    unittest.main()
