"""A throwaway site for the console page, for testing the browser harness and the page itself.

It serves ``Resources/console`` (plus test pages) as the real console server does
(docs/console-protocol.md): the content security policy, the token taken from ``?token=`` into
an HttpOnly cookie, and every other request refused without that cookie. Its WebSocket speaks a
small part of the serve protocol from fixed data: ``sessions`` answers a fixed list,
``observe`` replays a fixed journal and then sends what a test appends, ``execute`` only records
the input in the journal (there is no kernel), ``interrupt`` and ``reset`` only answer ``ok``.
It stands in for ``pyrun serve`` so the page can be watched before the server exists and
without a kernel; the real console tests run against ``pyrun serve``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.cookies
import http.server
import json
import os
import shutil
import socket
import struct
import tempfile
import threading
import urllib.parse
from typing import Iterator, Optional

__all__ = ["CONTENT_SECURITY_POLICY", "ROOT", "TOKEN_COOKIE", "StaticSite", "static_site"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONSOLE_ASSETS = os.path.join(ROOT, "Resources", "console")

# The policy docs/console-protocol.md asks the server to send with the page and its assets.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
TOKEN_COOKIE = "pyrun_console_token"
_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's constant for Sec-WebSocket-Accept


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


def _read_exactly(stream, count: int) -> bytes:
    data = stream.read(count)
    if data is None or len(data) < count:
        raise ConnectionError("the page closed the socket")
    return data


def _read_frame(stream) -> tuple:
    """(opcode, payload) of one client frame; clients always mask (RFC 6455 section 5.3)."""
    first, second = _read_exactly(stream, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read_exactly(stream, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _read_exactly(stream, 8))[0]
    mask = _read_exactly(stream, 4) if second & 0x80 else b"\0\0\0\0"
    payload = bytearray(_read_exactly(stream, length))
    for index in range(length):
        payload[index] ^= mask[index % 4]
    return first & 0x0F, bytes(payload)


class _Socket:
    """One page's WebSocket: writes from any thread, and the observations it holds (tag → session)."""

    def __init__(self, connection: socket.socket, writer):
        self.connection = connection
        self.writer = writer
        self.write_lock = threading.Lock()
        self.observations: dict = {}

    def send(self, message: dict) -> None:
        with self.write_lock:
            with contextlib.suppress(OSError):
                self.writer.write(_frame(0x1, json.dumps(message).encode("utf-8")))
                self.writer.flush()

    def close(self, code: int) -> None:
        with self.write_lock:
            with contextlib.suppress(OSError):
                self.writer.write(_frame(0x8, struct.pack("!H", code)))
                self.writer.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)


class StaticSite:
    """A running site: its ``url``, the token, its fixed sessions and journals, and what pages sent it."""

    def __init__(self, token: str, sessions: list, journals: dict):
        self.url = ""
        self.token = token
        self.sessions = sessions
        self.journals = journals
        self.journal_id = "static-journal"  # a test changes it to play a restarted server
        self._lock = threading.Lock()
        self._http: list = []
        self._socket_requests: list = []
        self._sockets: list = []
        self._next_execution = 1

    # MARK: what tests look at

    def http_requests(self, path_prefix: str = "") -> list:
        """Every HTTP request so far, in order, as (method, path, headers)."""
        with self._lock:
            return [r for r in self._http if r[1].startswith(path_prefix)]

    def socket_requests(self, op: Optional[str] = None) -> list:
        """Every request the pages sent over their sockets, in order (JSON objects)."""
        with self._lock:
            return [r for r in self._socket_requests if op is None or r.get("op") == op]

    def observed_from(self, session: str) -> list:
        """The ``from`` of every ``observe`` of ``session`` (None: everything kept), in order."""
        return [r.get("from") for r in self.socket_requests("observe") if r.get("session") == session]

    def observers(self, session: str) -> int:
        with self._lock:
            return sum(1 for s in self._sockets for name in s.observations.values() if name == session)

    # MARK: what tests do

    def append(self, session: str, entry: dict) -> None:
        """Adds ``entry`` to the session's journal and sends it to every observation of it."""
        with self._lock:
            self.journals[session].append(entry)
            targets = [(s, tag) for s in self._sockets for tag, name in s.observations.items() if name == session]
        for target, tag in targets:
            target.send({"type": "entry", "entry": entry, "tag": tag})

    def fall_behind(self, session: str, resume_from: int) -> None:
        """Ends every observation of ``session`` as a server does for a client that lagged too far."""
        with self._lock:
            targets = [(s, tag) for s in self._sockets for tag, name in list(s.observations.items()) if name == session]
            for target, tag in targets:
                del target.observations[tag]
        for target, tag in targets:
            target.send({"type": "observe_end", "reason": "fellBehind", "resumeFrom": resume_from, "tag": tag})

    def close_sockets(self, code: int = 1001) -> None:
        """Closes every page's socket with ``code``, as a server that drops them."""
        with self._lock:
            sockets = list(self._sockets)
        for target in sockets:
            target.close(code)

    # MARK: the serve protocol, as far as the page needs it

    def _attach(self, target: _Socket) -> None:
        with self._lock:
            self._sockets.append(target)

    def _detach(self, target: _Socket) -> None:
        with self._lock:
            self._sockets = [s for s in self._sockets if s is not target]

    def _handle(self, target: _Socket, request: dict) -> None:
        with self._lock:
            self._socket_requests.append(request)
        op, tag = request.get("op"), request.get("tag")
        if op == "sessions":
            target.send({"type": "sessions", "sessions": self.sessions, "tag": tag})
        elif op == "observe":
            self._observe(target, request, tag)
        elif op == "unobserve":
            with self._lock:
                target.observations.pop(request.get("observeTag"), None)
            target.send({"type": "observe_end", "reason": "cancelled", "tag": request.get("observeTag")})
            target.send({"type": "ok", "tag": tag})
        elif op == "execute":
            session = request["session"]
            with self._lock:
                identifier = "static-%d" % self._next_execution
                self._next_execution += 1
                journal = self.journals.setdefault(session, [])
                seq = journal[-1]["seq"] + 1 if journal else 1
            target.send({"type": "accepted", "session": session, "id": identifier, "tag": tag})
            self.append(session, {"seq": seq, "time": 1796047200.0, "type": "input", "id": identifier,
                                  "code": request["code"], "client": "console:%s" % request.get("client")})
        elif op in ("interrupt", "reset"):
            target.send({"type": "ok", "tag": tag})
        else:
            target.send({"type": "error", "code": "unknownOperation", "message": "unknown op %r" % op, "tag": tag})

    def _observe(self, target: _Socket, request: dict, tag: str) -> None:
        session = request["session"]
        with self._lock:  # the snapshot and the registration together: nothing lost at the seam
            kept = list(self.journals.setdefault(session, []))
            target.observations[tag] = session
        start = request.get("from")
        if request.get("journal") not in (None, self.journal_id):
            start = 1
        oldest = kept[0]["seq"] if kept else 1
        next_seq = kept[-1]["seq"] + 1 if kept else 1
        start = oldest if start is None else min(max(start, 1), next_seq)
        if start < oldest:
            target.send({"type": "gap", "requestedFrom": start, "firstKept": oldest, "dropped": oldest - start, "tag": tag})
        for entry in kept:
            if entry["seq"] >= start:
                target.send({"type": "entry", "entry": entry, "tag": tag})
        target.send({"type": "live", "nextSeq": next_seq, "journal": self.journal_id, "tag": tag})


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

        def _plain(self, status: int, text: str) -> None:
            data = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _has_token(self, address) -> bool:
            cookies = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
            offered = cookies[TOKEN_COOKIE].value if TOKEN_COOKIE in cookies else None
            if offered is None and address.path == "/":
                offered = (urllib.parse.parse_qs(address.query).get("token") or [None])[0]
            return offered is not None and hmac.compare_digest(offered, site.token)

        def do_GET(self):
            self._set_cookie = False
            with site._lock:
                site._http.append((self.command, self.path, dict(self.headers)))
            address = urllib.parse.urlsplit(self.path)
            if not self._has_token(address):
                return self._plain(401, "open the link that pyrun printed (it carries ?token=...)")
            if address.path == "/api/socket" and self.headers.get("Upgrade", "").lower() == "websocket":
                return self._socket()
            if address.path == "/api/status":
                data = json.dumps({"name": "static", "pid": os.getpid()}).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                return self.wfile.write(data)
            self._set_cookie = address.path == "/" and "token" in urllib.parse.parse_qs(address.query)
            return super().do_GET()

        def send_response(self, code, message=None):
            super().send_response(code, message)
            if getattr(self, "_set_cookie", False) and code == 200:
                self.send_header("Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Strict" % (TOKEN_COOKIE, site.token))

        def _socket(self):
            accept = base64.b64encode(
                hashlib.sha1((self.headers["Sec-WebSocket-Key"] + _WEBSOCKET_GUID).encode()).digest()).decode()
            self.send_response_only(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            http.server.BaseHTTPRequestHandler.end_headers(self)
            self.wfile.flush()
            target = _Socket(self.connection, self.wfile)
            site._attach(target)
            target.send({"type": "welcome", "name": "static", "pid": os.getpid(), "protocol": 1, "startedAt": 0})
            try:
                while True:
                    opcode, payload = _read_frame(self.rfile)
                    if opcode == 0x8:
                        target.close(1000)
                        return
                    if opcode == 0x1:
                        site._handle(target, json.loads(payload.decode("utf-8")))
            except (ConnectionError, OSError, ValueError):
                return
            finally:
                site._detach(target)
                self.close_connection = True

    return Handler


@contextlib.contextmanager
def static_site(token: str, extra_files: list = (), sessions: list = (), journals: Optional[dict] = None) -> Iterator[StaticSite]:
    """Serves the console's assets, plus ``extra_files`` (paths of test pages), on loopback.

    ``sessions`` is what a ``sessions`` request answers; ``journals`` maps a session name to
    its journal entries. Every request needs ``token`` (``?token=`` on ``/``, then the cookie).
    """
    directory = tempfile.mkdtemp(prefix="pyrun-console-site-")
    try:
        for name in os.listdir(CONSOLE_ASSETS):
            shutil.copy(os.path.join(CONSOLE_ASSETS, name), directory)
        for path in extra_files:
            shutil.copy(path, directory)
        site = StaticSite(token, list(sessions), dict(journals or {}))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(directory, site))
        server.daemon_threads = True  # an open socket must not hold up the end of the test
        site.url = "http://127.0.0.1:%d" % server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
        thread.start()
        try:
            yield site
        finally:
            site.close_sockets()
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
