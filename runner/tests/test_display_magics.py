"""display() and rich bundles, matplotlib figures, magics, top-level await."""

import base64
import importlib.util
import os
import sys
import tempfile
import unittest

from kernel import Kernel, KernelTest

HAS_MPL = importlib.util.find_spec("matplotlib") is not None


class DisplayTests(KernelTest):
    def test_display_plain_and_rich(self):
        frames = self.run_ok(
            "class Rich:\n"
            "    def _repr_html_(self): return '<b>r</b>'\n"
            "    def _repr_markdown_(self): return '**r**'\n"
            "    def _repr_png_(self): return b'\\x89PNG'\n"
            "    def _repr_svg_(self): return '<svg/>'\n"
            "    def _repr_latex_(self): return '$r$'\n"
            "    def _repr_json_(self): return {'r': [1, 2]}\n"
            "    def __repr__(self): return 'Rich()'\n"
            "print('before')\n"
            "display(Rich(), 7)\n"
            "print('after')\n")
        kinds = [f["type"] for f in frames]
        self.assertEqual(kinds, ["started", "stdout", "display", "display", "stdout", "done"])
        b = frames[2]["bundle"]
        self.assertEqual(b["text/plain"], "Rich()")
        self.assertEqual(b["text/html"], "<b>r</b>")
        self.assertEqual(b["text/markdown"], "**r**")
        self.assertEqual(base64.b64decode(b["image/png"]), b"\x89PNG")
        self.assertEqual(b["image/svg+xml"], "<svg/>")
        self.assertEqual(b["text/latex"], "$r$")
        self.assertEqual(b["application/json"], {"r": [1, 2]})
        self.assertEqual(frames[3]["bundle"], {"text/plain": "7"})

    def test_mimebundle_and_result(self):
        frames = self.run_ok(
            "class B:\n"
            "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
            "        return {'text/html': '<i>b</i>', 'image/jpeg': b'\\xff\\xd8'}, {'image/jpeg': {'width': 2}}\n"
            "B()")
        res = frames[-2]
        self.assertEqual(res["type"], "result")
        self.assertEqual(res["bundle"]["text/html"], "<i>b</i>")
        self.assertEqual(base64.b64decode(res["bundle"]["image/jpeg"]), b"\xff\xd8")
        self.assertIn("text/plain", res["bundle"])

    def test_failing_repr_method_is_skipped(self):
        frames = self.run_ok(
            "class F:\n    def _repr_html_(self): raise RuntimeError('no html')\n"
            "    def __repr__(self): return 'F'\nF()")
        self.assertEqual(frames[-2]["bundle"], {"text/plain": "F"})
        self.assertIn("no html", Kernel.text(frames, "stderr"))

    def test_result_repr_error_is_an_error(self):
        frames = self.kernel.run("class R:\n    def __repr__(self): raise ValueError('repr!')\nR()")
        self.assertValidExecution(frames)
        self.assertEqual(frames[-2]["ename"], "ValueError")

    def test_underscore_holds_last_result(self):
        self.run_ok("6 * 7")
        frames = self.run_ok("_ + 1")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "43")

    @unittest.skipUnless(HAS_MPL or os.environ.get("PYRUN_REQUIRE_MATPLOTLIB"),
                         "matplotlib is not installed (scripts/test runs this with it)")
    def test_matplotlib_figures_flushed_as_png(self):
        self.assertTrue(HAS_MPL, "PYRUN_REQUIRE_MATPLOTLIB is set but %s has no matplotlib" % sys.executable)
        frames = self.run_ok("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nNone")
        disp = Kernel.of_type(frames, "display")
        self.assertEqual(len(disp), 1)
        self.assertTrue(base64.b64decode(disp[0]["bundle"]["image/png"]).startswith(b"\x89PNG"))
        frames = self.run_ok("len(plt.get_fignums())")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "0")


class AwaitTests(KernelTest):
    def test_top_level_await_keeps_one_loop(self):
        self.run_ok("import asyncio\nloop1 = asyncio.get_running_loop() if False else None\n"
                    "async def get_loop():\n    return asyncio.get_running_loop()\n"
                    "first = await get_loop()")
        frames = self.run_ok("second = await get_loop()\nfirst is second, first.is_closed()")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "(True, False)")
        frames = self.run_ok("await asyncio.sleep(0.001, 'value')")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "'value'")

    def test_await_exception_traceback(self):
        frames = self.kernel.run("async def bad():\n    raise KeyError('k')\nawait bad()")
        self.assertValidExecution(frames)
        self.assertEqual(frames[-2]["ename"], "KeyError")
        tb = "\n".join(frames[-2]["traceback"])
        self.assertIn("await bad()", tb)
        self.assertNotIn("asyncio", tb)
        self.assertNotIn("runner", tb)


class MagicTests(KernelTest):
    def test_shell_streams_and_strings_untouched(self):
        frames = self.run_ok(
            "s = '''\n!not a command\n%not a magic\n'''\n"
            "t = \"!x\"; u = '%d' % 5\n"
            "!echo from-shell\n"
            "if True:\n    !echo indented\n"
            "v = (10\n% 3)\n"
            "s.splitlines()[1:], t, u, v")
        self.assertEqual(Kernel.text(frames), "from-shell\nindented\n")
        self.assertEqual(frames[-2]["bundle"]["text/plain"],
                         "(['!not a command', '%not a magic'], '!x', '5', 1)")

    def test_shell_capture_and_exit_code(self):
        frames = self.run_ok("files = !printf 'a\\nb\\n'; echo err >&2\n"
                             "here = %pwd\n"
                             "!exit 3\n"
                             "files, _exit_code, here == __import__('os').getcwd()")
        self.assertEqual(Kernel.text(frames, "stderr"), "err\n")
        self.assertEqual(Kernel.text(frames, "stdout"), "")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "(['a', 'b'], 3, True)")
        frames = self.run_ok("!true")
        self.assertEqual([f["type"] for f in frames], ["started", "done"])  # no result for !cmd

    def test_shell_expands_python_values_as_ipython_does(self):
        frames = self.run_ok("word = 'hello'\nnums = [1, 2]\n"
                             "!echo {word.upper()} $word {nums[1] * 10} {word!r} {len({'a': 1})}")
        self.assertEqual(Kernel.text(frames), "HELLO hello 20 hello 1\n")  # the shell ate the quotes
        frames = self.run_ok("import os\nos.environ['PYRUN_SHELL_VAR'] = 'from-env'\n"
                             "!echo {{braces}} $$PYRUN_SHELL_VAR $PYRUN_SHELL_VAR '$word' \"$word\"")
        self.assertEqual(Kernel.text(frames), "{braces} from-env from-env $word hello\n")
        frames = self.run_ok("!echo {1/0} {} $nothing_here-")  # a failing expression: run as written
        self.assertEqual(Kernel.text(frames), "{1/0} {} -\n")
        frames = self.run_ok("def twice(n):\n    !echo {n * 2} $n\n    out = !echo {n}\n    return out\n"
                             "twice(21)")
        self.assertEqual(Kernel.text(frames), "42 21\n")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "['21']")
        frames = self.run_ok("!awk 'BEGIN {print \"awk\", 1}'")  # awk braces are not expressions
        self.assertEqual(Kernel.text(frames), "awk 1\n")

    def test_cd_pwd_persist(self):
        d = tempfile.mkdtemp()
        try:
            frames = self.run_ok("%%cd %s" % d)
            self.assertEqual(Kernel.text(frames), os.path.realpath(d) + "\n")
            frames = self.run_ok("%pwd")
            self.assertEqual(frames[-2]["bundle"]["text/plain"], repr(os.path.realpath(d)))
            frames = self.run_ok("import os; os.getcwd()")
            self.assertEqual(frames[-2]["bundle"]["text/plain"], repr(os.path.realpath(d)))
        finally:
            self.run_ok("%%cd %s" % os.getcwd())
            os.rmdir(d)

    def test_env(self):
        self.run_ok("%env PYRUN_TEST_VAR=hello")
        frames = self.run_ok("%env PYRUN_TEST_VAR")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "'hello'")
        frames = self.run_ok("!echo $PYRUN_TEST_VAR")
        self.assertEqual(Kernel.text(frames), "hello\n")
        frames = self.run_ok("%env")
        self.assertIn("'PYRUN_TEST_VAR': 'hello'", frames[-2]["bundle"]["text/plain"])

    def test_time_and_timeit(self):
        frames = self.run_ok("%time sum(range(1000))")
        self.assertIn("Wall time:", Kernel.text(frames))
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "499500")
        frames = self.run_ok("%timeit sum(range(100))")
        self.assertRegex(Kernel.text(frames), r"per loop \(mean ± std\. dev\. of \d+ runs, \d+ loops? each\)")
        self.assertLess(frames[-1]["durationMs"], 3000)

    def test_unknown_magic(self):
        frames = self.kernel.run("%nosuchmagic x")
        self.assertValidExecution(frames)
        self.assertEqual(frames[-2]["ename"], "UsageError")

    def test_pip_uses_kernel_interpreter(self):
        frames = self.run_ok("%pip --version")
        out = Kernel.text(frames)
        self.assertIn("pip ", out)
        self.assertIn("python %d.%d" % sys.version_info[:2], out)


if __name__ == "__main__":
    unittest.main()
