"""pyrun's default agent prelude: the helpers every agent kernel starts with.

Files:   read(path, offset=1, limit=None)   write(path, text)   append(path, text)
         replace(path, old, new, count=1)   diff(a, b)
Search:  ls(path=".")   tree(path=".", depth=3)   find(glob, path=".")
         grep(pattern, path=".", glob=None, context=0)
Process: sh(command, timeout=None)   env(name=None, value=None)

`help(read)` explains each one.  Values come back as data that also prints
compactly: `grep` gives a list of matches, `sh` an object with `code` and
`output`, `read` and `diff` text that displays as itself.  Each helper also
reports what it did as a status display (MIME type
application/vnd.pyrun.status+json, `{"op": "read", "path": ...}`) that a host
can render and need not show to a model; under plain python3, where there is
no `display` builtin, the helpers work the same without it.

How pyrun loads this file: as the module `pyrun_prelude`, whose `__all__` is
copied into `__main__` (like `from pyrun_prelude import *`); its private names
stay here.  Errors a helper raises on purpose (a missing file, an ambiguous
edit) are raised from a frame whose local `__tracebackhide__` is true, so a
traceback shows the caller's line and not the helper's internals; an error
anywhere else in a helper is a bug in it and keeps its frames.

Standard library only, CPython 3.9+.  Loading must stay cheap (it is paid by
every kernel start): nothing beyond os, sys and builtins is imported here;
each helper imports what it needs when called.
"""

import builtins
import os
import sys

__all__ = ["read", "write", "append", "replace", "diff", "ls", "tree", "find", "grep", "sh", "env"]
__pyrun_prelude__ = True  # frames of this module are prelude frames (see the docstring)

STATUS_MIME = "application/vnd.pyrun.status+json"
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", ".tox",
                       ".mypy_cache", ".pytest_cache"})
BINARY_PROBE = 8192  # bytes looked at for a NUL to call a file binary
GREP_MAX_FILE = 32 << 20  # bytes; larger files under a directory are skipped by grep
SHOWN = 200  # entries a list result prints before it says how many more it holds


# ---------------------------------------------------------------- values


class Text(str):
    """A str that displays as itself (numbered lines, a diff, a tree), without
    the quotes and escapes of a str's repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self[:-1] if self.endswith("\n") else self)


class Lines(list):
    """A list of strings (paths) that prints one per line."""

    def __repr__(self) -> str:
        return _shown(self, str) if self else "(none)"


class Match:
    """One grep hit: `path`, `line` (1-based), `text`, and context lines
    `before` / `after` as (line number, text) pairs."""

    __slots__ = ("path", "line", "text", "before", "after")

    def __init__(self, path: str, line: int, text: str, before=(), after=()) -> None:
        self.path, self.line, self.text = path, line, text
        self.before, self.after = list(before), list(after)

    def __eq__(self, other) -> bool:
        return isinstance(other, Match) and (self.path, self.line, self.text) == (other.path, other.line, other.text)

    __hash__ = None

    def __repr__(self) -> str:
        return "%s:%d: %s" % (self.path, self.line, _clip(self.text))


class Matches(list):
    """grep's result: a list of Match that prints like `grep -n`."""

    def __repr__(self) -> str:
        if not self:
            return "(no matches)"
        if not any(m.before or m.after for m in self):
            return _shown(self, repr)
        blocks = []  # with context: grep's format, ':' on hits, '-' on context, '--' between
        for m in self[:SHOWN]:
            rows = ["%s-%d- %s" % (m.path, n, _clip(t)) for n, t in m.before]
            rows.append(repr(m))
            rows += ["%s-%d- %s" % (m.path, n, _clip(t)) for n, t in m.after]
            blocks.append("\n".join(rows))
        text = "\n--\n".join(blocks)
        if len(self) > SHOWN:
            text += "\n... %d more matches (the list holds all %d)" % (len(self) - SHOWN, len(self))
        return text


class Environment(dict):
    """env()'s result: a dict of the environment that prints NAME=value lines."""

    def __repr__(self) -> str:
        return "\n".join("%s=%s" % kv for kv in sorted(self.items()))


class ShellResult:
    """What sh() returns: `code` (exit status, or -N when killed by signal N),
    `output` (stdout and stderr as they arrived), `stdout`, `stderr`, `ok`,
    `seconds`."""

    __slots__ = ("command", "code", "output", "stdout", "stderr", "seconds")

    def __init__(self, command, code, output, stdout, stderr, seconds) -> None:
        self.command, self.code, self.seconds = command, code, seconds
        self.output, self.stdout, self.stderr = output, stdout, stderr

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.code == 0

    def __repr__(self) -> str:
        n = self.output.count("\n") + (1 if self.output and not self.output.endswith("\n") else 0)
        return "sh: exit %s, %d line%s of output, %.2f s" % (self.code, n, "" if n == 1 else "s", self.seconds)


class _Status:
    """A status display: the JSON payload for hosts, one line for people."""

    __slots__ = ("payload", "text")

    def __init__(self, payload: dict, text: str) -> None:
        self.payload, self.text = payload, text

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {STATUS_MIME: self.payload, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


# ---------------------------------------------------------------- private helpers


def _report(text: str, op: str, **fields) -> None:
    """Send a status display through the kernel's `display` builtin, if any."""
    show = getattr(builtins, "display", None)
    if show is None:
        return
    payload = {"op": op}
    payload.update(fields)
    try:
        show(_Status(payload, text))
    except Exception:  # a status is a courtesy: the helper's work is done
        pass


def _clip(text: str, width: int = 240) -> str:
    return text if len(text) <= width else text[:width] + "... (%d chars)" % len(text)


def _shown(items, fmt) -> str:
    rows = [fmt(x) for x in items[:SHOWN]]
    if len(items) > SHOWN:
        rows.append("... %d more (the list holds all %d)" % (len(items) - SHOWN, len(items)))
    return "\n".join(rows)


def _fspath(path, op: str) -> str:
    try:
        path = os.fspath(path)
    except TypeError:
        __tracebackhide__ = True
        raise TypeError("%s: path must be a str or os.PathLike, not %s" % (op, type(path).__name__)) from None
    return os.fsdecode(path) if isinstance(path, bytes) else path


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        __tracebackhide__ = True
        raise


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:BINARY_PROBE]


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _plural(n: int, word: str, words: "str | None" = None) -> str:
    return "%d %s" % (n, word if n == 1 else words or word + "s")


def _join(base: str, rel: str) -> str:
    return rel if base in (".", "") else os.path.join(base, rel)


def _walk(root: str):
    """(relative path, is_dir) under root, depth first in name order (a
    directory, then its contents), not descending into SKIP_DIRS or into
    symlinked directories."""

    def entries(rel: str):
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as it:
                return iter(sorted(it, key=lambda e: e.name))
        except (PermissionError, FileNotFoundError, NotADirectoryError):
            return iter(())

    stack = [("", entries(""))]
    while stack:
        rel, it = stack[-1]
        e = next(it, None)
        if e is None:
            stack.pop()
            continue
        child = rel + "/" + e.name if rel else e.name
        try:
            is_dir = e.is_dir()
        except OSError:
            is_dir = False
        if is_dir and e.name in SKIP_DIRS:
            continue
        yield child, is_dir
        if is_dir and not e.is_symlink():
            stack.append((child, entries(child)))


_GLOB_CACHE = {}


def _glob_matcher(pattern: str):
    """A test for relative paths: a pattern without '/' matches the name at
    any depth; with '/', the whole relative path, where '**' spans
    directories and '*', '?', '[...]' stay within one."""
    test = _GLOB_CACHE.get(pattern)
    if test is not None:
        return test
    import re

    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":  # a set: '!' first negates, a ']' first is literal
            start = i + 1 + (pattern[i + 1:i + 2] == "!")
            j = pattern.find("]", start + (pattern[start:start + 1] == "]"))
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[start:j].replace("\\", "\\\\").replace("[", "\\[")
                if body.startswith("^"):
                    body = "\\" + body
                out.append("[" + ("^" if start > i + 1 else "") + body + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    rx = re.compile("(?s:" + "".join(out) + r")\Z")
    if "/" in pattern:
        def test(rel):
            return rx.match(rel) is not None
    else:
        def test(rel):
            return rx.match(rel.rpartition("/")[2]) is not None
    _GLOB_CACHE[pattern] = test
    return test


def _check_dir(path: str, op: str) -> None:
    if not os.path.exists(path):
        __tracebackhide__ = True
        raise FileNotFoundError("%s: no such directory: %r" % (op, path))
    if not os.path.isdir(path):
        __tracebackhide__ = True
        raise NotADirectoryError("%s: not a directory: %r" % (op, path))


# ---------------------------------------------------------------- files


def read(path, offset: int = 1, limit: "int | None" = None) -> Text:
    """Return the text of a file with line numbers, from line `offset` (1 is
    the first line), at most `limit` lines (None: to the end).

    Each line is shown as `number<TAB>text`; when lines remain past `limit`, a
    last line says how many and which offset continues.  Raises
    FileNotFoundError / IsADirectoryError for a bad path, and ValueError for a
    binary file (NUL bytes) or an offset below 1.  Bytes that are not UTF-8
    show as U+FFFD.

    >>> write("notes.txt", "one\\ntwo\\nthree\\n")
    'notes.txt'
    >>> read("notes.txt", offset=2)  # doctest: +NORMALIZE_WHITESPACE
    2   two
    3   three
    """
    path = _fspath(path, "read")
    if not isinstance(offset, int) or offset < 1:
        __tracebackhide__ = True
        raise ValueError("read: offset is a line number, 1 or more; got %r" % (offset,))
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        __tracebackhide__ = True
        raise ValueError("read: limit must be None or a count of lines, 0 or more; got %r" % (limit,))
    data = _read_bytes(path)
    if _is_binary(data):
        __tracebackhide__ = True
        raise ValueError("read: %r is a binary file (it has NUL bytes); use open(%r, 'rb')" % (path, path))
    lines = _decode(data).split("\n")
    if lines[-1] == "":
        lines.pop()  # the text after the last newline is not a line
    total = len(lines)
    end = total if limit is None else min(total, offset - 1 + limit)
    shown = lines[offset - 1:end]
    width = len(str(max(end, 1)))
    rows = ["%*d\t%s" % (width, offset + i, line[:-1] if line.endswith("\r") else line)
            for i, line in enumerate(shown)]
    if end < total:
        rows.append("[... %s: read(%r, offset=%d) continues]" % (_plural(total - end, "more line"), path, end + 1))
    elif offset > total and total:
        rows.append("[%r has %s; offset %d is past the end]" % (path, _plural(total, "line"), offset))
    if shown:
        what = "lines %d-%d of %d" % (offset, offset + len(shown) - 1, total)
    else:
        what = "no lines (%d in the file)" % total
    _report("read %s: %s" % (path, what), "read", path=path, offset=offset,
            lines=len(shown), totalLines=total)
    return Text("\n".join(rows) + ("\n" if rows else ""))


def _put(op: str, path, text, mode: str) -> str:
    path = _fspath(path, op)
    if isinstance(text, str):
        data = text.encode("utf-8", "surrogateescape")
    elif isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
    else:
        __tracebackhide__ = True
        raise TypeError("%s: text must be str or bytes, not %s" % (op, type(text).__name__))
    created = not os.path.exists(path)
    try:
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(path, mode) as f:
            f.write(data)
    except OSError:
        __tracebackhide__ = True
        raise
    _report("%s %s: %s%s" % (op, path, _plural(len(data), "byte"), " (new file)" if created else ""),
            op, path=path, bytes=len(data), created=created)
    return path


def write(path, text) -> str:
    """Write `text` (str, or bytes) to a file, replacing what was there;
    missing parent directories are created.  Returns the path.

    str is written as UTF-8 exactly as given (no newline translation).

    >>> write("out/hello.txt", "hello\\n")
    'out/hello.txt'
    """
    return _put("write", path, text, "wb")


def append(path, text) -> str:
    """Append `text` (str, or bytes) to a file, creating it and its parent
    directories if missing.  Returns the path."""
    return _put("append", path, text, "ab")


def replace(path, old: str, new: str, count: "int | None" = 1) -> Text:
    """Replace the exact text `old` with `new` in a file, and return the
    unified diff of the edit.

    Fails loudly, leaving the file untouched: ValueError when `old` does not
    occur, or occurs more often than `count` (then add surrounding lines to
    `old` to make it unique, or raise `count`).  count=None replaces every
    occurrence (at least one).  Matching is exact: whitespace, indentation and
    line ends count.

    >>> write("greet.py", "print('hello')\\n")
    'greet.py'
    >>> replace("greet.py", "hello", "hi")
    --- greet.py
    +++ greet.py
    @@ -1 +1 @@
    -print('hello')
    +print('hi')
    """
    path = _fspath(path, "replace")
    if not isinstance(old, str) or not isinstance(new, str):
        __tracebackhide__ = True
        raise TypeError("replace: old and new must be str")
    if not old:
        __tracebackhide__ = True
        raise ValueError("replace: old is empty; to write a whole file use write()")
    if count is not None and (not isinstance(count, int) or count < 1):
        __tracebackhide__ = True
        raise ValueError("replace: count must be None or 1 or more; got %r" % (count,))
    text = _read_bytes(path).decode("utf-8", "surrogateescape")  # other bytes come back unchanged
    found = text.count(old)
    if found == 0:
        __tracebackhide__ = True
        hint = ""
        stripped = "\n".join(s.strip() for s in old.split("\n"))
        if stripped.strip() and stripped in "\n".join(s.strip() for s in text.split("\n")):
            hint = " (it does occur with different indentation or trailing spaces)"
        raise ValueError("replace: %r not found in %r%s" % (_clip(old, 120), path, hint))
    if count is not None and found > count:
        __tracebackhide__ = True
        raise ValueError(
            "replace: %r occurs %d times in %r, more than count=%d; add surrounding text to make it "
            "unique, or pass count=%d" % (_clip(old, 120), found, path, count, found))
    updated = text.replace(old, new)
    try:
        with open(path, "wb") as f:
            f.write(updated.encode("utf-8", "surrogateescape"))
    except OSError:
        __tracebackhide__ = True
        raise
    _report("replace %s: %s" % (path, _plural(found, "replacement")), "replace",
            path=path, replacements=found)
    return Text(_unified(text, updated, path, path))


def _lines(text: str) -> list:
    """Lines with their '\n' (str.splitlines would also split at \f, \x1c, U+2028...)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _unified(a: str, b: str, label_a: str, label_b: str) -> str:
    import difflib

    lines = difflib.unified_diff(_lines(a), _lines(b), label_a, label_b)
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _text_or_path(x, op: str):
    """(text, path or None): a str with a newline is text, anything else a path."""
    if isinstance(x, str) and "\n" in x:
        return x, None
    path = _fspath(x, op)
    if not os.path.isfile(path):
        __tracebackhide__ = True
        raise FileNotFoundError(
            "%s: %r is not a file (text to compare must contain a newline; one line of text needs "
            "its '\\n')" % (op, path))
    data = _read_bytes(path)
    return data.decode("utf-8", "surrogateescape"), path


def diff(a, b) -> Text:
    """Return the unified diff from `a` to `b` ('' when they are equal).

    Each of `a` and `b` is a path, or text: a str that contains a newline is
    text (so one line of text needs its trailing '\\n'); anything else is a
    path, and a path that is not a file raises FileNotFoundError.

    >>> diff("a\\nb\\n", "a\\nc\\n")
    --- a
    +++ b
    @@ -1,2 +1,2 @@
     a
    -b
    +c
    """
    text_a, path_a = _text_or_path(a, "diff")
    text_b, path_b = _text_or_path(b, "diff")
    out = _unified(text_a, text_b, path_a or "a", path_b or "b")
    added = sum(1 for s in out.split("\n") if s.startswith("+") and not s.startswith("+++"))
    removed = sum(1 for s in out.split("\n") if s.startswith("-") and not s.startswith("---"))
    fields = {"a": path_a or "<text>", "b": path_b or "<text>", "added": added, "removed": removed}
    _report("diff %s %s: %s" % (fields["a"], fields["b"], "+%d -%d" % (added, removed) if out else "identical"),
            "diff", **fields)
    return Text(out)


# ---------------------------------------------------------------- search


def ls(path=".") -> Lines:
    """List a directory: names in name order, directories ending in '/'
    (hidden entries included)."""
    path = _fspath(path, "ls")
    _check_dir(path, "ls")
    try:
        with os.scandir(path) as it:
            names = sorted(e.name + "/" if e.is_dir() else e.name for e in it)
    except OSError:
        __tracebackhide__ = True
        raise
    _report("ls %s: %s" % (path, _plural(len(names), "entry", "entries")),
            "ls", path=path, entries=len(names))
    return Lines(names)


def tree(path=".", depth: int = 3) -> Text:
    """Show a directory tree, `depth` levels deep, two spaces per level,
    directories ending in '/'; a directory cut off by `depth` shows how many
    entries it holds.  Skips version-control and cache directories (.git,
    __pycache__, node_modules, .venv, ...)."""
    path = _fspath(path, "tree")
    _check_dir(path, "tree")
    if not isinstance(depth, int) or depth < 1:
        __tracebackhide__ = True
        raise ValueError("tree: depth must be 1 or more; got %r" % (depth,))
    rows = [path.rstrip("/") + "/"]
    limit = 1000
    count = 0

    def visit(directory: str, level: int) -> None:
        nonlocal count
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if is_dir and e.name in SKIP_DIRS:
                continue
            count += 1
            if len(rows) > limit:
                continue
            indent = "  " * (level + 1)
            if not is_dir:
                rows.append(indent + e.name)
            elif level + 1 >= depth or e.is_symlink():
                try:
                    n = len(os.listdir(e.path))
                except OSError:
                    n = 0
                rows.append("%s%s/%s" % (indent, e.name, "  (%s)" % _plural(n, "entry", "entries") if n else ""))
            else:
                rows.append(indent + e.name + "/")
                visit(e.path, level + 1)

    visit(path, 0)
    if len(rows) > limit:
        del rows[limit + 1:]
        rows.append("... %d more entries" % (count - limit))
    _report("tree %s: %s" % (path, _plural(count, "entry", "entries")), "tree",
            path=path, depth=depth, entries=count)
    return Text("\n".join(rows) + "\n")


def find(glob: str, path=".") -> Lines:
    """Find files and directories under `path` whose name matches `glob`
    (`*.py`), or, when the pattern has a '/', whose path relative to `path`
    matches it (`src/**/test_*.py`; '**' spans directories).  Returns paths
    usable as given (joined to `path`), directories ending in '/'.  Skips
    version-control and cache directories, as tree() does."""
    path = _fspath(path, "find")
    _check_dir(path, "find")
    if not isinstance(glob, str) or not glob:
        __tracebackhide__ = True
        raise TypeError("find: glob must be a non-empty str such as '*.py'; got %r" % (glob,))
    test = _glob_matcher(glob)
    found = Lines(_join(path, rel) + ("/" if is_dir else "") for rel, is_dir in _walk(path) if test(rel))
    _report("find %s in %s: %s" % (glob, path, _plural(len(found), "match", "matches")),
            "find", path=path, glob=glob, matches=len(found))
    return found


def grep(pattern: str, path=".", glob: "str | None" = None, context: int = 0) -> Matches:
    """Search files for a regular expression (Python `re` syntax; `(?i)` for
    case-insensitive), line by line.

    `path` is a file or a directory (searched recursively, skipping binary
    files, files over 32 MiB, and version-control and cache directories);
    `glob` keeps only files matching it, as in find().  Returns a list of
    Match (`.path`, `.line`, `.text`, and `context` lines around each hit in
    `.before` / `.after`) that prints like `grep -n`.  Raises ValueError for
    a bad pattern.
    """
    import re

    path = _fspath(path, "grep")
    try:
        rx = re.compile(pattern)
        # a whole-file search first skips most files at once; \A, \Z and
        # lookbehind mean something else on a whole file, so they go line by line
        whole = None if any(s in pattern for s in ("\\A", "\\Z", "(?<")) else re.compile(pattern, re.M)
    except (re.error, TypeError) as e:
        __tracebackhide__ = True
        raise ValueError("grep: bad pattern %r: %s" % (pattern, e)) from None
    if not isinstance(context, int) or context < 0:
        __tracebackhide__ = True
        raise ValueError("grep: context must be 0 or more; got %r" % (context,))
    if glob is not None and (not isinstance(glob, str) or not glob):
        __tracebackhide__ = True
        raise TypeError("grep: glob must be None or a non-empty str such as '*.py'; got %r" % (glob,))
    if os.path.isfile(path):
        files = [path]
    else:
        _check_dir(path, "grep")
        test = _glob_matcher(glob) if glob else None
        files = [_join(path, rel) for rel, is_dir in _walk(path) if not is_dir and (test is None or test(rel))]
    matches = Matches()
    searched = skipped = hit_files = 0
    for name in files:
        try:
            if len(files) > 1 and os.path.getsize(name) > GREP_MAX_FILE:
                skipped += 1
                continue
            with open(name, "rb") as f:
                data = f.read()
        except OSError:
            skipped += 1
            continue
        if _is_binary(data):
            skipped += 1
            continue
        searched += 1
        text = _decode(data)
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        if whole is not None and whole.search(text) is None:
            continue
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        before_hits = len(matches)
        for i, line in enumerate(lines):
            if rx.search(line) is None:
                continue
            lo, hi = max(0, i - context), min(len(lines), i + 1 + context)
            matches.append(Match(name, i + 1, line, [(j + 1, lines[j]) for j in range(lo, i)],
                                 [(j + 1, lines[j]) for j in range(i + 1, hi)]))
        if len(matches) > before_hits:
            hit_files += 1
    _report("grep %s in %s: %s in %s" % (pattern, path, _plural(len(matches), "match", "matches"),
                                         _plural(hit_files, "file")),
            "grep", path=path, pattern=pattern, glob=glob, matches=len(matches), files=hit_files,
            searched=searched, skipped=skipped)
    return matches


# ---------------------------------------------------------------- processes


def sh(command, timeout: "float | None" = None) -> ShellResult:
    """Run a shell command (a str, through /bin/sh; or an argv list, without a
    shell) in the current directory, streaming its output live as it comes,
    and return a ShellResult (`.code`, `.output`, `.stdout`, `.stderr`, `.ok`).

    A non-zero exit is not an exception: check `.code` or `.ok`.  The command
    runs in its own process group with stdin from /dev/null.  An interrupt
    (the execution is cancelled, or Ctrl-C) stops the whole group (SIGINT,
    then SIGKILL after 0.2 s) and re-raises KeyboardInterrupt.  Past
    `timeout` seconds the group is stopped the same way (SIGTERM first) and
    subprocess.TimeoutExpired is raised, carrying the output so far.  A
    command that leaves a process running in the background should redirect
    that process's output (`server > log 2>&1 &`), or sh() returns 0.5 s
    after the command itself ends.
    """
    import codecs
    import select
    import subprocess
    import time

    if isinstance(command, (list, tuple)):
        argv, shell, shown = [os.fspath(a) for a in command], False, " ".join(map(str, command))
    elif isinstance(command, str):
        argv, shell, shown = command, True, command
    else:
        __tracebackhide__ = True
        raise TypeError("sh: command must be a str (shell) or a list of arguments, not %s" % type(command).__name__)
    if timeout is not None and not timeout > 0:
        __tracebackhide__ = True
        raise ValueError("sh: timeout must be None or positive seconds; got %r" % (timeout,))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()  # what the cell printed before comes first
        except Exception:
            pass
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, shell=shell, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError:
        __tracebackhide__ = True
        raise
    out_chunks, err_chunks, combined = [], [], []
    sinks = {proc.stdout.fileno(): (out_chunks, sys.stdout), proc.stderr.fileno(): (err_chunks, sys.stderr)}
    decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in sinks}
    poller = select.poll()
    for fd in sinks:
        poller.register(fd, select.POLLIN)
    open_fds = set(sinks)

    def pump(wait_ms: int) -> None:
        """Copy what the command wrote (waiting up to wait_ms) to our streams."""
        for fd, _ in poller.poll(wait_ms):
            data = os.read(fd, 65536)
            text = decoders[fd].decode(data, not data)
            if not data:
                poller.unregister(fd)
                open_fds.discard(fd)
            if text:
                chunks, stream = sinks[fd]
                chunks.append(text)
                combined.append(text)
                stream.write(text)
                stream.flush()

    def drain(seconds: float) -> None:
        """The output still in the pipes, unless a background child holds them open."""
        end = time.monotonic() + seconds
        while open_fds and time.monotonic() < end:
            pump(50)

    try:
        deadline = None if timeout is None else start + timeout
        while not _exited(proc):
            if open_fds:
                pump(100)
            else:  # the command closed its output but runs on
                time.sleep(0.02)
            if deadline is not None and time.monotonic() >= deadline and not _exited(proc):
                raise subprocess.TimeoutExpired(shown, timeout)
        drain(0.5)
        code = proc.wait()
    except BaseException as e:
        timed_out = isinstance(e, subprocess.TimeoutExpired)
        _stop_group(proc, 15 if timed_out else 2)
        try:
            drain(0.5)
        except BaseException:  # a second interrupt: the first one is re-raised below
            pass
        _report("sh %s: %s" % (_clip(shown, 80), "timed out" if timed_out else "interrupted"), "sh",
                command=shown, code=None, interrupted=not timed_out, timedOut=timed_out,
                seconds=round(time.monotonic() - start, 3))
        if timed_out:
            __tracebackhide__ = True
            raise subprocess.TimeoutExpired(shown, timeout, output="".join(out_chunks),
                                            stderr="".join(err_chunks)) from None
        raise
    finally:
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
    seconds = time.monotonic() - start
    _report("sh %s: exit %s" % (_clip(shown, 80), code), "sh", command=shown, code=code,
            seconds=round(seconds, 3))
    return ShellResult(shown, code, "".join(combined), "".join(out_chunks), "".join(err_chunks), seconds)


def _exited(proc) -> bool:
    """Whether the command's process has ended, without reaping it: while it
    is unreaped its process group id cannot be reused, so _stop_group is safe."""
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # macOS before Python 3.13
        return proc.poll() is not None
    try:
        return waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # already reaped
        return True


def _stop_group(proc, first_signal: int) -> None:
    """Stop a command's process group: `first_signal`, up to 0.2 s for its
    leader to exit, then SIGKILL to the whole group (children it left
    behind), then reap the leader."""
    import time

    try:
        try:
            os.killpg(proc.pid, first_signal)
        except OSError:
            pass
        end = time.monotonic() + 0.2
        while not _exited(proc) and time.monotonic() < end:
            time.sleep(0.01)
    except KeyboardInterrupt:  # a second interrupt: stop at once
        pass
    finally:
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            pass
        proc.wait()


def env(name: "str | None" = None, value: "str | None" = None):
    """The environment: env() returns all of it (a dict that prints
    NAME=value lines), env(name) the value or None, env(name, value) sets it
    for this kernel and the commands it starts, and returns value.  (To
    remove a variable: os.environ.pop(name, None).)"""
    if name is None:
        result = Environment(os.environ)
        _report("env: %s" % _plural(len(result), "variable"), "env", count=len(result))
        return result
    if not isinstance(name, str) or not name or "=" in name:
        __tracebackhide__ = True
        raise ValueError("env: name must be a non-empty str without '='; got %r" % (name,))
    if value is None:
        got = os.environ.get(name)
        _report("env %s: %s" % (name, "set" if got is not None else "not set"), "env", name=name,
                found=got is not None, set=False)
        return got
    value = str(value)
    os.environ[name] = value
    _report("env %s: set" % name, "env", name=name, found=True, set=True)
    return value
