"""Headless Chromium for tests: find it, start it under chromedriver, and leave nothing running.

``headless_chromium()`` starts chromedriver in a process group of its own, opens a WebDriver
session whose browser is headless Chromium with a throwaway profile, and on leaving the block
ends the session and kills what is left of that group. A machine without Chromium or its driver
gets ``BrowserUnavailable`` with what to install: the browser tests fail there, they never pass
silently.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Iterator, Optional

from webdriver import Session, wait_until

__all__ = ["BrowserUnavailable", "find_browser", "headless_chromium", "process_group_members"]

INSTALL_HINT = (
    "install Debian's chromium and chromium-driver (scripts/install-test-deps does it, as root), "
    "or name them in PYRUN_CHROMIUM and PYRUN_CHROMEDRIVER"
)


class BrowserUnavailable(RuntimeError):
    """No headless browser can run on this machine; the message says what is missing and what to install."""


def _first_executable(override: str, candidates: list) -> Optional[str]:
    named = os.environ.get(override)
    if named:
        return named if os.access(named, os.X_OK) else None
    for candidate in candidates:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None


def find_browser() -> tuple:
    """``(chromium, chromedriver)`` paths, or ``BrowserUnavailable`` naming what is missing."""
    browser = _first_executable("PYRUN_CHROMIUM", ["/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"])
    driver = _first_executable("PYRUN_CHROMEDRIVER", ["/usr/bin/chromedriver", "chromedriver"])
    missing = [name for name, path in (("chromium", browser), ("chromedriver", driver)) if path is None]
    if missing:
        raise BrowserUnavailable("no headless browser for the browser tests: %s not found; %s"
                                 % (" and ".join(missing), INSTALL_HINT))
    return browser, driver


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_group_members(group: int) -> list:
    """Pids of live processes in process group ``group`` (Linux ``/proc``); zombies count as gone."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, ...
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(entry))
    return members


def _capabilities(browser: str, profile: str, window_size: tuple) -> dict:
    arguments = [
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-extensions",
        "--user-data-dir=%s" % profile,
        "--window-size=%d,%d" % window_size,
    ]
    if os.geteuid() == 0:
        # Chromium refuses to run as root with its own process sandbox (CI runs as root); the
        # sandbox attribute of iframes is the page's, enforced by Blink either way.
        arguments.append("--no-sandbox")
    return {
        "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": browser, "args": arguments},
            "goog:loggingPrefs": {"browser": "ALL"},
        }
    }


@contextlib.contextmanager
def headless_chromium(window_size: tuple = (1280, 900), start_timeout: float = 60.0) -> Iterator[Session]:
    """A WebDriver session on a new headless Chromium, ended (and its processes gone) when the block ends.

    Raises ``BrowserUnavailable`` when Chromium or chromedriver is missing or cannot start.
    The session object carries ``driver_pid`` and ``process_group`` for tests that check the
    teardown.
    """
    browser, driver = find_browser()
    scratch = tempfile.mkdtemp(prefix="pyrun-browser-")
    log_path = os.path.join(scratch, "chromedriver.log")
    port = _free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [driver, "--port=%d" % port, "--allowed-ips=127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the browser joins it, one kill ends all
        )
    session: Optional[Session] = None
    try:
        url = "http://127.0.0.1:%d" % port
        _wait_for_driver(url, process, log_path, start_timeout)
        try:
            session = Session(url, _capabilities(browser, os.path.join(scratch, "profile"), window_size))
        except Exception as error:
            raise BrowserUnavailable("chromium did not start under chromedriver: %s\n%s" % (error, _tail(log_path))) from error
        session.driver_pid = process.pid
        session.process_group = process.pid
        session.set_timeouts(page_load_ms=60000, script_ms=30000)
        yield session
    finally:
        if session is not None:
            with contextlib.suppress(Exception):
                session.quit()
        _stop_group(process)
        shutil.rmtree(scratch, ignore_errors=True)


def _wait_for_driver(url: str, process: subprocess.Popen, log_path: str, timeout: float) -> None:
    def ready() -> bool:
        if process.poll() is not None:
            raise BrowserUnavailable("chromedriver exited with status %s at start:\n%s" % (process.returncode, _tail(log_path)))
        try:
            with urllib.request.urlopen(url + "/status", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_until(ready, timeout, "chromedriver to answer on %s" % url)
    except AssertionError as error:
        raise BrowserUnavailable("%s\n%s" % (error, _tail(log_path))) from error


def _stop_group(process: subprocess.Popen) -> None:
    group = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10
    while process_group_members(group) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        time.sleep(0.05)
    if process.poll() is None:
        process.wait(timeout=10)


def _tail(path: str, limit: int = 3000) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")
