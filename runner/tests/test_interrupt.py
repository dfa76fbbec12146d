"""SIGINT and the `interrupt` request: never lost while running, ignored while idle."""

import os
import time
import unittest

from kernel import Kernel, KernelTest


def _alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class InterruptTests(KernelTest):
    def assertCancelled(self, frames):
        self.assertValidExecution(frames)
        self.assertEqual(frames[-2]["type"], "error", frames)
        self.assertEqual(frames[-2]["ename"], "KeyboardInterrupt")
        self.assertEqual(frames[-1]["status"], "error")
        self.assertEqual(frames[-1]["cancelled"], True)

    def interrupt_at_started(self, code, how="signal", wait_output=False):
        k = self.kernel
        ident = k.submit(code)
        kind = "stdout" if wait_output else "started"
        frames = k.wait_for(lambda f: f["type"] == kind and f["id"] == ident)
        if how == "signal":
            k.sigint()
        else:
            k.send({"type": "interrupt"})
        frames += k.until_done(ident, timeout=5)
        return [f for f in frames if f.get("id") == ident]

    def test_sigint_the_instant_started_is_read_is_never_lost(self):
        for i in range(200):
            frames = self.interrupt_at_started("import time; time.sleep(10)")
            self.assertCancelled(frames)
            self.assertLess(frames[-1]["durationMs"], 2000, i)

    def test_sigint_at_varied_moments_inside_sleep(self):
        # the signal lands anywhere from the prologue to deep inside time.sleep
        for i in range(60):
            k = self.kernel
            ident = k.submit("import time; time.sleep(10)")
            frames = k.wait_for(lambda f: f["type"] == "started" and f["id"] == ident)
            time.sleep((i % 12) * 0.0005)
            k.sigint()
            frames = [f for f in frames + k.until_done(ident, timeout=5) if f["id"] == ident]
            self.assertCancelled(frames)

    def test_sigint_after_output_inside_sleep(self):
        for _ in range(30):
            frames = self.interrupt_at_started("import time\nprint('x')\ntime.sleep(10)", wait_output=True)
            self.assertCancelled(frames)
            self.assertIn("time.sleep(10)", "\n".join(frames[-2]["traceback"]))

    def test_busy_loop(self):
        frames = self.interrupt_at_started("print('go')\nwhile True:\n    pass", wait_output=True)
        self.assertCancelled(frames)
        tb = "\n".join(frames[-2]["traceback"])
        self.assertIn("<cell", tb)
        self.assertNotIn("runner", tb)

    def test_interrupt_request(self):
        frames = self.interrupt_at_started("import time; time.sleep(10)", how="request")
        self.assertCancelled(frames)

    def test_sigint_while_idle_is_ignored(self):
        k = self.kernel
        self.run_ok("pass")
        for _ in range(5):
            k.sigint()
        # the kernel is alive and the next execution is not cancelled
        frames = self.run_ok("'alive'")
        self.assertEqual(frames[1]["bundle"]["text/plain"], "'alive'")
        self.assertIsNone(k.proc.poll())

    def test_user_code_can_catch_interrupt(self):
        k = self.kernel
        ident = k.submit(
            "import time\ntry:\n    print('in')\n    time.sleep(10)\nexcept KeyboardInterrupt:\n    print('caught')")
        k.wait_for(lambda f: f["type"] == "stdout" and f["id"] == ident)
        k.sigint()
        frames = [f for f in k.until_done(ident, timeout=5) if f["id"] == ident]
        self.assertEqual(Kernel.text(frames), "caught\n")  # "in" was read above
        self.assertEqual(frames[-1]["status"], "ok")
        self.assertEqual(frames[-1]["cancelled"], False)

    def test_shell_child_dies_with_group_interrupt(self):
        k = self.kernel
        ident = k.submit("!sh -c 'echo $$; exec sleep 100'")
        frames = k.wait_for(lambda f: f["type"] == "stdout" and f["id"] == ident)
        pid = int(Kernel.text(frames).strip())
        self.assertTrue(_alive(pid))
        k.sigint()
        frames += k.until_done(ident, timeout=5)
        frames = [f for f in frames if f["id"] == ident]
        self.assertCancelled(frames)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertFalse(_alive(pid), "sleep child survived the interrupt")

    def test_interrupt_top_level_await_cancels_task(self):
        k = self.kernel
        self.run_ok("import asyncio\nstate = []\n"
                    "async def waiter():\n"
                    "    try:\n        print('waiting')\n        await asyncio.sleep(10)\n"
                    "    except asyncio.CancelledError:\n        state.append('cancelled')\n        raise\n")
        frames = self.interrupt_at_started("await waiter()", wait_output=True)
        self.assertCancelled(frames)
        frames = self.run_ok("state, await asyncio.sleep(0, 'loop ok')")
        self.assertEqual(frames[1]["bundle"]["text/plain"], "(['cancelled'], 'loop ok')")

    def test_input_wait_is_interruptible(self):
        k = self.kernel
        ident = k.submit("input('? ')", allowStdin=True)
        k.wait_for(lambda f: f["type"] == "input_request" and f["id"] == ident)
        k.sigint()
        frames = [f for f in k.until_done(ident, timeout=5) if f["id"] == ident]
        self.assertEqual(frames[-2]["ename"], "KeyboardInterrupt")
        self.assertTrue(frames[-1]["cancelled"])
        self.run_ok("1")


class IgnoredSigintStartTests(InterruptTests):
    """The same, with the runner started with SIGINT ignored (nohup-style)."""

    @classmethod
    def setUpClass(cls):
        cls.kernel = Kernel(sigint_ignored=True)

    # the inherited-ignore case only matters for delivery; one repeat test is enough
    test_busy_loop = None
    test_user_code_can_catch_interrupt = None
    test_interrupt_top_level_await_cancels_task = None
    test_input_wait_is_interruptible = None
    test_shell_child_dies_with_group_interrupt = None


class StartupSigintTests(unittest.TestCase):
    def test_sigint_during_startup_is_ignored_when_inherited_ignored(self):
        k = Kernel(sigint_ignored=True, wait_hello=False)
        try:
            for _ in range(20):
                try:
                    os.killpg(k.proc.pid, 2)
                except OSError:
                    pass
                time.sleep(0.002)
            hello = k.next_frame()
            self.assertEqual(hello["type"], "hello")
            frames = k.run("'ok'")
            self.assertEqual(frames[1]["bundle"]["text/plain"], "'ok'")
        finally:
            k.close()


class KillRequestTests(unittest.TestCase):
    """`kill`: what SIGKILL to the kernel's family does, for hosts that cannot signal."""

    def test_kill_ends_a_loop_that_ignores_interrupts_and_everything_it_started(self):
        k = Kernel()
        try:
            ident = k.submit(
                "import signal, subprocess\n"
                "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                "child = subprocess.Popen(['sleep', '100'], start_new_session=True)\n"
                "print(child.pid, flush=True)\n"
                "while True:\n"
                "    pass\n")
            frames = k.wait_for(lambda f: f["type"] == "stdout" and f["id"] == ident)
            child = int(frames[-1]["data"])
            k.send({"type": "interrupt"})
            k.send({"type": "kill"})
            self.assertEqual(k.wait_exit(10), -9)
            deadline = time.monotonic() + 5
            while _alive(child) and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertFalse(_alive(child), "the code's child outlived the kill request")
        finally:
            k.close()

    def test_output_before_the_kill_reaches_the_host(self):
        k = Kernel()
        try:
            ident = k.submit("import time\nprint('before', end='')\ntime.sleep(100)")
            k.wait_for(lambda f: f["type"] == "started" and f["id"] == ident)
            k.send({"type": "kill"})  # the print may still be pending in the runner
            self.assertEqual(k.wait_exit(10), -9)
            k.close()
            text = ""
            while True:
                frame = k.frames.get(timeout=5)
                if frame is None:
                    break
                if frame.get("type") == "stdout":
                    text += frame["data"]
            self.assertEqual(text, "before")
        finally:
            k.close()


if __name__ == "__main__":
    unittest.main()
