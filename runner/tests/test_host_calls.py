"""Host calls: `host.NAME(...)` in user code sends `call`, waits for `call_reply`."""

import json
import unittest

from kernel import Kernel

FUNCTIONS = [
    {
        "name": "read",
        "description": "Read a file of the workspace.",
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "relative to the workspace"},
                "limit": {"type": "integer", "minimum": 1},
                "mode": {"enum": ["text", "bytes"]},
            },
            "required": ["path"],
        },
    },
    {
        "name": "search",
        "description": "Search the workspace.",
        "parameters": {
            "type": "object",
            "properties": {
                "patterns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "options": {
                    "type": "object",
                    "properties": {"depth": {"type": "integer"}},
                    "additionalProperties": False,
                },
                "max-results": {"type": ["integer", "null"]},
            },
            "required": ["patterns"],
        },
    },
    {"name": "echo", "description": "Returns its arguments."},
    {"name": "call", "description": "A function whose name is taken by host.call."},
]


def host_kernel(functions=FUNCTIONS, **kwargs):
    return Kernel(env={"PYRUN_HOST_FUNCTIONS": json.dumps(functions)}, **kwargs)


class HostFrames:
    """Answers `call` frames of a kernel as a host would."""

    def __init__(self, kernel):
        self.k = kernel

    def next_call(self, timeout=20):
        return self.k.wait_for(lambda f: f["type"] == "call", timeout)[-1]

    def reply(self, call, value=None, error=None):
        reply = {"type": "call_reply", "callId": call["callId"]}
        if error is not None:
            reply["error"] = error
        else:
            reply["value"] = value
        self.k.send(reply)

    def serve(self, ident, value=None, error=None):
        """Answer every call of execution `ident` with value(call) (or the
        error) until its done; returns the execution's frames."""
        frames = []
        while True:
            f = self.k.next_frame()
            frames.append(f)
            if f["type"] == "call":
                self.reply(f, value=value(f) if value else None, error=error)
            if f["type"] == "done" and f["id"] == ident:
                return frames


class CallAndReplyTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kernel = host_kernel()
        cls.host = HostFrames(cls.kernel)

    @classmethod
    def tearDownClass(cls):
        cls.kernel.close()

    def test_value_comes_back_as_python_objects_after_earlier_output(self):
        k = self.kernel
        ident = k.submit("print('before')\nr = host.read('a.py', limit=3)\nprint(type(r).__name__, r)")
        frames = self.host.serve(ident, lambda call: {"text": "x = 1", "lines": [1, 2.5, None, True]})
        kinds = [f["type"] for f in frames]
        self.assertLess(kinds.index("stdout"), kinds.index("call"), "output before the call comes first")
        call = Kernel.of_type(frames, "call")[0]
        self.assertEqual(call["id"], ident)
        self.assertEqual(call["name"], "read")
        self.assertEqual(call["args"], {"path": "a.py", "limit": 3}, "None/omitted optional arguments are not sent")
        self.assertIsInstance(call["callId"], str)
        self.assertEqual(Kernel.text(frames), "before\ndict {'text': 'x = 1', 'lines': [1, 2.5, None, True]}\n")
        self.assertEqual(frames[-1]["status"], "ok")

    def test_keyword_call_by_name_and_a_name_taken_by_call(self):
        k = self.kernel
        ident = k.submit("a = host.call('read', path='b.py')\nb = host.call('call', x=1)\nprint(a, b)")
        frames = self.host.serve(ident, lambda call: [call["name"], call["args"]])
        self.assertEqual(Kernel.text(frames), "['read', {'path': 'b.py'}] ['call', {'x': 1}]\n")

    def test_error_reply_raises_host_call_error_with_type_and_message(self):
        k = self.kernel
        code = (
            "try:\n    host.read('missing.py')\nexcept HostCallError as e:\n"
            "    print(e.type, '|', e.message, '|', e.function, '|', e)\n"
            "host.read('missing.py')"
        )
        ident = k.submit(code)
        frames = self.host.serve(ident, error={"type": "FileNotFound", "message": "no such file: missing.py"})
        self.assertEqual(Kernel.text(frames),
                         "FileNotFound | no such file: missing.py | read | host.read: FileNotFound: no such file: missing.py\n")
        error = Kernel.of_type(frames, "error")[0]
        self.assertEqual(error["ename"], "HostCallError")
        self.assertEqual(error["evalue"], "host.read: FileNotFound: no such file: missing.py")
        self.assertEqual(error["traceback"][-1], "HostCallError: host.read: FileNotFound: no such file: missing.py")
        self.assertFalse(any("runner" in line for line in error["traceback"]), error["traceback"])

    def test_tuples_become_lists_and_non_identifier_names_go_by_keyword(self):
        k = self.kernel
        ident = k.submit("host.search(('a', 'b'), options={'depth': 2}, **{'max-results': None})")
        frames = self.host.serve(ident, lambda call: call["args"])
        self.assertEqual(Kernel.of_type(frames, "call")[0]["args"],
                         {"patterns": ["a", "b"], "options": {"depth": 2}})

    def test_integers_up_to_two_to_the_53_either_side_are_sent(self):
        ident = self.kernel.submit("host.echo(n=2**53, m=-2**53)")
        frames = self.host.serve(ident, lambda call: call["args"])
        self.assertEqual(Kernel.of_type(frames, "call")[0]["args"], {"n": 2 ** 53, "m": -2 ** 53})

    def test_eight_threads_call_at_once_and_each_gets_its_own_answer(self):
        k = self.kernel
        code = (
            "import threading\nresults = {}\n"
            "def work(i):\n    results[i] = host.echo(n=i)\n"
            "threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]\n"
            "for t in threads: t.start()\n"
            "for t in threads: t.join()\n"
            "print(sorted((i, r['n']) for i, r in results.items()))"
        )
        ident = k.submit(code)
        calls = []
        while len(calls) < 8:  # every thread waits at once: none is answered yet
            calls.append(self.host.next_call())
        self.assertEqual(len({c["callId"] for c in calls}), 8)
        for call in reversed(calls):  # answers in another order than asked
            self.host.reply(call, value=call["args"])
        frames = [f for f in k.until_done(ident) if f["id"] == ident]
        self.assertEqual(Kernel.text(frames), str([(i, i) for i in range(8)]) + "\n")

    def test_a_reply_for_an_unknown_call_is_dropped_silently(self):
        k = self.kernel
        k.send({"type": "call_reply", "callId": "c999999", "value": 1})
        k.send({"type": "call_reply", "value": 1})
        frames = self.kernel.run("1 + 1")
        self.assertEqual([f["type"] for f in frames], ["started", "result", "done"])

    def test_help_and_completion_show_the_functions(self):
        k = self.kernel
        frames = k.run("help(host)")
        text = Kernel.text(frames)
        for expected in ("read(path, *, limit=None, mode=None)", "Read a file of the workspace.",
                         "path: str (required) \u2014 relative to the workspace", "echo(**kwargs)",
                         "call(name, /, *args, **kwargs)", "search(patterns, *, options=None, **kwargs)"):
            self.assertIn(expected, text)
        reply = k.request({"type": "complete", "id": "c1", "code": "host.re", "cursor": 7}, "complete_reply")
        self.assertEqual(reply["matches"], ["host.read"])
        reply = k.request({"type": "complete", "id": "c2", "code": "host.", "cursor": 5}, "complete_reply")
        self.assertEqual(reply["matches"], ["host.call", "host.echo", "host.read", "host.search"])

    def test_unknown_function_names_say_what_there_is(self):
        frames = self.kernel.run("host.raed")
        self.assertEqual(frames[-2]["evalue"], "the host has no function 'raed' (its functions: call, echo, read, search)")
        frames = self.kernel.run("host.call('raed')")
        self.assertEqual(frames[-2]["ename"], "AttributeError")


class SchemaTests(unittest.TestCase):
    """Arguments that do not fit the declared schema fail in Python, before any call."""

    @classmethod
    def setUpClass(cls):
        cls.kernel = host_kernel()

    @classmethod
    def tearDownClass(cls):
        cls.kernel.close()

    def rejected(self, call):
        frames = self.kernel.run(call)
        self.assertEqual(Kernel.of_type(frames, "call"), [], "nothing is sent")
        error = frames[-2]
        self.assertEqual(error["type"], "error")
        return error["ename"], error["evalue"]

    def test_mismatches_are_type_errors_that_say_what_is_wrong(self):
        cases = {
            "host.read(1)": "host.read(): argument 'path' must be a string, not an integer",
            "host.read('a', limit=0)": "host.read(): argument 'limit' must be at least 1, not 0",
            "host.read('a', limit=True)": "host.read(): argument 'limit' must be an integer, not a boolean",
            "host.read('a', mode='lines')": "host.read(): argument 'mode' must be one of 'text', 'bytes', not 'lines'",
            "host.read('a', bogus=1)": "host.read() got an unexpected keyword argument 'bogus'",
            "host.read()": "host.read() missing 1 required positional argument: 'path'",
            "host.search([])": "host.search(): argument 'patterns' must have at least 1 items, not 0",
            "host.search(['a', 2])": "host.search(): argument 'patterns'[1] must be a string, not an integer",
            "host.search(['a'], options={'depth': 'x'})":
                "host.search(): argument 'options'['depth'] must be an integer, not a string",
            "host.search(['a'], options={'deep': 1})":
                "host.search(): argument 'options' has the key 'deep', which is not one of depth",
            "host.search(['a'], **{'max-results': 'x'})":
                "host.search(): argument 'max-results' must be an integer or None, not a string",
            "host.search(['a'], **{'max_results': 1})":
                "host.search() got an unexpected argument 'max_results' (its arguments: patterns, options, max-results)",
            "host.echo(x={1, 2})":
                "host.echo() argument 'x' is a set; only JSON values (dict, list, tuple, str, int, float, bool, None) "
                "can be sent to the host",
            "host.echo(x=float('nan'))": "host.echo() argument 'x' is nan, which JSON cannot carry",
            "host.echo(x={1: 'a'})": "host.echo() argument 'x' has the key 1; JSON objects have string keys",
        }
        for call, message in cases.items():
            with self.subTest(call=call):
                self.assertEqual(self.rejected(call), ("TypeError", message))

    def test_an_integer_a_json_number_cannot_carry_exactly_is_refused_before_the_call(self):
        # The host reads numbers as doubles: 2**53 + 1 would arrive as 2**53.
        self.assertEqual(self.rejected("host.echo(n=[2**53 + 1])"), (
            "OverflowError",
            "host.echo() argument 'n'[0] is 9007199254740993, beyond the integers a JSON number carries "
            "exactly (up to 2**53 either side); send it as a string"))
        self.assertEqual(self.rejected("host.read('a', limit=-2**70)")[0], "OverflowError")

    def test_help_of_one_function(self):
        text = Kernel.text(self.kernel.run("help(host.search)"))
        self.assertIn("patterns: list of str (required)", text)
        self.assertIn("max-results: int or None", text)


class DefaultTests(unittest.TestCase):
    def test_a_plain_schema_default_is_shown_in_the_signature_and_sent(self):
        ask = {"name": "ask", "parameters": {
            "type": "object", "required": ["prompt"],
            "properties": {"prompt": {"type": "string"}, "max_tokens": {"type": "integer", "default": 1024},
                           "tone": {"type": "string", "default": "plain"}, "tags": {"type": "array", "default": []}}}}
        k = host_kernel([ask])
        try:
            frames = k.run("import inspect\nstr(inspect.signature(host.ask))")
            self.assertEqual(frames[-2]["bundle"]["text/plain"], "\"(prompt, *, max_tokens=1024, tone='plain', tags=None)\"")
            ident = k.submit("host.ask('hi', tone=None)")
            frames = HostFrames(k).serve(ident, lambda call: call["args"])
            self.assertEqual(Kernel.of_type(frames, "call")[0]["args"], {"prompt": "hi", "max_tokens": 1024})
        finally:
            k.close()


class WithoutReplyTests(unittest.TestCase):
    """Calls that end without the host's answer: interrupts, ends, no execution."""

    def setUp(self):
        self.kernel = host_kernel()
        self.host = HostFrames(self.kernel)

    def tearDown(self):
        self.kernel.close()

    def test_interrupt_while_waiting_raises_keyboard_interrupt_and_cancels_the_call(self):
        k = self.kernel
        ident = k.submit("host.read('slow.py')")
        call = self.host.next_call()
        k.sigint()
        frames = [f for f in k.until_done(ident) if f["id"] == ident]
        kinds = [f["type"] for f in frames]
        self.assertIn("call_cancel", kinds)
        cancel = Kernel.of_type(frames, "call_cancel")[0]
        self.assertEqual((cancel["id"], cancel["callId"]), (ident, call["callId"]))
        self.assertLess(kinds.index("call_cancel"), kinds.index("done"))
        self.assertEqual(frames[-2]["ename"], "KeyboardInterrupt")
        self.assertTrue(frames[-1]["cancelled"])
        # the late reply is dropped: the next execution is not disturbed by it
        self.host.reply(call, value="late")
        frames = k.run("print('next')")
        self.assertEqual(Kernel.text(frames), "next\n")
        self.assertEqual(frames[-1]["status"], "ok")

    def test_interrupt_ends_the_calls_waiting_on_other_threads_too(self):
        k = self.kernel
        code = (
            "import threading\noutcomes = []\n"
            "def work(i):\n"
            "    try:\n        host.echo(n=i)\n    except KeyboardInterrupt:\n        outcomes.append(i)\n"
            "threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]\n"
            "for t in threads: t.start()\n"
            "try:\n    host.echo(n='main')\n"
            "finally:\n    for t in threads: t.join()\n    print(sorted(outcomes))"
        )
        ident = k.submit(code)
        calls = [self.host.next_call() for _ in range(4)]
        k.sigint()
        frames = [f for f in k.until_done(ident) if f["id"] == ident]
        cancelled = {f["callId"] for f in Kernel.of_type(frames, "call_cancel")}
        self.assertEqual(cancelled, {c["callId"] for c in calls})
        self.assertEqual(Kernel.text(frames), "[0, 1, 2]\n")
        self.assertTrue(frames[-1]["cancelled"])

    def test_interrupt_request_of_a_remote_host_does_the_same(self):
        k = self.kernel
        ident = k.submit("host.read('slow.py')")
        self.host.next_call()
        k.send({"type": "interrupt"})
        frames = [f for f in k.until_done(ident) if f["id"] == ident]
        self.assertEqual(len(Kernel.of_type(frames, "call_cancel")), 1)
        self.assertTrue(frames[-1]["cancelled"])

    def test_a_call_left_waiting_when_the_execution_ends_is_cancelled_before_done(self):
        k = self.kernel
        code = (
            "import threading\nfailure = []\n"
            "def work():\n"
            "    try:\n        host.echo(n=1)\n    except HostCallError as e:\n        failure.append(e)\n"
            "worker = threading.Thread(target=work)\nworker.start()"
        )
        ident = k.submit(code)
        frames = k.until_done(ident)  # the code ends while its thread still waits
        call = Kernel.of_type(frames, "call")
        if not call:  # the thread was slower than the code: its call is refused instead
            frames = k.run("worker.join(); print(failure[0].type)")
            self.assertEqual(Kernel.text(frames), "NoExecution\n")
            return
        kinds = [f["type"] for f in frames]
        self.assertIn("call_cancel", kinds)
        self.assertLess(kinds.index("call_cancel"), kinds.index("done"))
        self.assertEqual(Kernel.of_type(frames, "call_cancel")[0]["callId"], call[0]["callId"])
        frames = k.run("worker.join(); print(failure[0].type, '|', failure[0].message)")
        self.assertEqual(Kernel.text(frames),
                         "ExecutionEnded | the execution that made this call ended before the host answered\n")

    def test_end_of_input_ends_a_waiting_call_and_refuses_later_ones(self):
        k = self.kernel
        code = "try:\n    host.echo(n=1)\nexcept HostCallError as e:\n    print(e.type)"
        first, second = k.submit(code), k.submit(code)
        call = self.host.next_call()
        k.proc.stdin.close()  # the host is gone: no reply can come
        frames = k.until_done(first) + k.until_done(second)
        self.assertEqual([f["callId"] for f in Kernel.of_type(frames, "call_cancel")], [call["callId"]])
        self.assertEqual(len(Kernel.of_type(frames, "call")), 0, "the second execution sent no call")
        self.assertEqual(Kernel.text(frames), "HostGone\nHostGone\n")
        self.assertEqual(k.proc.wait(timeout=20), 0)

    def test_the_prelude_and_forked_children_cannot_call(self):
        import os
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write("try:\n    host.echo()\nexcept HostCallError as e:\n    prelude_said = e.type\n")
        k = Kernel(env={"PYRUN_HOST_FUNCTIONS": json.dumps(FUNCTIONS), "PYRUN_PRELUDE": f.name})
        try:
            self.assertEqual(Kernel.text(k.run("print(prelude_said)")), "NoExecution\n")
            code = (
                "import os\npid = os.fork()\n"
                "if pid == 0:\n"
                "    try:\n        host.echo()\n    except HostCallError as e:\n        print('child:', e.type)\n"
                "    os._exit(0)\n"
                "os.waitpid(pid, 0); print('parent')"
            )
            frames = k.run(code)
            self.assertEqual(Kernel.of_type(frames, "call"), [])
            self.assertIn("child: NoChannel\n", Kernel.text(frames))
        finally:
            k.close()
            os.unlink(f.name)


class IdleCallTests(unittest.TestCase):
    def test_a_thread_that_calls_after_done_gets_an_error_at_once_and_sends_nothing(self):
        import os
        import tempfile
        folder = tempfile.mkdtemp(prefix="pyrun-idle-call-")
        go, finished = os.path.join(folder, "go"), os.path.join(folder, "finished")
        os.mkfifo(go)
        os.mkfifo(finished)
        k = host_kernel()
        try:
            code = (
                "import threading\nresult = []\n"
                "def later():\n"
                "    with open(%r) as f:\n        f.read()\n"  # blocks until the test writes
                "    try:\n        host.echo(n=1)\n    except HostCallError as e:\n        result.append(e.type)\n"
                "    with open(%r, 'w') as f:\n        f.write('x')\n"
                "worker = threading.Thread(target=later)\nworker.start()"
            ) % (go, finished)
            frames = k.run(code)
            self.assertEqual(frames[-1]["status"], "ok")
            with open(go, "w") as f:  # the kernel is idle now: the thread calls
                f.write("x")
            with open(finished) as f:  # and is answered without the host
                f.read()
            frames = k.run("worker.join(); result")
            self.assertEqual([f["type"] for f in frames], ["started", "result", "done"], "no call frame came")
            self.assertEqual(frames[1]["bundle"]["text/plain"], "['NoExecution']")
        finally:
            k.close()
            for path in (go, finished):
                os.unlink(path)
            os.rmdir(folder)


class LauncherTests(unittest.TestCase):
    def test_calls_work_through_the_bootstrap_loader_behind_a_command_prefix(self):
        """As under ssh or kubectl exec: a shell in front, the runner's source sent
        over stdin, and no signals, only the `interrupt` request."""
        import importlib.util
        from kernel import PYTHON, RUNNER
        spec = importlib.util.spec_from_file_location("pyrun_runner_for_loader", RUNNER)
        runner = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(runner)
        with open(RUNNER) as f:
            source_line = (json.dumps(f.read()) + "\n").encode()
        k = Kernel(argv=["/bin/sh", "-c", 'exec "$0" -u -c "$1"', PYTHON, runner.LOADER],
                   env={"PYRUN_HOST_FUNCTIONS": json.dumps(FUNCTIONS)}, stdin_prefix=source_line)
        host = HostFrames(k)
        try:
            code = ("from concurrent.futures import ThreadPoolExecutor\n"
                    "with ThreadPoolExecutor(2) as pool:\n"
                    "    print(sorted(pool.map(lambda p: host.read(p), ['a.py', 'b.py'])))")
            ident = k.submit(code)
            frames = host.serve(ident, value=lambda call: call["args"]["path"].upper())
            self.assertEqual(Kernel.text(frames), "['A.PY', 'B.PY']\n")
            ident = k.submit("host.read('slow.py')")
            host.next_call()
            k.send({"type": "interrupt"})
            frames = [f for f in k.until_done(ident) if f["id"] == ident]
            self.assertEqual(len(Kernel.of_type(frames, "call_cancel")), 1)
            self.assertTrue(frames[-1]["cancelled"])
        finally:
            k.close()


class DeclarationTests(unittest.TestCase):
    def test_a_bad_declaration_is_said_in_hello_and_leaves_an_empty_namespace(self):
        k = Kernel(env={"PYRUN_HOST_FUNCTIONS": "{not json"})
        try:
            self.assertIn("PYRUN_HOST_FUNCTIONS is not JSON", k.hello["hostFunctionsError"])
            frames = k.run("print(host.__all__)")
            self.assertEqual(Kernel.text(frames), "['call']\n")
        finally:
            k.close()

    def test_duplicates_and_nameless_entries_are_reported_and_the_rest_kept(self):
        k = host_kernel([{"name": "a"}, {"name": "a"}, {"description": "no name"}, {"name": "b", "parameters": 3}])
        try:
            self.assertEqual(k.hello["hostFunctionsError"],
                             "host function 'a' is declared twice; the first is kept; a host function without "
                             "a name was left out; host function 'b': parameters must be a JSON Schema object")
            self.assertEqual(Kernel.text(k.run("print(host.__all__)")), "['a', 'call']\n")
        finally:
            k.close()

    def test_no_declaration_still_gives_host_and_the_variable_is_not_inherited(self):
        k = host_kernel([{"name": "a"}])
        try:
            self.assertNotIn("hostFunctionsError", k.hello)
            frames = k.run("import os\nprint(os.environ.get('PYRUN_HOST_FUNCTIONS'), HostCallError.__name__)")
            self.assertEqual(Kernel.text(frames), "None HostCallError\n")
        finally:
            k.close()
        k = Kernel()
        try:
            self.assertEqual(Kernel.text(k.run("print(host.__all__)")), "['call']\n")
        finally:
            k.close()


if __name__ == "__main__":
    unittest.main()
