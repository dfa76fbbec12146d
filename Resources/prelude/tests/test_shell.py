"""sh and env: real commands, real process groups, real signals."""

import os
import signal
import subprocess
import sys
import threading
import time

from pyrun_prelude import env, sh
from status_recorder import statuses

SLOW = 20.0  # liveness bound only; the machine may be loaded


def raises(exc_type, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (call.__name__, exc_type.__name__))


def alive(pid):
    """Whether pid runs (a zombie waiting to be reaped does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def wait_until_gone(pid):
    deadline = time.monotonic() + SLOW
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def wait_for_file(path):
    deadline = time.monotonic() + SLOW
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError("%s never appeared" % path)
        time.sleep(0.01)


def background_sleeper(name):
    """Shell text: start `sleep 60` in the background, publish its pid in
    `name` (atomically), say so, then wait for it."""
    return "sleep 60 & echo $! > %s.tmp && mv %s.tmp %s; echo started; wait" % (name, name, name)


class Recorder:
    """A stdout that notes when each write arrives."""

    def __init__(self):
        self.writes = []

    def write(self, text):
        self.writes.append((time.monotonic(), text))
        return len(text)

    def flush(self):
        pass


def test_sh_returns_code_and_output():
    result = sh("echo out; echo err >&2; exit 3")
    assert result.code == 3 and not result.ok
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert sorted(result.output.splitlines()) == ["err", "out"]


def test_sh_success_is_ok():
    assert sh("true").ok


def test_sh_takes_an_argument_list_without_a_shell():
    assert sh(["printf", "%s|", "a b", "$HOME"]).stdout == "a b|$HOME|"


def test_sh_runs_in_the_current_directory():
    assert sh("pwd").stdout.strip() == os.path.realpath(os.getcwd())


def test_sh_gives_the_command_no_stdin():
    started = time.monotonic()
    assert sh("cat").stdout == ""
    assert time.monotonic() - started < SLOW


def test_sh_streams_output_while_the_command_runs():
    recorder = Recorder()
    previous, sys.stdout = sys.stdout, recorder
    try:
        sh("echo first; sleep 1; echo second")
    finally:
        sys.stdout = previous
    returned = time.monotonic()
    first_at = next(at for at, text in recorder.writes if "first" in text)
    assert returned - first_at >= 0.5
    assert "".join(text for _, text in recorder.writes) == "first\nsecond\n"


def test_sh_result_prints_briefly():
    assert repr(sh("printf 'a\\nb\\n'")).startswith("sh: exit 0, 2 lines of output, ")


def test_sh_timeout_stops_the_process_group_and_keeps_the_output():
    started = time.monotonic()
    error = raises(subprocess.TimeoutExpired, sh, background_sleeper("timeout.pid"), timeout=1)
    assert time.monotonic() - started < SLOW
    assert error.output == "started\n"
    assert wait_until_gone(int(open("timeout.pid").read()))


def test_sh_interrupt_stops_the_process_group_and_raises_keyboard_interrupt():
    def interrupt_when_started():
        wait_for_file("interrupt.pid")
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    started = time.monotonic()
    raises(KeyboardInterrupt, sh, background_sleeper("interrupt.pid"))
    assert time.monotonic() - started < SLOW
    assert wait_until_gone(int(open("interrupt.pid").read()))


def test_sh_rejects_other_commands():
    assert "int" in str(raises(TypeError, sh, 42))


def test_sh_reports_its_status():
    _, payloads = statuses(sh, "exit 2")
    (payload,) = payloads
    assert payload["op"] == "sh" and payload["command"] == "exit 2" and payload["code"] == 2
    assert payload["seconds"] >= 0


def test_env_sets_for_the_kernel_and_its_commands():
    assert env("PYRUN_PRELUDE_TEST", "on") == "on"
    assert env("PYRUN_PRELUDE_TEST") == "on"
    assert sh("echo $PYRUN_PRELUDE_TEST").stdout == "on\n"
    os.environ.pop("PYRUN_PRELUDE_TEST")


def test_env_of_an_unset_name_is_none():
    assert env("PYRUN_SURELY_NOT_SET") is None


def test_env_lists_everything_as_name_value_lines():
    os.environ["PYRUN_PRELUDE_LIST"] = "x"
    listing = env()
    assert listing["PYRUN_PRELUDE_LIST"] == "x"
    assert "PYRUN_PRELUDE_LIST=x" in repr(listing).splitlines()
    os.environ.pop("PYRUN_PRELUDE_LIST")


def test_env_status_never_carries_values():
    _, payloads = statuses(env, "PYRUN_PRELUDE_SECRET", "hunter2")
    os.environ.pop("PYRUN_PRELUDE_SECRET")
    assert payloads == [{"op": "env", "name": "PYRUN_PRELUDE_SECRET", "found": True, "set": True}]
