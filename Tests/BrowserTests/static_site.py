"""A throwaway static file server for the console's assets, for testing the browser harness itself.

It serves ``Resources/console`` (plus test pages) with the headers the real console server
sends (docs/console-protocol.md): the content security policy, and the token cookie set from
``?token=`` on the page's address. It runs no code: ``GET`` of an API path answers from fixed
JSON, ``POST`` is recorded and refused, and a WebSocket upgrade is refused with 404, so the
page's own handling of those can be watched. The real console tests use ``pyrun serve``.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import tempfile
import threading
import urllib.parse
from typing import Iterator

__all__ = ["CONTENT_SECURITY_POLICY", "TOKEN_COOKIE", "StaticSite", "static_site"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONSOLE_ASSETS = os.path.join(ROOT, "Resources", "console")

# The policy docs/console-protocol.md asks the server to send with every page and asset.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
TOKEN_COOKIE = "pyrun_console_token"


class StaticSite:
    """A running site: its ``url``, and every request it answered, in order, as (method, path, headers, body)."""

    def __init__(self, url: str, requests: list, lock: threading.Lock):
        self.url = url
        self._requests = requests
        self._lock = lock

    def requests(self, method: str = None, path_prefix: str = "") -> list:
        with self._lock:
            return [r for r in self._requests if (method is None or r[0] == method) and r[1].startswith(path_prefix)]


def _handler(directory: str, api: dict, requests: list, lock: threading.Lock) -> type:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, format, *args):  # the test's output stays readable
            pass

        def _record(self, body: bytes = b"") -> None:
            with lock:
                requests.append((self.command, self.path, dict(self.headers), body.decode("utf-8", "replace")))

        def end_headers(self):
            self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def _json(self, status: int, value) -> None:
            data = json.dumps(value).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._token = None
            self._record()
            address = urllib.parse.urlsplit(self.path)
            if self.headers.get("Upgrade", "").lower() == "websocket":
                return self._json(404, {"error": "notFound", "message": "this static site has no WebSocket"})
            if address.path in api:
                return self._json(200, api[address.path])
            if address.path.startswith("/api/"):
                return self._json(404, {"error": "notFound", "message": "no such session"})
            token = urllib.parse.parse_qs(address.query).get("token")
            if address.path == "/" and token:
                self._token = token[0]
            return super().do_GET()

        def send_response(self, code, message=None):
            super().send_response(code, message)
            token = getattr(self, "_token", None)
            if token is not None and code == 200:
                self.send_header("Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Strict" % (TOKEN_COOKIE, token))

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self._record(self.rfile.read(length))
            self._json(501, {"error": "notImplemented", "message": "this static site runs no code"})

    return Handler


@contextlib.contextmanager
def static_site(extra_files: list = (), api: dict = None) -> Iterator[StaticSite]:
    """Serves the console's assets, plus ``extra_files`` (paths of test pages), on loopback.

    ``api`` maps an API path (``/api/sessions``) to the JSON its ``GET`` answers.
    """
    directory = tempfile.mkdtemp(prefix="pyrun-console-site-")
    try:
        for name in os.listdir(CONSOLE_ASSETS):
            shutil.copy(os.path.join(CONSOLE_ASSETS, name), directory)
        for path in extra_files:
            shutil.copy(path, directory)
        requests: list = []
        lock = threading.Lock()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(directory, api or {}, requests, lock))
        thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
        thread.start()
        try:
            yield StaticSite("http://127.0.0.1:%d" % server.server_address[1], requests, lock)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
