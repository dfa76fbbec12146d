"""A Python stand-in for `pyrun test`'s orchestrator, driving runner/runner.py.

It proves the collect/run design of Resources/testing/pyrun_testing.py end to
end and gives a baseline for the `pyrun test` bench row until the Swift
orchestrator exists; it is not shipped.  Per test file: a fresh runner whose
current directory is a fresh workspace (a copy of the `fixtures/` beside the
file) and whose TMPDIR is a fresh directory, the prelude loaded as the module
`pyrun_prelude` with its `__all__` in `__main__` (what the runner will do
itself once it loads prelude lists), pyrun_testing loaded, then one
`collect` and one `run` per test, each an execution; a test that outlives
--timeout is interrupted (SIGINT to the kernel's group), and a kernel that
does not answer the interrupt within the grace is killed and replaced.

    python3 scripts/pyrun_test_driver.py Resources/prelude/tests -j 2
    python3 scripts/pyrun_test_driver.py --make-bench /tmp/bench   # 20 files x 10 tiny tests
"""

import argparse
import concurrent.futures
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER_DIR = os.path.join(ROOT, "runner")
PRELUDE = os.path.join(ROOT, "Resources", "prelude", "pyrun_prelude.py")
TESTING = os.path.join(ROOT, "Resources", "testing", "pyrun_testing.py")
GRACE = 2.0  # seconds a kernel gets to answer an interrupt
START_TIMEOUT = 30.0

LOAD_MODULES = """\
def __pyrun_load(path, name, export):
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if export:
        for key in getattr(module, "__all__", [k for k in vars(module) if not k.startswith("_")]):
            globals()[key] = getattr(module, key)
{loads}
del __pyrun_load
"""


class KernelGone(Exception):
    """The runner's frame channel closed."""


class Kernel:
    """One runner process in its own process group."""

    def __init__(self, python, cwd, tmpdir):
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the installed runner and prelude keep their bytecode
        env.update(PYRUN_CWD=cwd, TMPDIR=tmpdir)
        env.pop("PYRUN_PRELUDE", None)
        code = "import sys; sys.path.insert(0, %r); import runner; runner.main()" % RUNNER_DIR
        self.proc = subprocess.Popen([python, "-u", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True, env=env)
        self.frames = queue.Queue()
        self.serial = 0
        threading.Thread(target=self._read, daemon=True).start()
        hello = self.frames.get(timeout=START_TIMEOUT)
        if hello is None or hello.get("type") != "hello":
            raise KernelGone("no hello: %r" % (hello,))

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                self.frames.put(json.loads(line))
        self.frames.put(None)

    def submit(self, code, silent=False):
        self.serial += 1
        ident = "e%d" % self.serial
        request = {"type": "execute", "id": ident, "code": code, "silent": silent}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        return ident

    def wait(self, ident, deadline=None):
        """This execution's frames up to its done; None when deadline passed first."""
        got = []
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                frame = self.frames.get(timeout=timeout)
            except queue.Empty:
                self.pending = (ident, got)
                return None
            if frame is None:
                self.frames.put(None)
                raise KernelGone("the runner exited")
            if frame.get("id") == ident:
                got.append(frame)
                if frame["type"] == "done":
                    return got

    def call(self, code, deadline=None, silent=False):
        return self.wait(self.submit(code, silent), deadline)

    def interrupt(self):
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except OSError:
            pass

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(GRACE)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever the tests left in the group
        except OSError:
            pass
        self.proc.wait()


def result_json(frames):
    for frame in frames:
        if frame["type"] == "result":
            return frame["bundle"].get("application/json")
    return None


def output_of(frames):
    return "".join(f["data"] for f in frames if f["type"] in ("stdout", "stderr"))


class FileRun:
    """Runs one unit (a test file, or the doctests of a module) in fresh kernels."""

    def __init__(self, options, path=None, doctest_module=None):
        self.options, self.path, self.doctest_module = options, path, doctest_module
        self.records, self.report, self.problem = [], None, None

    def start(self):
        """A new kernel in a new workspace and TMPDIR under this unit's root."""
        self.kernels = getattr(self, "kernels", 0) + 1
        workspace = os.path.join(self.root, "workspace-%d" % self.kernels)
        fixtures = os.path.join(os.path.dirname(os.path.abspath(self.path or PRELUDE)), "fixtures")
        if self.path and os.path.isdir(fixtures):
            shutil.copytree(fixtures, workspace)
        else:
            os.mkdir(workspace)
        tmpdir = os.path.join(self.root, "tmp-%d" % self.kernels)
        os.mkdir(tmpdir)
        kernel = Kernel(self.options.python, workspace, tmpdir)
        loads = "".join("__pyrun_load(%r, %r, %r)\n" % load for load in
                        [(p, os.path.splitext(os.path.basename(p))[0], True) for p in self.options.prelude]
                        + [(TESTING, "pyrun_testing", False)])
        if self.doctest_module:
            collect = "pyrun_testing.collect_doctests(%r, %r)" % (self.doctest_module, self.options.keyword)
        else:
            collect = "pyrun_testing.collect(%r, %r)" % (os.path.abspath(self.path), self.options.keyword)
        kernel.submit(LOAD_MODULES.format(loads=loads), silent=True)
        frames = kernel.call("import pyrun_testing\n" + collect)
        return kernel, frames

    def execute(self):
        self.root = tempfile.mkdtemp(prefix="pyrun-test-")
        try:
            kernel, frames = self.start()
            self.report = result_json(frames)
            if self.report is None:
                self.problem = "collect failed: %s" % frames
                kernel.close()
                return self
            tests = [t for t in self.report["tests"] if t["selected"]]
            i = 0
            while i < len(tests):
                record, kernel = self.run_test(kernel, tests[i]["id"])
                self.records.append(record)
                i += 1
                if self.options.exitfirst and record["outcome"] in ("failed", "error"):
                    break
            kernel.close()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
        return self

    def run_test(self, kernel, ident):
        deadline = time.monotonic() + self.options.timeout if self.options.timeout else None
        code = "pyrun_testing.run(%r)" % ident
        exec_id = kernel.submit(code)
        frames = kernel.wait(exec_id, deadline)
        timed_out = frames is None
        if timed_out:
            kernel.interrupt()
            frames = kernel.wait(exec_id, time.monotonic() + GRACE)
            if frames is None:  # the test swallowed the interrupt: replace the kernel
                kernel.close()
                kernel, _ = self.start()
                return {"id": ident, "outcome": "failed", "message": "timed out after %ss; the test ignored the "
                        "interrupt and its kernel was killed" % self.options.timeout, "traceback": None,
                        "output": ""}, kernel
        record = result_json(frames) or {"id": ident, "outcome": "interrupted" if timed_out else "error",
                                         "message": "no result", "traceback": None}
        if timed_out:
            record["outcome"] = "failed"
            record["message"] = "timed out after %ss" % self.options.timeout
        record["output"] = output_of(frames)
        return record, kernel


def make_bench(directory, files=20, tests=10):
    os.makedirs(directory, exist_ok=True)
    for f in range(files):
        with open(os.path.join(directory, "test_bench_%02d.py" % f), "w") as out:
            for t in range(tests):
                out.write("def test_%d():\n    value = %d * 2\n    assert value == %d\n\n\n" % (t, t, 2 * t))


def find_test_files(paths):
    found = []
    for path in paths:
        if os.path.isdir(path):
            for directory, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in ("fixtures", "__pycache__") and not d.startswith("."))
                found += [os.path.join(directory, n) for n in sorted(names)
                          if n.startswith("test_") and n.endswith(".py")]
        else:
            found.append(path)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("-k", dest="keyword")
    parser.add_argument("-x", dest="exitfirst", action="store_true")
    parser.add_argument("-j", dest="jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--prelude", action="append", help="prelude file(s); default Resources/prelude/pyrun_prelude.py")
    parser.add_argument("--doctest-modules", action="append", default=[], help="module names whose doctests run")
    parser.add_argument("--make-bench", metavar="DIR")
    parser.add_argument("-q", dest="quiet", action="store_true")
    options = parser.parse_args()
    if options.make_bench:
        make_bench(options.make_bench)
        return 0
    options.prelude = options.prelude or [PRELUDE]
    started = time.monotonic()
    units = [FileRun(options, path=p) for p in find_test_files(options.paths)]
    units += [FileRun(options, doctest_module=m) for m in options.doctest_modules]
    if not units:
        print("no tests collected")
        return 5
    with concurrent.futures.ThreadPoolExecutor(options.jobs) as pool:
        done = list(pool.map(FileRun.execute, units))
    counts = {}
    failures = []
    letters = {"passed": ".", "failed": "F", "error": "E", "skipped": "s", "interrupted": "!"}
    for unit in done:
        name = unit.path or "doctests of %s" % unit.doctest_module
        report = unit.report or {}
        if unit.problem or report.get("error") or report.get("usageError"):
            counts["error"] = counts.get("error", 0) + 1
            failures.append((name, unit.problem or report.get("usageError")
                             or "\n".join(report["error"]["traceback"])))
            print("%s E" % name)
            continue
        for record in unit.records:
            counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
            if record["outcome"] in ("failed", "error", "interrupted"):
                failures.append((record["id"], "\n".join([record.get("message") or ""] + (record.get("traceback") or []))
                                 + ("\n--- output ---\n" + record["output"] if record.get("output") else "")))
        if not options.quiet:
            print("%s %s" % (name, "".join(letters[r["outcome"]] for r in unit.records)))
    for name, text in failures:
        print("\n_____ %s _____\n%s" % (name, text))
    order = ["passed", "failed", "error", "skipped", "interrupted"]
    summary = ", ".join("%d %s" % (counts[k], k) for k in order if counts.get(k))
    print("%s in %.2f s" % (summary or "nothing run", time.monotonic() - started))
    if not any(unit.records for unit in done) and not failures:
        return 5
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
