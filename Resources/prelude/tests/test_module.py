"""The prelude as a module: what it exports, what it costs to load, and the
`__tracebackhide__` convention that lets a kernel hide a helper's frames."""

import os
import subprocess
import sys

import pyrun_prelude
from pyrun_prelude import grep, read, replace, sh, write

HELPERS = ["read", "write", "append", "replace", "diff", "ls", "tree", "find", "grep", "sh", "env"]


def raised(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except BaseException as e:
        return e
    raise AssertionError("%s did not raise" % call.__name__)


def innermost_prelude_frame(error):
    """The last traceback frame that belongs to a prelude module."""
    found = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__pyrun_prelude__"):
            found = tb.tb_frame
        tb = tb.tb_next
    return found


def hides_prelude_frames(error):
    """The rule a kernel applies: hide when the innermost prelude frame says so."""
    frame = innermost_prelude_frame(error)
    return frame is not None and bool(frame.f_locals.get("__tracebackhide__"))


def test_exports_exactly_the_helpers():
    assert pyrun_prelude.__all__ == HELPERS
    namespace = {}
    exec("from pyrun_prelude import *", namespace)
    assert sorted(name for name in namespace if name != "__builtins__") == sorted(HELPERS)


def test_every_helper_has_help_text():
    for name in HELPERS:
        doc = getattr(pyrun_prelude, name).__doc__
        assert doc and len(doc.strip()) > 60, name


def test_loading_imports_nothing_beyond_what_python_starts_with():
    probe = (
        "import sys; sys.path.insert(0, %r); before = set(sys.modules); import pyrun_prelude; "
        "print(sorted(set(sys.modules) - before))" % os.path.dirname(os.path.abspath(pyrun_prelude.__file__))
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['pyrun_prelude']"


def test_errors_raised_on_purpose_hide_the_helper_frames():
    write("hide.txt", "x x\n")
    for error in (
        raised(read, "missing.txt"),
        raised(read, "hide.txt", offset=0),
        raised(replace, "hide.txt", "x", "y"),
        raised(grep, "(unclosed"),
        raised(sh, 42),
    ):
        assert hides_prelude_frames(error), repr(error)


def test_an_error_that_is_a_bug_in_a_helper_keeps_its_frames():
    saved = pyrun_prelude.BINARY_PROBE
    pyrun_prelude.BINARY_PROBE = "not a number"  # _is_binary now fails inside the prelude
    try:
        error = raised(read, "notes.txt")
    finally:
        pyrun_prelude.BINARY_PROBE = saved
    assert isinstance(error, TypeError)
    assert innermost_prelude_frame(error).f_code.co_name == "_is_binary"
    assert not hides_prelude_frames(error)
