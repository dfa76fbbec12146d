"""The console end to end: headless Chromium against a real ``pyrun serve --http`` and real kernels.

Two tabs on one session see every execution (theirs, each other's, a terminal's); Shift+Enter
runs; the second tab interrupts a ``time.sleep(60)`` the first started; a reload replays the
history; an image display is an image and an HTML display's script does not run; requests
without the token, from another origin or by another host name are refused.

The console is its own program, ``pyrun-console``, which ``pyrun serve --http`` starts as its
child: the tests also check that it ends with the server, even a killed one, and that a
``pyrun`` without it says how to build it.

Needs the built ``pyrun`` and ``pyrun-console`` (``swift build``; ``PYRUN_BINARY`` names another
``pyrun``, with ``pyrun-console`` beside it) and Chromium with chromedriver: without either these
tests fail with what is missing, they never pass.
Screenshots go to ``.build/console-screenshots/``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

from chromium import headless_chromium
from static_site import ROOT, TOKEN_COOKIE
from webdriver import Keys, wait_until

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from mcp_client_check import process_is_gone  # noqa: E402

SCREENSHOTS = os.path.join(ROOT, ".build", "console-screenshots")
SERVER = "console-e2e-%d" % os.getpid()

# A 2×2 PNG made in the kernel with the standard library, shown through display().
IMAGE_CODE = r"""
import struct, zlib
def _chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
class Picture:
    def _repr_png_(self):
        rows = b''.join(b'\x00' + b'\xff\x00\x00' * 2 for _ in range(2))
        return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', struct.pack('>IIBBBBB', 2, 2, 8, 2, 0, 0, 0))
                + _chunk(b'IDAT', zlib.compress(rows)) + _chunk(b'IEND', b''))
    def __repr__(self):
        return '<a 2x2 picture>'
class Page:
    def _repr_html_(self):
        return '<p id="shown">an html display</p><script>document.body.id = "ran"; parent.document.title = "reached"</script>'
display(Picture())
display(Page())
"""


def pyrun_binary() -> str:
    path = os.environ.get("PYRUN_BINARY") or os.path.join(ROOT, ".build", "debug", "pyrun")
    if not os.access(path, os.X_OK):
        raise RuntimeError("no pyrun binary at %s: run `swift build` first (or name one in PYRUN_BINARY)" % path)
    return path


class ConsoleServer:
    """``pyrun serve --http 127.0.0.1:0`` in a private run directory; its URL read from what it prints."""

    def __init__(self):
        self.run_directory = tempfile.mkdtemp(prefix="pyrun-console-e2e-")
        os.chmod(self.run_directory, 0o700)
        self.environment = dict(os.environ, XDG_RUNTIME_DIR=self.run_directory)
        self.binary = pyrun_binary()
        self.process = subprocess.Popen(
            [self.binary, "serve", "--name", SERVER, "--http", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=self.environment, cwd=self.run_directory, start_new_session=True)
        self.log = []
        self._found = threading.Event()
        self.url = None
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._found.wait(120):
            self.stop()
            raise RuntimeError("pyrun serve printed no console address:\n" + "".join(self.log))
        parts = urllib.parse.urlsplit(self.url)
        self.origin = "%s://%s" % (parts.scheme, parts.netloc)
        self.port = parts.port
        self.token = urllib.parse.parse_qs(parts.query)["token"][0]

    def _read_log(self):
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace")
            self.log.append(line)
            found = re.search(r"console at (http://\S+)", line)
            if found and not self._found.is_set():
                self.url = found.group(1)
                self._found.set()
        self._found.set()

    def pyrun(self, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, *arguments], env=self.environment, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        # The log ends with the server's stderr; the pipe is closed once it is read to the end.
        self._reader.join(60)
        if not self._reader.is_alive():
            self.process.stderr.close()
        shutil.rmtree(self.run_directory, ignore_errors=True)


def request(server: ConsoleServer, path: str, headers: dict) -> tuple:
    """``(status, body)`` of a GET sent exactly as given (no cookie unless one is in ``headers``)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        headers = dict({"Host": "127.0.0.1:%d" % server.port}, **headers)
        for name, value in headers.items():
            if value is not None:
                connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


class ConsoleServerTests(unittest.TestCase):
    """One server and one browser for the class; each test opens its own session."""

    @classmethod
    def setUpClass(cls):
        cls.server = ConsoleServer()
        cls._browser = headless_chromium()
        try:
            cls.browser = cls._browser.__enter__()
        except BaseException:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._browser.__exit__(None, None, None)
        process = cls.server.process
        cls.server.stop()
        log = "".join(cls.server.log)
        assert process.returncode == 0, "pyrun serve ended with %s:\n%s" % (process.returncode, log)
        assert ERROR_LOG_LINE.search(log) is None, "a normal stop logged an error:\n" + log

    def setUp(self):
        self.first_tab = self.browser.current_window
        self.browser.get("about:blank")
        self.browser.browser_log()

    def tearDown(self):
        for handle in self.browser.window_handles:
            if handle != self.first_tab:
                self.browser.switch_to(handle)
                self.browser.close_window()
        self.browser.switch_to(self.first_tab)

    def open_console(self, session: str) -> None:
        """Opens the printed link at a session, as a person does, and waits for the live transcript."""
        self.browser.get("%s#/sessions/%s" % (self.server.url, session))
        self.browser.wait_for_text("#connection", "connected to %s" % SERVER, timeout=60)
        self.browser.wait_for_text("#session-state", "live", timeout=60)

    def run_code(self, code: str) -> None:
        box = self.browser.wait_for("#code-box")
        box.clear()
        box.type(code)
        self.browser.press(Keys.SHIFT, Keys.ENTER)

    def cell(self, text: str, status: str = None, timeout: float = 120):
        """The transcript's cell whose text holds ``text`` (once it has ``status``, when given:
        ``running``, or how it finished)."""
        css = "#transcript > .cell" + (
            "" if status is None else ".running" if status == "running" else '[data-status="%s"]' % status)
        return self.browser.wait_for_text(css, text, timeout=timeout)

    def screenshot(self, name: str) -> None:
        self.browser.screenshot(os.path.join(SCREENSHOTS, "server-%s.png" % name))

    def assertCleanConsole(self, *expected: str):
        unexpected = [
            m["message"] for m in self.browser.browser_log()
            if "Content Security Policy" in m["message"]
            or (m["level"] == "SEVERE" and not any(re.search(pattern, m["message"]) for pattern in expected))
        ]
        self.assertEqual(unexpected, [], "the browser's console has errors")

    # MARK: every execution, in every tab

    def test_two_tabs_see_every_execution_and_shift_enter_runs(self):
        browser = self.browser
        self.open_console("two-tabs")
        second_tab = browser.new_window("tab")
        self.open_console("two-tabs")
        label = browser.execute("return sessionStorage.getItem('pyrun-console-tab');")

        self.run_code("print('hello from the second tab'); 6 * 7")
        mine = self.cell("hello from the second tab", status="ok")
        self.assertIn("mine", mine.attribute("class").split())
        self.assertEqual(mine.find(".who").text, "ran by console:%s" % label)
        self.assertEqual(mine.find(".output-stdout").text, "hello from the second tab")
        self.assertIn("42", mine.find(".result").text)

        browser.switch_to(self.first_tab)
        theirs = self.cell("hello from the second tab", status="ok")
        self.assertNotIn("mine", theirs.attribute("class").split())
        self.assertIn("42", theirs.find(".result").text)
        box = browser.find("#code-box")
        box.type("x = 'typed'" + Keys.ENTER + "x")
        self.assertEqual(len(browser.find_all("#transcript > .cell")), 1, "a plain Enter runs nothing")
        browser.press(Keys.SHIFT, Keys.ENTER)
        self.assertIn("'typed'", self.cell("x = 'typed'", status="ok").find(".result").text)

        # Another kind of client (a terminal's `pyrun exec`) on the same session shows in both tabs.
        ran = self.server.pyrun("exec", "--server", SERVER, "--session", "two-tabs", "-c", "print('from a terminal')")
        self.assertEqual(ran.returncode, 0, ran.stderr)
        for tab in (self.first_tab, second_tab):
            browser.switch_to(tab)
            self.cell("from a terminal", status="ok")
            self.assertIn("'typed'", self.cell("x = 'typed'", status="ok").text)
            self.screenshot("two-tabs-%s" % ("first" if tab == self.first_tab else "second"))
        self.assertCleanConsole()

    def test_the_second_tab_interrupts_what_the_first_runs(self):
        browser = self.browser
        self.open_console("interrupt")
        self.run_code("import time; time.sleep(60)")
        self.cell("time.sleep(60)", status="running")
        browser.new_window("tab")
        self.open_console("interrupt")
        self.cell("time.sleep(60)", status="running")
        started = time.monotonic()
        browser.find("#interrupt-button").click()
        cell = self.cell("time.sleep(60)", status="cancelled", timeout=45)
        self.assertLess(time.monotonic() - started, 45, "the sleep was interrupted, not waited out")
        self.assertIn("interrupted", cell.find(".cell-foot").text)
        self.assertIn("interrupted the running code", browser.find('#transcript > .lifecycle[data-event="interrupt"]').text)
        browser.switch_to(self.first_tab)
        self.cell("time.sleep(60)", status="cancelled")
        self.run_code("'still alive'")
        self.cell("still alive", status="ok")
        self.screenshot("interrupted")
        self.assertCleanConsole()

    def test_a_reload_replays_the_history(self):
        browser = self.browser
        self.open_console("replay")
        self.run_code("print('before the reload')")
        self.cell("before the reload", status="ok")
        self.run_code("1 / 0")
        self.cell("ZeroDivisionError", status="error")
        browser.refresh()
        browser.wait_for_text("#session-state", "live", timeout=60)
        self.assertEqual(browser.find('.lifecycle[data-event="started"]').text.count("kernel started"), 1)
        replayed = [cell.attribute("data-status") for cell in browser.find_all("#transcript > .cell")]
        self.assertEqual(replayed, ["ok", "error"])
        self.assertIn("mine", self.cell("before the reload").attribute("class").split(), "still this tab's after a reload")
        self.screenshot("replayed")
        self.assertCleanConsole()

    def test_an_image_display_is_an_image_and_an_html_display_runs_no_script(self):
        browser = self.browser
        self.open_console("displays")
        self.run_code(IMAGE_CODE)
        cell = self.cell("display(Page())", status="ok")
        picture = cell.find("img.output-image")
        wait_until(lambda: picture.dom_property("complete"), 15, "the image to decode")
        self.assertEqual(picture.dom_property("naturalWidth"), 2)
        frame = cell.find("iframe.output-html")
        self.assertEqual(frame.attribute("sandbox"), "")
        browser.switch_to_frame(frame)
        try:
            self.assertEqual(browser.wait_for("#shown").text, "an html display")
            self.assertNotEqual(browser.find("body").attribute("id"), "ran", "a script in an HTML display ran")
        finally:
            browser.switch_to_page()
        self.assertNotEqual(browser.title, "reached", "an HTML display reached the page")
        # An image that does not decode says what it was instead of leaving blank space.
        self.run_code("class Broken:\n    def _repr_png_(self):\n        return b'not a png at all'\ndisplay(Broken())")
        broken = self.cell("display(Broken())", status="ok")
        note = browser.wait_for_text("#transcript > .cell .output-broken-image", "could not be shown", timeout=60)
        self.assertEqual(note.text, "[image/png that could not be shown]")
        self.assertEqual(broken.find_all("img"), [], "the broken image is replaced")
        self.screenshot("displays")
        self.assertCleanConsole()

    # MARK: access

    def test_the_token_moves_into_an_http_only_cookie_and_leaves_the_address(self):
        self.open_console("cookie")
        self.assertEqual(self.browser.current_url, self.server.origin + "/#/sessions/cookie")
        cookie = next(c for c in self.browser.cookies() if c["name"] == TOKEN_COOKIE)
        self.assertEqual(cookie["value"], self.server.token)
        self.assertTrue(cookie["httpOnly"])
        self.assertEqual(cookie["sameSite"], "Strict")
        self.assertCleanConsole()

    def test_requests_without_the_token_or_from_elsewhere_are_refused(self):
        server, cookie = self.server, "%s=%s" % (TOKEN_COOKIE, self.server.token)
        refused = "open the link that pyrun printed"
        for path, headers in [("/", {}), ("/?token=wrong", {}), ("/console.js", {}), ("/api/status", {}),
                              ("/console.js", {"Cookie": "%s=wrong" % TOKEN_COOKIE}),
                              ("/api/socket", {"Origin": server.origin})]:
            status, body = request(server, path, headers)
            self.assertEqual((path, status), (path, 401))
            self.assertIn(refused, body)
        self.assertEqual(request(server, "/console.js", {"Cookie": cookie, "Origin": "http://evil.example"})[0], 403)
        self.assertEqual(request(server, "/api/socket", {"Cookie": cookie, "Origin": "null"})[0], 403)
        self.assertEqual(request(server, "/api/socket", {"Cookie": cookie})[0], 403, "the socket needs an Origin")
        self.assertEqual(request(server, "/", {"Host": "rebound.example:%d" % server.port, "Cookie": cookie})[0], 403)
        # A refused WebSocket upgrade gets hummingbird-websocket's bare 400; what matters is that no
        # socket opens. The same request without the upgrade says why (above).
        for headers in [dict(UPGRADE, Origin=server.origin), dict(UPGRADE, Cookie=cookie),
                        dict(UPGRADE, Cookie=cookie, Origin="http://evil.example"),
                        dict(UPGRADE, Cookie=cookie, Origin="null"),
                        dict(UPGRADE, Cookie=cookie, Origin=server.origin, Host="rebound.example:%d" % server.port)]:
            self.assertEqual(request(server, "/api/socket", headers)[0], 400, headers)
        status, body = request(server, "/api/status", {"Authorization": "Bearer " + server.token})
        self.assertEqual((status, json.loads(body)["name"]), (200, SERVER))
        self.assertEqual(request(server, "/api/socket", dict(UPGRADE, Cookie=cookie, Origin=server.origin))[0], 101)

        # In the browser: a page of another origin cannot open the socket, and without the cookie
        # the console says how to get in.
        self.browser.get("data:text/html,<title>elsewhere</title>")
        outcome = self.browser.execute(
            "const done = arguments[0]; return new Promise((resolve) => {"
            " const socket = new WebSocket(done);"
            " socket.onopen = () => resolve('opened');"
            " socket.onclose = () => resolve('refused'); });",
            "ws://127.0.0.1:%d/api/socket" % server.port)
        self.assertEqual(outcome, "refused")
        self.open_console("refusals")
        self.browser.command("DELETE", "/cookie")
        self.browser.get(server.origin + "/")
        self.assertIn(refused, self.browser.find("body").text)
        self.browser.get(server.url)  # the cookie back
        self.browser.wait_for_text("#connection", "connected to %s" % SERVER, timeout=60)


class ConsolePageLifecycleTests(unittest.TestCase):
    """A fresh server's empty list, a session opened by its name, and the page once the server stops."""

    def test_an_empty_list_opens_a_session_by_name_and_a_stopped_server_reads_as_unknown(self):
        server = ConsoleServer()
        self.addCleanup(server.stop)
        with headless_chromium() as browser:
            browser.get(server.url)
            hint = browser.wait_for_text("#sessions-message", "No sessions yet", timeout=60).text
            self.assertIn("pyrun exec --server %s --session NAME -c CODE" % SERVER, hint)
            browser.find("#open-session-name").type("by name")
            browser.find("#open-session-button").click()
            browser.wait_for_text("#session-state", "live", timeout=60)
            self.assertEqual(browser.find("#session-title").text, "by name")
            self.assertTrue(browser.current_url.endswith("#/sessions/by%20name"), browser.current_url)
            browser.wait_for("#code-box").type("print('made by name')")
            browser.press(Keys.SHIFT, Keys.ENTER)
            browser.wait_for_text('#transcript > .cell[data-status="ok"]', "made by name", timeout=120)
            row = '#session-rows tr[data-session="by name"]'
            browser.wait_for_text(row + " td.status", "idle", timeout=60)
            buttons = ("#interrupt-button", "#reset-button", "#run-button")
            self.assertEqual([browser.find(b).dom_property("disabled") for b in buttons], [False] * 3)

            server.process.send_signal(signal.SIGTERM)
            self.assertEqual(server.process.wait(60), 0)
            browser.wait_for_text("#connection", "disconnected", timeout=60)
            state = browser.wait_for_text("#session-state", "state unknown", timeout=60).text
            self.assertNotIn("idle", state)
            self.assertNotIn("pid", state)
            self.assertEqual([browser.find(b).dom_property("disabled") for b in buttons], [True] * 3)
            self.assertEqual(browser.find(row + " td.status").text, "unknown")
            self.assertEqual(browser.find(row + " td.pid").text, "—")
            self.assertIn("Not connected", browser.find("#sessions-message").text)
            browser.screenshot(os.path.join(SCREENSHOTS, "server-stopped.png"))


def taken_port() -> socket.socket:
    """A listening loopback socket: its port is taken for as long as it stays open."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    return holder


def consoles_of(socket_path: str) -> list:
    """Pids of the ``pyrun-console`` processes started for the server at ``socket_path``: this
    test's own, by its private socket path, never anyone else's."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as file:
                arguments = file.read().split(b"\0")
        except OSError:
            continue
        if (arguments and os.path.basename(arguments[0]) == b"pyrun-console"
                and socket_path.encode() in arguments):
            found.append(int(entry))
    return found


ERROR_LOG_LINE = re.compile(r"^\S+ (error|critical) ", re.MULTILINE)


def port_refuses(port: int) -> bool:
    """True once nothing accepts connections on the loopback port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError:
        return True
    return False


class ConsoleProcessTests(unittest.TestCase):
    """``pyrun-console`` as ``pyrun serve``'s child: it ends with the server; without it, a clear error."""

    def test_the_console_ends_when_the_server_is_killed(self):
        server = ConsoleServer()
        try:
            self.assertEqual(request(server, "/api/status", {"Authorization": "Bearer " + server.token})[0], 200)
            os.kill(server.process.pid, signal.SIGKILL)  # no chance to stop its child itself
            server.process.wait(60)
            wait_until(lambda: port_refuses(server.port), 120, "the console to end with its killed server")
        finally:
            server.stop()

    def test_a_taken_port_ends_the_server_at_once_with_status_1_and_leaves_nothing_behind(self):
        name = SERVER + "-taken"
        with tempfile.TemporaryDirectory(prefix="pyrun-console-e2e-") as run_directory:
            holder = taken_port()
            port = holder.getsockname()[1]
            process = subprocess.Popen(
                [pyrun_binary(), "serve", "--name", name, "--http", "127.0.0.1:%d" % port],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=dict(os.environ, XDG_RUNTIME_DIR=run_directory), start_new_session=True)
            socket_path = os.path.join(run_directory, "pyrun", name + ".sock")
            try:
                # Before the fix it never ended (the console waited for its parent, the parent for it).
                _, errors = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                for pid in consoles_of(socket_path):
                    os.kill(pid, signal.SIGKILL)
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate(timeout=60)
                self.fail("pyrun serve did not end when its console could not listen")
            finally:
                holder.close()
            errors = errors.decode("utf-8", "replace")
            self.assertEqual(process.returncode, 1, errors)
            self.assertIn("pyrun-console: cannot listen on 127.0.0.1:%d" % port, errors)
            self.assertIn("pyrun serve: the console on 127.0.0.1:%d ended before it listened" % port, errors)
            self.assertIn("pyrun serve: '%s' stopped" % name, errors)
            self.assertEqual(os.listdir(os.path.join(run_directory, "pyrun")), [], "the server's files are gone")
            self.assertEqual(consoles_of(socket_path), [], "no console is left running")

    def test_a_second_stop_signal_ends_the_server_at_once(self):
        server = ConsoleServer()
        try:
            console_pids = consoles_of(os.path.join(server.run_directory, "pyrun", SERVER + ".sock"))
            self.assertEqual(len(console_pids), 1)
            # A kernel that survives the polite steps of a stop: it notes each SIGTERM (its group
            # gets one 2 s into the stop) and goes on sleeping until the SIGKILL 2 s later.
            marker = os.path.join(server.run_directory, "sigterm-seen")
            code = ("import signal, time\n"
                    "signal.signal(signal.SIGTERM, lambda *_: open(%r, 'a').write('x'))\n"
                    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                    "print('sleeping', flush=True)\n"
                    "while True: time.sleep(1)\n" % marker)
            sleeper = subprocess.Popen([server.binary, "exec", "--server", SERVER, "-c", code],
                                       env=server.environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
            self.addCleanup(sleeper.wait, 60)
            self.addCleanup(sleeper.stdout.close)
            self.assertEqual(sleeper.stdout.readline().strip(), b"sleeping")
            server.process.send_signal(signal.SIGTERM)
            # The first stop is under way (the kernel got its SIGTERM) and not done (no SIGKILL yet).
            wait_until(lambda: os.path.exists(marker), 60, "the stop to reach the kernel's SIGTERM", interval=0.01)
            server.process.send_signal(signal.SIGTERM)
            # By the signal, or by exit(128 + 15) when the signal, sent to the process, reached
            # another thread after the exit began (ProcessSignals.terminateAsIfUncaught); a stop
            # that ignored it would end with 0 once the kernel is killed.
            self.assertIn(server.process.wait(60), (-signal.SIGTERM, 128 + signal.SIGTERM), "ended by the second signal")
            self.assertNotIn(SERVER + ".json", os.listdir(os.path.join(server.run_directory, "pyrun")))
            for pid in console_pids:
                wait_until(lambda: process_is_gone(pid), 60, "the console to end with its server")
            wait_until(lambda: port_refuses(server.port), 60, "the console's port to close")
        finally:
            server.stop()

    def test_a_pyrun_without_its_console_says_how_to_build_it(self):
        with tempfile.TemporaryDirectory(prefix="pyrun-console-e2e-") as directory:
            alone = os.path.join(directory, "pyrun")
            shutil.copy(pyrun_binary(), alone)
            ran = subprocess.run([alone, "serve", "--name", SERVER + "-alone", "--http", "127.0.0.1:0"],
                                 capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                                 env=dict(os.environ, XDG_RUNTIME_DIR=directory, PATH="/usr/bin:/bin"))
            self.assertEqual(ran.returncode, 2, ran.stderr)
            self.assertIn("pyrun-console", ran.stderr)
            self.assertIn("swift build --product pyrun-console", ran.stderr)
            self.assertNotIn("listening", ran.stderr, "it refused before serving anything")


class ConsoleAddressTests(unittest.TestCase):
    """What ``--http`` takes, and the warning when it is not loopback; no browser needed."""

    def test_an_address_that_is_not_one_is_a_usage_error(self):
        ran = subprocess.run([pyrun_binary(), "serve", "--name", SERVER + "-bad", "--http", "example.com:80"],
                             capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        self.assertNotEqual(ran.returncode, 0)
        self.assertIn("the host must be an IP address or localhost", ran.stderr)

    def test_every_interface_is_served_only_when_asked_and_with_a_warning(self):
        with tempfile.TemporaryDirectory(prefix="pyrun-console-e2e-") as run_directory:
            process = subprocess.Popen(
                [pyrun_binary(), "serve", "--name", SERVER + "-wide", "--http", "0.0.0.0:0"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=dict(os.environ, XDG_RUNTIME_DIR=run_directory), start_new_session=True)
            try:
                lines = []
                for raw in process.stderr:
                    lines.append(raw.decode("utf-8", "replace"))
                    if "console at" in lines[-1]:
                        break
                text = "".join(lines)
                self.assertIn("warning: the console on 0.0.0.0:0 can be reached from other machines", text)
                url = re.search(r"console at (http://0\.0\.0\.0:(\d+)/\?token=(\S+))", text)
                self.assertIsNotNone(url, text)
                port, token = int(url.group(2)), url.group(3)

                # Every interface: an IP address, localhost or this machine's name, and no other
                # name (a DNS-rebound one).
                def status(host: str) -> int:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    try:
                        connection.putrequest("GET", "/api/status", skip_host=True, skip_accept_encoding=True)
                        connection.putheader("Host", host)
                        connection.putheader("Authorization", "Bearer " + token)
                        connection.endheaders()
                        response = connection.getresponse()
                        response.read()
                        return response.status
                    finally:
                        connection.close()
                for host in ["127.0.0.1", "10.1.2.3", "[::1]", "localhost", socket.gethostname()]:
                    self.assertEqual(status("%s:%d" % (host, port)), 200, host)
                for host in ["evil.example", "rebound.%s.example" % socket.gethostname(), "[evil.example]"]:
                    self.assertEqual(status("%s:%d" % (host, port)), 403, host)
            finally:
                process.send_signal(signal.SIGTERM)
                self.assertEqual(process.wait(60), 0)
                rest = process.stderr.read().decode("utf-8", "replace")
                process.stderr.close()
            # A normal stop logs no error.
            self.assertIsNone(ERROR_LOG_LINE.search(rest), rest)
            self.assertIn("pyrun serve: '%s' stopped" % (SERVER + "-wide"), rest)


if __name__ == "__main__":
    unittest.main()
