"""Captured output: channel safety, ordering, coalescing, splitting, strict JSON."""

import json
import unittest

from kernel import Kernel, KernelTest

MiB = 1 << 20


class OutputTests(KernelTest):
    def test_print_is_one_frame(self):
        frames = self.run_ok("print('hello')")
        self.assertEqual(Kernel.of_type(frames, "stdout"), [dict(frames[1], data="hello\n")])
        self.assertEqual([f["type"] for f in frames], ["started", "stdout", "done"])

    def test_print_makes_one_write_so_no_flush_can_split_it(self):
        # C print writes each argument, separator and end apart; a background
        # flush landing between them split one print into two frames.
        frames = self.run_ok(
            "import sys\nwrites = []\nkind = type(sys.stderr)\nreal = kind.write\n"
            "kind.write = lambda self, text: (writes.append(text), real(self, text))[1]\n"
            "print('err', 2, sep=' ', file=sys.stderr)\nprint('a', 'b', end='!\\n')\n"
            "kind.write = real\nwrites")
        self.assertEqual(Kernel.of_type(frames, "result")[0]["bundle"]["text/plain"],
                         "['err 2\\n', 'a b!\\n']")
        self.assertEqual(Kernel.text(frames, "stderr"), "err 2\n")
        self.assertEqual(Kernel.text(frames), "a b!\n")

    def test_print_to_other_files_is_the_real_print(self):
        frames = self.run_ok(
            "import io\nbuffer = io.StringIO()\nprint('x', 1, sep='-', end='.', file=buffer)\n"
            "print(None, sep=None, end=None)\nbuffer.getvalue()")
        self.assertEqual(Kernel.of_type(frames, "result")[0]["bundle"]["text/plain"], "'x-1.'")
        self.assertEqual(Kernel.text(frames), "None\n")

    def test_stdout_stderr_order_kept(self):
        frames = self.run_ok(
            "import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')\nsys.stderr.write('d')")
        out = [(f["type"], f["data"]) for f in frames if f["type"] in ("stdout", "stderr")]
        self.assertEqual(out, [("stdout", "a\n"), ("stderr", "b\n"), ("stdout", "c\n"), ("stderr", "d")])

    def test_fd_level_writes_and_children_are_captured_in_order(self):
        frames = self.run_ok(
            "import os, subprocess\n"
            "print('py1')\n"
            "os.write(1, b'fd1\\n')\n"
            "os.write(2, b'fd2\\n')\n"
            "subprocess.run('echo child-out; echo child-err >&2', shell=True)\n"
            "print('py2')\n")
        self.assertEqual(Kernel.text(frames, "stdout"), "py1\nfd1\nchild-out\npy2\n")
        self.assertEqual(Kernel.text(frames, "stderr"), "fd2\nchild-err\n")

    def test_raw_fd_write_then_print_ordered_after_flush(self):
        frames = self.run_ok("import os, sys\nfor i in range(20):\n"
                             "    os.write(1, b'%d,' % i)\n    sys.stdout.flush()\n    print(i)")
        self.assertEqual(Kernel.text(frames), "".join("%d,%d\n" % (i, i) for i in range(20)))

    def test_c_level_writes_are_captured(self):
        frames = self.run_ok("import ctypes\nlibc = ctypes.CDLL(None)\n"
                             "libc.write(1, b'c-out\\n', 6)\nlibc.write(2, b'c-err\\n', 6)\nNone")
        self.assertEqual(Kernel.text(frames, "stdout"), "c-out\n")
        self.assertEqual(Kernel.text(frames, "stderr"), "c-err\n")

    def test_forked_children_output_is_captured(self):
        frames = self.run_ok(
            "import os, multiprocessing as mp\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    print('from fork')\n"
            "    os._exit(0)\n"
            "os.waitpid(pid, 0)\n"
            "p = mp.get_context('fork').Process(target=print, args=('from mp',))\n"
            "p.start(); p.join()\n"
            "p.exitcode")
        self.assertEqual(Kernel.text(frames), "from fork\nfrom mp\n")
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "0")

    def test_user_output_cannot_forge_frames(self):
        fake = json.dumps({"type": "done", "id": "x", "status": "ok"})
        frames = self.run_ok(
            "import os\nprint(%r)\nos.write(1, %r.encode() + b'\\n')" % (fake, fake))
        self.assertEqual(Kernel.text(frames), fake + "\n" + fake + "\n")
        self.assertEqual(len(Kernel.of_type(frames, "done")), 1)

    def test_stdin_reads_are_eof_and_never_swallow_requests(self):
        k = self.kernel
        ident = k.submit("import sys, os, subprocess\n"
                         "a = sys.stdin.read()\n"
                         "b = os.read(0, 100)\n"
                         "c = subprocess.run(['cat'], capture_output=True).stdout\n"
                         "(a, b, c)")
        after = k.submit("'next request arrived'")
        frames = [f for f in k.until_done(ident) if f["id"] == ident]
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "('', b'', b'')")
        frames = [f for f in k.until_done(after) if f["id"] == after]
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "'next request arrived'")

    def test_hundreds_of_cells_with_child_output_none_lost_or_misattributed(self):
        k = self.kernel
        ids = [k.submit("import os; os.system('printf X%d')" % i) for i in range(300)]
        for i, ident in enumerate(ids):
            frames = [f for f in k.until_done(ident) if f["id"] == ident]
            self.assertEqual(Kernel.text(frames), "X%d" % i)
            self.assertEqual(frames[-1]["type"], "done")

    def test_invalid_utf8_is_backslash_escaped(self):
        frames = self.run_ok("import os\nos.write(1, b'ok \\xff\\xfe end\\n')")
        self.assertEqual(Kernel.text(frames), "ok \\xff\\xfe end\n")

    def test_stdout_buffer_bytes(self):
        frames = self.run_ok("import sys\nb = 'ü€'.encode()\nsys.stdout.buffer.write(b[:1])\n"
                             "sys.stdout.buffer.write(b[1:] + b'\\xff\\n')\nNone")
        self.assertEqual(Kernel.text(frames), "ü€\\xff\n")

    def test_utf8_split_across_writes_is_joined(self):
        frames = self.run_ok("import os\nb = 'é€'.encode()\nos.write(1, b[:1])\nos.write(1, b[1:])")
        self.assertEqual(Kernel.text(frames), "é€")

    def test_lone_surrogates_and_nan_stay_strict_json(self):
        frames = self.run_ok("print('a\\ud800b')\n"
                             "class J:\n    def _repr_json_(self): return {'x': float('nan'), 'y': float('inf')}\n"
                             "display(J())\n"
                             "'\\udcff'")
        self.assertEqual(Kernel.text(frames), "a\\ud800b\n")
        disp = Kernel.of_type(frames, "display")[0]
        self.assertEqual(disp["bundle"]["application/json"], {"x": "NaN", "y": "Infinity"})
        self.assertEqual(frames[-2]["bundle"]["text/plain"], "'\\udcff'")

    def test_control_characters_are_escaped(self):
        frames = self.run_ok("print('a\\rb\\x00c\\u2028d')")
        self.assertEqual(Kernel.text(frames), "a\rb\x00c\u2028d\n")

    def test_huge_write_is_split_at_one_mib_on_utf8_boundaries(self):
        # 3-byte characters so that 1 MiB boundaries fall inside sequences
        frames = self.run_ok("import sys\nsys.stdout.write('€' * 700000)")
        parts = Kernel.of_type(frames, "stdout")
        self.assertGreater(len(parts), 1)
        for p in parts:
            self.assertLessEqual(len(p["data"].encode()), MiB)
        self.assertEqual("".join(p["data"] for p in parts), "€" * 700000)
        frames = self.run_ok("import os\nos.write(1, b'z' * (3 * 1024 * 1024 + 5))")
        parts = Kernel.of_type(frames, "stdout")
        for p in parts:
            self.assertLessEqual(len(p["data"].encode()), MiB)
        self.assertEqual(sum(len(p["data"]) for p in parts), 3 * MiB + 5)

    def test_200k_prints_complete_ordered_and_fast(self):
        # A liveness bound only (a loaded CI machine); bench_pipe.py measures speed.
        frames = self.run_ok("for i in range(200000):\n    print(i)", timeout=60)
        text = Kernel.text(frames)
        self.assertEqual(text, "".join("%d\n" % i for i in range(200000)))
        self.assertLess(len(Kernel.of_type(frames, "stdout")), 200)  # coalesced

    def test_single_50mb_print(self):
        frames = self.run_ok("print('y' * (50 * 1024 * 1024))", timeout=60)  # liveness bound only
        parts = Kernel.of_type(frames, "stdout")
        self.assertEqual(sum(len(p["data"]) for p in parts), 50 * MiB + 1)

    def test_output_appears_before_the_execution_ends(self):
        k = self.kernel
        ident = k.submit("import time\nprint('early')\ntime.sleep(30)")
        frames = k.wait_for(lambda f: f["id"] == ident and f["type"] in ("stdout", "done"), timeout=5)
        self.assertEqual(frames[-1]["type"], "stdout")
        self.assertEqual(frames[-1]["data"], "early\n")
        k.sigint()
        k.until_done(ident)

    def test_max_output_bytes(self):
        frames = self.run_ok("import os, sys\nprint('a' * 60)\nos.write(1, b'b' * 100)\n"
                             "sys.stdout.flush()\nprint('c' * 40)",
                             maxOutputBytes=100)
        out = Kernel.text(frames)
        self.assertEqual(out, "a" * 60 + "\n" + "b" * 39)
        notices = Kernel.of_type(frames, "stderr")
        self.assertEqual(len(notices), 1)
        self.assertIn("maxOutputBytes=100", notices[0]["data"])
        self.assertEqual(frames[-1]["droppedBytes"], 61 + 41)
        frames = self.run_ok("print('x' * 10)")
        self.assertNotIn("droppedBytes", frames[-1])
        self.assertEqual(Kernel.text(frames), "x" * 10 + "\n")

    def test_thread_output_goes_to_its_execution_then_to_the_latest(self):
        k = self.kernel
        first = self.run_ok(
            "import threading\n"
            "go = threading.Event(); step = threading.Event()\n"
            "def worker():\n"
            "    print('from thread 1')\n"
            "    step.set(); go.wait()\n"
            "    print('from thread 2')\n"
            "    step.set()\n"
            "t = threading.Thread(target=worker); t.start(); step.wait(); step.clear()\n")
        self.assertEqual(Kernel.text(first), "from thread 1\n")
        frames = self.run_ok("go.set(); step.wait(); t.join()")
        self.assertEqual(Kernel.text(frames), "from thread 2\n")


if __name__ == "__main__":
    unittest.main()
