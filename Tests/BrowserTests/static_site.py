"""A throwaway site for the console's assets, for testing the browser harness and the page itself.

It serves ``Resources/console`` (plus test pages) with the headers the real console server
sends (docs/console-protocol.md): the content security policy, and the token cookie set from
``?token=`` on the page's address. It runs no code: ``GET`` of an API path answers fixed JSON,
``POST`` is recorded and refused, and the journal socket replays a fixed list of entries, then
sends what a test pushes, so the page's own handling of each can be watched. The real console
tests run against ``pyrun serve``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import queue
import shutil
import struct
import tempfile
import threading
import urllib.parse
from typing import Iterator, Optional

__all__ = ["CONTENT_SECURITY_POLICY", "ROOT", "TOKEN_COOKIE", "StaticSite", "static_site"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONSOLE_ASSETS = os.path.join(ROOT, "Resources", "console")

# The policy docs/console-protocol.md asks the server to send with every page and asset.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
TOKEN_COOKIE = "pyrun_console_token"
_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's constant for Sec-WebSocket-Accept
_CLOSE = object()


class StaticSite:
    """A running site: its ``url``, the requests it answered, and its journal sockets."""

    def __init__(self, api: dict, journals: dict):
        self.url = ""
        self.api = api
        self.journals = journals
        self._lock = threading.Lock()
        self._requests: list = []
        self._sockets: list = []  # (session name, queue of messages to send)

    def record(self, method: str, path: str, headers: dict, body: str) -> None:
        with self._lock:
            self._requests.append((method, path, headers, body))

    def requests(self, method: Optional[str] = None, path_prefix: str = "") -> list:
        """Every request answered so far, in order, as (method, path, headers, body)."""
        with self._lock:
            return [r for r in self._requests if (method is None or r[0] == method) and r[1].startswith(path_prefix)]

    def observed_from(self, session: str) -> list:
        """The ``from`` of every journal socket opened on ``session``, in order."""
        prefix = "/api/sessions/%s/observe?from=" % session
        return [int(r[1][len(prefix):]) for r in self.requests("GET", prefix) if r[2].get("Upgrade") == "websocket"]

    def open_sockets(self, session: str) -> int:
        with self._lock:
            return sum(1 for name, _ in self._sockets if name == session)

    def append(self, session: str, entry: dict) -> None:
        """Adds ``entry`` to the session's journal and sends it to every socket open on it."""
        with self._lock:
            self.journals[session].append(entry)
            for name, outbox in self._sockets:
                if name == session:
                    outbox.put(entry)

    def send(self, session: str, message) -> None:
        """Sends ``message`` (not a journal entry: ``behind``, say) to every socket open on ``session``."""
        with self._lock:
            for name, outbox in self._sockets:
                if name == session:
                    outbox.put(message)

    def close_sockets(self, session: str, code: int = 1001) -> None:
        """Closes every socket open on ``session`` with ``code``, as a server that drops them."""
        with self._lock:
            for name, outbox in self._sockets:
                if name == session:
                    outbox.put((_CLOSE, code))

    def attach(self, session: str, outbox: queue.Queue) -> list:
        """Registers a socket and returns the journal as it is, atomically, so no entry is lost at the seam."""
        with self._lock:
            self._sockets.append((session, outbox))
            return list(self.journals[session])

    def detach(self, outbox: queue.Queue) -> None:
        with self._lock:
            self._sockets = [(name, box) for name, box in self._sockets if box is not outbox]


def _frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked server-to-client WebSocket frame (RFC 6455 section 5.2)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def _handler(directory: str, site: StaticSite) -> type:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, format, *args):  # the test's output stays readable
            pass

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
            site.record(self.command, self.path, dict(self.headers), "")
            address = urllib.parse.urlsplit(self.path)
            if self.headers.get("Upgrade", "").lower() == "websocket":
                return self._observe(address)
            if address.path in site.api:
                return self._json(200, site.api[address.path])
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
            site.record(self.command, self.path, dict(self.headers), self.rfile.read(length).decode("utf-8", "replace"))
            self._json(501, {"error": "notImplemented", "message": "this static site runs no code"})

        # The journal socket: replay from `from`, then the seam marker, then whatever a test sends.
        def _observe(self, address):
            parts = address.path.split("/")
            name = urllib.parse.unquote(parts[3]) if len(parts) == 5 and parts[4] == "observe" else None
            if name not in site.journals:
                return self._json(404, {"error": "notFound", "message": "no such session"})
            start = int(urllib.parse.parse_qs(address.query).get("from", ["0"])[0])
            accept = base64.b64encode(
                hashlib.sha1((self.headers["Sec-WebSocket-Key"] + _WEBSOCKET_GUID).encode()).digest()).decode()
            self.send_response_only(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            http.server.BaseHTTPRequestHandler.end_headers(self)
            self.wfile.flush()
            outbox: queue.Queue = queue.Queue()
            kept = site.attach(name, outbox)
            threading.Thread(target=self._watch_peer, args=(outbox,), daemon=True).start()
            try:
                replay: list = []
                oldest = kept[0]["seq"] if kept else start
                if start < oldest:
                    replay.append({"type": "gap", "from": start, "resumeAt": oldest, "dropped": oldest - start})
                replay.extend(entry for entry in kept if entry["seq"] >= start)
                self._send(replay)  # one message: a server may batch its replay
                next_seq = kept[-1]["seq"] + 1 if kept else start
                self._send({"type": "live", "seq": next_seq})
                while True:
                    message = outbox.get()
                    if isinstance(message, tuple) and message[0] is _CLOSE:
                        self.wfile.write(_frame(0x8, struct.pack("!H", message[1])))
                        self.wfile.flush()
                        return
                    self._send(message)
            except OSError:  # the page went away mid-write
                return
            finally:
                site.detach(outbox)
                self.close_connection = True

        def _watch_peer(self, outbox: queue.Queue) -> None:
            """Ends the socket when the page closes it: the page sends nothing but a close frame."""
            try:
                while True:
                    data = self.connection.recv(4096)
                    if not data or data[0] & 0x0F == 0x8:
                        break
            except OSError:
                pass
            outbox.put((_CLOSE, 1000))

        def _send(self, message) -> None:
            self.wfile.write(_frame(0x1, json.dumps(message).encode("utf-8")))
            self.wfile.flush()

    return Handler


@contextlib.contextmanager
def static_site(extra_files: list = (), api: Optional[dict] = None, journals: Optional[dict] = None) -> Iterator[StaticSite]:
    """Serves the console's assets, plus ``extra_files`` (paths of test pages), on loopback.

    ``api`` maps an API path (``/api/sessions``) to the JSON its ``GET`` answers; ``journals``
    maps a session name to its journal entries, which its socket replays.
    """
    directory = tempfile.mkdtemp(prefix="pyrun-console-site-")
    try:
        for name in os.listdir(CONSOLE_ASSETS):
            shutil.copy(os.path.join(CONSOLE_ASSETS, name), directory)
        for path in extra_files:
            shutil.copy(path, directory)
        site = StaticSite(api or {}, journals or {})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(directory, site))
        server.daemon_threads = True  # an open journal socket must not hold up the end of the test
        site.url = "http://127.0.0.1:%d" % server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
        thread.start()
        try:
            yield site
        finally:
            for name in list(site.journals):
                site.close_sockets(name)
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
