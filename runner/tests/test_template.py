"""Kernel templates: serve_template() prepares an interpreter, then forks kernels
whose channels the host hands over a SOCK_SEQPACKET socket (docs/protocol.md,
"Templates").  Each test drives a real template process."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

from kernel import HERE, PYTHON, RUNNER, TIMEOUT, parse_strict

LINUX = sys.platform.startswith("linux")


def _alive(pid: int) -> bool:
    """True while pid runs (a zombie does not count)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 :].split()[0] not in (b"Z", b"X")


def _state(pid: int):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()[0]


def _children(pid: int) -> list:
    """The children of pid, from /proc."""
    children = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(b")") + 2 :].split()[1]) == pid:
                children.append(int(name))
    return children


def _wait_until(predicate, timeout=TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Template:
    """A template process with the host's end of its control socket."""

    def __init__(self, env=None):
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        full_env = dict(os.environ)
        for name in ("PYRUN_CWD", "PYRUN_PRELUDE", "PYRUN_LIMITS", "PYRUN_HOST_FUNCTIONS", "PYRUN_PRELOAD"):
            full_env.pop(name, None)
        full_env["PYRUN_HOST_PID"] = str(os.getpid())
        full_env.update(env or {})
        loader = "import sys;sys.path.insert(0,%r);import runner;runner.serve_template()" % os.path.dirname(RUNNER)
        self.proc = subprocess.Popen([PYTHON, "-u", "-c", loader], stdin=theirs, stderr=subprocess.PIPE,
                                     start_new_session=True, env=full_env)
        theirs.close()
        self.control.settimeout(TIMEOUT)
        self.ready = self.receive()
        self.forked = []

    def receive(self) -> dict:
        return json.loads(self.control.recv(1 << 16))

    def fork(self, **options) -> "Forked":
        r0, w0 = os.pipe()
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        request = dict(type="fork", id="f%d" % (len(self.forked) + 1), **options)
        socket.send_fds(self.control, [json.dumps(request).encode()], [r0, w1, w2])
        for fd in (r0, w1, w2):
            os.close(fd)
        reply = self.receive()
        assert reply["type"] == "forked" and reply["id"] == request["id"], reply
        child = Forked(reply["pid"], w0, r1, r2)
        self.forked.append(child)
        return child

    def release(self, pid: int) -> None:
        self.control.send(json.dumps({"type": "release", "pid": pid}).encode())

    def close(self) -> None:
        for child in self.forked:
            if _alive(child.pid):
                os.kill(child.pid, signal.SIGKILL)
            child.close()
        self.control.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self.proc.stderr.close()


class Forked:
    """A forked kernel: its request pipe and frame pipe, as the host holds them."""

    def __init__(self, pid, requests, frames, stderr):
        self.pid = pid
        self.requests = requests
        self.frames = os.fdopen(frames, "rb")
        self.stderr = stderr
        line = self.frames.readline()
        while line == b"\n":  # hello is preceded by an empty line
            line = self.frames.readline()
        self.hello = parse_strict(line.rstrip(b"\n"))

    def close(self) -> None:
        self.frames.close()
        self.close_requests()
        os.close(self.stderr)

    def close_requests(self) -> None:
        """End the kernel's input (it then exits)."""
        if self.requests >= 0:
            os.close(self.requests)
            self.requests = -1

    def run(self, code: str) -> list:
        os.write(self.requests, (json.dumps({"type": "execute", "id": "e", "code": code}) + "\n").encode())
        frames = []
        while True:
            frame = parse_strict(self.frames.readline().rstrip(b"\n"))
            frames.append(frame)
            if frame["type"] == "done":
                return frames

    def value(self, code: str) -> str:
        frames = self.run(code)
        results = [f for f in frames if f["type"] == "result"]
        assert results, frames
        return results[0]["bundle"]["text/plain"]


@unittest.skipUnless(LINUX, "templates are Linux only")
class TemplateTests(unittest.TestCase):
    def setUp(self):
        self.template = None

    def tearDown(self):
        if self.template is not None:
            self.template.close()

    def start(self, env=None) -> Template:
        self.template = Template(env)
        self.assertEqual(self.template.ready["type"], "template_ready")
        self.assertEqual(self.template.ready["pid"], self.template.proc.pid)
        return self.template

    def test_a_forked_kernel_is_an_ordinary_kernel_with_its_own_session(self):
        template = self.start()
        kernel = template.fork()
        self.assertEqual(kernel.hello["type"], "hello")
        self.assertEqual(kernel.hello["pid"], kernel.pid)
        self.assertNotEqual(kernel.pid, template.proc.pid)
        self.assertEqual(os.getsid(kernel.pid), kernel.pid)
        self.assertEqual(os.getpgid(kernel.pid), kernel.pid)
        self.assertEqual(kernel.value("1+1"), "2")
        self.assertEqual(kernel.value("import os; os.getpid()"), str(kernel.pid))
        self.assertEqual(kernel.value("import os; os.getppid()"), str(template.proc.pid))

    def test_kernels_of_one_template_do_not_share_state_or_random_numbers(self):
        template = self.start({"PYRUN_PRELOAD": "random"})
        first, second = template.fork(), template.fork()
        first.run("x = 41")
        self.assertEqual(first.value("x + 1"), "42")
        self.assertIn("NameError", json.dumps(second.run("x")))
        draw = "import random; random.getrandbits(64)"
        self.assertNotEqual(first.value(draw), second.value(draw))

    def test_preload_and_prelude_are_loaded_before_the_fork(self):
        directory = self.temporary_directory()
        prelude = os.path.join(directory, "helpers.py")
        with open(prelude, "w") as f:
            f.write("import os\nLOADED_IN = os.getpid()\n")
        template = self.start({"PYRUN_PRELOAD": "json,decimal,no_such_module_xyz", "PYRUN_PRELUDE": prelude,
                               "PYRUN_CWD": directory})
        self.assertEqual([e["module"] for e in template.ready["preloadErrors"]], ["no_such_module_xyz"])
        kernel = template.fork()
        self.assertEqual(kernel.value("LOADED_IN"), str(template.proc.pid))
        self.assertEqual(kernel.value("import sys; 'decimal' in sys.modules"), "True")
        self.assertEqual(kernel.value("import os; os.getcwd()"), repr(directory))
        self.assertEqual(kernel.hello["cwd"], directory)

    def test_each_kernel_takes_its_own_limits_and_host_functions(self):
        template = self.start()
        limited = template.fork(PYRUN_LIMITS=json.dumps({"openFiles": 200}),
                                PYRUN_HOST_FUNCTIONS=json.dumps([{"name": "ping", "description": "",
                                                                  "parameters": {"type": "object"}}]))
        plain = template.fork()
        soft = "import resource; resource.getrlimit(resource.RLIMIT_NOFILE)[0]"
        self.assertEqual(limited.value(soft), "200")
        self.assertNotEqual(plain.value(soft), "200")
        self.assertEqual(limited.value("callable(host.ping)"), "True")
        self.assertIn("AttributeError", json.dumps(plain.run("host.ping")))

    def test_each_kernel_takes_its_own_working_and_temporary_directories(self):
        # One template serves kernels that differ only there (a test run gives every file
        # its own), even when the prelude cached the template's temporary directory.
        first, second = self.temporary_directory(), self.temporary_directory()
        directory = self.temporary_directory()
        prelude = os.path.join(directory, "helpers.py")
        with open(prelude, "w") as f:
            f.write("import tempfile\nTEMPLATE_TMP = tempfile.gettempdir()\n")
        template = self.start({"PYRUN_PRELUDE": prelude, "TMPDIR": directory})
        a = template.fork(PYRUN_CWD=first, TMPDIR=first)
        b = template.fork(PYRUN_CWD=second, TMPDIR=second)
        where = "import os, sys, tempfile; (os.getcwd(), tempfile.gettempdir(), os.environ['TMPDIR'], sys.path[0])"
        self.assertEqual(a.value(where), repr((first, first, first, first)))
        self.assertEqual(b.value(where), repr((second, second, second, second)))
        self.assertEqual(a.hello["cwd"], first)
        self.assertEqual(a.value("TEMPLATE_TMP"), repr(directory))

    def test_an_exited_kernel_is_held_as_a_zombie_until_released(self):
        template = self.start()
        exiting, killed = template.fork(), template.fork()
        exiting.close_requests()  # end of input: the kernel exits with status 0
        reports = {}
        reports[exiting.pid] = template.receive()
        os.kill(killed.pid, signal.SIGKILL)
        reports[killed.pid] = template.receive()
        self.assertEqual(reports[exiting.pid], {"type": "exited", "pid": exiting.pid, "exitCode": 0})
        self.assertEqual(reports[killed.pid], {"type": "exited", "pid": killed.pid, "signal": signal.SIGKILL})
        self.assertEqual(_state(killed.pid), b"Z")  # its pid cannot be reused yet
        template.release(killed.pid)
        self.assertTrue(_wait_until(lambda: _state(killed.pid) is None))
        self.assertEqual(_state(exiting.pid), b"Z")

    def test_the_template_leaves_at_the_end_of_its_control_channel_and_its_kernels_follow(self):
        template = self.start()
        kernels = [template.fork(), template.fork()]
        kernels[1].run("import re")
        os.write(kernels[1].requests, (json.dumps({"type": "execute", "id": "busy", "code":
                                                   "re.match('(a*)*b', 'a' * 40)"}) + "\n").encode())
        template.control.close()
        self.assertEqual(template.proc.wait(TIMEOUT), 0)
        for kernel in kernels:  # idle, and busy holding the GIL
            self.assertTrue(_wait_until(lambda: not _alive(kernel.pid)), "kernel %d outlived its template" % kernel.pid)

    def test_a_killed_template_takes_its_kernels_along(self):
        template = self.start()
        kernel = template.fork()
        child = int(kernel.value("import subprocess; subprocess.Popen(['sleep', '300'], start_new_session=True).pid"))
        template.proc.kill()
        self.assertTrue(_wait_until(lambda: not _alive(kernel.pid)))
        self.assertTrue(_wait_until(lambda: not _alive(child)), "the kernel's setsid child outlived the template")

    def test_a_template_whose_host_died_before_it_started_leaves(self):
        env = {"PYRUN_HOST_PID": "1"}  # not its parent: the host it was started for is gone
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        loader = "import sys;sys.path.insert(0,%r);import runner;runner.serve_template()" % os.path.dirname(RUNNER)
        proc = subprocess.Popen([PYTHON, "-u", "-c", loader], stdin=theirs, env=dict(os.environ, **env))
        theirs.close()
        try:
            self.assertEqual(proc.wait(TIMEOUT), 0)
        finally:
            control.close()

    def test_a_forked_kernels_watchdog_is_the_templates_child_and_ends_the_kernels_session(self):
        template = self.start()
        kernel = template.fork()
        watchdogs = [pid for pid in _children(template.proc.pid) if pid != kernel.pid]
        self.assertEqual(len(watchdogs), 1, "the template forked no watchdog, or more than one")
        watchdog = watchdogs[0]
        self.assertTrue(_alive(watchdog))
        # Not the kernel's child: code that waits for all its children does not wait for it.
        self.assertIn("ChildProcessError", json.dumps(kernel.run("import os; os.waitpid(-1, os.WNOHANG)")))
        child = int(kernel.value("import subprocess; subprocess.Popen(['sleep', '300']).pid"))
        self.assertEqual(os.getsid(child), kernel.pid)
        os.kill(kernel.pid, signal.SIGKILL)  # nothing of the kernel's can clean up now
        self.assertEqual(template.receive(), {"type": "exited", "pid": kernel.pid, "signal": signal.SIGKILL})
        self.assertTrue(_wait_until(lambda: not _alive(child)), "the kernel's child outlived it")
        self.assertTrue(_wait_until(lambda: _state(watchdog) is None), "the watchdog was left, or not reaped")

    def temporary_directory(self) -> str:
        import tempfile
        directory = tempfile.mkdtemp(prefix="pyrun-template-")
        self.addCleanup(lambda: __import__("shutil").rmtree(directory, ignore_errors=True))
        return os.path.realpath(directory)


if __name__ == "__main__":
    unittest.main()
