"""Preludes: PYRUN_PRELUDE's list of entries, failures per file, names that
survive wipes, tracebacks without helper internals, and +json values."""

import json
import os
import shutil
import tempfile
import time
import unittest

from kernel import PYTHON, Kernel

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PRELUDE = os.path.normpath(os.path.join(HERE, "..", "..", "Resources", "prelude", "pyrun_prelude.py"))


def _result(frames):
    results = [f for f in frames if f["type"] == "result"]
    return results[-1]["bundle"]["text/plain"] if results else None


def _error(frames):
    errors = [f for f in frames if f["type"] == "error"]
    return errors[-1] if errors else None


class PreludeDirectory:
    """A temporary directory of prelude files, removed afterwards."""

    def __init__(self, files):
        self.path = os.path.realpath(tempfile.mkdtemp(prefix="pyrun-prelude-test-"))
        for name, text in files.items():
            full = os.path.join(self.path, name)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)

    def __getitem__(self, name):
        return os.path.join(self.path, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        shutil.rmtree(self.path, ignore_errors=True)


def _kernel(entries, env=None):
    full = {"PYRUN_PRELUDE": entries if isinstance(entries, str) else json.dumps(entries)}
    full.update(env or {})
    return Kernel(env=full)


class PreludeListTests(unittest.TestCase):
    def test_entries_load_in_order_as_modules_and_export_their_names(self):
        with PreludeDirectory({
            "first_helpers.py": "__all__ = ['shout', 'shared']\n"
                                "def shout(s):\n    return s.upper()\n"
                                "def _private():\n    pass\n"
                                "not_listed = 1\nshared = 'first'\n",
            "second_helpers.py": "import first_helpers\n"
                                 "def whisper(s):\n    return first_helpers.shout(s).lower()\n"
                                 "shared = 'second'\n",
        }) as d:
            k = _kernel([{"path": d["first_helpers.py"]}, {"path": d["second_helpers.py"]}])
            try:
                self.assertNotIn("preludeErrors", k.hello)
                self.assertNotIn("preludeError", k.hello)
                # Without __all__, the public names are exported, as `from second_helpers import *`
                # would: the module it imported too.
                frames = k.run("import sys\n(shout('a'), whisper('B'), shared, shout.__module__,"
                               " 'not_listed' in globals(), '_private' in globals(),"
                               " sys.modules['first_helpers'].__pyrun_prelude__, 'first_helpers' in globals())")
                self.assertEqual(_result(frames), repr(("A", "b", "second", "first_helpers", False, False,
                                                        True, True)))
            finally:
                k.close()

    def test_a_plain_path_is_still_one_file(self):
        with PreludeDirectory({"plain.py": "def helper():\n    return 'plain'\n"}) as d:
            k = _kernel(d["plain.py"])
            try:
                self.assertNotIn("preludeErrors", k.hello)
                self.assertEqual(_result(k.run("helper()")), "'plain'")
            finally:
                k.close()

    def test_a_module_entry_is_imported_by_the_kernels_own_imports(self):
        with PreludeDirectory({"agent_tools_for_test.py": "def tool():\n    return 'tool'\n"}) as d:
            k = _kernel([{"module": "agent_tools_for_test"}], env={"PYRUN_CWD": d.path})
            try:
                self.assertNotIn("preludeErrors", k.hello)
                self.assertEqual(_result(k.run("tool(), tool.__globals__['__pyrun_prelude__']")), "('tool', True)")
            finally:
                k.close()

    def test_an_inline_source_entry_names_its_file_in_tracebacks(self):
        source = "def fails():\n    raise RuntimeError('from inline')\n"
        k = _kernel([{"name": "remote_tools", "source": source, "filename": "/remote/remote_tools.py"}])
        try:
            self.assertNotIn("preludeErrors", k.hello)
            frames = k.run("import remote_tools\nfails.__module__, remote_tools.fails is fails")
            self.assertEqual(_result(frames), "('remote_tools', True)")
            error = _error(k.run("fails()"))
            text = "\n".join(error["traceback"])
            self.assertIn('File "/remote/remote_tools.py", line 2, in fails', text)
            self.assertIn("raise RuntimeError('from inline')", text)  # the source lines are shown
        finally:
            k.close()

    def test_export_false_loads_without_touching_main(self):
        with PreludeDirectory({"quiet_module.py": "def hidden_helper():\n    return 'hidden'\n"}) as d:
            k = _kernel([{"path": d["quiet_module.py"], "export": False}])
            try:
                frames = k.run("import quiet_module\n'hidden_helper' in globals(), quiet_module.hidden_helper()")
                self.assertEqual(_result(frames), "(False, 'hidden')")
            finally:
                k.close()

    def test_a_prelude_named_like_the_standard_library_does_not_replace_it(self):
        with PreludeDirectory({"json.py": "def dumps_twice(x):\n    return 2 * x\n"}) as d:
            k = _kernel([{"path": d["json.py"]}])
            try:
                frames = k.run("import json\njson.dumps([1]), dumps_twice(2)")
                self.assertEqual(_result(frames), "('[1]', 4)")
            finally:
                k.close()

    def test_bytecode_is_cached_beside_a_prelude_file(self):
        with PreludeDirectory({"cached_tools.py": "VALUE = 1\n"}) as d:
            env = {"PYTHONDONTWRITEBYTECODE": ""}
            k = _kernel([{"path": d["cached_tools.py"]}], env=env)
            try:
                self.assertEqual(_result(k.run("VALUE")), "1")
            finally:
                k.close()
            cache = os.path.join(d.path, "__pycache__")
            self.assertTrue(os.path.isdir(cache) and any(n.startswith("cached_tools.") for n in os.listdir(cache)),
                            os.listdir(d.path))

    def test_a_host_installed_file_is_cached_even_where_bytecode_writing_is_off(self):
        with PreludeDirectory({"user_tools.py": "USER = 1\n", "host_tools.py": "HOST = 2\n"}) as d:
            k = _kernel([{"path": d["user_tools.py"]}, {"path": d["host_tools.py"], "cacheBytecode": True}],
                        env={"PYTHONDONTWRITEBYTECODE": "1"})
            try:
                self.assertEqual(_result(k.run("import sys\nUSER + HOST, sys.dont_write_bytecode")), "(3, True)")
            finally:
                k.close()
            cached = os.listdir(os.path.join(d.path, "__pycache__"))
            self.assertTrue(any(n.startswith("host_tools.") for n in cached), cached)
            self.assertFalse(any(n.startswith("user_tools.") for n in cached), cached)


class PreludeFailureTests(unittest.TestCase):
    def test_a_failing_file_is_reported_and_the_others_still_load(self):
        with PreludeDirectory({
            "a_ok.py": "def from_a():\n    return 'a'\n",
            "b_broken.py": "def from_b():\n    return 'b'\n\ndef setup():\n    raise ValueError('b is broken')\n\nsetup()\n"
                           "def never_defined():\n    pass\n",
            "c_ok.py": "def from_c():\n    return 'c'\n",
        }) as d:
            k = _kernel([{"path": d[n]} for n in ("a_ok.py", "b_broken.py", "c_ok.py")])
            try:
                errors = k.hello["preludeErrors"]
                self.assertEqual(len(errors), 1, errors)
                error = errors[0]
                self.assertEqual(error["file"], d["b_broken.py"])
                self.assertEqual(error["line"], 5)  # where in b_broken.py it was raised
                self.assertEqual((error["ename"], error["evalue"]), ("ValueError", "b is broken"))
                text = "\n".join(error["traceback"])
                self.assertIn('b_broken.py", line 5, in setup', text)
                self.assertNotIn("importlib", text)
                self.assertNotIn("runner", text)
                self.assertEqual(k.hello["preludeError"], error)
                frames = k.run("from_a(), from_b(), from_c(), 'never_defined' in globals()")
                self.assertEqual(_result(frames), "('a', 'b', 'c', False)")
                # A failed file is not left in sys.modules, as after a failed import.
                self.assertEqual(_result(k.run("import sys\n'b_broken' in sys.modules, 'c_ok' in sys.modules")),
                                 "(False, True)")
            finally:
                k.close()

    def test_a_syntax_error_and_a_missing_file_name_their_file(self):
        with PreludeDirectory({"bad_syntax.py": "x = 1\ndef broken(:\n    pass\n", "fine.py": "FINE = True\n"}) as d:
            missing = os.path.join(d.path, "missing.py")
            k = _kernel([{"path": d["bad_syntax.py"]}, {"path": missing}, {"module": "no_such_module_for_pyrun"},
                         {"path": d["fine.py"]}])
            try:
                errors = k.hello["preludeErrors"]
                self.assertEqual([e["ename"] for e in errors],
                                 ["SyntaxError", "FileNotFoundError", "ModuleNotFoundError"], errors)
                self.assertEqual((errors[0]["file"], errors[0]["line"]), (d["bad_syntax.py"], 2))
                self.assertEqual(errors[1]["file"], missing)
                self.assertIn(missing, errors[1]["evalue"])
                self.assertEqual(errors[2]["file"], "no_such_module_for_pyrun")
                self.assertEqual(_result(k.run("FINE")), "True")
            finally:
                k.close()

    def test_a_bad_prelude_list_is_an_error_and_the_kernel_works(self):
        for spec, words in (('[{"path": ', "PYRUN_PRELUDE"), ('[{"nothing": 1}, 7]', "path")):
            k = _kernel(spec)
            try:
                errors = k.hello["preludeErrors"]
                self.assertEqual(errors[0]["ename"], "ValueError")
                self.assertIn(words, errors[0]["evalue"])
                self.assertEqual(_result(k.run("1 + 1")), "2")
            finally:
                k.close()


class ProtectedNameTests(unittest.TestCase):
    kernel = None

    @classmethod
    def setUpClass(cls):
        cls.directory = PreludeDirectory({"guarded.py": "def helper():\n    return 'helper'\n"})
        cls.kernel = _kernel([{"path": cls.directory["guarded.py"]}])

    @classmethod
    def tearDownClass(cls):
        cls.kernel.close()
        cls.directory.__exit__()

    def test_a_deleted_helper_is_back_for_the_next_execution(self):
        frames = self.kernel.run("del helper\n'helper' in globals()")
        self.assertEqual(_result(frames), "False")
        self.assertEqual(_result(self.kernel.run("helper()")), "'helper'")

    def test_a_wiped_namespace_gets_its_helpers_back(self):
        self.kernel.run("user_value = 1")
        self.kernel.run("globals().clear()")
        self.assertEqual(_result(self.kernel.run("helper(), 'user_value' in globals()")), "('helper', False)")

    def test_a_rebound_name_stays_the_users(self):
        self.kernel.run("helper = lambda: 'mine'")
        self.assertEqual(_result(self.kernel.run("helper()")), "'mine'")
        self.kernel.run("del helper")

    def test_reset_magic_clears_user_names_and_keeps_helpers(self):
        self.kernel.run("user_value = 1\nhelper = 'rebound'")
        frames = self.kernel.run("%reset -f\n'user_value' in globals(), helper(), __name__")
        self.assertEqual(_result(frames), "(False, 'helper', '__main__')")
        self.assertEqual(_result(self.kernel.run("%reset\n'helper' in globals()")), "True")
        error = _error(self.kernel.run("%reset in"))
        self.assertEqual(error["ename"], "UsageError")


class TracebackHidingTests(unittest.TestCase):
    kernel = None

    @classmethod
    def setUpClass(cls):
        cls.directory = PreludeDirectory({"hiding_tools.py": (
            "import time\n"
            "def checked(path):\n"
            "    return _open_checked(path)\n"
            "def _open_checked(path):\n"
            "    __tracebackhide__ = True\n"
            "    raise FileNotFoundError('checked: no such file: %r' % path)\n"
            "def buggy():\n"
            "    return {}['missing']\n"
            "def calls_back(function):\n"
            "    return function()\n"
            "def waits():\n"
            "    print('waiting', flush=True)\n"
            "    time.sleep(60)\n")})
        cls.kernel = _kernel([{"path": cls.directory["hiding_tools.py"]}])

    @classmethod
    def tearDownClass(cls):
        cls.kernel.close()
        cls.directory.__exit__()

    def _traceback(self, code):
        error = _error(self.kernel.run(code))
        self.assertIsNotNone(error)
        return error, "\n".join(error["traceback"])

    def test_a_helper_raising_on_purpose_shows_the_callers_line_only(self):
        error, text = self._traceback("x = 1\nchecked('nope.txt')")
        self.assertEqual(error["ename"], "FileNotFoundError")
        self.assertIn("<cell", text)
        self.assertIn("checked('nope.txt')", text)
        self.assertNotIn("hiding_tools.py", text)
        self.assertTrue(text.endswith("FileNotFoundError: checked: no such file: 'nope.txt'"), text)

    def test_a_bug_in_a_helper_keeps_the_helpers_frames(self):
        error, text = self._traceback("buggy()")
        self.assertEqual(error["ename"], "KeyError")
        self.assertIn('hiding_tools.py", line 8, in buggy', text)

    def test_an_error_in_the_users_callback_keeps_every_frame(self):
        _, text = self._traceback("def mine():\n    raise ValueError('mine')\ncalls_back(mine)")
        self.assertIn("in calls_back", text)
        self.assertIn("in mine", text)

    def test_an_interrupt_inside_a_helper_ends_at_the_users_line(self):
        ident = self.kernel.submit("waits()")
        self.kernel.wait_for(lambda f: f.get("type") == "stdout" and "waiting" in f.get("data", ""))
        self.kernel.sigint()
        frames = [f for f in self.kernel.until_done(ident) if f.get("id") == ident]
        error = _error(frames)
        self.assertEqual(error["ename"], "KeyboardInterrupt")
        self.assertTrue(frames[-1]["cancelled"])
        text = "\n".join(error["traceback"])
        self.assertIn("waits()", text)
        self.assertNotIn("hiding_tools.py", text)
        self.assertNotIn("time.sleep", text)

    def test_a_user_error_without_helpers_is_unchanged(self):
        _, text = self._traceback("def f():\n    return 1 / 0\nf()")
        self.assertIn("in f", text)
        self.assertIn("ZeroDivisionError", text)


class DefaultPreludeTests(unittest.TestCase):
    """The default prelude as pyrun loads it: statuses as JSON, errors at the user's line."""

    kernel = None

    @classmethod
    def setUpClass(cls):
        cls.workspace = os.path.realpath(tempfile.mkdtemp(prefix="pyrun-prelude-ws-"))
        with open(os.path.join(cls.workspace, "notes.txt"), "w") as f:
            f.write("one\ntwo\n")
        cls.kernel = _kernel([{"path": DEFAULT_PRELUDE}], env={"PYRUN_CWD": cls.workspace})

    @classmethod
    def tearDownClass(cls):
        cls.kernel.close()
        shutil.rmtree(cls.workspace, ignore_errors=True)

    def test_status_displays_carry_json_objects(self):
        frames = self.kernel.run("read('notes.txt')")
        displays = [f for f in frames if f["type"] == "display"]
        status = displays[0]["bundle"]["application/vnd.pyrun.status+json"]
        self.assertEqual(status, {"op": "read", "path": "notes.txt", "offset": 1, "lines": 2, "totalLines": 2})
        self.assertEqual(displays[0]["bundle"]["text/plain"], "read notes.txt: lines 1-2 of 2")
        self.assertIn("1\tone", _result(frames))

    def test_a_missing_file_shows_the_call_not_the_helper(self):
        error = _error(self.kernel.run("read('absent.txt')"))
        text = "\n".join(error["traceback"])
        self.assertEqual(error["ename"], "FileNotFoundError")
        self.assertIn("read('absent.txt')", text)
        self.assertNotIn("pyrun_prelude.py", text)

    def test_every_json_suffix_keeps_its_value(self):
        frames = self.kernel.run(
            "class Card:\n"
            "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
            "        return {'application/vnd.example+json': {'n': [1, float('nan')]}, 'text/plain': 'card'}\n"
            "display(Card())")
        bundle = [f for f in frames if f["type"] == "display"][0]["bundle"]
        self.assertEqual(bundle["application/vnd.example+json"], {"n": [1, "NaN"]})


class PreludeStartCostTests(unittest.TestCase):
    def test_the_default_prelude_imports_nothing_a_bare_kernel_does_not(self):
        listing = "import sys\nsorted(sys.modules)"
        bare = Kernel()
        try:
            bare_modules = set(eval(_result(bare.run(listing))))
        finally:
            bare.close()
        k = _kernel([{"path": DEFAULT_PRELUDE}])
        try:
            modules = set(eval(_result(k.run(listing))))
        finally:
            k.close()
        self.assertEqual(modules - bare_modules, {"pyrun_prelude"})


if __name__ == "__main__":
    unittest.main()
