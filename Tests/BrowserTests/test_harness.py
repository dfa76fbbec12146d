"""The browser harness, proved in a real headless Chromium against the console page on a static server.

These tests check the harness (tabs, typing, Shift+Enter, clicks, frames, text, cookies,
screenshots, teardown) and the page's behaviour that needs no kernel: the token leaving the
address bar, the session list, what a command sends, and how every kind of journal entry is
shown. The console's end-to-end tests run against ``pyrun serve``.

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

SESSIONS = {
    "sessions": [
        {"name": "demo", "status": "busy", "pid": 4242, "memoryBytes": 41943040, "clients": 2, "executionCount": 7},
        {"name": "flaky", "status": "idle", "pid": 4300, "memoryBytes": 1048576, "clients": 0, "executionCount": 0},
        {"name": "<img src=x onerror=alert(1)>", "status": "idle", "pid": None, "memoryBytes": None, "clients": 0},
    ]
}
# "flaky" is listed but has no journal socket; "gone" is neither listed nor has one.
API = {"/api/sessions": SESSIONS, "/api/sessions/demo": SESSIONS["sessions"][0],
       "/api/sessions/flaky": SESSIONS["sessions"][1]}


def demo_journal() -> list:
    """The render fixture as a journal: its entries with a sequence number, each once."""
    with open(os.path.join(FIXTURES, "render-entries.json")) as file:
        entries = [entry for entry in json.load(file) if "seq" in entry]
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
        cls._site = static_site(extra_files=[os.path.join(FIXTURES, name) for name in os.listdir(FIXTURES)], api=API,
                                journals={"demo": demo_journal()})
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
        self.first_tab = self.browser.current_window
        self.browser.get("about:blank")  # so opening the page again loads it anew, never just moves to its #hash
        self.browser.browser_log()  # start each test with an empty console log

    def tearDown(self):
        for handle in self.browser.window_handles:
            if handle != self.first_tab:
                self.browser.switch_to(handle)
                self.browser.close_window()
        self.browser.switch_to(self.first_tab)

    def assertCleanConsole(self, *expected: str):
        """No error in the browser's console but the ``expected`` ones (regular expressions), and no
        content security policy violation at all."""
        unexpected = [
            m["message"] for m in self.browser.browser_log()
            if "Content Security Policy" in m["message"]
            or (m["level"] == "SEVERE" and not any(re.search(pattern, m["message"]) for pattern in expected))
        ]
        self.assertEqual(unexpected, [], "the browser's console has errors")

    # MARK: token and session list

    def test_the_token_leaves_the_address_bar_and_rides_in_an_http_only_cookie(self):
        self.browser.get(self.site.url + "/?token=s3cret-token#/sessions/demo")
        self.browser.wait_for_text("#session-title", "demo")
        address = self.browser.current_url
        self.assertNotIn("token", address)
        self.assertTrue(address.endswith("/#/sessions/demo"), address)
        cookie = next(c for c in self.browser.cookies() if c["name"] == TOKEN_COOKIE)
        self.assertEqual(cookie["value"], "s3cret-token")
        self.assertTrue(cookie["httpOnly"])
        self.assertEqual(cookie["sameSite"], "Strict")
        self.assertIsNone(self.browser.execute("return document.cookie.includes('s3cret') ? 'visible' : null;"))
        listing = wait_until(lambda: self.site.requests("GET", "/api/sessions")[-1:], 10, "a session list request")
        self.assertIn("%s=s3cret-token" % TOKEN_COOKIE, listing[0][2].get("Cookie", ""))
        self.assertCleanConsole()

    def test_the_session_list_shows_status_pid_memory_and_clients_as_text(self):
        self.browser.get(self.site.url + "/")
        demo = self.browser.wait_for('#session-rows tr[data-session="demo"]')
        cells = [cell.text for cell in demo.find_all("td")]
        self.assertEqual(cells, ["demo", "busy", "4242", "40.0 MiB", "2"])
        hostile = self.browser.wait_for_text("#session-rows tr td.name", "<img")
        self.assertEqual(hostile.text, "<img src=x onerror=alert(1)>")
        self.assertEqual(self.browser.find_all("#session-rows img"), [])
        screenshot(self.browser, "session-list")
        table = self.browser.find("#session-table").screenshot(os.path.join(SCREENSHOTS, "harness-session-table.png"))
        with open(table, "rb") as file:
            self.assertEqual(file.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertCleanConsole()

    def test_a_refused_journal_socket_is_explained_and_retried(self):
        self.browser.get(self.site.url + "/#/sessions/gone")
        self.browser.wait_for_text("#session-state", "no such session")
        self.assertEqual(self.site.observed_from("gone"), [0])
        self.browser.find('#session-rows tr[data-session="flaky"] a').click()
        self.browser.wait_for_text("#session-title", "flaky")
        self.browser.wait_for_text("#session-state", "reconnecting")
        wait_until(lambda: len(self.site.observed_from("flaky")) >= 3, 20, "the page to try the socket again")
        self.assertEqual(set(self.site.observed_from("flaky")), {0})
        screenshot(self.browser, "session-unreachable")
        self.assertCleanConsole(r"WebSocket connection to .*/api/sessions/(gone|flaky)/observe.* 404",
                                r"/api/sessions/gone - Failed to load resource: .* 404")

    def test_two_tabs_replay_the_journal_follow_it_live_and_resume_after_a_drop_without_repeats(self):
        browser, site = self.browser, self.site
        journal = site.journals["demo"]
        end = journal[-1]["seq"] + 1
        opened = len(site.observed_from("demo"))
        browser.get(site.url + "/#/sessions/demo")
        browser.wait_for_text("#session-state", "live")
        self.assertIn("250 earlier entries", browser.find("#transcript > .gap").text)
        self.assertEqual(len(browser.find_all("#transcript > .cell")), 5)
        second_tab = browser.new_window("tab")
        browser.get(site.url + "/#/sessions/demo")
        browser.wait_for_text("#session-state", "live")
        self.assertEqual(site.observed_from("demo")[opened:], [0, 0])
        wait_until(lambda: site.open_sockets("demo") == 2, 10, "both tabs' sockets")

        run = [
            {"seq": end, "type": "input", "id": "e-live", "client": "attach:bob", "code": "print('hello from bob')"},
            {"seq": end + 1, "type": "started", "id": "e-live", "executionCount": 5},
            {"seq": end + 2, "type": "stdout", "id": "e-live", "data": "hello from bob\n"},
            {"seq": end + 3, "type": "finished", "id": "e-live", "status": "ok", "executionCount": 5, "durationMs": 2},
        ]
        for entry in run:
            site.append("demo", entry)
        for tab in (second_tab, self.first_tab):
            browser.switch_to(tab)
            cell = browser.wait_for('[data-execution="e-live"][data-status="ok"]')
            self.assertEqual(cell.find(".who").text, "ran by attach:bob")
            self.assertEqual(cell.find(".output-stdout").text, "hello from bob")

        site.close_sockets("demo")
        wait_until(lambda: site.observed_from("demo")[opened + 2:] == [end + 4, end + 4], 20,
                   "both tabs to resume after the last entry they showed")
        wait_until(lambda: site.open_sockets("demo") == 2, 10, "both tabs' sockets again")
        site.append("demo", {"seq": end + 4, "type": "stdout", "id": "e-live", "data": "after the drop\n"})
        site.send("demo", {"type": "behind", "resumeFrom": end + 5})
        site.close_sockets("demo", code=4408)
        wait_until(lambda: site.observed_from("demo")[opened + 4:] == [end + 5, end + 5], 20,
                   "both tabs to resume where the server said")
        for tab in (self.first_tab, second_tab):
            browser.switch_to(tab)
            browser.wait_for_text("#session-state", "live")
            cell = browser.find('[data-execution="e-live"]')
            self.assertEqual([p.text for p in cell.find_all(".output-stdout")], ["hello from bob\nafter the drop"])
            screenshot(browser, "live-%s" % ("first" if tab == self.first_tab else "second"))

        self.assertEqual(browser.current_window, second_tab)
        browser.refresh()
        browser.wait_for_text("#session-state", "live")
        self.assertEqual(site.observed_from("demo")[-1], 0, "a reload replays from the start")
        cell = browser.find('[data-execution="e-live"]')
        self.assertEqual([p.text for p in cell.find_all(".output-stdout")], ["hello from bob\nafter the drop"])
        self.assertEqual(len(browser.find_all("#transcript > .cell")), 6)

        label = browser.execute("return sessionStorage.getItem('pyrun-console-tab');")
        site.append("demo", {"seq": end + 5, "type": "input", "id": "e-own", "client": "console:" + label, "code": "1"})
        own = browser.wait_for('[data-execution="e-own"]')
        self.assertIn("mine", own.attribute("class").split(), "a tab knows its own label after a reload")
        browser.switch_to(self.first_tab)
        other = browser.wait_for('[data-execution="e-own"]')
        self.assertNotIn("mine", other.attribute("class").split())
        self.assertCleanConsole()

    # MARK: commands from two tabs

    def test_shift_enter_in_two_tabs_posts_each_tabs_code_under_its_own_label(self):
        self.browser.get(self.site.url + "/#/sessions/demo")
        first_box = self.browser.wait_for("#code-box")
        second_tab = self.browser.new_window("tab")
        self.browser.get(self.site.url + "/#/sessions/demo")
        second_box = self.browser.wait_for("#code-box")
        before = len(self.site.requests("POST"))

        second_box.type("print('from the second tab')")
        self.browser.press(Keys.SHIFT, Keys.ENTER)
        posted = wait_until(lambda: self.site.requests("POST")[before:], 10, "the second tab's execute request")
        method, path, _, body = posted[0]
        self.assertEqual(path, "/api/sessions/demo/execute")
        second_request = json.loads(body)
        self.assertEqual(second_request["code"], "print('from the second tab')")
        self.browser.wait_for_text("#code-message", "not run: this static site runs no code")
        self.assertEqual(second_box.dom_property("value"), "print('from the second tab')", "code not run stays")
        screenshot(self.browser, "second-tab")

        self.browser.switch_to(self.first_tab)
        self.assertEqual(first_box.dom_property("value"), "")
        first_box.type("x = 1" + Keys.ENTER + "x")
        self.assertEqual(first_box.dom_property("value"), "x = 1\nx", "a plain Enter is a new line")
        self.assertEqual(len(self.site.requests("POST")), before + 1, "a plain Enter runs nothing")
        first_box.type(Keys.SHIFT + Keys.ENTER + Keys.NULL)
        posted = wait_until(lambda: self.site.requests("POST")[before + 1:], 10, "the first tab's execute request")
        first_request = json.loads(posted[0][3])
        self.assertEqual(first_request["code"], "x = 1\nx")
        self.assertRegex(first_request["client"], r"^tab-[0-9a-f]{6}$")
        self.assertNotEqual(first_request["client"], second_request["client"])
        screenshot(self.browser, "first-tab")
        self.assertIn(second_tab, self.browser.window_handles)
        self.assertCleanConsole(r"/api/sessions/demo/execute - Failed to load resource: .* 501")

    def test_interrupt_posts_at_once_and_reset_needs_a_second_click(self):
        self.browser.get(self.site.url + "/#/sessions/demo")
        interrupt = self.browser.wait_for("#interrupt-button")
        before = len(self.site.requests("POST"))
        interrupt.click()
        posted = wait_until(lambda: self.site.requests("POST")[before:], 10, "the interrupt request")
        self.assertEqual(posted[0][1], "/api/sessions/demo/interrupt")
        self.browser.wait_for_text("#code-message", "interrupt failed")

        reset = self.browser.find("#reset-button")
        reset.click()
        self.assertEqual(reset.text, "Click again to reset")
        self.assertEqual(len(self.site.requests("POST")), before + 1, "one click does not reset")
        reset.click()
        posted = wait_until(lambda: self.site.requests("POST")[before + 1:], 10, "the reset request")
        self.assertEqual(posted[0][1], "/api/sessions/demo/reset")
        self.assertEqual(reset.text, "Reset")
        self.assertCleanConsole(r"/api/sessions/demo/(interrupt|reset) - Failed to load resource: .* 501")

    # MARK: how journal entries look

    def test_every_kind_of_journal_entry_is_shown_safely(self):
        browser = self.browser
        browser.get(self.site.url + "/render-check.html")
        wait_until(lambda: browser.find("body").attribute("data-ready"), 15, "the render check page")
        with open(os.path.join(FIXTURES, "render-entries.json")) as file:
            entries = json.load(file)
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
        self.assertIn("crashed with SIGSEGV", browser.find('.lifecycle[data-event="died"]').text)
        self.assertIn("pid 4250", browser.find('.lifecycle[data-event="restarted"]').text)
        self.assertIn("by console:tab-aa", browser.find('.lifecycle[data-event="reset"]').text)
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
