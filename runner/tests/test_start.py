"""Start options, launch modes (script, -c import, bootstrap loader), host-gone exits."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from kernel import PYTHON, RUNNER, Kernel, parse_strict


def _load_runner_module():
    spec = importlib.util.spec_from_file_location("pyrun_runner_under_test", RUNNER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _gone(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _wait_gone(pid: int, timeout: float) -> float:
    t0 = time.monotonic()
    while not _gone(pid):
        if time.monotonic() - t0 > timeout:
            break
        time.sleep(0.005)
    return time.monotonic() - t0


class OptionTests(unittest.TestCase):
    def test_cwd_option(self):
        d = os.path.realpath(tempfile.mkdtemp())
        with open(os.path.join(d, "localmod_for_pyrun.py"), "w") as f:
            f.write("VALUE = 'imported'\n")
        k = Kernel(env={"PYRUN_CWD": d})
        try:
            self.assertEqual(k.hello["cwd"], d)
            frames = k.run("import os, localmod_for_pyrun\nos.getcwd(), localmod_for_pyrun.VALUE")
            self.assertEqual(frames[-2]["bundle"]["text/plain"], repr((d, "imported")))
        finally:
            k.close()

    def test_bad_cwd_fails_loudly(self):
        k = Kernel(env={"PYRUN_CWD": "/nonexistent/pyrun/dir"}, wait_hello=False)
        try:
            self.assertEqual(k.wait_exit(), 2)
            k.close()
            self.assertIn(b"PYRUN_CWD", k.stderr)
        finally:
            k.close()

    def test_prelude_runs_in_main_namespace(self):
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write("import sys\nprint('prelude says hi')\ndisplay('shown in prelude')\n"
                    "def helper():\n    return 'from prelude'\n")
        try:
            k = Kernel(env={"PYRUN_PRELUDE": f.name})
            try:
                self.assertNotIn("preludeError", k.hello)
                frames = k.run("helper(), __name__")
                self.assertEqual(frames[-2]["bundle"]["text/plain"], "('from prelude', '__main__')")
                self.assertEqual(frames[0]["executionCount"], 1)
            finally:
                k.close()
            self.assertIn(b"prelude says hi", k.stderr)  # prelude output: the host's log
            self.assertIn(b"shown in prelude", k.stderr)  # never a frame before hello
        finally:
            os.unlink(f.name)

    def test_prelude_error_reported_kernel_usable(self):
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write("x = 1\ndef bad():\n    raise ValueError('prelude broke')\nbad()\n")
        try:
            k = Kernel(env={"PYRUN_PRELUDE": f.name})
            try:
                err = k.hello["preludeError"]
                self.assertEqual(err["ename"], "ValueError")
                self.assertEqual(err["evalue"], "prelude broke")
                tb = "\n".join(err["traceback"])
                self.assertIn(f.name, tb)
                self.assertIn("raise ValueError('prelude broke')", tb)
                self.assertNotIn("runner.py", tb)
                frames = k.run("x + 1")
                self.assertEqual(frames[-2]["bundle"]["text/plain"], "2")
            finally:
                k.close()
        finally:
            os.unlink(f.name)

    def test_memory_limit_gives_memory_error_not_a_dead_kernel(self):
        k = Kernel(env={"PYRUN_LIMITS": json.dumps({"memoryBytes": 512 * 1024 * 1024})})
        try:
            self.assertNotIn("limitsIgnored", k.hello)
            frames = k.run("x = bytearray(2 * 1024**3)")
            self.assertEqual(frames[-2]["ename"], "MemoryError")
            frames = k.run("y = bytearray(10 * 1024**2); len(y)")
            self.assertEqual(frames[-2]["bundle"]["text/plain"], "10485760")
        finally:
            k.close()

    def test_other_limits_applied(self):
        limits = {"cpuSeconds": 100, "openFiles": 64, "fileSizeBytes": 1000}
        k = Kernel(env={"PYRUN_LIMITS": json.dumps(limits)})
        try:
            self.assertNotIn("limitsIgnored", k.hello)
            frames = k.run("import resource as r\n"
                           "[r.getrlimit(x)[0] for x in (r.RLIMIT_CPU, r.RLIMIT_NOFILE, r.RLIMIT_FSIZE)]")
            self.assertEqual(frames[-2]["bundle"]["text/plain"], "[100, 64, 1000]")
            d = tempfile.mkdtemp()
            frames = k.run("with open(%r, 'wb') as f:\n    f.write(b'x' * 5000)" % os.path.join(d, "big"))
            self.assertEqual(frames[-2]["type"], "error")
            self.assertIn("File too large", frames[-2]["evalue"])
        finally:
            k.close()

    def test_unknown_limit_is_reported_ignored(self):
        k = Kernel(env={"PYRUN_LIMITS": json.dumps({"gpuCount": 1})})
        try:
            self.assertEqual(k.hello["limitsIgnored"], ["gpuCount"])
        finally:
            k.close()


class LaunchTests(unittest.TestCase):
    def test_bootstrap_loader(self):
        loader = _load_runner_module().LOADER
        with open(RUNNER) as f:
            source = f.read()
        first = (json.dumps(source) + "\n").encode()
        # the first request travels in the same write as the source line, so
        # the loader must hand over the bytes it read past the first line
        request = json.dumps({"id": "b1", "code": "import sys\n'__file__' in dir(), sys.argv, 6*7"})
        k = Kernel(argv=[PYTHON, "-u", "-c", loader], stdin_prefix=first + request.encode() + b"\n")
        try:
            self.assertEqual(k.hello["type"], "hello")
            frames = [f for f in k.until_done("b1") if f["id"] == "b1"]
            self.assertEqual(frames[-2]["bundle"]["text/plain"], "(False, [''], 42)")
            frames = k.run("import os; os.system('echo via loader')")
            self.assertEqual(Kernel.text(frames), "via loader\n")
        finally:
            k.close()

    def _bootstrapped(self, start: dict, env=None, requests=b""):
        loader = _load_runner_module().LOADER
        with open(RUNNER) as f:
            start = dict(start, source=f.read())
        first = (json.dumps(start) + "\n").encode()
        return Kernel(argv=[PYTHON, "-u", "-c", loader], stdin_prefix=first + requests, env=env)

    def test_bootstrap_line_carries_the_environment(self):
        # A launcher (ssh, kubectl exec) passes none of the host's environment: the
        # variables, the PYRUN_* options among them, come with the source.
        with tempfile.TemporaryDirectory() as d:
            start = {"environment": {"set": {"PYRUN_CWD": d, "PYRUN_LIMITS": '{"openFiles": 200}',
                                             "GREETING": "hello there"}}}
            k = self._bootstrapped(start, env={"INHERITED": "yes"})
            try:
                self.assertEqual(k.hello["cwd"], os.path.realpath(d))
                frames = k.run("import os, resource\n"
                               "os.environ.get('GREETING'), os.environ.get('INHERITED'), "
                               "resource.getrlimit(resource.RLIMIT_NOFILE)[0], os.getcwd() == os.path.realpath(%r)" % d)
                self.assertEqual(frames[-2]["bundle"]["text/plain"], "('hello there', 'yes', 200, True)")
            finally:
                k.close()

    def test_bootstrap_code_cache_keeps_the_compiled_runner_and_runs_it_next_time(self):
        # Compiling the runner costs each remote start ~35 ms: with `codeCache` the first
        # start leaves its bytecode on the far side, and the next start runs that instead.
        with tempfile.TemporaryDirectory() as d:
            cache = os.path.join(d, "cache", "pyrun")
            k = self._bootstrapped({"codeCache": cache})
            try:
                self.assertEqual(k.run("6*7")[-2]["bundle"]["text/plain"], "42")
            finally:
                k.close()
            self.assertEqual(os.stat(cache).st_mode & 0o777, 0o700)
            kept = os.listdir(cache)
            self.assertEqual(len(kept), 1, kept)  # no temporary file left beside it
            self.assertRegex(kept[0], r"^runner-[0-9a-f]+\.bin$")
            # A stand-in under that name proves the next start runs the kept code.
            import marshal
            with open(os.path.join(cache, kept[0]), "wb") as f:
                marshal.dump(compile("import os\nos.write(1, b'from the cache\\n')", "<stand-in>", "exec"), f)
            with open(RUNNER) as f:
                line = json.dumps({"source": f.read(), "codeCache": cache}) + "\n"
            p = subprocess.run([PYTHON, "-u", "-c", _load_runner_module().LOADER], input=line.encode(),
                               capture_output=True, timeout=60)
            self.assertEqual((p.returncode, p.stdout), (0, b"from the cache\n"), p.stderr)

    def test_a_broken_or_unwritable_code_cache_only_costs_a_compile(self):
        with tempfile.TemporaryDirectory() as d:
            cache = os.path.join(d, "cache")
            k = self._bootstrapped({"codeCache": cache})
            k.close()
            (kept,) = os.listdir(cache)
            with open(os.path.join(cache, kept), "wb") as f:
                f.write(b"not marshal data")
            k = self._bootstrapped({"codeCache": cache})
            try:
                self.assertEqual(k.run("6*7")[-2]["bundle"]["text/plain"], "42")
            finally:
                k.close()
            import marshal
            with open(os.path.join(cache, kept), "rb") as f:
                self.assertTrue(hasattr(marshal.load(f), "co_code"), "the broken file was not replaced")
            # A cache path that cannot be a directory: the runner starts all the same.
            k = self._bootstrapped({"codeCache": os.path.join(cache, kept, "below-a-file")})
            try:
                self.assertEqual(k.run("6*7")[-2]["bundle"]["text/plain"], "42")
            finally:
                k.close()

    def test_bootstrap_line_can_keep_only_named_variables(self):
        start = {"environment": {"keepOnly": ["PATH", "KEPT"], "set": {"ADDED": "1"}}}
        k = self._bootstrapped(start, env={"KEPT": "k", "DROPPED": "d"})
        try:
            frames = k.run("import os\nsorted(n for n in os.environ if n in ('PATH', 'KEPT', 'DROPPED', 'ADDED'))")
            self.assertEqual(frames[-2]["bundle"]["text/plain"], "['ADDED', 'KEPT', 'PATH']")
        finally:
            k.close()

    def test_bootstrap_line_carries_the_prelude_as_sources_kept_out_of_the_environment(self):
        # The host read the files and sent their text: the far side reads no file of the
        # host's, and the code's children do not inherit sources of any size.
        big = "PADDING = %r\n" % ("x" * 200000)
        start = {"environment": {"set": {}},
                 "prelude": [{"name": "tools", "source": big + "def twice(x):\n    return 2 * x\n",
                              "filename": "/host/only/tools.py"},
                             {"name": "quiet", "source": "SECRET = 1\n", "export": False}]}
        k = self._bootstrapped(start, env={"PYRUN_PRELUDE": "/far/side/own.py"})
        try:
            self.assertNotIn("preludeErrors", k.hello)
            frames = k.run("import os, subprocess, sys\n"
                           "print(twice(21), 'SECRET' in dir(), sys.modules['quiet'].SECRET)\n"
                           "print('PYRUN_PRELUDE' in os.environ, subprocess.run(['true']).returncode)")
            self.assertEqual(Kernel.text(frames), "42 False 1\nFalse 0\n")
            frames = k.run("twice(None)")
            self.assertIn("/host/only/tools.py", "".join(frames[-2]["traceback"]))
        finally:
            k.close()

    def test_bootstrap_line_drops_the_far_sides_own_start_options(self):
        with tempfile.TemporaryDirectory() as d:
            start = {"environment": {"set": {"OTHER": "1"}}}
            k = self._bootstrapped(start, env={"PYRUN_CWD": d, "PYRUN_LIMITS": '{"openFiles": 11}'})
            try:
                self.assertNotEqual(k.hello["cwd"], os.path.realpath(d))
                frames = k.run("import os, resource\n"
                               "[n for n in os.environ if n.startswith('PYRUN_')], "
                               "resource.getrlimit(resource.RLIMIT_NOFILE)[0] != 11")
                self.assertEqual(frames[-2]["bundle"]["text/plain"], "([], True)")
            finally:
                k.close()

    def test_bootstrapped_runner_leads_a_session_of_its_own(self):
        # Started without a session of its own (as `docker exec` may start it): the runner
        # makes one, so an interrupt reaches what the code started and nothing else.
        loader = _load_runner_module().LOADER
        with open(RUNNER) as f:
            first = (json.dumps(f.read()) + "\n").encode()
        p = subprocess.Popen([PYTHON, "-u", "-c", loader], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            p.stdin.write(first + b'{"id":"s1","code":"import os\\nos.getsid(0) == os.getpid() == os.getpgrp()"}\n')
            p.stdin.flush()
            lines = []
            while not any(b'"done"' in line for line in lines):
                line = p.stdout.readline()
                self.assertTrue(line, "the runner ended before done")
                lines.append(line)
            results = [parse_strict(line.rstrip(b"\n")) for line in lines if b'"result"' in line]
            self.assertEqual(results[0]["bundle"]["text/plain"], "True")
        finally:
            p.stdin.close()
            p.wait(20)
            p.stdout.close()

    def test_loader_refuses_an_old_python_before_it_reads_the_source(self):
        # The loader runs first on any far-side python3: it says what is wrong in words,
        # with the runner's status 3, even where the runner's source could not compile.
        loader = _load_runner_module().LOADER
        code = "import sys; sys.version_info = (3, 8, 18, 'final', 0); sys.version = '3.8.18 (fake)'\n" + loader
        p = subprocess.run([PYTHON, "-c", code], capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 3)
        self.assertEqual(p.stderr, b"pyrun runner needs Python 3.9 or newer, this is 3.8.18\n")

    def test_dash_c_import_launch_hides_runner_dir(self):
        d = os.path.dirname(RUNNER)
        cmd = "__import__('sys').path.insert(0,%r);__import__('runner').main()" % d
        k = Kernel(argv=[PYTHON, "-u", "-c", cmd])
        try:
            frames = k.run("import sys\n%r in sys.path, sys.path[0]" % d)
            self.assertEqual(frames[-2]["bundle"]["text/plain"], "(False, '')")
        finally:
            k.close()

    def test_old_python_refused(self):
        code = ("import sys; sys.version_info = (3, 8, 0, 'final', 0)\n"
                "sys.path.insert(0, %r)\nimport runner\nrunner.main()" % os.path.dirname(RUNNER))
        p = subprocess.run([PYTHON, "-c", code], capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"needs Python 3.9", p.stderr)


class HostGoneTests(unittest.TestCase):
    def test_stdin_eof_exits_and_takes_group(self):
        k = Kernel()
        try:
            frames = k.run("import subprocess\np = subprocess.Popen(['sleep', '100'])\np.pid")
            child = int(frames[-2]["bundle"]["text/plain"])
            t0 = time.monotonic()
            k.proc.stdin.close()
            self.assertEqual(k.wait_exit(5), 0)
            self.assertLess(time.monotonic() - t0, 1.0)
            self.assertLess(_wait_gone(child, 2), 1.0)
        finally:
            k.close()

    def test_parent_killed_exits_within_one_second(self):
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        launcher = (
            "import subprocess, sys, time\n"
            "p = subprocess.Popen([%r, '-u', %r], stdin=%d, stdout=%d, start_new_session=True)\n"
            "print(p.pid, flush=True)\n"
            "time.sleep(100)\n" % (PYTHON, RUNNER, in_r, out_w))
        mid = subprocess.Popen([PYTHON, "-c", launcher], stdout=subprocess.PIPE, pass_fds=(in_r, out_w))
        os.close(in_r)
        os.close(out_w)
        out = os.fdopen(out_r, "rb")
        try:
            runner_pid = int(mid.stdout.readline())
            self.assertEqual(out.readline(), b"\n")  # the runner's newline before hello
            hello = parse_strict(out.readline().rstrip(b"\n"))
            self.assertEqual(hello["pid"], runner_pid)
            os.write(in_w, json.dumps({"id": "c", "code": "import subprocess\n"
                                       "subprocess.Popen(['sleep', '100']).pid"}).encode() + b"\n")
            child = None
            while child is None:
                frame = parse_strict(out.readline().rstrip(b"\n"))
                if frame["type"] == "result":
                    child = int(frame["bundle"]["text/plain"])
            out.readline()  # done
            mid.send_signal(signal.SIGKILL)
            mid.wait()
            t0 = time.monotonic()
            self.assertEqual(out.read(), b"")  # EOF: the runner is gone
            self.assertLess(time.monotonic() - t0, 1.0)
            self.assertLess(_wait_gone(runner_pid, 2), 1.0)
            self.assertLess(_wait_gone(child, 2), 1.0)
        finally:
            os.close(in_w)
            out.close()
            if mid.poll() is None:
                mid.kill()
            mid.wait()
            mid.stdout.close()


if __name__ == "__main__":
    unittest.main()
