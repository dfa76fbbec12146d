"""Hostile code and faults (issue 9): each class is one numbered item.

Every test drives runner.py as a real subprocess over the real pipe, as a
hostile user (or an unlucky environment) would.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from kernel import PYTHON, RUNNER, Kernel

RUNNER_MODULE = os.path.splitext(os.path.basename(RUNNER))[0]


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
                            {"type": "execute", "id": None, "code": "print('lost?')"},
                            {"type": "execute", "id": "lone \ud800", "code": "print('lost?')"}):
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


def _pipe_links(k: Kernel) -> list:
    """How the host's three pipes of kernel k appear in /proc/<pid>/fd."""
    return ["pipe:[%d]" % os.fstat(f.fileno()).st_ino for f in (k.proc.stdin, k.proc.stdout, k.proc.stderr)]


class ForkedChildTests(unittest.TestCase):
    """Item 1: a forked child that leaves user code exits; it never runs the runner's loop."""

    @classmethod
    def setUpClass(cls):
        cls.k = Kernel()

    @classmethod
    def tearDownClass(cls):
        cls.k.close()

    def assertOneCleanExecution(self, frames):
        kinds = [f["type"] for f in frames]
        self.assertEqual(kinds[0], "started", kinds)
        self.assertEqual(kinds[-1], "done", kinds)
        self.assertEqual(kinds.count("started") + kinds.count("done"), 2, kinds)
        for stream in ("stdout", "stderr"):
            self.assertNotIn('"type"', Kernel.text(frames, stream))  # no frame as text

    def test_child_calling_sys_exit_does_not_hang_the_execution(self):
        frames = self.k.run("import os, sys\npid = os.fork()\nif pid == 0: sys.exit(0)\n"
                            "os.waitpid(pid, 0); print('parent done')", timeout=15)
        self.assertOneCleanExecution(frames)
        self.assertEqual(Kernel.text(frames), "parent done\n")
        self.assertEqual(frames[-1]["status"], "ok")

    def test_every_way_out_of_the_code_gives_the_status_python_would(self):
        cases = [("pass", 0, ""), ("print('bye')", 0, ""), ("raise ValueError('in child')", 1, "ValueError: in child"),
                 ("sys.exit(5)", 5, ""), ("sys.exit('a message')", 1, "a message"),
                 ("exit(300)", 300 & 0xFF, ""), ("raise KeyboardInterrupt", -2, "KeyboardInterrupt"),
                 ("6 * 7", 0, "")]
        for body, status, stderr in cases:
            code = ("import os, sys\npid = os.fork()\nif pid == 0:\n    %s\nelse:\n"
                    "    _, st = os.waitpid(pid, 0)\n    print('status', os.waitstatus_to_exitcode(st))" % body)
            frames = self.k.run(code, timeout=15)
            self.assertOneCleanExecution(frames)
            self.assertEqual(Kernel.of_type(frames, "result"), [], body)  # the child's value is not shown
            out = Kernel.text(frames)
            self.assertTrue(out.endswith("status %d\n" % status), (body, out))
            self.assertIn(stderr, Kernel.text(frames, "stderr"), body)
            self.assertEqual(frames[-1]["status"], "ok", body)
        self.assertEqual(self.k.run("'still the kernel'")[-2]["bundle"]["text/plain"], "'still the kernel'")

    def test_child_holds_none_of_the_runners_private_fds(self):
        code = ("import os, sys\npid = os.fork()\nif pid == 0:\n"
                "    links = []\n"
                "    for fd in os.listdir('/proc/self/fd'):\n"
                "        try:\n"
                "            links.append(os.readlink('/proc/self/fd/' + fd))\n"
                "        except OSError:\n"
                "            pass\n"
                "    print(sorted(links))\n"
                "else:\n"
                "    os.waitpid(pid, 0)")
        frames = self.k.run(code, timeout=15)
        self.assertOneCleanExecution(frames)
        links = eval(Kernel.text(frames))
        self.assertIn("/dev/null", links)  # fd 0, so the listing is real
        for pipe in _pipe_links(self.k):
            self.assertNotIn(pipe, links)

    def test_display_and_input_in_a_child_write_no_frames(self):
        code = ("import os\npid = os.fork()\nif pid == 0:\n    display({'a': 1})\n"
                "    try:\n        input('?')\n    except EOFError as e:\n        print('eof', e)\n"
                "else:\n    os.waitpid(pid, 0)")
        frames = self.k.run(code, timeout=15, allowStdin=True)
        self.assertOneCleanExecution(frames)
        self.assertEqual(Kernel.of_type(frames, "display"), [])
        self.assertEqual(Kernel.of_type(frames, "input_request"), [])
        out = Kernel.text(frames)
        self.assertIn("{'a': 1}\n", out)
        self.assertIn("eof ", out)


class PrivateChannelTests(unittest.TestCase):
    """Items 6 and 7: user code closing or reusing fds cannot silence or divert the kernel."""

    FIND_FD = ("import os\n"
               "def private_fd(link):\n"
               "    for fd in os.listdir('/proc/self/fd'):\n"
               "        try:\n"
               "            if os.readlink('/proc/self/fd/' + fd) == link:\n"
               "                return int(fd)\n"
               "        except OSError:\n"
               "            pass\n")

    def test_closing_low_fds_leaves_the_kernel_working(self):
        k = Kernel()
        try:
            frames = k.run("import os\nos.closerange(3, 20)\nprint('after closerange')")
            self.assertEqual(Kernel.text(frames), "after closerange\n")
            self.assertEqual(frames[-1]["status"], "ok")
            frames = k.run("f = open(os.devnull, 'w'); print('next', f.fileno() < 20)")
            self.assertEqual(Kernel.text(frames), "next True\n")
            self.assertIsNone(k.proc.poll())
        finally:
            k.close()

    def _assert_channel_lost(self, k, which, diagnostics_left=True):
        self.assertEqual(k.wait_exit(), 76)
        k.close()
        if diagnostics_left:  # else the status is all that can reach the host
            self.assertIn(b"the %s channel was closed or replaced" % which.encode(), k.stderr)

    def test_frame_fd_closed_exits_76(self):
        k = Kernel()
        try:
            frame_link = _pipe_links(k)[1]
            k.submit(self.FIND_FD + "os.close(private_fd(%r))\nprint('unheard')" % frame_link)
            self._assert_channel_lost(k, "frame")
        finally:
            k.close()

    def test_all_fds_closed_then_a_file_opened_exits_76(self):
        k = Kernel()
        try:
            k.submit("import os\nos.closerange(3, 65536)\nf = open(os.devnull, 'w')\nprint('unheard')")
            self._assert_channel_lost(k, "frame", diagnostics_left=False)
        finally:
            k.close()

    def test_frame_fd_reused_by_a_file_gets_no_frames(self):
        d = _scratch_dir()
        path = os.path.join(d, "x.txt")
        k = Kernel()
        try:
            frame_link = _pipe_links(k)[1]
            k.submit(self.FIND_FD + "f = open(%r, 'w')\nos.dup2(f.fileno(), private_fd(%r))\nprint('hi')"
                     % (path, frame_link))
            self._assert_channel_lost(k, "frame")
            with open(path, "rb") as f:
                self.assertEqual(f.read(), b"")  # no frame was diverted into the file
        finally:
            k.close()

    def test_request_fd_replaced_exits_76_not_0(self):
        k = Kernel()
        try:
            request_link = _pipe_links(k)[0]
            frames = k.run(self.FIND_FD + "null = os.open(os.devnull, os.O_RDONLY)\n"
                           "os.dup2(null, private_fd(%r))\nprint('replaced')" % request_link)
            self.assertEqual(Kernel.text(frames), "replaced\n")
            k.submit("print('read from the old pipe, then noticed')")
            self._assert_channel_lost(k, "request")
        finally:
            k.close()


SHADOWING_NAMES = (
    "ast", "linecache", "traceback", "re", "json", "types", "codeop", "tokenize", "token", "threading",
    "getpass", "rlcompleter", "subprocess", "asyncio", "base64", "io", "timeit", "shlex", "resource",
    "select", "selectors", "socket", "signal", "enum", "functools", "keyword", "inspect", "dis", "warnings",
    "contextlib", "weakref", "ctypes", "struct", "pkgutil", "textwrap", "unicodedata", "queue", "heapq",
    "operator", "copy", "string", "platform", "errno", "importlib", "_json", "_queue", "_ast",
)


# `python -c` itself imports linecache from the working directory since 3.13
# (to show the command's source in tracebacks), before any runner code runs:
# python3.13 -c 'print(1)' fails there too.  A host avoids it by starting the
# interpreter in a directory of its own (PYRUN_CWD names the user's) or with -P.
INTERPRETER_IMPORTS_FOR_DASH_C = ("linecache",) if sys.version_info >= (3, 13) else ()


def _shadowing_dir(except_names=()) -> str:
    """A directory whose files have the names of standard modules; importing
    one records its name and fails, as an unrelated user file would."""
    d = _scratch_dir()
    for name in SHADOWING_NAMES:
        if name in except_names:
            continue
        with open(os.path.join(d, name + ".py"), "w") as f:
            f.write("with open(%r, 'a') as log:\n    log.write(__name__ + '\\n')\n"
                    "raise ImportError('the user file %s.py')\n" % (os.path.join(d, "imported.log"), name))
    with open(os.path.join(d, "usermod.py"), "w") as f:
        f.write("VALUE = 'the user module'\n")
    return d


class UserFileNamesTests(unittest.TestCase):
    """Item 5: files named like standard modules in the working directory do not break the runner."""

    def exercise(self, k: Kernel, d: str):
        frames = k.run("x = 1\nx + 1")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "2", frames)
        frames = k.run("def f():\n    raise ValueError('boom')\nf()")
        self.assertEqual(frames[-2]["ename"], "ValueError", frames)
        self.assertIn("    raise ValueError('boom')", frames[-2]["traceback"])
        reply = k.request({"type": "is_complete", "id": "ic", "code": "def f():"}, "is_complete_reply")
        self.assertEqual(reply["status"], "incomplete")
        k.run("import os")
        reply = k.request({"type": "complete", "id": "c", "code": "os.pa", "cursor": 5}, "complete_reply")
        self.assertIn("os.path", reply["matches"])
        self.assertEqual(Kernel.text(k.run("!echo shell ok")), "shell ok\n")
        self.assertEqual(k.run("x = !echo captured\nx")[-2]["bundle"]["text/plain"], "['captured']")
        frames = k.run("async def g():\n    return 'awaited'\nawait g()")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "'awaited'", frames)
        self.assertIn("Wall time", Kernel.text(k.run("%time 1 + 1")))
        self.assertIn("per loop", Kernel.text(k.run("%timeit pass")))
        self.assertEqual(k.run("display(3)")[1]["bundle"]["text/plain"], "3")
        self.assertEqual(k.run("input()")[-2]["ename"], "EOFError")
        frames = k.run("import usermod\nusermod.VALUE")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "'the user module'")
        self.assertFalse(os.path.exists(os.path.join(d, "imported.log")),
                         "the runner imported user files: %s" % open(os.path.join(d, "imported.log")).read()
                         if os.path.exists(os.path.join(d, "imported.log")) else "")

    def test_files_in_pyrun_cwd(self):
        d = _shadowing_dir()
        k = Kernel(env={"PYRUN_CWD": d})
        try:
            self.assertEqual(k.hello["cwd"], d)
            self.exercise(k, d)
        finally:
            k.close()

    def test_files_in_the_process_cwd_with_the_import_launch(self):
        d = _shadowing_dir(except_names=INTERPRETER_IMPORTS_FOR_DASH_C)
        cmd = "import sys;sys.path.insert(0,%r);import %s as r;r.main()" % (os.path.dirname(RUNNER), RUNNER_MODULE)
        k = Kernel(argv=[PYTHON, "-u", "-c", cmd], cwd=d)
        try:
            self.exercise(k, d)
        finally:
            k.close()

    def test_files_in_the_process_cwd_with_the_bootstrap_loader(self):
        d = _shadowing_dir(except_names=INTERPRETER_IMPORTS_FOR_DASH_C)
        with open(RUNNER) as f:
            source = f.read()
        loader = subprocess.run([PYTHON, "-c", "import %s as r; print(r.LOADER)" % RUNNER_MODULE],
                                cwd=os.path.dirname(RUNNER),
                                capture_output=True, text=True, check=True).stdout.strip()
        k = Kernel(argv=[PYTHON, "-u", "-c", loader], cwd=d,
                   stdin_prefix=(json.dumps(source) + "\n").encode())
        try:
            self.exercise(k, d)
        finally:
            k.close()


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _alive(pid: int) -> bool:
    """pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _parent(pid: int) -> int:
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _wait_all_gone(pids, timeout=10.0) -> list:
    """The pids still alive after up to timeout seconds (polling /proc)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if _alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.01)


# Processes that leave the runner's process group or session, one of each kind;
# the cell's result is their pids.  Each lives 61 s unless killed.
ESCAPING_PROCESSES = r"""
import os, subprocess, sys, time
d = %(dir)r
pids = {}
pids['new_session'] = subprocess.Popen(['sleep', '61'], start_new_session=True).pid
pid = os.fork()
if pid == 0:
    os.setsid()
    os.execvp('sleep', ['sleep', '61'])
pids['forked_setsid'] = pid
subprocess.run([sys.executable, '-c',
    'import os, time\nif os.fork(): os._exit(0)\nos.setsid()\nif os.fork(): os._exit(0)\n'
    'open(%%r, "w").write(str(os.getpid()))\ntime.sleep(61)' %% os.path.join(d, 'daemon.pid')])
while not os.path.exists(os.path.join(d, 'daemon.pid')) or not open(os.path.join(d, 'daemon.pid')).read():
    time.sleep(0.01)
pids['daemon'] = int(open(os.path.join(d, 'daemon.pid')).read())
subprocess.run(['sh', '-c', 'sleep 61 & echo $! > %%s' %% os.path.join(d, 'orphan.pid')])
pids['orphan'] = int(open(os.path.join(d, 'orphan.pid')).read())
pids['plain'] = subprocess.Popen(['sleep', '61']).pid
pids
"""


class DescendantTests(unittest.TestCase):
    """Item 3: nothing the code started outlives the kernel: not even what left its group."""

    def start_escapees(self, k):
        d = _scratch_dir()
        frames = k.run(ESCAPING_PROCESSES % {"dir": d}, timeout=30)
        self.assertEqual(frames[-1]["status"], "ok", frames)
        pids = eval(frames[-2]["bundle"]["text/plain"])
        for name, pid in pids.items():
            self.assertTrue(_alive(pid), name)
        # orphans were reparented to the runner (a child subreaper), not to init
        self.assertEqual(_parent(pids["daemon"]), k.proc.pid)
        self.assertEqual(_parent(pids["orphan"]), k.proc.pid)
        return pids

    def assertAllGone(self, pids):
        left = _wait_all_gone(list(pids.values()))
        self.assertEqual(left, [], {name: pid for name, pid in pids.items() if pid in left})

    def test_exit_request_kills_every_descendant(self):
        k = Kernel()
        try:
            pids = self.start_escapees(k)
            k.send({"type": "exit"})
            self.assertEqual(k.wait_exit(), 0)
            self.assertAllGone(pids)
        finally:
            k.close()

    def test_end_of_input_kills_every_descendant(self):
        k = Kernel()
        try:
            pids = self.start_escapees(k)
            k.proc.stdin.close()
            self.assertEqual(k.wait_exit(), 0)
            self.assertAllGone(pids)
        finally:
            k.close()

    def test_sigterm_kills_every_descendant_then_the_runner_dies_by_it(self):
        k = Kernel()
        try:
            pids = self.start_escapees(k)
            os.kill(k.proc.pid, signal.SIGTERM)  # the runner only, not its group
            self.assertEqual(k.wait_exit(), -signal.SIGTERM)
            self.assertAllGone(pids)
        finally:
            k.close()

    def test_sigterm_while_running_code_kills_descendants_too(self):
        k = Kernel()
        try:
            pids = self.start_escapees(k)
            ident = k.submit("print('sleeping')\nimport time; time.sleep(60)")
            k.wait_for(lambda f: f["type"] == "stdout" and f["id"] == ident)
            os.kill(k.proc.pid, signal.SIGTERM)
            self.assertEqual(k.wait_exit(), -signal.SIGTERM)
            self.assertAllGone(pids)
        finally:
            k.close()

    def test_forked_children_do_not_hold_the_host_pipes_at_exit(self):
        k = Kernel()
        try:
            frames = k.run("import os, time\nr, w = os.pipe()\npid = os.fork()\nif pid == 0:\n"
                           "    os.write(w, b'x')\n    time.sleep(60)\nos.read(r, 1)\npid")
            child = int(frames[-2]["bundle"]["text/plain"])
            links = []
            for fd in os.listdir("/proc/%d/fd" % child):
                try:
                    links.append(os.readlink("/proc/%d/fd/%s" % (child, fd)))
                except OSError:
                    pass
            for pipe in _pipe_links(k):
                self.assertNotIn(pipe, links)
            k.send({"type": "exit"})
            self.assertEqual(k.wait_exit(), 0)
            self.assertEqual(_wait_all_gone([child]), [])
        finally:
            k.close()


LAUNCHER = r"""
import os, subprocess, sys, time
env = dict(os.environ, PYRUN_HOST_PID=str(os.getpid())) if %(host_pid)r else dict(os.environ)
p = subprocess.Popen([%(python)r, '-u', %(runner)r], stdin=%(stdin)d, stdout=%(stdout)d, env=env,
                     start_new_session=True)
print(p.pid, flush=True)
time.sleep(100)
"""


class HostDeathTests(unittest.TestCase):
    """Item 4: a kernel never outlives its host, even while code holds the GIL."""

    def launch(self, host_pid=True):
        """A runner whose parent is a launcher process this test can SIGKILL."""
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        code = LAUNCHER % {"python": PYTHON, "runner": RUNNER, "stdin": in_r, "stdout": out_w, "host_pid": host_pid}
        launcher = subprocess.Popen([PYTHON, "-c", code], stdout=subprocess.PIPE, pass_fds=(in_r, out_w))
        os.close(in_r)
        os.close(out_w)
        self.addCleanup(lambda: _close_quietly(in_w))
        out = os.fdopen(out_r, "rb")
        self.addCleanup(out.close)

        def stop():
            if launcher.poll() is None:
                launcher.kill()
            launcher.wait()
            launcher.stdout.close()
        self.addCleanup(stop)
        runner_pid = int(launcher.stdout.readline())
        self.addCleanup(lambda: _alive(runner_pid) and os.kill(runner_pid, signal.SIGKILL))
        line = out.readline()
        while line == b"\n":  # the runner's newline before hello
            line = out.readline()
        self.assertEqual(json.loads(line)["type"], "hello")
        return launcher, runner_pid, in_w, out

    def test_host_killed_while_code_holds_the_gil(self):
        launcher, runner_pid, in_w, out = self.launch()
        code = "print('matching', flush=True)\nimport re\nre.match('(a*)*b', 'a' * 40)"
        os.write(in_w, json.dumps({"id": "g", "code": code}).encode() + b"\n")
        while b"matching" not in out.readline():
            pass
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        self.assertEqual(_wait_all_gone([runner_pid], timeout=5), [])

    def test_host_killed_while_idle_takes_the_descendants_too(self):
        launcher, runner_pid, in_w, out = self.launch()
        d = _scratch_dir()
        os.write(in_w, json.dumps({"id": "p", "code": ESCAPING_PROCESSES % {"dir": d}}).encode() + b"\n")
        pids = None
        while pids is None:
            frame = json.loads(out.readline())
            self.assertNotEqual(frame["type"], "error", frame)
            if frame["type"] == "result":
                pids = eval(frame["bundle"]["text/plain"])
        self.assertEqual(json.loads(out.readline())["type"], "done")
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        self.assertEqual(_wait_all_gone([runner_pid] + list(pids.values())), [])

    CHILDREN_THEN = ("import subprocess, time\nchildren = [subprocess.Popen(['sleep', '300']),\n"
                     "            subprocess.Popen(['sleep', '300'], start_new_session=True)]\n"
                     "print('children', *[c.pid for c in children], flush=True)\n")

    def run_children_then(self, in_w, out, tail):
        os.write(in_w, json.dumps({"id": "g", "code": self.CHILDREN_THEN + tail}).encode() + b"\n")
        while True:
            frame = json.loads(out.readline())
            if frame["type"] == "stdout" and frame["data"].startswith("children "):
                return [int(pid) for pid in frame["data"].split()[1:]]

    def test_host_killed_while_code_holds_the_gil_takes_every_child_too(self):
        launcher, runner_pid, in_w, out = self.launch()
        children = self.run_children_then(in_w, out, "import re\nre.match('(a*)*b', 'a' * 40)")
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        self.assertEqual(_wait_all_gone([runner_pid] + children, timeout=30), [])

    def test_host_killed_while_code_sleeps_takes_every_child_too(self):
        launcher, runner_pid, in_w, out = self.launch()
        children = self.run_children_then(in_w, out, "time.sleep(300)")
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        self.assertEqual(_wait_all_gone([runner_pid] + children, timeout=30), [])

    def test_a_runner_without_host_pid_whose_host_left_ends_with_every_child(self):
        # As behind ssh: no parent-death signal; the parent dies and the channel closes.
        launcher, runner_pid, in_w, out = self.launch(host_pid=False)
        children = self.run_children_then(in_w, out, "import re\nre.match('(a*)*b', 'a' * 40)")
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        os.close(in_w)
        self.assertEqual(_wait_all_gone([runner_pid] + children, timeout=30), [])

    def test_a_host_pid_that_is_not_the_parent_makes_the_runner_leave(self):
        k = Kernel(env={"PYRUN_HOST_PID": "1"})  # the runner's parent is this test, not pid 1
        try:
            self.assertEqual(k.wait_exit(), 0)
            k.close()
            self.assertIn(b"the host (pid 1) is gone", k.stderr)
        finally:
            k.close()

    def test_the_host_pid_is_not_passed_on_to_the_code(self):
        k = Kernel(env={"PYRUN_HOST_PID": str(os.getpid())})
        try:
            frames = k.run("import os\n'PYRUN_HOST_PID' in os.environ")
            self.assertEqual(frames[-2]["bundle"]["text/plain"], "False")
        finally:
            k.close()


def _session_members(sid: int) -> list:
    """Live processes of session sid (from /proc)."""
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
                members.append(int(name))
    return members


class WatchdogTests(unittest.TestCase):
    """The kernel's session ends when the runner cannot end it: a runner killed
    outright, or one whose host left while its code holds the GIL and that has
    no parent-death signal (a runner behind ssh)."""

    CHILD_THEN_GIL = ("import re, subprocess\nchild = subprocess.Popen(['sleep', '300'])\n"
                      "print('child', child.pid, flush=True)\nre.match('(a*)*b', 'a' * 40)")

    def start_child_then_hold_the_gil(self, k):
        ident = k.submit(self.CHILD_THEN_GIL)
        frame = k.wait_for(lambda f: f["type"] == "stdout" and f["id"] == ident)[-1]
        return int(frame["data"].split()[1])

    def test_end_of_input_from_a_live_parent_leaves_the_runner_its_grace_then_ends_it(self):
        k = Kernel()
        try:
            child = self.start_child_then_hold_the_gil(k)
            k.proc.stdin.close()
            # WATCHDOG_GRACE (30 s) for the runner to leave by itself, then the kill.
            self.assertEqual(_wait_all_gone([k.proc.pid, child], timeout=90), [])
            self.assertEqual(k.wait_exit(), -signal.SIGKILL)
            self.assertEqual(_wait_all_gone(_session_members(k.proc.pid), timeout=30), [])
        finally:
            k.close()

    def test_a_runner_killed_outright_leaves_no_child_behind(self):
        k = Kernel()
        try:
            frames = k.run("import subprocess\nsubprocess.Popen(['sleep', '300']).pid")
            child = int(frames[-2]["bundle"]["text/plain"])
            os.kill(k.proc.pid, signal.SIGKILL)
            self.assertEqual(k.wait_exit(), -signal.SIGKILL)
            self.assertEqual(_wait_all_gone([child], timeout=30), [])
            self.assertEqual(_wait_all_gone(_session_members(k.proc.pid), timeout=30), [])
        finally:
            k.close()

    def test_the_watchdog_is_no_child_of_the_kernel_and_leaves_with_it(self):
        k = Kernel()
        try:
            frames = k.run("import os\ntry:\n    os.wait()\nexcept ChildProcessError:\n    print('no child')")
            self.assertEqual(Kernel.text(frames), "no child\n")
            # The watchdog: the one other member of the kernel's session.
            others = [pid for pid in _session_members(k.proc.pid) if pid != k.proc.pid]
            self.assertEqual(len(others), 1, others)
            k.send({"type": "exit"})
            self.assertEqual(k.wait_exit(), 0)
            self.assertEqual(_wait_all_gone(others, timeout=30), [])
        finally:
            k.close()

    def test_code_that_closes_every_fd_does_not_fool_the_watchdog(self):
        k = Kernel()
        try:
            k.run("1")  # the watchdog starts after hello, before the first execution
            others = [pid for pid in _session_members(k.proc.pid) if pid != k.proc.pid]
            self.assertEqual(len(others), 1, others)
            k.submit("import os, time\nos.closerange(3, 65536)\ntime.sleep(2)")
            # The runner exits 76 (its channels are gone), not by the watchdog's SIGKILL.
            self.assertEqual(k.wait_exit(), 76)
            self.assertEqual(_wait_all_gone(others, timeout=30), [])
        finally:
            k.close()


def _payload_bytes(frames) -> int:
    """Bytes of what an execution's frames carry for the user: output data,
    bundles, the error's text and traceback, input prompts."""
    total = 0
    for f in frames:
        if f["type"] in ("stdout", "stderr"):
            total += len(f["data"].encode())
        elif f["type"] in ("display", "result"):
            total += len(json.dumps(f["bundle"], separators=(",", ":"), ensure_ascii=False).encode())
        elif f["type"] == "error":
            total += len(f["evalue"].encode()) + sum(len(line.encode()) + 1 for line in f["traceback"])
        elif f["type"] == "input_request":
            total += len(f["prompt"].encode())
    return total


class OutputCapTests(unittest.TestCase):
    """Item 8: maxOutputBytes bounds everything an execution sends, not only stdout and stderr."""

    CAP = 1000
    NOTICE = 200  # the one stderr notice and a marker line are not counted against the cap

    @classmethod
    def setUpClass(cls):
        cls.k = Kernel()

    @classmethod
    def tearDownClass(cls):
        cls.k.close()

    def run_capped(self, code, **opts):
        frames = self.k.run(code, maxOutputBytes=self.CAP, **opts)
        self.assertLessEqual(_payload_bytes(frames), self.CAP + self.NOTICE, [f["type"] for f in frames])
        notices = [f for f in frames if f["type"] == "stderr" and "maxOutputBytes" in f["data"]]
        self.assertEqual(len(notices), 1, frames[:5])
        return frames

    def test_result(self):
        frames = self.run_capped("'x' * 10**6")
        self.assertEqual(Kernel.of_type(frames, "result"), [])
        self.assertGreaterEqual(frames[-1]["droppedBytes"], 10**6)
        self.assertEqual(frames[-1]["status"], "ok")

    def test_display(self):
        frames = self.run_capped("display('small')\ndisplay('y' * 10**6)\nprint('after')")
        shown = Kernel.of_type(frames, "display")
        self.assertEqual([d["bundle"]["text/plain"] for d in shown], ["'small'"])
        self.assertGreaterEqual(frames[-1]["droppedBytes"], 10**6)

    def test_error_text_and_traceback(self):
        frames = self.run_capped("def deep(n):\n    if n:\n        return deep(n - 1)\n    raise ValueError('z' * 10**6)\ndeep(50)")
        err = frames[-2]
        self.assertEqual(err["type"], "error")
        self.assertEqual(err["ename"], "ValueError")  # what happened is still said
        self.assertEqual(frames[-1]["status"], "error")
        self.assertGreaterEqual(frames[-1]["droppedBytes"], 10**6)

    def test_input_prompt(self):
        k = self.k
        ident = k.submit("input('p' * 10**6)", maxOutputBytes=self.CAP, allowStdin=True)
        frames = k.wait_for(lambda f: f["type"] == "input_request" and f["id"] == ident)
        self.assertLessEqual(len(frames[-1]["prompt"]), self.CAP)
        k.send({"type": "input_reply", "id": ident, "value": "v"})
        frames = [f for f in frames + k.until_done(ident) if f["id"] == ident]
        self.assertLessEqual(_payload_bytes(frames), self.CAP + self.NOTICE)
        self.assertGreaterEqual(frames[-1]["droppedBytes"], 10**6 - self.CAP)

    def test_everything_together_stays_under_the_cap(self):
        frames = self.run_capped("print('a' * 600)\ndisplay('b' * 300)\ndisplay('c' * 300)\n"
                                 "raise RuntimeError('d' * 5000)")
        self.assertEqual(Kernel.text(frames).count("a"), 600)
        self.assertEqual(len(Kernel.of_type(frames, "display")), 1)
        self.assertEqual(frames[-2]["ename"], "RuntimeError")

    def test_under_the_cap_nothing_changes(self):
        frames = self.k.run("display(1)\nprint('p')\n2", maxOutputBytes=self.CAP)
        self.assertEqual([f["type"] for f in frames], ["started", "display", "stdout", "result", "done"])
        self.assertNotIn("droppedBytes", frames[-1])


class SelfSignalTests(unittest.TestCase):
    """The self_signal frame: a kernel that signals itself says so before it dies."""

    NO_CORE = "import resource\nresource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"

    def dies_announcing(self, code, signum):
        k = Kernel()
        try:
            ident = k.submit("import os, signal, threading\nprint('before')\n" + code)
            self.assertEqual(k.wait_exit(), -signum, code)
            frames = []
            while True:
                try:
                    frames.append(k.next_frame(timeout=5))
                except AssertionError:  # end of the frames: the process is gone
                    break
            kinds = [f["type"] for f in frames]
            self.assertEqual(kinds, ["started", "stdout", "self_signal"], code)
            self.assertEqual(frames[-1], {"type": "self_signal", "id": ident, "signal": signum}, code)
        finally:
            k.close()

    def test_each_way_to_signal_oneself(self):
        self.dies_announcing("os.kill(os.getpid(), signal.SIGKILL)", signal.SIGKILL)
        self.dies_announcing("os.killpg(os.getpgrp(), signal.SIGKILL)", signal.SIGKILL)
        self.dies_announcing("os.kill(0, signal.SIGUSR2)", signal.SIGUSR2)
        self.dies_announcing("signal.raise_signal(signal.SIGUSR1)", signal.SIGUSR1)
        self.dies_announcing("signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)", signal.SIGUSR1)
        self.dies_announcing(self.NO_CORE + "os.abort()", signal.SIGABRT)
        self.dies_announcing("os.kill(os.getpid(), signal.SIGTERM)", signal.SIGTERM)

    def test_handled_signals_and_other_processes_send_nothing(self):
        k = Kernel()
        try:
            frames = k.run("import os, signal, subprocess\n"
                           "signal.signal(signal.SIGUSR1, lambda *a: print('handled'))\n"
                           "os.kill(os.getpid(), signal.SIGUSR1)\n"
                           "signal.signal(signal.SIGUSR2, signal.SIG_IGN)\n"
                           "os.kill(os.getpid(), signal.SIGUSR2)\n"
                           "p = subprocess.Popen(['sleep', '30'])\n"
                           "os.kill(p.pid, signal.SIGKILL)\n"
                           "p.wait()")
            self.assertEqual([f["type"] for f in frames], ["started", "stdout", "result", "done"])
            self.assertEqual(Kernel.text(frames), "handled\n")
        finally:
            k.close()


class DeepTracebackTests(unittest.TestCase):
    """Smaller item: a runaway recursion's traceback formats fast, head and tail kept."""

    DEPTH = 200_000  # 10**6 works too (3.11+), at ~300 MB and ~6 s of recursion

    def test_deep_recursion_traceback(self):
        k = Kernel()
        try:
            # the recursion runs in a thread with a big stack (3.9 and 3.10 use the C stack)
            code = ("import sys, threading, time\n"
                    "sys.setrecursionlimit(%d)\n"
                    "def f(n):\n    return f(n - 1) if n else 1 / 0\n"
                    "box = []\n"
                    "def run():\n    try:\n        f(%d)\n    except ZeroDivisionError as e:\n        box.append(e)\n"
                    "threading.stack_size(1 << 30)\n"
                    "t = threading.Thread(target=run); t.start(); t.join()\n"
                    "print(time.monotonic())\n"
                    "raise box[0]" % (self.DEPTH + 1000, self.DEPTH))
            frames = k.run(code, timeout=120)
            formatting = time.monotonic() - float(Kernel.text(frames))
            err = frames[-2]
            self.assertEqual(err["ename"], "ZeroDivisionError")
            tb = err["traceback"]
            omitted = [line for line in tb if "frames omitted" in line]
            self.assertEqual(len(omitted), 1, tb)
            frames_total = 1 + 1 + self.DEPTH + 1  # <module>, run, f(DEPTH) ... f(0)
            self.assertIn("[... %d frames omitted" % (frames_total - 60), omitted[0])
            self.assertLess(len(tb), 100)
            self.assertEqual(tb[-1], "ZeroDivisionError: division by zero")
            self.assertIn('  File "<cell 1>", line 8, in run', tb)  # the head
            self.assertLess(formatting, 5.0)  # it took 4 s at this depth, 30 s at 10**6
        finally:
            k.close()


class TooLittleMemoryTests(unittest.TestCase):
    """Smaller item: a memory limit too low for the runner itself is named as such (exit 77)."""

    def test_too_low_limit_exits_77_and_the_minimum_it_names_works(self):
        k = Kernel(env={"PYRUN_LIMITS": json.dumps({"memoryBytes": 64 << 20})}, wait_hello=False)
        try:
            self.assertEqual(k.wait_exit(), 77)
            k.close()
            self.assertEqual(k.noise, [])
            message = k.stderr.decode()
            self.assertIn("memoryBytes=67108864 bytes (64 MiB) is too low for the runner itself", message)
            needed = int(re.search(r"it needs about (\d+) MiB", message).group(1))
        finally:
            k.close()
        self.assertGreater(needed, 64)
        k = Kernel(env={"PYRUN_LIMITS": json.dumps({"memoryBytes": needed << 20})})
        try:
            frames = k.run("def f():\n    raise ValueError('formatted')\nf()")
            self.assertEqual(frames[-2]["evalue"], "formatted")
            frames = k.run("len(bytearray(4 << 20))")
            self.assertEqual(frames[-2]["bundle"]["text/plain"], str(4 << 20))
        finally:
            k.close()


class RequestFuzzTests(unittest.TestCase):
    """Random, garbage, truncated, oversized and deeply nested request lines never
    kill the runner, and a valid execute after them is still answered.

    PYRUN_FUZZ_SEED replays a run; the seed is in every failure message.
    `exit` and `interrupt` are left out: they are valid requests that end the
    kernel or cancel the checking executions, by design.
    """

    KEYS = ("type", "id", "code", "cursor", "value", "eof", "silent", "storeHistory", "allowStdin",
            "maxOutputBytes", "password", "prompt")
    TYPES = ("execute", "complete", "is_complete", "info", "input_reply", "frobnicate", "", "EXECUTE")
    SNIPPETS = ("1 + 1", "print('fuzz')", "x = 1", "raise ValueError('fuzz')", "", "def f(:", "display(1)",
                "'\\ud800'", "input()", "import sys; sys.stdout.buffer.write(b'\\xff')")

    def random_value(self, rnd, depth=0):
        kind = rnd.randrange(9 if depth < 3 else 6)
        if kind == 0:
            return None
        if kind == 1:
            return rnd.random() < 0.5
        if kind == 2:
            return rnd.choice([0, -1, 1, 2**31, -(2**63), 10**30, rnd.randrange(-1000, 1000)])
        if kind == 3:
            return rnd.choice([0.5, -1e308, 1e-300, float("nan"), float("inf")])
        if kind in (4, 5):
            alphabet = "abc \"\\\u00e9\u2028\ud800\x00\x7f{}[]:,"
            return "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 40)))
        if kind == 6:
            return [self.random_value(rnd, depth + 1) for _ in range(rnd.randrange(0, 4))]
        return {rnd.choice(self.KEYS): self.random_value(rnd, depth + 1) for _ in range(rnd.randrange(0, 4))}

    def random_request(self, rnd) -> dict:
        req = {key: self.random_value(rnd) for key in rnd.sample(self.KEYS, rnd.randrange(0, len(self.KEYS)))}
        if rnd.random() < 0.7:
            req["type"] = rnd.choice(self.TYPES)
        if "code" in req and rnd.random() < 0.8:  # code that runs is safe; the rest cannot compile
            req["code"] = rnd.choice(self.SNIPPETS) if rnd.random() < 0.5 else ")" + str(req["code"])
        if req.get("type") in ("exit", "interrupt"):
            req["type"] = "info"
        return req

    def random_line(self, rnd) -> bytes:
        kind = rnd.randrange(6)
        if kind == 0:  # bytes, invalid UTF-8 and NULs included
            return bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 200))).replace(b"\n", b" ")
        line = json.dumps(self.random_request(rnd), ensure_ascii=rnd.random() < 0.5)
        if kind == 1:  # truncated
            line = line[: rnd.randrange(0, len(line) + 1)]
        elif kind == 2:  # a byte flipped
            i = rnd.randrange(len(line))
            line = line[:i] + chr(rnd.randrange(32, 127)) + line[i + 1:]
        data = line.encode("utf-8", "surrogatepass")
        if data.strip() in (b'{"type": "exit"}', b'{"type":"exit"}'):
            data = b"{}"
        return data

    def test_deep_nesting_in_each_kind_of_request(self):
        # The reader thread decodes, compiles (is_complete) and looks up
        # attributes (complete): deep nesting there must not overflow its stack.
        k = Kernel()
        try:
            for line in (b"[" * 1000000, b'{"a":' * 100000 + b"1" + b"}" * 100000):
                k.write_raw(line + b"\n")
                reply = k.next_frame()
                self.assertEqual((reply["type"], reply["id"]), ("error_reply", None))
                self.assertIn("nested too deeply", reply["message"])
            for code in ("(" * 100000, "x = " + "[" * 100000 + "]" * 100000):
                reply = k.request({"type": "is_complete", "id": "ic", "code": code}, "is_complete_reply")
                self.assertEqual(reply["status"], "invalid")
            k.run("class Loop:\n    @property\n    def again(self):\n        return self.again\nloop = Loop()")
            reply = k.request({"type": "complete", "id": "c", "code": "loop.again.", "cursor": 11}, "complete_reply")
            self.assertEqual(reply["matches"], [])
            self.assertEqual(k.run("'alive'")[-2]["bundle"]["text/plain"], "'alive'")
        finally:
            k.close()

    def until_done_answering_input(self, k, ident, seed) -> list:
        """Frames up to ident's done; an input() a fuzzed execute asked for gets
        end of input, as a host without input would answer."""
        frames = []
        while True:
            try:
                frame = k.next_frame(timeout=60)
            except AssertionError as e:
                raise AssertionError("seed %d: %s" % (seed, e))
            frames.append(frame)
            if frame["type"] == "input_request":
                k.send({"type": "input_reply", "id": frame["id"], "eof": True})
            if frame["type"] == "done" and frame["id"] == ident:
                return frames

    def test_garbage_never_kills_the_runner(self):
        seed = int(os.environ.get("PYRUN_FUZZ_SEED") or time.time_ns() % 10**9)
        try:
            self.fuzz(seed)
        except BaseException as e:
            raise AssertionError("PYRUN_FUZZ_SEED=%d: %r" % (seed, e)) from e

    def fuzz(self, seed):
        rnd = random.Random(seed)
        d = _scratch_dir()
        k = Kernel(env={"PYRUN_CWD": d})
        try:
            special = [
                b"[" * 100000 + b"]" * 100000,
                b'{"type":"execute","id":"n","code":"1","x":' + b"[" * 1000000,
                b'{"a":' * 100000 + b"1" + b"}" * 100000,
                b'{"type":"execute","id":"big","code":")' + b"z" * (24 << 20) + b'"}',
                b"x" * (24 << 20),
                b'{"type":"complete","id":"c","code":"abc","cursor":' + b"9" * 5000 + b"}",
                b"\xff\xfe" * 1000,
                b'{"type":"execute","id":"s","code":"\\ud800"}',
                b"null", b"[]", b'"execute"', b"1e999", b"{}", b"",
            ]
            for batch in range(12):
                lines = [self.random_line(rnd) for _ in range(250)]
                if special:
                    lines.insert(rnd.randrange(len(lines)), special.pop())
                    if special:
                        lines.insert(rnd.randrange(len(lines)), special.pop())
                k.write_raw(b"\n".join(lines) + b"\n")
                ident = k.submit("print('alive', %d)" % batch, id="check%d" % batch)
                frames = [f for f in self.until_done_answering_input(k, ident, seed) if f.get("id") == ident]
                self.assertEqual(Kernel.text(frames), "alive %d\n" % batch, "seed %d" % seed)
                self.assertIsNone(k.proc.poll(), "seed %d" % seed)
            k.send({"type": "exit"})
            self.assertEqual(k.wait_exit(), 0, "seed %d" % seed)
            k.close()
            self.fuzz_stderr = k.stderr
            self.assertNotIn(b"machinery failed", k.stderr, "seed %d" % seed)
            self.assertNotIn(b"Traceback", k.stderr, "seed %d" % seed)
        finally:
            k.close()


if __name__ == "__main__":
    unittest.main()
