"""pyrun's in-kernel test runner: the Python half of `pyrun test`.

An orchestrator starts a fresh kernel per test file (prelude loaded, a fresh
workspace as the current directory), loads this module, and then sends one
`execute` per call below.  Each call returns a JSON-able report whose result
bundle carries it as `application/json` (`_repr_json_`):

    pyrun_testing.collect(path, keyword=None)          -> file report
    pyrun_testing.collect_doctests(module, keyword=None) -> file report
    pyrun_testing.run(test_id)                         -> test record

One test per execution lets the orchestrator interrupt a test that hangs
(`--timeout`) and go on with the next; the test's stdout and stderr are that
execution's output frames.

Tests are pytest-style without pytest: functions whose name starts with
`test` (pytest's default prefix) defined or decorated in the file (not
imported), and `test*` methods of `Test*` classes without an `__init__` (a
fresh instance each);
`async def` tests run on a new event loop; a `tmp_path` parameter gets a new
directory (a pathlib.Path, removed afterwards); any other parameter without a
default is an error.  `assert` statements in the test file are rewritten
(standard `ast`) so that a failure shows the values involved.  `skip(reason)`
(in each test module's globals and here), `unittest.SkipTest` and pytest's
skip exception skip a test.  A test module's globals start with the public
names of `__main__` (the prelude's helpers), and its directory goes first on
sys.path, as pytest does with its default import mode.

Standard library only, CPython 3.9+.
"""

import ast
import os
import sys
import time

__all__ = ["collect", "collect_doctests", "run", "skip", "Skipped", "KeywordError"]


class _Unset:
    """A sub-expression an assertion did not evaluate (short-circuited)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not evaluated>"


UNSET = _Unset()
MAX_REPR = 400  # characters of one value shown in an assertion message
MAX_DETAIL_LINES = 40
CAPTURE_DEPTH = 3  # how deep into calls/attributes an assertion shows values


class Skipped(Exception):
    """Raised by skip(): the test is reported as skipped, with the reason."""


def skip(reason: str = "") -> None:
    """Skip the running test (raises Skipped)."""
    __tracebackhide__ = True
    raise Skipped(reason)


class KeywordError(ValueError):
    """A -k expression that does not parse."""


class Report(dict):
    """A JSON-able report: the result bundle gets it as application/json."""

    def _repr_json_(self):
        return dict(self)

    def __repr__(self) -> str:
        if "outcome" in self:
            return "%s %s (%.1f ms)" % (self["outcome"], self["id"], self.get("durationMs") or 0)
        if self.get("usageError"):
            return "usage error: %s" % self["usageError"]
        if self.get("error"):
            return "collection error in %s: %s" % (self["file"], self["error"]["evalue"])
        return "%s: %d tests, %d selected" % (self["file"], len(self["tests"]), self["selected"])


# ---------------------------------------------------------------- -k expressions


def keyword_matcher(expr):
    """A predicate over a test's names for a pytest-like -k expression:
    words match as case-insensitive substrings of any name, combined with
    `and`, `or`, `not` and parentheses.  None or blank matches everything.
    Raises KeywordError for an expression that does not parse."""
    if expr is None or not expr.strip():
        return lambda names: True
    tokens = []
    word = ""
    for ch in expr + " ":
        if ch.isspace() or ch in "()":
            if word:
                tokens.append(word)
                word = ""
            if ch in "()":
                tokens.append(ch)
        else:
            word += ch
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def either():
        left = both()
        while peek() == "or":
            take()
            right = both()
            left = (lambda a, b: lambda names: a(names) or b(names))(left, right)
        return left

    def both():
        left = negation()
        while peek() == "and":
            take()
            right = negation()
            left = (lambda a, b: lambda names: a(names) and b(names))(left, right)
        return left

    def negation():
        tok = peek()
        if tok == "not":
            take()
            inner = negation()
            return lambda names: not inner(names)
        if tok == "(":
            take()
            inner = either()
            if peek() != ")":
                raise KeywordError("-k %r: expected ')'" % expr)
            take()
            return inner
        if tok is None or tok in (")", "and", "or"):
            raise KeywordError("-k %r: expected a word%s" % (expr, "" if tok is None else ", got %r" % tok))
        needle = take().lower()
        return lambda names: any(needle in n.lower() for n in names)

    matcher = either()
    if pos != len(tokens):
        raise KeywordError("-k %r: unexpected %r" % (expr, tokens[pos]))
    return matcher


# ---------------------------------------------------------------- assertion rewriting


def _literal(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except Exception:
        return False


class _AssertRewriter:
    """`assert test, msg` becomes

        @pyrunN = ... = @pyrun_testing.UNSET
        if not <test with sub-expressions captured by := into @pyrunN>:
            raise @pyrun_testing.assertion_error(<spec>, (@pyrunN, ...), msg)

    The captures keep evaluation order and short-circuiting; names starting
    with '@' cannot clash with the test's own.  <spec> is a constant tuple
    describing the expression (see _explain)."""

    def __init__(self, source: bytes) -> None:
        self.lines = source.splitlines(True)
        self.count = 0
        self.slots = []

    def source_of(self, node) -> str:
        l0, l1 = node.lineno - 1, node.end_lineno - 1
        c0, c1 = node.col_offset, node.end_col_offset
        if l0 == l1:
            raw = self.lines[l0][c0:c1]
        else:
            raw = self.lines[l0][c0:] + b"".join(self.lines[l0 + 1:l1]) + self.lines[l1][:c1]
        text = raw.decode("utf-8", "replace")
        return " ".join(text.split()) if "\n" in text else text

    def capture(self, node):
        """(node wrapped in `(@pyrunN := node)`, slot index)."""
        self.count += 1
        name = "@pyrun%d" % self.count
        self.slots.append(name)
        wrapped = ast.NamedExpr(target=ast.Name(name, ast.Store()), value=node)
        return ast.copy_location(wrapped, node), len(self.slots) - 1

    def visit_Assert(self, node):
        self.slots = []
        try:
            test, spec = self.expression(node.test, 0)
        except Exception:  # an expression this rewriter does not understand: leave it be
            return [node]
        helper = ast.Name("@pyrun_testing", ast.Load())
        init = ast.Assign(targets=[ast.Name(s, ast.Store()) for s in self.slots],
                          value=ast.Attribute(helper, "UNSET", ast.Load()))
        message = node.msg if node.msg is not None else ast.Attribute(helper, "UNSET", ast.Load())
        error = ast.Call(
            func=ast.Attribute(helper, "assertion_error", ast.Load()),
            args=[ast.Constant(spec), ast.Tuple([ast.Name(s, ast.Load()) for s in self.slots], ast.Load()), message],
            keywords=[],
        )
        check = ast.If(test=ast.UnaryOp(ast.Not(), test), body=[ast.Raise(exc=error, cause=None)], orelse=[])
        return [ast.fix_missing_locations(ast.copy_location(init, node)),
                ast.fix_missing_locations(ast.copy_location(check, node))]

    def statements(self, body: list) -> list:
        """A statement list with its asserts rewritten, at any depth (asserts
        are statements: only statement lists can hold them)."""
        out = []
        for node in body:
            if isinstance(node, ast.Assert):
                out += self.visit_Assert(node)
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(node, field, self.statements(inner))
            for part in getattr(node, "handlers", ()) or getattr(node, "cases", ()):
                part.body = self.statements(part.body)
            out.append(node)
        return out

    def expression(self, node, depth: int):
        """(rewritten node, spec) for a node whose truth matters."""
        src = self.source_of(node)
        if isinstance(node, ast.Compare):
            operands = [self.value(o, depth + 1) for o in [node.left] + node.comparators]
            pairs, pair_slots = [], []
            for i, op in enumerate(node.ops):
                left = operands[0][0] if i == 0 else ast.Name(self.slots[operands[i][1][1]], ast.Load())
                pair = ast.copy_location(ast.Compare(left=left, ops=[op], comparators=[operands[i + 1][0]]), node)
                pair, slot = self.capture(pair)
                pairs.append(pair)
                pair_slots.append(slot)
            chain = pairs[0] if len(pairs) == 1 else ast.copy_location(ast.BoolOp(ast.And(), pairs), node)
            new, slot = self.capture(chain)
            ops = tuple(_OPERATORS[type(op)] for op in node.ops)
            return new, ("compare", slot, src, ops, tuple(s for _, s in operands), tuple(pair_slots))
        if isinstance(node, ast.BoolOp):
            parts = [self.expression(v, depth + 1) for v in node.values]
            new, slot = self.capture(ast.copy_location(ast.BoolOp(node.op, [p for p, _ in parts]), node))
            kind = "and" if isinstance(node.op, ast.And) else "or"
            return new, ("bool", slot, src, kind, tuple(s for _, s in parts))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner, inner_spec = self.expression(node.operand, depth + 1)
            new, slot = self.capture(ast.copy_location(ast.UnaryOp(ast.Not(), inner), node))
            return new, ("not", slot, src, inner_spec)
        return self.value(node, depth)

    def value(self, node, depth: int):
        """(rewritten node, spec) for a value shown as `source = repr`."""
        src = self.source_of(node)
        literal = _literal(node)
        children = []
        if not literal and depth < CAPTURE_DEPTH:
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Attribute):
                    node.func.value, spec = self.value(node.func.value, depth + 1)
                    children.append(spec)
                for i, arg in enumerate(node.args):
                    if not isinstance(arg, _OPAQUE):
                        node.args[i], spec = self.value(arg, depth + 1)
                        children.append(spec)
                for kw in node.keywords:
                    if kw.arg is not None and not isinstance(kw.value, _OPAQUE):
                        kw.value, spec = self.value(kw.value, depth + 1)
                        children.append(spec)
            elif isinstance(node, (ast.Attribute, ast.Subscript)):
                node.value, spec = self.value(node.value, depth + 1)
                children.append(spec)
            elif isinstance(node, ast.BinOp):
                node.left, left = self.value(node.left, depth + 1)
                node.right, right = self.value(node.right, depth + 1)
                children += [left, right]
        new, slot = self.capture(node)
        return new, ("value", slot, src, tuple(children), literal)


_OPAQUE = (ast.Starred, ast.GeneratorExp, ast.Lambda)  # arguments whose value says nothing

_OPERATORS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}


def rewrite_asserts(tree, source: bytes):
    """Rewrite every assert in a parsed module (see _AssertRewriter)."""
    tree.body = _AssertRewriter(source).statements(tree.body)
    return tree


def _repr(value) -> str:
    try:
        text = repr(value)
    except Exception as e:
        return "<repr of %s failed: %s>" % (type(value).__name__, e)
    if len(text) > MAX_REPR:
        text = text[:MAX_REPR - 100] + " ... " + text[-90:]
    return text


def assertion_error(spec, values, message=UNSET) -> AssertionError:
    """The AssertionError a rewritten assert raises: its text says what was
    compared and the values involved; `.pyrun_assertion` has the same as data."""
    try:
        detail = _explain(spec, values)
    except Exception as e:  # explaining must never hide the failure itself
        detail = {"source": spec[2], "evaluated": None, "values": [],
                  "details": ["(pyrun could not explain this assertion: %r)" % (e,)]}
    user = None
    if message is not UNSET:
        try:
            user = str(message)
        except Exception as e:
            user = "<str() of the assertion message failed: %s>" % e
    detail["message"] = user
    lines = [] if user is None else [user]
    lines.append("assert " + detail["source"])
    if detail["evaluated"] is not None:
        lines.append("  evaluated: " + detail["evaluated"])
    lines += ["  %s = %s" % (src, shown) for src, shown in detail["values"]]
    lines += ["  " + line for line in detail["details"]]
    error = AssertionError("\n".join(lines))
    error.pyrun_assertion = detail
    return error


def _evaluated(spec, values) -> bool:
    return values[spec[1]] is not UNSET


def _render(spec, values) -> str:
    kind = spec[0]
    if kind == "value":
        return _repr(values[spec[1]])
    if kind == "compare":
        _, _, _, ops, operands, pair_slots = spec
        i = _failed_pair(spec, values)
        if i is None:
            shown = [_repr(values[operands[0][1]])]
            for op, operand in zip(ops, operands[1:]):
                shown += [op, _repr(values[operand[1]])]
            return " ".join(shown)
        return "%s %s %s" % (_repr(values[operands[i][1]]), ops[i], _repr(values[operands[i + 1][1]]))
    if kind == "not":
        return "not " + _render(spec[3], values)
    parts = [p for p in spec[4] if _evaluated(p, values)]
    if spec[3] == "and":
        falsy = [p for p in parts if not values[p[1]]]
        return _render(falsy[0], values) if falsy else " and ".join(_render(p, values) for p in parts)
    return " or ".join("(%s)" % _render(p, values) if p[0] == "bool" else _render(p, values) for p in parts)


def _failed_pair(spec, values):
    for i, slot in enumerate(spec[5]):
        if values[slot] is not UNSET and not values[slot]:
            return i
    return None


def _where(spec, values, out: list, seen: set) -> None:
    if not _evaluated(spec, values):
        return
    kind = spec[0]
    if kind == "value":
        _, slot, src, children, literal = spec
        if not literal and src not in seen:
            seen.add(src)
            shown = _repr(values[slot])
            if shown != src:
                out.append([src, shown])
        for child in children:
            _where(child, values, out, seen)
    elif kind == "compare":
        for operand in spec[4]:
            _where(operand, values, out, seen)
    elif kind == "not":
        _where(spec[3], values, out, seen)
    else:
        for part in spec[4]:
            _where(part, values, out, seen)


def _failing_compare(spec, values):
    """(left, op, right) of the comparison that made the assertion fail."""
    kind = spec[0]
    if kind == "compare":
        i = _failed_pair(spec, values)
        if i is not None:
            return values[spec[4][i][1]], spec[3][i], values[spec[4][i + 1][1]]
    elif kind == "bool" and spec[3] == "and":
        for part in spec[4]:
            if _evaluated(part, values) and not values[part[1]]:
                return _failing_compare(part, values)
    return None


def _explain(spec, values) -> dict:
    evaluated = None if spec[0] == "value" else _render(spec, values)
    where = []
    _where(spec, values, where, set())
    details = []
    failing = _failing_compare(spec, values)
    if failing is not None:
        left, op, right = failing
        if op == "==":
            details = _differences(left, right)
        elif op == "not in":
            details = _found(left, right)
    if len(details) > MAX_DETAIL_LINES:
        details = details[:MAX_DETAIL_LINES] + ["... %d more lines" % (len(details) - MAX_DETAIL_LINES)]
    return {"source": spec[2], "evaluated": evaluated, "values": where, "details": details}


def _differences(left, right) -> list:
    """Lines that say where two unequal values differ."""
    if isinstance(left, str) and isinstance(right, str):
        if "\n" in left or "\n" in right:
            import difflib

            diff = difflib.unified_diff(left.splitlines(True), right.splitlines(True), "left", "right", n=2)
            return ["text differs (- left, + right):"] + [line.rstrip("\n") for line in diff]
        i = next((k for k, (a, b) in enumerate(zip(left, right)) if a != b), min(len(left), len(right)))
        return ["strings differ at index %d: %s != %s" % (i, _repr(left[i:i + 30]), _repr(right[i:i + 30]))]
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        for i, (a, b) in enumerate(zip(left, right)):
            if a != b:
                return ["first difference at index %d: %s != %s" % (i, _repr(a), _repr(b))]
        if len(left) != len(right):
            longer, name = (left, "left") if len(left) > len(right) else (right, "right")
            extra = len(longer) - min(len(left), len(right))
            return ["%s has %d more item%s, first: %s" % (name, extra, "" if extra == 1 else "s",
                                                         _repr(longer[min(len(left), len(right))]))]
        return []
    if isinstance(left, dict) and isinstance(right, dict):
        lines = []
        only_left = [k for k in left if k not in right]
        only_right = [k for k in right if k not in left]
        if only_left:
            lines.append("keys only in left: " + ", ".join(_repr(k) for k in only_left[:10]))
        if only_right:
            lines.append("keys only in right: " + ", ".join(_repr(k) for k in only_right[:10]))
        for k in [k for k in left if k in right and left[k] != right[k]][:10]:
            lines.append("at key %s: %s != %s" % (_repr(k), _repr(left[k]), _repr(right[k])))
        return lines
    if isinstance(left, (set, frozenset)) and isinstance(right, (set, frozenset)):
        lines = []
        if left - right:
            lines.append("only in left: " + _repr(left - right))
        if right - left:
            lines.append("only in right: " + _repr(right - left))
        return lines
    return []


def _found(item, container) -> list:
    """For a failed `item not in container`: where it is."""
    if isinstance(item, str) and isinstance(container, str):
        i = container.find(item)
        return ["found at index %d: %s" % (i, _repr(container[max(0, i - 20):i + len(item) + 20]))]
    if isinstance(container, (list, tuple)):
        return ["found at index %d" % container.index(item)]
    return []


# ---------------------------------------------------------------- collection


class _Test:
    __slots__ = ("id", "file", "name", "cls", "func", "line", "kind", "names", "doctest")

    def __init__(self, ident, file, name, cls, func, line, kind, names, doctest=None) -> None:
        self.id, self.file, self.name, self.cls, self.func = ident, file, name, cls, func
        self.line, self.kind, self.names, self.doctest = line, kind, names, doctest

    def describe(self, selected: bool) -> dict:
        return {"id": self.id, "name": self.name, "class": self.cls.__name__ if self.cls else None,
                "line": self.line, "kind": self.kind, "selected": selected}


_TESTS = {}  # test id -> _Test, for run()
_COLLECTED = {}  # path -> its tests, in order


def _error_record(exc: BaseException, path: str) -> dict:
    """A collection error: where in `path` it happened, and its traceback
    from `path`'s first frame down (for a module that failed to import,
    every frame but this module's and the import machinery's)."""
    line = None
    if isinstance(exc, SyntaxError) and exc.filename == path:
        line = exc.lineno
    else:
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == path:
                line = tb.tb_lineno
            tb = tb.tb_next
    entries = _frames_from(exc, path)
    if not entries and not path.endswith(".py"):
        entries = _entries(exc)
        entries = [e for e in entries if e.tb_frame.f_globals is not globals()
                   and not e.tb_frame.f_code.co_filename.startswith("<frozen importlib")]
    return {"ename": type(exc).__name__, "evalue": _str(exc), "line": line, "traceback": _format(exc, entries)}


def _str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<unprintable %s>" % type(exc).__name__


def _seed(namespace: dict) -> None:
    """What every test module starts with: the kernel's public names (the
    prelude's helpers), skip(), and this module under a name code cannot use."""
    main = sys.modules.get("__main__")
    if main is not None:
        for name, value in vars(main).items():
            if not name.startswith("_"):
                namespace[name] = value
    namespace["skip"] = skip
    namespace["@pyrun_testing"] = sys.modules[__name__]


def collect(path: str, keyword: "str | None" = None) -> Report:
    """Load a test file (asserts rewritten) and list its tests.

    Returns {"file", "tests": [{"id", "name", "class", "line", "kind",
    "selected"}], "selected", "deselected", "error", "skipped", "usageError"}.
    A file that does not compile or raises while loading gives "error"
    ({"ename", "evalue", "line", "traceback"}) and no tests; a file that
    raises a skip while loading gives "skipped" (the reason)."""
    report = Report(file=path, tests=[], selected=0, deselected=0, error=None, skipped=None, usageError=None)
    try:
        matcher = keyword_matcher(keyword)
    except KeywordError as e:
        report["usageError"] = str(e)
        return report
    tests = _COLLECTED.get(path)
    if tests is None:
        tests = _load_tests(path, report)
        if report["error"] or report["skipped"]:
            return report
        _COLLECTED[path] = tests
    for test in tests:
        selected = bool(matcher(test.names))
        report["tests"].append(test.describe(selected))
        report["selected" if selected else "deselected"] += 1
    return report


def _load_tests(path: str, report: Report) -> list:
    abspath = os.path.abspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        with open(path, "rb") as f:
            source = f.read()
        tree = compile(source, abspath, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        code = compile(rewrite_asserts(tree, source), abspath, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OSError) as e:  # ValueError: NUL bytes in the source
        report["error"] = _error_record(e, abspath)
        return []
    module = type(sys)(name)
    module.__file__ = abspath
    _seed(module.__dict__)
    directory = os.path.dirname(abspath)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    sys.modules.setdefault(name, module)
    try:
        exec(code, module.__dict__)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        if _is_skip(e):
            report["skipped"] = _str(e)
        else:
            report["error"] = _error_record(e, abspath)
        return []
    tests = []
    base = os.path.basename(path)

    def add(test_name, cls, func):
        ident = "%s::%s%s" % (path, cls.__name__ + "::" if cls else "", test_name)
        names = [test_name, base, name] + ([cls.__name__] if cls else [])
        test = _Test(ident, path, test_name, cls, func, _unwrapped(func).__code__.co_firstlineno,
                     "method" if cls else "function", names)
        _TESTS[ident] = test
        tests.append(test)

    for attr, value in list(module.__dict__.items()):
        if isinstance(value, type):
            if attr.startswith("Test") and value.__module__ == name and "__init__" not in vars(value):
                for method_name in dir(value):  # inherited ones too; not a class with its own __init__
                    method = getattr(value, method_name, None)
                    if method_name.startswith("test") and _is_function(method):
                        add(method_name, value, method)
        elif attr.startswith("test") and _is_function(value) and getattr(value, "__module__", None) == name:
            add(attr, None, value)  # defined (or decorated) here, not imported
    tests.sort(key=lambda t: t.line)  # definition order, methods within their class
    return tests


def _unwrapped(func):
    """The function under decorators that kept `__wrapped__` (functools.wraps)."""
    for _ in range(100):
        inner = getattr(func, "__wrapped__", None)
        if inner is None:
            break
        func = inner
    return func


def _is_function(value) -> bool:
    return callable(value) and hasattr(_unwrapped(value), "__code__")


def collect_doctests(module: str, keyword: "str | None" = None) -> Report:
    """List the doctests of an importable module (e.g. the prelude's), as
    collect() does for a file; ids are `<module file>::<module.name>`."""
    import doctest

    report = Report(file=module, tests=[], selected=0, deselected=0, error=None, skipped=None, usageError=None)
    try:
        matcher = keyword_matcher(keyword)
    except KeywordError as e:
        report["usageError"] = str(e)
        return report
    try:
        if module not in sys.modules:
            __import__(module)
        mod = sys.modules[module]
        found = doctest.DocTestFinder(exclude_empty=True).find(mod, module)
    except Exception as e:
        report["error"] = _error_record(e, module)
        return report
    path = getattr(mod, "__file__", None) or module
    report["file"] = path
    base = os.path.basename(path)
    for t in sorted((t for t in found if t.examples), key=lambda t: t.lineno or 0):
        ident = "%s::%s" % (path, t.name)
        test = _Test(ident, path, t.name, None, None, (t.lineno or 0) + 1, "doctest",
                     [t.name, t.name.rpartition(".")[2], base], doctest=t)
        _TESTS[ident] = test
        selected = bool(matcher(test.names))
        report["tests"].append(test.describe(selected))
        report["selected" if selected else "deselected"] += 1
    return report


# ---------------------------------------------------------------- running


def _is_skip(exc: BaseException) -> bool:
    for cls in type(exc).__mro__:
        if cls is Skipped or (cls.__name__ == "SkipTest" and cls.__module__ == "unittest.case") or (
            cls.__name__ == "Skipped" and cls.__module__ == "_pytest.outcomes"
        ):
            return True
    return False


def run(test_id: str) -> Report:
    """Run one collected test; returns its record:
    {"id", "outcome": "passed"|"failed"|"error"|"skipped"|"interrupted",
     "durationMs", "ename", "message", "assertion", "traceback"}.

    "error" is a test that could not be run as written (an unknown
    parameter, a generator); "interrupted" is a KeyboardInterrupt during the
    test (an orchestrator's timeout, or Ctrl-C), with the traceback of where
    the test was.  A test file not collected yet in this kernel is collected
    first."""
    test = _TESTS.get(test_id)
    if test is None:
        path = test_id.partition("::")[0]
        if path.endswith(".py") and path not in _COLLECTED:
            collect(path)
            test = _TESTS.get(test_id)
    record = Report(id=test_id, outcome="error", durationMs=0.0, ename=None, message=None,
                    assertion=None, traceback=None)
    if test is None:
        record["message"] = "no such test in this kernel (collect its file first): %s" % test_id
        return record
    if test.kind == "doctest":
        return _run_doctest(test, record)
    cwd = os.getcwd()
    streams = sys.stdout, sys.stderr
    temporary = []
    try:
        call, problem = _prepare(test, temporary)
        if problem is not None:
            record["message"] = problem
            return record
        started = time.perf_counter()
        try:
            outcome = call()
            if outcome is not None and hasattr(outcome, "__await__") and hasattr(outcome, "send"):
                _run_coroutine(outcome)
        except BaseException as e:
            record["durationMs"] = round((time.perf_counter() - started) * 1000, 3)
            _describe_failure(record, e, test)
        else:
            record["durationMs"] = round((time.perf_counter() - started) * 1000, 3)
            record["outcome"] = "passed"
    finally:
        _restore(cwd, streams, temporary)
    return record


def _prepare(test: _Test, temporary: list):
    """(a no-argument callable for the test, None) or (None, why it cannot run)."""
    func = test.func
    inner = _unwrapped(func)
    code = inner.__code__
    if code.co_flags & 0x20:  # CO_GENERATOR
        return None, "%s is a generator; yield tests are not supported" % test.name
    if test.cls is not None:
        try:
            instance = test.cls()
        except Exception as e:
            return None, "%s() failed: %s: %s" % (test.cls.__name__, type(e).__name__, _str(e))
        func = getattr(instance, test.name)
    bound = 1 if hasattr(func, "__self__") and not hasattr(inner, "__self__") else 0  # self or cls
    positional = code.co_varnames[bound:code.co_argcount]
    keyword_only = code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
    defaults = len(getattr(inner, "__defaults__", None) or ())
    kwdefaults = getattr(inner, "__kwdefaults__", None) or {}
    required = list(positional[:len(positional) - defaults] if defaults else positional)
    required += [n for n in keyword_only if n not in kwdefaults]
    arguments = {}
    for name in required:
        if name != "tmp_path":
            return None, "%s needs an argument %r; pyrun test provides only tmp_path" % (test.name, name)
        import pathlib
        import tempfile

        directory = tempfile.mkdtemp(prefix="pyrun-tmp-")
        temporary.append(directory)
        arguments[name] = pathlib.Path(directory)
    return (lambda: func(**arguments)), None


def _run_coroutine(coroutine) -> None:
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coroutine)
    finally:
        loop.close()


def _restore(cwd: str, streams, temporary: list) -> None:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    sys.stdout, sys.stderr = streams
    try:
        os.chdir(cwd)
    except OSError:
        pass
    if temporary:
        import shutil

        for directory in temporary:
            shutil.rmtree(directory, ignore_errors=True)


def _describe_failure(record: Report, exc: BaseException, test: _Test) -> None:
    record["ename"] = type(exc).__name__
    evalue = _str(exc)
    if _is_skip(exc):
        record["outcome"] = "skipped"
        record["message"] = evalue
        return
    record["outcome"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    first = evalue.split("\n", 1)[0]
    record["message"] = "%s: %s" % (type(exc).__name__, first) if first else type(exc).__name__
    record["assertion"] = getattr(exc, "pyrun_assertion", None) if isinstance(exc, AssertionError) else None
    record["traceback"] = _format(exc, _frames_from(exc, os.path.abspath(test.file)))


def _run_doctest(test: _Test, record: Report) -> Report:
    import doctest

    original = test.doctest
    case = doctest.DocTest(original.examples, dict(original.globs), original.name, original.filename,
                           original.lineno, original.docstring)
    runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.ELLIPSIS)
    out = []
    cwd = os.getcwd()
    streams = sys.stdout, sys.stderr
    started = time.perf_counter()
    try:
        result = runner.run(case, out=out.append, clear_globs=True)
    except KeyboardInterrupt as e:
        record["durationMs"] = round((time.perf_counter() - started) * 1000, 3)
        _describe_failure(record, e, test)
        return record
    finally:
        _restore(cwd, streams, [])
    record["durationMs"] = round((time.perf_counter() - started) * 1000, 3)
    if result.failed:
        record["outcome"] = "failed"
        record["ename"] = "DocTestFailure"
        record["message"] = "%d of %d examples failed" % (result.failed, result.attempted)
        record["traceback"] = "".join(out).rstrip("\n").split("\n")
    else:
        record["outcome"] = "passed"
    return record


# ---------------------------------------------------------------- tracebacks


def _frames_from(exc: BaseException, path: str) -> list:
    """The traceback entries to show: from the first frame of `path` (the
    test file) down, without prelude internals and without any frame whose
    `__tracebackhide__` local is true.  A prelude frame is one whose module
    has `__pyrun_prelude__`; when the innermost one has a true
    `__tracebackhide__` local, or the exception is a KeyboardInterrupt, the
    error is not the helper's: that frame, the prelude frames above it and
    every frame below it go."""
    entries = _entries(exc)
    first = next((i for i, e in enumerate(entries) if e.tb_frame.f_code.co_filename == path), len(entries))
    entries = entries[first:]
    prelude = [i for i, e in enumerate(entries) if e.tb_frame.f_globals.get("__pyrun_prelude__")]
    if prelude and (isinstance(exc, KeyboardInterrupt) or _hides(entries[prelude[-1]].tb_frame)):
        entries = [e for e in entries[:prelude[-1]] if not e.tb_frame.f_globals.get("__pyrun_prelude__")]
    handler = getattr(_sigint_handler(), "__code__", None)  # the kernel's, raising KeyboardInterrupt
    return [e for e in entries if not _hides(e.tb_frame) and e.tb_frame.f_code is not handler]


def _sigint_handler():
    import _signal

    return _signal.getsignal(_signal.SIGINT)


def _entries(exc: BaseException) -> list:
    entries = []
    tb = exc.__traceback__
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    return entries


def _hides(frame) -> bool:
    try:
        return bool(frame.f_locals.get("__tracebackhide__"))
    except Exception:
        return False


def _format(exc: BaseException, entries: list) -> list:
    import traceback
    import types

    tb = None
    for entry in reversed(entries):
        tb = types.TracebackType(tb, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    try:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
    except Exception:
        text = "%s: %s\n" % (type(exc).__name__, _str(exc))
    return text.rstrip("\n").split("\n")
