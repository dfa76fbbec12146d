"""Measure runner.py over the real pipe next to raw NDJSON floors.

    python3 runner/bench_pipe.py [--runs N]

Rows (median / min / max over runs, milliseconds):
  start      spawn -> first line read (runner: hello; floor: `python -c` printing one line)
  1+1        warm round trip: execute request written -> `done` read
  200k       `for i in range(200000): print(i)` -> every line received, then `done`
  50MB       `print('y' * 50 MiB)` -> all of it received, then `done`
and the idle resident set size after a few executions.

Floors, driven with the same client code:
  echo       python3 loop: read a JSON line, write one JSON line back
  exec       python3 loop: read a JSON line, exec/eval the code with stdout
             going straight to the pipe, write a `done` line
"""

import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.py")
PY = sys.executable

ECHO_LOOP = r"""
import sys, json
inp, out = sys.stdin.buffer, sys.stdout.buffer
print(json.dumps({"type": "hello"}), flush=True)
for line in inp:
    req = json.loads(line)
    out.write((json.dumps({"type": "done", "id": req["id"]}) + "\n").encode())
    out.flush()
"""

EXEC_LOOP = r"""
import sys, json
inp = sys.stdin.buffer
ns = {"__name__": "__main__"}
print(json.dumps({"type": "hello"}), flush=True)
for line in inp:
    req = json.loads(line)
    code = req["code"]
    try:
        r = eval(compile(code, "<cell>", "eval"), ns)
    except SyntaxError:
        exec(compile(code, "<cell>", "exec"), ns)
        r = None
    if r is not None:
        sys.stdout.write(json.dumps({"type": "result", "id": req["id"], "bundle": {"text/plain": repr(r)}}) + "\n")
    sys.stdout.write(json.dumps({"type": "done", "id": req["id"]}) + "\n")
    sys.stdout.flush()
"""


class Proc:
    def __init__(self, argv):
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the import launch relies on the .pyc cache
        t0 = time.perf_counter()
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  start_new_session=True, bufsize=0, env=env)
        self.out = self.p.stdout
        self.buf = b""
        while not self.readline():  # the runner writes an empty line before hello
            pass
        self.start_s = time.perf_counter() - t0
        self.n = 0

    def lines(self):
        """Complete lines read so far (at least one), split in C."""
        if b"\n" in self.buf:
            parts = self.buf.split(b"\n")
            self.buf = parts.pop()
            return parts
        pending = [self.buf]
        while True:
            chunk = os.read(self.out.fileno(), 1 << 20)
            if not chunk:
                raise EOFError
            pending.append(chunk)
            if b"\n" in chunk:
                parts = b"".join(pending).split(b"\n")
                self.buf = parts.pop()
                return parts

    def readline(self) -> bytes:
        parts = self.lines()
        line = parts[0]
        if len(parts) > 1:
            self.buf = b"\n".join(parts[1:] + [self.buf])
        return line

    def run(self, code) -> float:
        """Seconds from request written to `done` read, parsing every frame."""
        self.n += 1
        ident = "b%d" % self.n
        req = (json.dumps({"type": "execute", "id": ident, "code": code}) + "\n").encode()
        t0 = time.perf_counter()
        os.write(self.p.stdin.fileno(), req)
        while True:
            for line in self.lines():
                if line[:2] != b'{"':
                    continue  # a floor's raw printed line
                frame = json.loads(line)
                if frame.get("type") == "done" and frame.get("id") == ident:
                    return time.perf_counter() - t0

    def rss_kib(self) -> int:
        with open("/proc/%d/status" % self.p.pid) as f:
            for row in f:
                if row.startswith("VmRSS:"):
                    return int(row.split()[1])
        return 0

    def close(self):
        self.p.kill()
        self.p.wait()


def stats(xs):
    ms = [x * 1000 for x in xs]
    return "%9.3f %9.3f %9.3f" % (statistics.median(ms), min(ms), max(ms))


def main():
    runs = 20
    if "--runs" in sys.argv:
        runs = int(sys.argv[sys.argv.index("--runs") + 1])
    kinds = {
        "runner": [PY, "-u", RUNNER],
        "runner -c": [PY, "-u", "-c", "__import__('sys').path.insert(0,%r);__import__('runner').main()" % HERE],
        "exec floor": [PY, "-u", "-c", EXEC_LOOP],
        "echo floor": [PY, "-u", "-c", ECHO_LOOP],
    }
    print("python %s, %d runs; milliseconds: median / min / max" % (sys.version.split()[0], runs))
    print("%-12s %-8s %29s" % ("process", "case", "median       min       max"))
    pass_times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", "pass"])
        pass_times.append(time.perf_counter() - t0)
    print("%-12s %-8s %s" % ("python -c", "pass", stats(pass_times)))
    p = Proc(kinds["runner -c"])  # warm the bytecode cache
    p.close()
    for name, argv in kinds.items():
        starts = []
        for _ in range(runs):
            p = Proc(argv)
            starts.append(p.start_s)
            p.close()
        print("%-12s %-8s %s" % (name, "start", stats(starts)))
        p = Proc(argv)
        for _ in range(50):
            p.run("1+1")
        rt = [p.run("1+1") for _ in range(max(200, runs * 20))]
        print("%-12s %-8s %s" % (name, "1+1", stats(rt)))
        print("%-12s %-8s %9d KiB" % (name, "idle RSS", p.rss_kib()))
        if name not in ("echo floor", "runner -c"):
            lines = [p.run("for i in range(200000):\n    print(i)") for _ in range(max(5, runs // 2))]
            print("%-12s %-8s %s" % (name, "200k", stats(lines)))
            big = [p.run("print('y' * (50 * 1024 * 1024))") for _ in range(max(5, runs // 2))]
            print("%-12s %-8s %s" % (name, "50MB", stats(big)))
        p.close()


if __name__ == "__main__":
    main()
