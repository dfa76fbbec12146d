"""Requests answered while an execution runs, completion, and stdin (input/getpass)."""

import os
import tempfile
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


class CompletionTests(unittest.TestCase):
    """Completion knows modules and what the code imports, without running it."""

    @classmethod
    def setUpClass(cls):
        cls.dir = d = os.path.realpath(tempfile.mkdtemp(prefix="pyrun-complete-"))
        marker = os.path.join(d, "imported.log")
        record = "with open(%r, 'a') as log:\n    log.write(__name__ + '\\n')\n" % marker
        files = {
            "usermod_for_completion.py": record + "VALUE = 1\n",
            "usermod_run_first.py": "VALUE = 1\n",
            "colorsys.py": record + "USER = 1\n",  # a standard name (that no other imports), shadowed here
            "userpkg_for_completion/__init__.py": record,
            "userpkg_for_completion/submodule.py": record,
        }
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        cls.marker = marker
        cls.kernel = Kernel(env={"PYRUN_CWD": d})

    @classmethod
    def tearDownClass(cls):
        cls.kernel.close()

    def complete(self, code):
        reply = self.kernel.request({"type": "complete", "id": "c", "code": code, "cursor": len(code)},
                                    "complete_reply")
        return reply["matches"], reply["cursorStart"]

    def assertNothingImported(self):
        self.assertFalse(os.path.exists(self.marker), "completion imported a user file")

    def test_module_names_after_import_and_from(self):
        self.assertEqual(self.complete("import json.dec"), (["json.decoder"], 7))
        self.assertEqual(self.complete("from collections.ab"), (["collections.abc"], 5))
        matches, start = self.complete("import sys, o")
        self.assertIn("os", matches)
        self.assertIn("operator", matches)
        self.assertEqual(start, 12)
        self.assertIn("marshal", self.complete("import mars")[0])  # built into the interpreter
        self.assertEqual(self.complete("import json as ")[0], [])

    def test_names_a_module_offers_after_from_import(self):
        self.assertEqual(self.complete("from json import JSONDec"), (["JSONDecodeError", "JSONDecoder"], 17))
        self.assertEqual(self.complete("from os.path import (dirname, joi")[0], ["join"])

    def test_attributes_of_modules_the_code_imports_before_it_ran(self):
        self.assertEqual(self.complete("import math; math.sq"), (["math.sqrt"], 13))
        self.assertIn("statistics.median", self.complete("import statistics\nstatistics.med")[0])
        self.assertEqual(self.complete("import statistics as st; st.fmea")[0], ["st.fmean"])
        self.assertEqual(self.complete("from os import path\npath.joi")[0], ["path.join"])
        self.assertIn("statistics", self.complete("import statistics\nstatis")[0])

    def test_user_modules_are_listed_never_imported(self):
        self.assertEqual(self.complete("import usermod_for_comp")[0], ["usermod_for_completion"])
        self.assertEqual(self.complete("import userpkg_for_completion.sub")[0],
                         ["userpkg_for_completion.submodule"])
        self.assertEqual(self.complete("from userpkg_for_completion import sub")[0], ["submodule"])
        self.assertEqual(self.complete("import usermod_for_completion as u; u.VAL")[0], [])
        self.assertEqual(self.complete("from usermod_for_completion import VAL")[0], [])
        # the code's `import colorsys` would load the user's file: no standard attributes, no import
        self.assertEqual(self.complete("import colorsys; colorsys.rgb_to")[0], [])
        self.assertNothingImported()

    def test_a_module_the_code_already_imported_is_completed(self):
        frames = self.kernel.run("import usermod_run_first as already")
        self.assertEqual(frames[-1]["status"], "ok")
        self.assertEqual(self.complete("from usermod_run_first import VAL")[0], ["VALUE"])
        self.assertEqual(self.complete("already.VAL")[0], ["already.VALUE"])

    def test_new_files_are_seen(self):
        self.assertEqual(self.complete("import brand_new_mod")[0], [])
        with open(os.path.join(self.dir, "brand_new_module.py"), "w") as f:
            f.write("")
        self.assertEqual(self.complete("import brand_new_mod")[0], ["brand_new_module"])


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
