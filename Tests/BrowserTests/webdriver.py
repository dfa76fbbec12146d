"""A W3C WebDriver client over the standard library: HTTP and JSON to a driver such as chromedriver.

WebDriver (https://www.w3.org/TR/webdriver2/) is a small REST protocol: each command is an
HTTP request to the driver, answered with ``{"value": ...}``. This module speaks the part of it
the console's tests use (navigation, windows and tabs, elements, keys, screenshots, scripts,
cookies), so the tests need no third-party package. Starting a browser is ``chromium.py``'s job.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Optional, TypeVar

__all__ = ["Keys", "WebDriverError", "Session", "Element", "wait_until"]

# The key under which W3C WebDriver identifies an element in JSON.
_ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"

T = TypeVar("T")


class Keys:
    """Code points WebDriver reads as keys rather than characters."""

    NULL = "\ue000"  # releases every modifier held down in a typed string
    BACKSPACE = "\ue003"
    TAB = "\ue004"
    RETURN = "\ue006"
    ENTER = "\ue007"
    SHIFT = "\ue008"
    CONTROL = "\ue009"
    ALT = "\ue00a"
    ESCAPE = "\ue00c"


class WebDriverError(Exception):
    """A command the driver refused or could not do, with the W3C error code (``no such element``)."""

    def __init__(self, command: str, error: str, message: str):
        super().__init__("%s: %s: %s" % (command, error, message.split("\n")[0]))
        self.error = error
        self.message = message


def wait_until(condition: Callable[[], Optional[T]], timeout: float, what: str, interval: float = 0.05) -> T:
    """Polls ``condition`` until it returns something truthy and returns that.

    Raises ``AssertionError`` naming ``what`` after ``timeout`` seconds. The last exception the
    condition raised (an element not there yet) is chained, so a failure says what went wrong.
    """
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except (WebDriverError, AssertionError, LookupError, ValueError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what)) from last_error
        time.sleep(interval)


class Session:
    """One WebDriver session: a browser with its windows, driven through ``driver_url``."""

    def __init__(self, driver_url: str, capabilities: dict, command_timeout: float = 120.0):
        self.driver_url = driver_url.rstrip("/")
        self.command_timeout = command_timeout
        reply = self._request("POST", "/session", {"capabilities": capabilities}, "new session")
        self.id: str = reply["sessionId"]
        self.capabilities: dict = reply.get("capabilities", {})

    # MARK: the wire

    def _request(self, method: str, path: str, body: Optional[dict], command: str) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.driver_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json; charset=utf-8")
        try:
            with urllib.request.urlopen(request, timeout=self.command_timeout) as response:
                payload = json.loads(response.read().decode("utf-8") or "{}")
        except urllib.error.HTTPError as failure:
            text = failure.read().decode("utf-8", "replace")
            try:
                value = json.loads(text).get("value", {})
            except ValueError:
                value = {"error": "http %d" % failure.code, "message": text}
            raise WebDriverError(command, value.get("error", "unknown error"), value.get("message", "")) from None
        return payload.get("value")

    def command(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        """Sends one command of this session (``path`` below ``/session/{id}``) and returns its value."""
        return self._request(method, "/session/%s%s" % (self.id, path), body, "%s %s" % (method, path))

    # MARK: navigation

    def get(self, url: str) -> None:
        """Opens ``url`` in the current window and waits for it to load."""
        self.command("POST", "/url", {"url": url})

    @property
    def current_url(self) -> str:
        return self.command("GET", "/url")

    @property
    def title(self) -> str:
        return self.command("GET", "/title")

    def refresh(self) -> None:
        """Reloads the current page."""
        self.command("POST", "/refresh", {})

    def set_timeouts(self, page_load_ms: int, script_ms: int) -> None:
        """How long a navigation and a script may take; element lookups never wait (``wait_for`` polls)."""
        self.command("POST", "/timeouts", {"implicit": 0, "pageLoad": page_load_ms, "script": script_ms})

    # MARK: windows and tabs

    @property
    def window_handles(self) -> list:
        return self.command("GET", "/window/handles")

    @property
    def current_window(self) -> str:
        return self.command("GET", "/window")

    def new_window(self, kind: str = "tab") -> str:
        """Opens a new tab (or ``"window"``), switches to it and returns its handle."""
        handle = self.command("POST", "/window/new", {"type": kind})["handle"]
        self.switch_to(handle)
        return handle

    def switch_to(self, handle: str) -> None:
        """Makes the window or tab ``handle`` the one commands act on."""
        self.command("POST", "/window", {"handle": handle})

    def close_window(self) -> list:
        """Closes the current window; returns the handles left."""
        return self.command("DELETE", "/window")

    def switch_to_frame(self, frame: "Element") -> None:
        """Makes commands act inside the iframe ``frame`` (WebDriver may look into any frame, sandboxed or not)."""
        self.command("POST", "/frame", {"id": {_ELEMENT_KEY: frame.id}})

    def switch_to_page(self) -> None:
        """Makes commands act on the top-level page again, after ``switch_to_frame``."""
        self.command("POST", "/frame", {"id": None})

    # MARK: elements

    def find(self, css: str) -> "Element":
        """The first element matching ``css``; raises ``WebDriverError`` (``no such element``) if none."""
        return Element(self, self.command("POST", "/element", {"using": "css selector", "value": css})[_ELEMENT_KEY])

    def find_all(self, css: str) -> list:
        """Every element matching ``css``, in document order."""
        found = self.command("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, item[_ELEMENT_KEY]) for item in found]

    def wait_for(self, css: str, timeout: float = 15.0) -> "Element":
        """The first element matching ``css`` once it exists and is shown."""
        return wait_until(lambda: self._shown(css), timeout, "an element shown at %r" % css)

    def _shown(self, css: str) -> Optional["Element"]:
        found = self.find(css)
        return found if found.is_displayed() else None

    def wait_for_text(self, css: str, text: str, timeout: float = 15.0) -> "Element":
        """The first element matching ``css`` whose visible text contains ``text``."""

        def match() -> Optional[Element]:
            for candidate in self.find_all(css):
                if text in candidate.text:
                    return candidate
            return None

        return wait_until(match, timeout, "%r in an element at %r" % (text, css))

    # MARK: keys, scripts, pictures

    def press(self, *keys: str) -> None:
        """Presses ``keys`` together on the focused element (``press(Keys.SHIFT, Keys.ENTER)``), then lets go."""
        down = [{"type": "keyDown", "value": key} for key in keys]
        up = [{"type": "keyUp", "value": key} for key in reversed(keys)]
        self.command("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": down + up}]})
        self.command("DELETE", "/actions")

    def execute(self, script: str, *args: Any) -> Any:
        """Runs ``script`` (a function body; ``arguments`` holds ``args``) in the page and returns its value."""
        return self.command("POST", "/execute/sync", {"script": script, "args": list(args)})

    def screenshot(self, path: str) -> str:
        """Writes a PNG of the current window's viewport to ``path`` and returns the path."""
        return _write_png(path, self.command("GET", "/screenshot"))

    def cookies(self) -> list:
        """The cookies the current page's origin has, HttpOnly ones included."""
        return self.command("GET", "/cookie")

    def browser_log(self) -> list:
        """Chromium's console messages since the last call (needs the ``goog:loggingPrefs`` capability)."""
        return self.command("POST", "/se/log", {"type": "browser"}) or []

    def quit(self) -> None:
        """Ends the session; the driver closes the browser."""
        self._request("DELETE", "/session/%s" % self.id, None, "delete session")


class Element:
    """An element of a page, valid until its page changes."""

    def __init__(self, session: Session, element_id: str):
        self.session = session
        self.id = element_id

    def _command(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        return self.session.command(method, "/element/%s%s" % (self.id, path), body)

    @property
    def text(self) -> str:
        """The text a person sees (hidden parts left out), as WebDriver renders it."""
        return self._command("GET", "/text")

    def dom_property(self, name: str) -> Any:
        """A DOM property (``value``, ``naturalWidth``, ``srcdoc``)."""
        return self._command("GET", "/property/%s" % name)

    def attribute(self, name: str) -> Optional[str]:
        """An HTML attribute as written (``sandbox``, ``href``); None when absent."""
        return self._command("GET", "/attribute/%s" % name)

    def is_displayed(self) -> bool:
        return bool(self._command("GET", "/displayed"))

    def click(self) -> None:
        self._command("POST", "/click", {})

    def clear(self) -> None:
        self._command("POST", "/clear", {})

    def type(self, text: str) -> None:
        """Focuses the element and types ``text``; key code points (``Keys``) are pressed as keys."""
        self._command("POST", "/value", {"text": text})

    def find(self, css: str) -> "Element":
        """The first element matching ``css`` inside this one."""
        found = self._command("POST", "/element", {"using": "css selector", "value": css})
        return Element(self.session, found[_ELEMENT_KEY])

    def find_all(self, css: str) -> list:
        found = self._command("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self.session, item[_ELEMENT_KEY]) for item in found]

    def screenshot(self, path: str) -> str:
        """Writes a PNG of just this element to ``path`` and returns the path."""
        return _write_png(path, self._command("GET", "/screenshot"))


def _write_png(path: str, encoded: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as file:
        file.write(base64.b64decode(encoded))
    return path
