"""collect / collect_doctests / run: ids, outcomes, errors, tracebacks."""

import json
import os
import signal
import sys
import threading
import time
import unittest

from support import SampleTest, pyrun_testing

SLOW = 20.0  # liveness bound only


class CollectTest(SampleTest):
    def test_lists_test_functions_and_methods_in_definition_order(self):
        report = self.collect("""
            def test_b():
                pass

            def helper():
                pass

            class TestGroup:
                def test_a(self):
                    pass

                def helper(self):
                    pass

            def test_a():
                pass
        """, name="test_order.py")
        path = report["file"]
        self.assertEqual([t["id"] for t in report["tests"]],
                         [path + "::test_b", path + "::TestGroup::test_a", path + "::test_a"])
        self.assertEqual([t["line"] for t in report["tests"]], [1, 8, 14])
        self.assertEqual([t["kind"] for t in report["tests"]], ["function", "method", "function"])
        self.assertEqual(report["tests"][1]["class"], "TestGroup")
        self.assertEqual((report["selected"], report["deselected"]), (3, 0))

    def test_imported_functions_and_classes_with_init_are_not_tests(self):
        self.write("helpers.py", "def test_helper():\n    pass\n")
        report = self.collect("""
            from helpers import test_helper

            class TestNotACase:
                def __init__(self, x):
                    pass

                def test_never(self):
                    pass

            def test_real():
                pass
        """)
        self.assertEqual([t["name"] for t in report["tests"]], ["test_real"])

    def test_decorated_static_and_inherited_tests_are_collected_and_run(self):
        records = self.run_all("""
            import functools

            def logged(func):
                @functools.wraps(func)
                def wrapper(*args, **kwargs):
                    return func(*args, **kwargs)
                return wrapper

            @logged
            def test_decorated(tmp_path):
                assert tmp_path.is_dir()

            class Base:
                def test_inherited(self):
                    assert self.name == "child"

            class TestChild(Base):
                name = "child"

                @staticmethod
                def test_static():
                    pass
        """)
        self.assertEqual({name: r["outcome"] for name, r in records.items()},
                         {"test_decorated": "passed", "test_inherited": "passed", "test_static": "passed"})

    def test_keyword_selects_without_dropping(self):
        report = self.collect("""
            def test_read():
                pass

            def test_write():
                pass
        """, name="test_files_kw.py", keyword="read or files_kw and not write")
        self.assertEqual([t["selected"] for t in report["tests"]], [True, False])
        self.assertEqual((report["selected"], report["deselected"]), (1, 1))

    def test_a_bad_keyword_is_a_usage_error(self):
        report = self.collect("def test_x():\n    pass\n", keyword="read and")
        self.assertIn("expected a word", report["usageError"])
        self.assertEqual(report["tests"], [])

    def test_a_syntax_error_is_a_collection_error_of_that_file_only(self):
        broken = self.collect("def test_x(:\n    pass\n")
        self.assertEqual(broken["error"]["ename"], "SyntaxError")
        self.assertEqual(broken["error"]["line"], 1)
        self.assertEqual(broken["tests"], [])
        self.assertTrue(any("test_sample1.py" in line for line in broken["error"]["traceback"]))
        healthy = self.collect("def test_y():\n    pass\n")
        self.assertIsNone(healthy["error"])
        self.assertEqual(pyrun_testing.run(healthy["tests"][0]["id"])["outcome"], "passed")

    def test_an_error_while_loading_names_the_line_and_shows_only_the_file(self):
        report = self.collect("import os\n\nraise RuntimeError('broken fixture')\n")
        error = report["error"]
        self.assertEqual((error["ename"], error["evalue"], error["line"]), ("RuntimeError", "broken fixture", 3))
        self.assertFalse(any("pyrun_testing.py" in line for line in error["traceback"]), error["traceback"])

    def test_a_file_that_skips_while_loading_is_skipped(self):
        report = self.collect("import unittest\nraise unittest.SkipTest('needs a GPU')\n")
        self.assertEqual(report["skipped"], "needs a GPU")
        self.assertIsNone(report["error"])

    def test_the_module_sees_its_directory_and_the_kernels_public_names(self):
        self.write("neighbour.py", "VALUE = 7\n")
        main = sys.modules["__main__"]
        main.pyrun_seed_probe = 35
        self.addCleanup(delattr, main, "pyrun_seed_probe")
        record = self.run_one("from neighbour import VALUE\n\ndef test_x():\n    assert pyrun_seed_probe + VALUE == 42\n")
        self.assertEqual(record["outcome"], "passed", record)

    def test_reports_are_json_in_the_result_bundle(self):
        report = self.collect("def test_x():\n    pass\n")
        self.assertEqual(report._repr_json_(), dict(report))
        json.dumps(report._repr_json_(), allow_nan=False)
        self.assertIn("1 tests, 1 selected", repr(report))


class RunTest(SampleTest):
    def test_outcomes(self):
        records = self.run_all("""
            import unittest

            def test_passes():
                assert True

            def test_fails():
                assert 1 == 2

            def test_raises():
                {}["key"]

            def test_skips():
                skip("not here")

            def test_skips_the_unittest_way():
                raise unittest.SkipTest("nor here")

            def test_needs_a_fixture(capsys):
                pass

            def test_is_a_generator():
                yield 1

            def test_exits():
                raise SystemExit(3)
        """)
        outcomes = {name: (r["outcome"], r["ename"], r["message"]) for name, r in records.items()}
        self.assertEqual(outcomes["test_passes"], ("passed", None, None))
        self.assertEqual(outcomes["test_fails"], ("failed", "AssertionError", "AssertionError: assert 1 == 2"))
        self.assertEqual(outcomes["test_raises"], ("failed", "KeyError", "KeyError: 'key'"))
        self.assertEqual(outcomes["test_skips"], ("skipped", "Skipped", "not here"))
        self.assertEqual(outcomes["test_skips_the_unittest_way"], ("skipped", "SkipTest", "nor here"))
        self.assertEqual(records["test_needs_a_fixture"]["outcome"], "error")
        self.assertIn("capsys", records["test_needs_a_fixture"]["message"])
        self.assertEqual(records["test_is_a_generator"]["outcome"], "error")
        self.assertEqual(outcomes["test_exits"], ("failed", "SystemExit", "SystemExit: 3"))

    def test_the_traceback_has_the_tests_own_frames_only(self):
        record = self.run_one("""
            def inner():
                return 1 / 0

            def test_x():
                inner()
        """)
        lines = record["traceback"]
        self.assertEqual(lines[0], "Traceback (most recent call last):")
        files = [line for line in lines if line.lstrip().startswith("File ")]
        self.assertEqual(len(files), 2, lines)
        self.assertTrue(all("test_sample1.py" in line for line in files), lines)
        self.assertEqual(lines[-1], "ZeroDivisionError: division by zero")

    def test_prelude_internals_are_hidden_unless_the_bug_is_theirs(self):
        self.write("fake_prelude.py", """
            __pyrun_prelude__ = True

            def _check(path):
                if not path:
                    __tracebackhide__ = True
                    raise ValueError("fetch: empty path")
                return undefined_name

            def fetch(path):
                return _check(path)
        """)
        records = self.run_all("""
            from fake_prelude import fetch

            def test_caller_error():
                fetch("")

            def test_helper_bug():
                fetch("x")
        """)
        caller = "\n".join(records["test_caller_error"]["traceback"])
        self.assertNotIn("fake_prelude.py", caller)
        self.assertIn('fetch("")', caller)
        bug = "\n".join(records["test_helper_bug"]["traceback"])
        self.assertIn("fake_prelude.py", bug)
        self.assertIn("undefined_name", bug)

    def test_an_interrupt_inside_a_prelude_helper_shows_the_callers_line(self):
        self.write("waiting_prelude.py", """
            import signal

            __pyrun_prelude__ = True

            def wait_for_it():
                signal.raise_signal(signal.SIGINT)
        """)
        record = self.run_one("""
            from waiting_prelude import wait_for_it

            def test_waits():
                wait_for_it()
        """)
        self.assertEqual(record["outcome"], "interrupted")
        text = "\n".join(record["traceback"])
        self.assertNotIn("waiting_prelude.py", text)
        self.assertIn("wait_for_it()", text)

    def test_tmp_path_is_a_new_directory_removed_afterwards(self):
        records = self.run_all("""
            seen = []

            def test_uses(tmp_path):
                seen.append(tmp_path)
                (tmp_path / "f.txt").write_text("x")
                assert tmp_path.is_dir()

            def test_other(tmp_path):
                seen.append(tmp_path)
        """)
        self.assertEqual({r["outcome"] for r in records.values()}, {"passed"})
        seen = sys.modules["test_sample1"].seen
        self.assertNotEqual(seen[0], seen[1])
        self.assertFalse(any(p.exists() for p in seen))

    def test_the_directory_and_streams_are_restored_after_a_test(self):
        before = os.getcwd(), sys.stdout
        self.run_one("""
            import io, os, sys

            def test_moves():
                os.chdir("/")
                sys.stdout = io.StringIO()
        """)
        self.assertEqual((os.getcwd(), sys.stdout), before)

    def test_duration_is_measured(self):
        record = self.run_one("import time\n\ndef test_x():\n    time.sleep(0.05)\n")
        self.assertGreaterEqual(record["durationMs"], 45)

    def test_an_interrupt_ends_the_test_as_interrupted_where_it_was(self):
        source = self.write("test_hangs.py", """
            import time

            def test_hangs():
                while True:
                    time.sleep(0.01)
        """)
        (test,) = pyrun_testing.collect(source)["tests"]

        def kernel_sigint_handler(signum, frame):  # a kernel's handler: a Python frame of its own
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, kernel_sigint_handler)
        self.addCleanup(signal.signal, signal.SIGINT, previous)
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        self.addCleanup(timer.cancel)
        started = time.monotonic()
        record = pyrun_testing.run(test["id"])
        self.assertLess(time.monotonic() - started, SLOW)
        self.assertEqual(record["outcome"], "interrupted")
        self.assertEqual(record["ename"], "KeyboardInterrupt")
        self.assertIn("    time.sleep(0.01)", record["traceback"])
        self.assertFalse(any("kernel_sigint_handler" in line for line in record["traceback"]), record["traceback"])

    def test_an_uncollected_file_is_collected_on_first_run(self):
        path = self.write("test_lazy.py", "def test_x():\n    pass\n")
        self.assertEqual(pyrun_testing.run(path + "::test_x")["outcome"], "passed")

    def test_an_unknown_id_is_an_error_record(self):
        record = pyrun_testing.run("nowhere.txt::test_x")
        self.assertEqual(record["outcome"], "error")
        self.assertIn("no such test", record["message"])


class DoctestTest(SampleTest):
    def test_doctests_of_a_module_are_collected_and_run(self):
        self.write("helpers_mod.py", '''
            def double(x):
                """
                >>> double(2)
                4
                """
                return x * 2

            def wrong(x):
                """
                >>> wrong(2)
                5
                """
                return x

            def undocumented():
                pass
        ''')
        sys.path.insert(0, self.dir)
        report = pyrun_testing.collect_doctests("helpers_mod")
        names = [t["name"] for t in report["tests"]]
        self.assertEqual(names, ["helpers_mod.double", "helpers_mod.wrong"])
        self.assertTrue(report["tests"][0]["id"].endswith("helpers_mod.py::helpers_mod.double"))
        self.assertEqual(report["tests"][0]["kind"], "doctest")
        passed, failed = (pyrun_testing.run(t["id"]) for t in report["tests"])
        self.assertEqual(passed["outcome"], "passed")
        self.assertEqual(failed["outcome"], "failed")
        self.assertEqual(failed["message"], "1 of 1 examples failed")
        text = "\n".join(failed["traceback"])
        self.assertIn("Expected:\n    5\nGot:\n    2", text)

    def test_a_module_that_does_not_import_is_a_collection_error(self):
        report = pyrun_testing.collect_doctests("pyrun_surely_missing_module")
        self.assertEqual(report["error"]["ename"], "ModuleNotFoundError")

    def test_a_module_that_raises_on_import_shows_where(self):
        self.write("raising_mod.py", "x = 1\nraise ImportError('needs numpy')\n")
        sys.path.insert(0, self.dir)
        error = pyrun_testing.collect_doctests("raising_mod")["error"]
        text = "\n".join(error["traceback"])
        self.assertIn('raising_mod.py", line 2', text)
        self.assertNotIn("pyrun_testing.py", text)

    def test_keyword_applies_to_doctest_names(self):
        self.write("kw_mod.py", 'def a():\n    """\n    >>> 1\n    1\n    """\n')
        sys.path.insert(0, self.dir)
        report = pyrun_testing.collect_doctests("kw_mod", keyword="not a")
        self.assertEqual(report["deselected"], 1)


if __name__ == "__main__":
    unittest.main()
