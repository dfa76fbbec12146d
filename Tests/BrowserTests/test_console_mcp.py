"""The console of ``pyrun mcp --http``: a person watches an agent's Python live and interrupts it.

An MCP client (the standard-library one of ``scripts/mcp_client_check.py``, speaking JSON-RPC on
the server's stdin and stdout, as an agent's client does) runs code through ``pyrun mcp --http``;
headless Chromium opens the printed link and sees that code and its output, marked as the
agent's; the page's Interrupt ends a ``time.sleep(60)`` the agent started, and the agent's call
returns interrupted. When the client goes, the server and its console both end.

Needs the built ``pyrun`` and ``pyrun-console`` (``swift build``) and Chromium with chromedriver:
without them these tests fail with what is missing, they never pass. Screenshots go to
``.build/console-screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
import unittest

from chromium import headless_chromium
from static_site import ROOT
from test_console_server import ERROR_LOG_LINE, SCREENSHOTS, consoles_of, port_refuses, pyrun_binary, taken_port
from webdriver import wait_until

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from mcp_client_check import MCPClient, structured, text_of  # noqa: E402

LIVENESS_S = 120  # the longest one step may take on a loaded machine


class MCPConsoleTests(unittest.TestCase):
    def setUp(self):
        self.run_directory = tempfile.mkdtemp(prefix="pyrun-console-mcp-")
        os.chmod(self.run_directory, 0o700)
        self.client = MCPClient(pyrun_binary(), ["--http", "127.0.0.1:0"],
                                dict(os.environ, XDG_RUNTIME_DIR=self.run_directory))
        self.addCleanup(shutil.rmtree, self.run_directory, ignore_errors=True)
        self.addCleanup(self.client.stderr.close)
        self.addCleanup(self.client.stop)
        self.client.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                           "clientInfo": {"name": "console-e2e", "version": "1"}})
        self.client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.url = wait_until(lambda: (re.search(r"pyrun mcp: console at (http://\S+)", self.client.server_log())
                                       or [None, None])[1], LIVENESS_S, "pyrun mcp to print the console's link")
        self.port = int(re.search(r":(\d+)/", self.url).group(1))

    def test_the_page_shows_the_agents_code_and_interrupts_it(self):
        with headless_chromium() as browser:
            # Before the agent runs anything: the empty list says where sessions come from here
            # (not `pyrun exec`, which cannot reach an MCP server's sessions).
            browser.get(self.url)
            hint = browser.wait_for_text("#sessions-message", "No sessions yet", timeout=LIVENESS_S).text
            self.assertIn("the agent's sessions appear here once it runs code", hint)
            self.assertNotIn("pyrun exec", hint)

            ran = self.client.call("python", session="agent",
                                   code="marker = 'kept'; print('the agent was here'); 6 * 7")
            self.assertEqual(structured(ran)["status"], "ok", ran)
            browser.get("%s#/sessions/agent" % self.url)
            browser.wait_for_text("#connection", "connected to pyrun mcp", timeout=LIVENESS_S)
            browser.wait_for_text("#session-state", "live", timeout=LIVENESS_S)
            cell = browser.wait_for_text('#transcript > .cell[data-status="ok"]', "the agent was here",
                                         timeout=LIVENESS_S)
            self.assertEqual(cell.find(".who").text, "ran by mcp")
            self.assertEqual(cell.find(".output-stdout").text, "the agent was here")
            self.assertIn("42", cell.find(".result").text)

            # The agent's call waits for its code; the person interrupts it from the page.
            call = self.client.start_call("python", {"session": "agent", "code": "import time; time.sleep(60)",
                                                     "wait_s": 100, "timeout_s": 300})
            browser.wait_for_text("#transcript > .cell.running", "time.sleep(60)", timeout=LIVENESS_S)
            started = time.monotonic()
            browser.find("#interrupt-button").click()
            reply = self.client.response(call, timeout=LIVENESS_S)
            self.assertLess(time.monotonic() - started, 45, "the sleep was interrupted, not waited out")
            self.assertEqual(structured(reply["result"])["status"], "interrupted", reply)
            stopped = browser.wait_for_text('#transcript > .cell[data-status="cancelled"]', "time.sleep(60)",
                                            timeout=LIVENESS_S)
            self.assertIn("interrupted", stopped.find(".cell-foot").text)
            self.assertIn("interrupted the running code",
                          browser.find('#transcript > .lifecycle[data-event="interrupt"]').text)
            # The agent's state survived: the session is the same interpreter.
            self.assertIn("'kept'", text_of(self.client.call("python", session="agent", code="marker")))
            browser.wait_for_text('#transcript > .cell[data-status="ok"] .result', "'kept'", timeout=LIVENESS_S)
            self.assertEqual(browser.find_all("#transcript > .cell")[-1].find(".who").text, "ran by mcp")
            browser.screenshot(os.path.join(SCREENSHOTS, "mcp-interrupted.png"))

        # The client goes: the server ends, and its console with it.
        self.assertEqual(self.client.close_stdin_and_wait(), 0, self.client.server_log())
        wait_until(lambda: port_refuses(self.port), LIVENESS_S, "the console to end with pyrun mcp")
        self.assertIsNone(ERROR_LOG_LINE.search(self.client.server_log()), "a normal stop logged an error")


class MCPConsoleTakenPortTests(unittest.TestCase):
    def test_a_taken_port_is_said_at_once_and_the_agent_is_served_without_a_console(self):
        run_directory = tempfile.mkdtemp(prefix="pyrun-console-mcp-")
        os.chmod(run_directory, 0o700)
        self.addCleanup(shutil.rmtree, run_directory, ignore_errors=True)
        holder = taken_port()
        self.addCleanup(holder.close)
        port = holder.getsockname()[1]
        client = MCPClient(pyrun_binary(), ["--http", "127.0.0.1:%d" % port],
                           dict(os.environ, XDG_RUNTIME_DIR=run_directory))
        self.addCleanup(client.process.stdout.close)
        self.addCleanup(client.stderr.close)
        self.addCleanup(client.stop)
        client.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                      "clientInfo": {"name": "console-e2e", "version": "1"}})
        client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        # Said while the agent's session goes on, not only when it ends (before the fix, both
        # lines came at shutdown, and the failed console lived until then).
        wait_until(lambda: "served without it" in client.server_log(), LIVENESS_S,
                   "pyrun mcp to say that its console could not listen")
        log = client.server_log()
        self.assertIn("pyrun-console: cannot listen on 127.0.0.1:%d" % port, log)
        self.assertIn("pyrun mcp: the console on 127.0.0.1:%d ended before it listened" % port, log)
        socket_path = os.path.join(run_directory, "pyrun", "mcp-console-%d.sock" % client.process.pid)
        self.assertEqual(consoles_of(socket_path), [], "the console that could not listen is gone")

        ran = client.call("python", session="agent", code="6 * 7")
        self.assertEqual(structured(ran)["status"], "ok", ran)
        self.assertIn("42", text_of(ran))
        self.assertEqual(client.close_stdin_and_wait(), 0, client.server_log())
        self.assertIsNone(ERROR_LOG_LINE.search(client.server_log()), client.server_log())


if __name__ == "__main__":
    unittest.main()
