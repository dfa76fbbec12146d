"""Drive `pyrun mcp` as an agent's MCP client does, and check every reply.

An MCP client of its own (standard library only: JSON-RPC over the server's
stdin and stdout, one message a line), independent of the Swift code and of
the MCP SDK, so what it checks is what any client really receives. It runs
the handshake, lists the tools, and calls each tool the way a model would:
a value, printed output, an exception, a long call followed with
python_wait (and its progress notifications), a busy session, an interrupt,
a cancelled call, paged output, an image, the environment allow-list and
redaction, and finally closes stdin and checks that no interpreter is left.
A second server, started by a client that declares MCP sampling and answers
`sampling/createMessage` itself (its sampling callback), checks
`host.complete`; the first client declares no sampling, so its code has none.

    python3 scripts/mcp_client_check.py                 # .build/debug/pyrun
    python3 scripts/mcp_client_check.py /path/to/pyrun  # an installed binary

Exits 0 when every check passed, 1 at the first that did not (with the
server's stderr). Bounds on waiting are liveness bounds (tens of seconds):
the machine may be loaded.
"""

import base64
import json
import os
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIVENESS_S = 60.0  # the longest any one step may take on a loaded machine
SECRET = "pyrun-check-secret-value-42"


class CheckFailed(Exception):
    """A reply was not what an agent must get."""


def expect(condition, what, reply=None):
    if not condition:
        detail = "" if reply is None else "\n  reply: " + json.dumps(reply)[:2000]
        raise CheckFailed(what + detail)


class SamplingRefused(Exception):
    """What a sampling callback raises to answer with an error, as a client whose user declined."""


class MCPClient:
    """One `pyrun mcp` process and the JSON-RPC messages exchanged with it."""

    def __init__(self, pyrun, arguments=(), environment=None, sampling_callback=None):
        """`sampling_callback(params)` answers the server's sampling/createMessage
        requests: it returns the result, or raises SamplingRefused."""
        self.sampling_callback = sampling_callback
        self.sampling_requests = []
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [pyrun, "mcp", *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=environment,
        )
        self.next_id = 0
        self.messages = queue.Queue()
        self.responses = {}
        self.notifications = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.messages.put(json.loads(line))
        self.messages.put(None)

    def _take(self, timeout):
        message = self.messages.get(timeout=timeout)
        if message is None:
            raise CheckFailed("the server closed its stdout")
        if "id" in message and "method" not in message:
            self.responses[message["id"]] = message
        elif "id" in message and message["method"] == "sampling/createMessage" and self.sampling_callback:
            self.sampling_requests.append(message)
            try:
                answer = {"result": self.sampling_callback(message["params"])}
            except SamplingRefused as refusal:
                answer = {"error": {"code": -1, "message": str(refusal)}}
            self.send({"jsonrpc": "2.0", "id": message["id"], **answer})
        else:
            self.notifications.append(message)

    def send(self, message):
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def start(self, method, params=None):
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.next_id

    def response(self, request_id, timeout=LIVENESS_S):
        deadline = time.monotonic() + timeout
        while request_id not in self.responses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed(f"no response to request {request_id} within {timeout:.0f} s")
            try:
                self._take(left)
            except queue.Empty:
                pass
        return self.responses.pop(request_id)

    def request(self, method, params=None):
        response = self.response(self.start(method, params))
        expect("result" in response, f"{method} failed", response)
        return response["result"]

    def start_call(self, tool, arguments, progress_token=None):
        params = {"name": tool, "arguments": arguments}
        if progress_token is not None:
            params["_meta"] = {"progressToken": progress_token}
        return self.start("tools/call", params)

    def call(self, tool, **arguments):
        return self.request("tools/call", {"name": tool, "arguments": arguments})

    def wait_for_notification(self, predicate, timeout=LIVENESS_S):
        deadline = time.monotonic() + timeout
        while not any(predicate(n) for n in self.notifications):
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed("an expected notification never came")
            try:
                self._take(left)
            except queue.Empty:
                pass

    def close_stdin_and_wait(self):
        self.process.stdin.close()
        return self.process.wait(timeout=LIVENESS_S)

    def server_log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self):
        """Ends the server as a client does (stdin closed), so it cleans up; kills it if it hangs."""
        if self.process.poll() is not None:
            return
        try:
            self.process.stdin.close()
            self.process.wait(timeout=LIVENESS_S)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


def text_of(result):
    return "".join(c.get("text", "") for c in result["content"] if c["type"] == "text")


def structured(result):
    return result["structuredContent"]


def process_is_gone(pid):
    """True when pid no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def tiny_png():
    """A valid 2x2 red PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# MARK: - The checks, in the order an agent meets them


def check_handshake(client, scratch):
    result = client.request("initialize", {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "mcp_client_check", "version": "1"},
    })
    expect(result["serverInfo"]["name"] == "pyrun", "serverInfo names pyrun", result)
    expect("tools" in result["capabilities"], "the server has tools", result)
    expect("python_wait" in result.get("instructions", ""), "the instructions explain running calls", result)
    client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    tools = {tool["name"]: tool for tool in client.request("tools/list")["tools"]}
    expect(set(tools) == {"python", "python_wait", "python_interrupt", "python_sessions", "python_output"},
           "the five tools are listed", list(tools))
    for name, tool in tools.items():
        expect(tool["inputSchema"]["type"] == "object", f"{name} has an input schema", tool)
        expect(tool["outputSchema"]["type"] == "object", f"{name} has an output schema", tool)
    expect(tools["python"]["inputSchema"]["required"] == ["code"], "python needs only code", tools["python"])


def check_values_output_and_errors(client, scratch):
    value = client.call("python", code="1+1")
    expect(value["isError"] is False, "1+1 is not an error", value)
    expect(structured(value)["status"] == "ok", "1+1 is ok", value)
    expect(structured(value)["result"] == "2", "1+1 gives 2", value)
    expect(text_of(value).startswith('ok: session "main", In [1]'), "the text starts with the summary line", value)

    printed = client.call("python", code="total = 40\nprint('hello from the kernel')")
    expect(structured(printed)["stdout"] == "hello from the kernel\n", "print reaches stdout", printed)
    expect("hello from the kernel" in text_of(printed), "print reaches the text", printed)
    expect(client.call("python", code="total + 2")["structuredContent"]["result"] == "42", "state persists")

    repeated = client.call("python", code="for i in range(10): print('same')")
    expect(text_of(repeated).endswith("same\n[pyrun: the line above repeats 9 more times, lines 2–10]"),
           "repeated lines are folded, not left out", repeated)

    failed = client.call("python", code="def f():\n    return 1 / 0\nf()")
    expect(failed["isError"] is True, "an exception is an error", failed)
    error = structured(failed)["error"]
    expect(structured(failed)["status"] == "error" and error["type"] == "ZeroDivisionError",
           "the error has its type", failed)
    expect(any("in f" in line for line in error["traceback"]), "the traceback names the frame", failed)
    expect("ZeroDivisionError: division by zero" in text_of(failed), "the text shows the error", failed)


def check_long_call_busy_and_progress(client, scratch):
    release = os.path.join(scratch, "release")
    code = (
        "import os, time\n"
        "print('started', flush=True)\n"
        f"while not os.path.exists({release!r}):\n"
        "    time.sleep(0.01)\n"
        "print('released')\n"
        "'done'"
    )
    running = client.call("python", code=code, wait_s=0.5)
    expect(structured(running)["status"] == "running", "a long call returns running after wait_s", running)
    expect(running["isError"] is False, "running is not an error", running)
    run_id = structured(running)["run_id"]

    busy = client.call("python", code="1")
    expect(structured(busy)["status"] == "busy" and busy["isError"] is True, "a busy session says busy", busy)
    expect(structured(busy)["run_id"] == run_id, "busy names the running run", busy)

    waiting = client.start_call("python_wait", {"run_id": run_id, "wait_s": LIVENESS_S}, progress_token="wait-1")
    client.wait_for_notification(
        lambda n: n.get("method") == "notifications/progress" and n["params"]["progressToken"] == "wait-1")
    progress = next(n for n in client.notifications if n.get("method") == "notifications/progress")
    expect("running for" in progress["params"].get("message", ""), "progress says how long", progress)
    open(release, "w").close()
    finished = client.response(waiting)["result"]
    expect(structured(finished)["status"] == "ok", "python_wait returns the outcome", finished)
    expect(structured(finished)["result"] == "'done'", "python_wait returns the value", finished)
    seen = structured(running)["stdout"] + structured(finished)["stdout"]
    expect(seen == "started\nreleased\n", "every line shows exactly once across the two replies", [running, finished])


def check_interrupt(client, scratch):
    client.call("python", code="kept = 'yes'")
    spinning = client.call("python", code="import time\nwhile True: time.sleep(0.01)", wait_s=0.3)
    expect(structured(spinning)["status"] == "running", "the loop is running", spinning)
    interrupted = client.call("python_interrupt", session="main")
    expect(structured(interrupted)["outcome"] == "interrupted", "the interrupt stops the loop", interrupted)
    expect(structured(interrupted)["state_kept"] is True, "the interrupt keeps the state", interrupted)
    ended = client.call("python_wait", run_id=structured(spinning)["run_id"])
    expect(structured(ended)["status"] == "interrupted" and ended["isError"] is True,
           "the run ended interrupted, as an error", ended)
    expect(structured(client.call("python", code="kept"))["result"] == "'yes'", "state survived the interrupt")


def check_cancellation(client, scratch):
    pid = next(s["pid"] for s in structured(client.call("python_sessions"))["sessions"] if s["session"] == "main")
    cancelled = client.start_call("python", {"code": "import time\ntime.sleep(60)", "wait_s": 120})
    # Cancel once the kernel really runs the sleep: the session lists the call as running.
    deadline = time.monotonic() + LIVENESS_S
    while not any(s.get("running_run_id") for s in structured(client.call("python_sessions"))["sessions"]):
        expect(time.monotonic() < deadline, "the cancelled call started")
        time.sleep(0.05)
    client.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                 "params": {"requestId": cancelled, "reason": "the user pressed Esc"}})
    started = time.monotonic()
    after = client.call("python", code="kept")
    expect(time.monotonic() - started < 30, "the next call is answered long before the 60 s sleep ends", after)
    expect(structured(after)["result"] == "'yes'", "the state survived the cancellation", after)
    notice = [n for n in structured(after)["notices"] if n["kind"] == "cancelled"]
    expect(notice and notice[0]["state_lost"] is False, "the next reply says how the cancelled run ended", after)
    listed = structured(client.call("python_sessions"))["sessions"]
    expect(next(s["pid"] for s in listed if s["session"] == "main") == pid, "the same interpreter answered", listed)
    expect(cancelled not in client.responses, "a cancelled call gets no response")


def check_paging_and_images(client, scratch):
    long = client.call("python", code="for i in range(5000): print('line', i)", session="paging")
    text = text_of(long)
    expect(len(text) < 25_000, "long output is cut to the budget", {"length": len(text)})
    expect("line 0\n" in text and text.endswith("line 4999"), "the start and the end are kept", {"text": text[:300]})
    run_id = structured(long)["run_id"]
    expect(f'python_output(run_id: "{run_id}"' in text, "the note says how to page", {"text": text[:300]})
    page = client.call("python_output", run_id=run_id, offset=2500, limit=2)
    expect([line["text"] for line in structured(page)["lines"]] == ["line 2500", "line 2501"],
           "python_output pages through all of it", page)

    png = tiny_png()
    code = (
        "class Picture:\n"
        f"    def _repr_png_(self): return {png!r}\n"
        "display(Picture())\n"
        "'shown'"
    )
    shown = client.call("python", code=code, session="paging")
    images = [c for c in shown["content"] if c["type"] == "image"]
    expect(len(images) == 1 and images[0]["mimeType"] == "image/png", "the image is image content", shown)
    expect(base64.b64decode(images[0]["data"]) == png, "the image arrives byte for byte", shown)
    expect(len(text_of(shown)) < 1000, "no base64 in the text", shown)


def check_environment(client, scratch):
    code = "import os\nprint(os.environ.get('PYRUN_CHECK_TOKEN'))\nsorted(n for n in os.environ if 'PYRUN_CHECK' in n)"
    reply = client.call("python", code=code, session="env")
    expect(structured(reply)["stdout"] == "[redacted]\n", "a secret's value comes back redacted", reply)
    expect(SECRET not in json.dumps(reply), "the secret is nowhere in the reply", reply)
    expect(structured(reply)["result"] == "['PYRUN_CHECK_TOKEN']",
           "only allowed and passed variables reach the interpreter", reply)


def check_no_sampling(client, scratch):
    code = ("try:\n    host.call('complete', prompt='hi')\nexcept AttributeError as e:\n    missing = str(e)\n"
            "(hasattr(host, 'complete'), missing)")
    reply = client.call("python", code=code)
    expect(structured(reply)["result"] == "(False, \"the host has no function 'complete' (its functions: none)\")",
           "a client without sampling gives the code no host.complete", reply)


def echo_model(params):
    """The sampling callback of the second client: a model that echoes, or a user who declines."""
    prompt = params["messages"][0]["content"]["text"]
    if prompt == "decline":
        raise SamplingRefused("User rejected sampling request")
    text = f"echo {prompt} ({params['maxTokens']}, {params.get('systemPrompt')})"
    return {"role": "assistant", "content": {"type": "text", "text": text}, "model": "echo", "stopReason": "endTurn"}


def check_sampling(pyrun):
    client = MCPClient(pyrun, sampling_callback=echo_model)
    try:
        client.request("initialize", {
            "protocolVersion": "2025-06-18",
            "capabilities": {"sampling": {}},
            "clientInfo": {"name": "mcp_client_check", "version": "1"},
        })
        client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        code = (
            "answers = [host.complete(f'row {i}', max_tokens=8, system='terse') for i in range(3)]\n"
            "try:\n    host.complete('decline')\nexcept HostCallError as e:\n    answers.append((e.type, e.message))\n"
            "answers"
        )
        reply = client.call("python", code=code)
        expected = ("['echo row 0 (8, terse)', 'echo row 1 (8, terse)', 'echo row 2 (8, terse)', "
                    "('SamplingError', 'User rejected sampling request')]")
        expect(structured(reply)["result"] == expected, "host.complete asks the client's model", reply)
        messages = [r["params"]["messages"] for r in client.sampling_requests]
        expect(messages[0] == [{"role": "user", "content": {"type": "text", "text": "row 0"}}],
               "the prompt is one user text message", client.sampling_requests)
        expect(len(messages) == 4, "one sampling request per call", client.sampling_requests)
        expect(client.close_stdin_and_wait() == 0, "the server ends with status 0")
    except BaseException:
        print("server stderr:\n" + client.server_log(), file=sys.stderr)
        raise
    finally:
        client.stop()


def check_shutdown(client, scratch):
    pids = [s["pid"] for s in structured(client.call("python_sessions"))["sessions"] if s.get("pid")]
    expect(len(pids) >= 3, "several sessions are running", pids)
    client.call("python", code="import time\ntime.sleep(300)", wait_s=0.2)
    status = client.close_stdin_and_wait()
    expect(status == 0, f"closing stdin ends the server with status 0, not {status}")
    deadline = time.monotonic() + LIVENESS_S
    while not all(process_is_gone(pid) for pid in pids):
        expect(time.monotonic() < deadline, "every interpreter is gone", pids)
        time.sleep(0.05)


def main():
    pyrun = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "pyrun")
    environment = dict(os.environ, PYRUN_CHECK_TOKEN=SECRET, PYRUN_CHECK_PLAIN="not passed")
    client = MCPClient(pyrun, ["--pass-env", "PYRUN_CHECK_TOKEN"], environment)
    steps = [
        ("initialize and tools/list", check_handshake),
        ("python: a value, print, state, an exception", check_values_output_and_errors),
        ("python wait_s -> running, busy, python_wait with progress", check_long_call_busy_and_progress),
        ("python_interrupt keeps the state", check_interrupt),
        ("notifications/cancelled interrupts the kernel", check_cancellation),
        ("long output is cut and paged; an image is image content", check_paging_and_images),
        ("environment allow-list and redaction", check_environment),
        ("no sampling declared: no host.complete", check_no_sampling),
        ("closing stdin leaves nothing running", check_shutdown),
    ]
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for name, step in steps:
                step(client, scratch)
                print(f"ok - {name}")
    except (CheckFailed, KeyError, TypeError, subprocess.TimeoutExpired) as failure:
        shown = failure if isinstance(failure, CheckFailed) else repr(failure)
        print(f"FAILED - {name}: {shown}")
        client.stop()
        print("server stderr:\n" + client.server_log(), file=sys.stderr)
        return 1
    finally:
        client.stop()
    name = "sampling declared: host.complete through the client's callback"
    try:
        check_sampling(pyrun)
        print(f"ok - {name}")
    except (CheckFailed, KeyError, TypeError, subprocess.TimeoutExpired) as failure:
        print(f"FAILED - {name}: {failure if isinstance(failure, CheckFailed) else repr(failure)}")
        return 1
    print("pyrun mcp: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
