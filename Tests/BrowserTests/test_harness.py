"""The browser harness, proved in a real headless Chromium against the console page on a static site.

These tests check the harness (tabs, typing, Shift+Enter, clicks, frames, text, cookies,
screenshots, teardown) and what the page does that needs no kernel: the token leaving the
address bar, the session list, the requests it sends, replay and live entries in two tabs,
resuming after a drop, and how every kind of journal entry is shown. The console's
end-to-end tests run against ``pyrun serve``.

Without Chromium and chromedriver these tests fail with what to install; they never pass.
Screenshots go to ``.build/console-screenshots/``.
"""

from __future__ import annotations

import json
import os
import re
import unittest

from chromium import BrowserUnavailable, find_browser, headless_chromium, process_group_members
from static_site import ROOT, TOKEN_COOKIE, static_site
from webdriver import Keys, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
SCREENSHOTS = os.path.join(ROOT, ".build", "console-screenshots")
TOKEN = "s3cret-token"

# As the serve protocol's `sessions` message lists them (SessionStatus.json).
SESSIONS = [
    {"name": "demo", "pid": 4242, "python": "3.11.7", "busy": True, "queued": 0, "executions": 7,
     "kernelExecutionCount": 7, "memoryBytes": 41943040, "clients": 2,
     "journal": {"first": 251, "next": 280, "kept": 29, "keptBytes": 9000, "dropped": 250}},
    {"name": "fresh", "busy": False, "queued": 0, "executions": 0, "kernelExecutionCount": 0, "clients": 0,
     "journal": {"next": 1, "kept": 0, "keptBytes": 0, "dropped": 0}},
    {"name": "<img src=x onerror=alert(1)>", "pid": 4300, "busy": False, "queued": 0, "executions": 1,
     "kernelExecutionCount": 1, "memoryBytes": 1048576, "clients": 0,
     "journal": {"first": 1, "next": 4, "kept": 3, "keptBytes": 300, "dropped": 0}},
]


def fixture_entries() -> list:
    with open(os.path.join(FIXTURES, "render-entries.json")) as file:
        return json.load(file)


def demo_journal() -> list:
    """The render fixture as a journal: its entries with a sequence number, each once."""
    entries = [entry for entry in fixture_entries() if "seq" in entry]
    return [entry for index, entry in enumerate(entries) if index == 0 or entry["seq"] > entries[index - 1]["seq"]]


def screenshot(session, name: str) -> str:
    return session.screenshot(os.path.join(SCREENSHOTS, "harness-%s.png" % name))


class MissingBrowserTests(unittest.TestCase):
    def test_a_missing_browser_is_named_with_what_to_install(self):
        saved = os.environ.get("PYRUN_CHROMIUM")
        os.environ["PYRUN_CHROMIUM"] = "/nonexistent/chromium"
        try:
            with self.assertRaises(BrowserUnavailable) as raised:
                find_browser()
        finally:
            if saved is None:
                del os.environ["PYRUN_CHROMIUM"]
            else:
                os.environ["PYRUN_CHROMIUM"] = saved
        self.assertIn("chromium not found", str(raised.exception))
        self.assertIn("scripts/install-test-deps", str(raised.exception))


class TeardownTests(unittest.TestCase):
    def test_leaving_the_block_ends_the_driver_and_every_browser_process(self):
        with headless_chromium() as session:
            group = session.process_group
            session.get("data:text/html,<title>teardown</title>")
            self.assertEqual(session.title, "teardown")
            self.assertGreater(len(process_group_members(group)), 1, "chromedriver and chromium should both run")
        self.assertEqual(process_group_members(group), [])


class ConsolePageTests(unittest.TestCase):
    """The console page on a static site: one browser for the class, each test in fresh tabs."""

    @classmethod
    def setUpClass(cls):
        cls._site = static_site(TOKEN, extra_files=[os.path.join(FIXTURES, name) for name in os.listdir(FIXTURES)],
                                sessions=SESSIONS, journals={"demo": demo_journal()})
        cls.site = cls._site.__enter__()
        cls._browser = headless_chromium()
        try:
            cls.browser = cls._browser.__enter__()
        except BaseException:
            cls._site.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        cls._browser.__exit__(None, None, None)
        cls._site.__exit__(None, None, None)

    def setUp(self):
        self.site.journals["demo"] = demo_journal()
        self.site.journal_id = "static-journal"
        self.first_tab = self.browser.current_window
        self.browser.get("about:blank")  # so opening the page again loads it anew, never just moves to its #hash
        self.browser.browser_log()  # start each test with an empty console log

    def tearDown(self):
        for handle in self.browser.window_handles:
            if handle != self.first_tab:
                self.browser.switch_to(handle)
                self.browser.close_window()
        self.browser.switch_to(self.first_tab)

    def open_console(self, fragment: str = "") -> None:
        """Opens the page as a person does: the printed link with the token."""
        self.browser.get("%s/?token=%s%s" % (self.site.url, TOKEN, fragment))
        self.browser.wait_for_text("#connection", "connected to static")

    def tab_label(self) -> str:
        return self.browser.execute("return sessionStorage.getItem('pyrun-console-tab');")

    def assertCleanConsole(self, *expected: str):
        """No error in the browser's console but the ``expected`` ones (regular expressions), and no
        content security policy violation at all."""
        unexpected = [
            m["message"] for m in self.browser.browser_log()
            if "Content Security Policy" in m["message"]
            or (m["level"] == "SEVERE" and not any(re.search(pattern, m["message"]) for pattern in expected))
        ]
        self.assertEqual(unexpected, [], "the browser's console has errors")

    # MARK: the token

    def test_the_token_leaves_the_address_bar_and_rides_in_an_http_only_cookie(self):
        self.open_console("#/sessions/demo")
        self.browser.wait_for_text("#session-state", "live")
        address = self.browser.current_url
        self.assertNotIn("token", address)
        self.assertEqual(address, self.site.url + "/#/sessions/demo")
        cookie = next(c for c in self.browser.cookies() if c["name"] == TOKEN_COOKIE)
        self.assertEqual(cookie["value"], TOKEN)
        self.assertTrue(cookie["httpOnly"])
        self.assertEqual(cookie["sameSite"], "Strict")
        self.assertIsNone(self.browser.execute("return document.cookie.includes('s3cret') ? 'visible' : null;"))
        upgrade = self.site.http_requests("/api/socket")[-1][2]
        self.assertIn("%s=%s" % (TOKEN_COOKIE, TOKEN), upgrade.get("Cookie", ""))
        self.assertEqual(upgrade.get("Origin"), self.site.url, "the server checks the Origin the page sends")
        self.assertCleanConsole()

    def test_without_the_token_nothing_is_served_and_a_page_that_loses_it_says_so(self):
        self.open_console()
        self.browser.command("DELETE", "/cookie")
        self.browser.get(self.site.url + "/")
        self.assertIn("open the link that pyrun printed", self.browser.find("body").text)
        self.browser.get(self.site.url + "/?token=wrong")
        self.assertIn("open the link that pyrun printed", self.browser.find("body").text)

        self.open_console()
        self.browser.command("DELETE", "/cookie")
        self.site.close_sockets()
        self.browser.wait_for_text("#connection", "Not authorized")
        screenshot(self.browser, "not-authorized")
        self.browser.get(self.site.url + "/?token=" + TOKEN)  # the cookie back, for the next tests
        self.assertCleanConsole(r" 401 ", r"WebSocket connection to .*/api/socket.* failed")

    # MARK: the session list

    def test_the_session_list_shows_status_pid_memory_and_clients_as_text(self):
        self.open_console()
        demo = self.browser.wait_for('#session-rows tr[data-session="demo"]')
        self.assertEqual([cell.text for cell in demo.find_all("td")], ["demo", "busy", "4242", "40.0 MiB", "2"])
        fresh = self.browser.find('#session-rows tr[data-session="fresh"]')
        self.assertEqual([cell.text for cell in fresh.find_all("td")], ["fresh", "no kernel", "—", "—", "0"])
        hostile = self.browser.wait_for_text("#session-rows tr td.name", "<img")
        self.assertEqual(hostile.text, "<img src=x onerror=alert(1)>")
        self.assertEqual(self.browser.find_all("#session-rows img"), [])
        screenshot(self.browser, "session-list")
        table = self.browser.find("#session-table").screenshot(os.path.join(SCREENSHOTS, "harness-session-table.png"))
        with open(table, "rb") as file:
            self.assertEqual(file.read(8), b"\x89PNG\r\n\x1a\n")
        self.browser.find('#session-rows tr[data-session="demo"] a').click()
        self.browser.wait_for_text("#session-title", "demo")
        self.assertTrue(self.browser.current_url.endswith("#/sessions/demo"))
        self.browser.wait_for_text("#session-state", "live")
        self.assertCleanConsole()

    # MARK: replay and live, in two tabs

    def test_two_tabs_replay_the_journal_follow_it_live_and_resume_after_a_drop_without_repeats(self):
        browser, site = self.browser, self.site
        end = site.journals["demo"][-1]["seq"] + 1
        asked = len(site.observed_from("demo"))
        self.open_console("#/sessions/demo")
        browser.wait_for_text("#session-state", "live")
        self.assertIn("250 earlier entries", browser.find("#transcript > .gap").text)
        self.assertEqual(len(browser.find_all("#transcript > .cell")), 5)
        second_tab = browser.new_window("tab")
        self.open_console("#/sessions/demo")
        browser.wait_for_text("#session-state", "live")
        self.assertEqual(site.observed_from("demo")[asked:], [1, 1], "first sight asks for everything")
        wait_until(lambda: site.observers("demo") == 2, 10, "both tabs observing")

        for entry in [
            {"seq": end, "type": "input", "id": "e-live", "client": "attach:bob", "code": "print('hello from bob')"},
            {"seq": end + 1, "type": "started", "id": "e-live", "executionCount": 5},
            {"seq": end + 2, "type": "stdout", "id": "e-live", "data": "hello from bob\n"},
            {"seq": end + 3, "type": "finished", "id": "e-live", "status": "ok", "executionCount": 5, "durationMs": 2},
        ]:
            site.append("demo", entry)
        for tab in (second_tab, self.first_tab):
            browser.switch_to(tab)
            cell = browser.wait_for('[data-execution="e-live"][data-status="ok"]')
            self.assertEqual(cell.find(".who").text, "ran by attach:bob")
            self.assertEqual(cell.find(".output-stdout").text, "hello from bob")

        site.close_sockets()
        wait_until(lambda: site.observed_from("demo")[asked + 2:] == [end + 4, end + 4], 20,
                   "both tabs to resume after the last entry they showed")
        wait_until(lambda: site.observers("demo") == 2, 10, "both tabs observing again")
        site.append("demo", {"seq": end + 4, "type": "stdout", "id": "e-live", "data": "after the drop\n"})
        wait_until(lambda: "after the drop" in browser.find('[data-execution="e-live"]').text, 10, "the new entry")
        site.fall_behind("demo", resume_from=end + 5)
        wait_until(lambda: site.observed_from("demo")[asked + 4:] == [end + 5, end + 5], 20,
                   "both tabs to resume where the server said")
        for tab in (self.first_tab, second_tab):
            browser.switch_to(tab)
            browser.wait_for_text("#session-state", "live")
            cell = browser.find('[data-execution="e-live"]')
            self.assertEqual([p.text for p in cell.find_all(".output-stdout")], ["hello from bob\nafter the drop"])
            self.assertIn("this tab fell behind", browser.find("#transcript").text)
            screenshot(browser, "live-%s" % ("first" if tab == self.first_tab else "second"))

        self.assertEqual(browser.current_window, second_tab)
        browser.refresh()
        browser.wait_for_text("#session-state", "live")
        self.assertEqual(site.observed_from("demo")[-1], 1, "a reload asks for everything again")
        cell = browser.find('[data-execution="e-live"]')
        self.assertEqual([p.text for p in cell.find_all(".output-stdout")], ["hello from bob\nafter the drop"])
        self.assertEqual(len(browser.find_all("#transcript > .cell")), 6)

        label = self.tab_label()
        site.append("demo", {"seq": end + 5, "type": "input", "id": "e-own", "client": "console:" + label, "code": "1"})
        own = browser.wait_for('[data-execution="e-own"]')
        self.assertIn("mine", own.attribute("class").split(), "a tab knows its own label after a reload")
        browser.switch_to(self.first_tab)
        other = browser.wait_for('[data-execution="e-own"]')
        self.assertNotIn("mine", other.attribute("class").split())
        self.assertCleanConsole()

    def test_a_restarted_server_s_new_journal_replaces_the_old_one(self):
        browser, site = self.browser, self.site
        self.open_console("#/sessions/demo")
        browser.wait_for_text("#session-state", "live")
        site.journal_id = "after-restart"
        site.journals["demo"] = [
            {"seq": 1, "time": 1796047300.0, "type": "kernel_started", "pid": 5000, "python": "3.11.7"},
            {"seq": 2, "time": 1796047301.0, "type": "input", "id": "n-1", "client": "attach:carol", "code": "2 + 2"},
        ]
        site.close_sockets()
        browser.wait_for('[data-execution="n-1"]')
        self.assertEqual(site.socket_requests("observe")[-1].get("journal"), "static-journal")
        self.assertEqual(len(browser.find_all("#transcript > .cell")), 1)
        self.assertIn("the server restarted", browser.find("#transcript").text)
        self.assertIn("pid 5000", browser.find('.lifecycle[data-event="started"]').text)
        browser.wait_for_text("#session-state", "live")
        self.assertCleanConsole()

    # MARK: commands from two tabs

    def test_shift_enter_in_two_tabs_runs_each_tabs_code_under_its_own_label(self):
        browser, site = self.browser, self.site
        self.open_console("#/sessions/demo")
        first_box = browser.wait_for("#code-box")
        first_label = self.tab_label()
        browser.new_window("tab")
        self.open_console("#/sessions/demo")
        second_box = browser.wait_for("#code-box")
        second_label = self.tab_label()
        self.assertNotEqual(first_label, second_label)
        before = len(site.socket_requests("execute"))

        second_box.type("print('from the second tab')")
        browser.press(Keys.SHIFT, Keys.ENTER)
        sent = wait_until(lambda: site.socket_requests("execute")[before:], 10, "the second tab's execute request")
        self.assertEqual({k: sent[0][k] for k in ("session", "code", "client", "stream")},
                         {"session": "demo", "code": "print('from the second tab')", "client": second_label, "stream": False})
        cell = browser.wait_for_text("#transcript > .cell", "from the second tab")
        self.assertIn("mine", cell.attribute("class").split())
        self.assertEqual(cell.find(".who").text, "ran by console:%s" % second_label)
        wait_until(lambda: second_box.dom_property("value") == "", 10, "the code box to empty once the run is accepted")
        screenshot(browser, "second-tab")

        browser.switch_to(self.first_tab)
        cell = browser.wait_for_text("#transcript > .cell", "from the second tab")
        self.assertNotIn("mine", cell.attribute("class").split())
        first_box.type("x = 1" + Keys.ENTER + "x")
        self.assertEqual(first_box.dom_property("value"), "x = 1\nx", "a plain Enter is a new line")
        self.assertEqual(len(site.socket_requests("execute")), before + 1, "a plain Enter runs nothing")
        first_box.type(Keys.SHIFT + Keys.ENTER + Keys.NULL)
        sent = wait_until(lambda: site.socket_requests("execute")[before + 1:], 10, "the first tab's execute request")
        self.assertEqual((sent[0]["code"], sent[0]["client"]), ("x = 1\nx", first_label))
        browser.wait_for_text("#transcript > .cell.mine", "x = 1")
        screenshot(browser, "first-tab")
        self.assertCleanConsole()

    def test_interrupt_is_sent_at_once_and_reset_needs_a_second_click(self):
        browser, site = self.browser, self.site
        self.open_console("#/sessions/demo")
        label = self.tab_label()
        browser.wait_for("#interrupt-button").click()
        sent = wait_until(lambda: site.socket_requests("interrupt"), 10, "the interrupt request")
        self.assertEqual((sent[-1]["session"], sent[-1]["client"]), ("demo", label))
        browser.wait_for_text("#code-message", "interrupt sent")

        resets = len(site.socket_requests("reset"))
        reset = browser.find("#reset-button")
        reset.click()
        self.assertEqual(reset.text, "Click again to reset")
        self.assertEqual(len(site.socket_requests("reset")), resets, "one click does not reset")
        reset.click()
        sent = wait_until(lambda: site.socket_requests("reset")[resets:], 10, "the reset request")
        self.assertEqual((sent[0]["session"], sent[0]["client"]), ("demo", label))
        browser.wait_for_text("#code-message", "reset: a fresh interpreter")
        self.assertEqual(reset.text, "Reset")
        self.assertCleanConsole()

    # MARK: how journal entries look

    def test_every_kind_of_journal_entry_is_shown_safely(self):
        browser = self.browser
        self.open_console()
        browser.get(self.site.url + "/render-check.html")
        wait_until(lambda: browser.find("body").attribute("data-ready"), 15, "the render check page")
        entries = fixture_entries()
        self.assertEqual(browser.find("body").attribute("data-applied"), str(len(entries) - 1), "the duplicate is skipped")
        transcript = browser.find("#transcript")
        self.assertNotIn("DUPLICATE", transcript.text)
        self.assertIn("250 earlier entries", browser.find("#transcript > .gap").text)

        first = browser.find('[data-execution="e-1"]')
        self.assertEqual(first.find(".code").text, "print(\"<b>not bold</b>\")\nprint('second line')")
        self.assertEqual(first.find(".who").text, "ran by attach:alice")
        self.assertEqual(first.find(".in-prompt").text, "In [1]")
        self.assertEqual([p.text for p in first.find_all(".output-stdout")], ["<b>not bold</b>\nsecond line"])
        self.assertEqual(browser.find_all("#transcript b, #transcript i, #transcript script"), [])

        failed = browser.find('[data-execution="e-2"]')
        self.assertIn("ZeroDivisionError: division by zero", failed.find(".traceback").text)
        self.assertEqual(failed.attribute("data-status"), "error")

        shown = browser.find('[data-execution="e-3"]')
        frame = shown.find("iframe.output-html")
        self.assertEqual(frame.attribute("sandbox"), "")
        self.assertIn("static html", frame.dom_property("srcdoc"))
        picture = shown.find("img.output-image")
        wait_until(lambda: picture.dom_property("complete"), 10, "the image to decode")
        self.assertEqual(picture.dom_property("naturalWidth"), 2)
        self.assertEqual(picture.attribute("alt"), "<Figure size 2x2>")
        self.assertIn('"<k>": "<v>"', shown.find(".output-json").text)
        self.assertEqual(shown.find(".status-op").text, "write")
        self.assertEqual(shown.find(".status-detail").text, "wrote a.txt")
        self.assertEqual(shown.find(".result").text, "Out[3]:\n'<script>alert(1)</script>'")

        browser.switch_to_frame(frame)
        try:
            self.assertEqual(browser.wait_for("#static").text, "static html")
            self.assertEqual(browser.find_all("#ran"), [], "a script in an HTML display ran")
        finally:
            browser.switch_to_page()
        self.assertEqual(browser.title, "render check", "an HTML display reached the page")

        mine = browser.find('[data-execution="e-mine"]')
        self.assertIn("mine", mine.attribute("class").split())
        self.assertEqual(mine.attribute("data-status"), "cancelled")
        self.assertIn("interrupted", mine.find(".cell-foot").text)
        lifecycle = [(line.attribute("data-event"), line.text) for line in browser.find_all("#transcript > .lifecycle")]
        self.assertEqual([event for event, _ in lifecycle], ["started", "interrupt", "died", "started", "reset", "stopped"])
        self.assertIn("kernel started (pid 4242, Python 3.11.7)", lifecycle[0][1])
        self.assertIn("attach:alice interrupted the running code", lifecycle[1][1])
        self.assertIn("crashed with SIGSEGV", lifecycle[2][1])
        self.assertIn("kernel restarted: pid 4250 replaces 4242", lifecycle[3][1])
        self.assertIn("session reset by console:tab-aa", lifecycle[4][1])
        self.assertIn("after its idle timeout", lifecycle[5][1])
        unknown = browser.find(".unknown-entry")
        self.assertEqual(unknown.find("summary").text, "future_thing (not known to this page)")
        self.assertIn('"<i>not italic</i>"', unknown.find("pre").dom_property("textContent"))
        orphan = browser.find('[data-execution="e-gone"]')
        self.assertEqual(orphan.find(".who").text, "input not kept in the journal")
        self.assertEqual(orphan.find(".output-stdout").text, "orphan output")
        screenshot(browser, "render-check")
        self.assertCleanConsole()


if __name__ == "__main__":
    unittest.main()
