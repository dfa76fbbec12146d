"""pyrun runner: runs Python code for a host over pyrun protocol v1.

The wire contract is docs/protocol.md (requests on stdin, frames on stdout,
one JSON object per line).  This module is the whole runner, in one file
because pyrun embeds it and may send it over the pipe: standard library only,
CPython 3.9+.  Its sections, top to bottom:

  the runner's own imports   served from the standard library only, whatever
                             the working directory holds
  constants, state           tunables and exit statuses; the state classes,
                             then every module-level variable
  channels                   the private fds to the host: high, and checked
  frame writer               strict JSON lines; writes that KeyboardInterrupt
                             cannot cut in half
  output capture             sys.stdout/sys.stderr, the pipes behind fd 1/2,
                             the output cap
  the io thread              drains fd 1/2, flushes, re-delivers a missed
                             SIGINT, watches the host
  signals                    SIGINT, SIGTERM, and the ones code sends itself
  the kernel's processes     parent-death signal, subreaper, descendants
  display, stdin, host calls,
  magics                     what user code calls
  execution                  one execution, `started` to `done`
  errors and tracebacks      user frames only; very deep ones cut
  completion                 `complete` and `is_complete`
  requests                   the reader thread and its dispatch table
  forked children            a fork of the kernel is not the kernel
  start and exit             options, limits, prelude, main()

Ways to start it (all end up in ``main()``)::

    python3 -u /path/runner.py
    python3 -u -c "__import__('sys').path.insert(0,'/dir');__import__('runner').main()"
    python3 -u -c "$LOADER"      # then send json.dumps(source) + "\\n" as the first stdin line

``LOADER`` below is the bootstrap loader, one line (tested in
tests/test_start.py).  It drops the working directory from sys.path before
it imports json (the runner puts it back), reads the first stdin line with
os.read (never through a buffered sys.stdin, so no request is swallowed) and
hands the bytes it read past that line to the runner as ``__pyrun_stdin__``.
A host should start the runner with SIGINT ignored where it can: Python keeps
an inherited SIG_IGN, so a Ctrl-C during interpreter start-up (before
``main()`` installs the runner's handler) cannot kill it.  Since 3.13,
``python -c`` imports linecache from the working directory before any runner
code runs: a host starts the interpreter in a directory of its own and names
the user's in PYRUN_CWD.

Exit statuses of the runner's own: 0 after ``exit``, end of input or the
host's death; 2 a bad start option (PYRUN_CWD); 3 a Python older than 3.9, or
the loader got no source; 76 (EXIT_CHANNEL_LOST) user code closed or
replaced the frame or request channel; 77 (EXIT_TOO_LITTLE_MEMORY)
PYRUN_LIMITS leaves too little memory for the runner itself.  SIGTERM ends
it by SIGTERM, after it has killed every descendant.

Choices where docs/protocol.md leaves room:

* ``hello`` is preceded by an empty line, which ends any partial line the
  interpreter's start wrote to fd 1.
* ``started`` is queued, not written at once: it leaves with the execution's
  first output, after FLUSH_DELAY (a few ms), or together with ``done``.
  The SIGINT handler is armed before it is queued.
* Output written after an execution's ``done`` (a thread, a background child)
  carries the id of the most recent execution; before the first execution
  (prelude, its threads) it goes to the process's real stderr, so that
  ``hello`` is always the first frame.
* ``error.traceback`` is a list of lines without line ends; runner frames are
  removed wherever they occur; past TRACEBACK_HEAD + TRACEBACK_TAIL frames
  only the first and the last are kept, with a line saying how many are not.
  A KeyboardInterrupt from an interrupt gives an ``error`` frame (ename
  KeyboardInterrupt) and ``done`` with status "error" and ``cancelled`` true.
* ``maxOutputBytes`` counts the UTF-8 bytes of output, of each display's and
  the result's bundle as JSON, of the error's evalue and traceback lines and
  of input prompts.  A display or result that does not fit is dropped whole;
  the error and a prompt are cut.
* ``self_signal`` is sent only for a signal that may end the process (its
  disposition is the default, a handler outside Python, or the runner's
  SIGTERM handler).
* ``durationMs`` and ``cpuMs`` are numbers with microsecond precision (JSON
  floats); ``peakRssBytes`` is an integer.
* Raw writes to fd 1/2 (children, C code, ``os.write``) are ordered against
  ``print`` when they are at least FD_SYNC_INTERVAL apart, or when
  ``sys.stdout.flush()`` comes between them.
* Lone surrogates in output appear as the visible text ``\\udXXX``; an
  execution whose id has one is refused (its frames could not carry it).

Start-up cost matters (a kernel is started per agent), so only what start needs
is imported here; asyncio, ast, traceback, subprocess, rlcompleter, codeop,
ctypes and friends are imported on first use (ctypes right after ``hello``).
"""

__all__ = ["LOADER", "PROTOCOL", "HostCallError", "UsageError", "display", "main", "serve_template",
           "transform_magics"]


# ---------------------------------------------------------------- the runner's own imports: from the standard library only


import _thread
import os
import sys


def _stdlib_paths() -> list:
    """The standard library's directories: sys.path entries under the base
    prefixes that are not site-packages (never the working directory)."""
    prefixes = tuple({os.path.join(p, "") for p in (sys.base_prefix, sys.base_exec_prefix)})
    found = [p for p in sys.path
             if p and os.path.isabs(p) and p.startswith(prefixes)
             and "site-packages" not in p and "dist-packages" not in p]
    home = os.path.dirname(os.__file__)
    for p in (home, os.path.join(home, "lib-dynload")):
        if p not in found:
            found.append(p)
    return found


class _StdlibOnly:
    """sys.meta_path entry: imports the runner makes for itself look in the
    standard library only.

    A user's working directory is on sys.path (PYRUN_CWD, and '' under
    `python -c`), and ordinary names there (ast.py, re.py, traceback.py,
    threading.py) would otherwise replace what the runner needs.  The
    threads in `importing` are inside a runner import (see _std); every other
    import, the user's, goes through this finder untouched.
    """

    importing = set()
    paths = _stdlib_paths()
    path_finder = next(f for f in sys.meta_path if getattr(f, "__name__", "") == "PathFinder")

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if path is not None or _thread.get_ident() not in cls.importing:
            return None  # a user import, or a submodule (its package is stdlib)
        if name in sys.builtin_module_names:
            return None
        spec = cls.path_finder.find_spec(name, cls.paths, target)
        if spec is None:
            frozen = getattr(sys.modules.get("_imp"), "is_frozen", None)
            if frozen is not None and frozen(name):
                return None
            raise ModuleNotFoundError("not in the standard library: %s" % name, name=name)
        return spec


sys.meta_path.insert(0, _StdlibOnly)
_STD = {}  # name -> the standard-library module the runner uses


def _from_stdlib(mod) -> bool:
    path = getattr(mod, "__file__", None)
    return path is None or any(path.startswith(os.path.join(p, "")) for p in _StdlibOnly.paths)


class _runner_imports:
    """`with _runner_imports():` imports the calling thread makes inside come
    from the standard library only (see _StdlibOnly).  Around the runner's
    calls into the standard library too, since some modules import lazily
    (traceback imports ast to place its carets)."""

    __slots__ = ("outer",)

    def __enter__(self) -> None:
        me = _thread.get_ident()
        self.outer = me not in _StdlibOnly.importing
        _StdlibOnly.importing.add(me)

    def __exit__(self, *exc_info) -> None:
        if self.outer:
            _StdlibOnly.importing.discard(_thread.get_ident())


def _std(name: str):
    """The standard-library module `name`, for the runner's own use.

    Imported on first use (start-up cost matters), from the standard library
    only.  If user code already imported a module of its own under that name,
    the runner loads a private copy of the real one and leaves the user's.
    """
    mod = _STD.get(name)
    if mod is not None:
        return mod
    with _runner_imports():
        mod = sys.modules.get(name)
        if mod is None:
            __import__(name)
            mod = sys.modules[name]
        elif not _from_stdlib(mod) and "." not in name:
            spec = _StdlibOnly.path_finder.find_spec(name, _StdlibOnly.paths)
            if spec is not None:
                mod = _std("importlib.util").module_from_spec(spec)
                spec.loader.exec_module(mod)
    _STD[name] = mod
    return mod


_StdlibOnly.importing.add(_thread.get_ident())  # the imports below are the runner's
import builtins
import codecs
import select
import threading
import time

try:  # the `signal` wrapper imports enum (~3 ms); the C module is enough
    import _signal as signal
except ImportError:  # pragma: no cover
    import signal

_StdlibOnly.importing.discard(_thread.get_ident())  # from here on, through _std()


# ---------------------------------------------------------------- constants


# The loader's last step: the runner's code, compiled from the start line's source or, when the
# start line names a `codeCache` directory on the far side, loaded from the bytecode an earlier
# start left there (compiling the runner costs ~35 ms, loading it under 1 ms).  The file is named
# by two checksums and the length of the interpreter's version and the source (zlib's: hashlib
# would cost 3 ms to import), and written whole or not at all; any failure of the cache only
# costs a compile.
_LOADER_CODE = (
    "t=s.pop('source');k=s.pop('codeCache',None);c=b=None\n"
    "if k:\n"
    " try:\n"
    "  import marshal,zlib;b=(sys.version+t).encode()\n"
    "  p=os.path.join(os.path.expanduser(k),'runner-%08x%08x%x.bin'%(zlib.crc32(b),zlib.adler32(b),len(b)))\n"
    "  with open(p,'rb') as f:c=marshal.load(f)\n"
    "  c.co_code\n"
    " except Exception:c=None\n"
    "if c is None:\n"
    " c=compile(t,'<pyrun-runner>','exec')\n"
    " if k:\n"
    "  try:\n"
    "   os.makedirs(os.path.dirname(p),0o700,exist_ok=True);n='%s.%d'%(p,os.getpid())\n"
    "   with open(n,'wb') as f:marshal.dump(c,f)\n"
    "   os.replace(n,p)\n"
    "  except Exception:\n"
    "   try:os.unlink(n)\n"
    "   except Exception:pass\n"
    "del t,l,d,b\n"
)

LOADER = (
    "import sys;sys.version_info<(3,9)and(sys.stderr.write('pyrun runner needs Python 3.9 or newer, "
    "this is %s\\n'%sys.version.split()[0]),sys.exit(3));"
    "sys.path[:]=[p for p in sys.path if p];import os,json;d=b'';"
    "exec(\"while b'\\\\n' not in d:d+=os.read(0,1<<16) or os._exit(3)\");"
    "l,_,r=d.partition(b'\\n');s=json.loads(l);s=s if type(s) is dict else{'source':s};"
    "exec(" + repr(_LOADER_CODE) + ");"
    "exec(c,{'__name__':'__main__','__pyrun_stdin__':r,'__pyrun_start__':s})"
)

PROTOCOL = 1

EXIT_CHANNEL_LOST = 76  # the frame (or request) channel was closed or replaced

EXIT_TOO_LITTLE_MEMORY = 77  # PYRUN_LIMITS leaves too little memory for the runner

MAX_FRAME_DATA = 1 << 20  # bytes of `data` per stdout/stderr frame
FLUSH_BYTES = 64 * 1024  # pending output (chars) that forces a flush
FLUSH_DELAY = 0.003  # seconds from first pending write to background flush
FD_SYNC_INTERVAL = 0.0005  # Python writes re-check fd pipes at most this often

FAST_WINDOW = 1.0  # seconds the io thread keeps ticking after activity

IO_THREAD_STACK = 512 * 1024  # the io thread only moves bytes
READER_THREAD_STACK = 8 << 20  # the reader decodes requests (nested JSON),
# compiles code (is_complete) and looks up attributes (complete): the C
# recursion limits of 3.12+ assume a main thread's 8 MiB

RUNNER_HEADROOM = 16 << 20  # address space the runner wants free after start
_MIB = 1 << 20

TRACEBACK_HEAD = 30  # frames kept from the start of a very deep traceback
TRACEBACK_TAIL = 30  # and from its end

_EBADF = 9  # the same number on Linux and macOS
_PRIVATE_FDS = 32  # room kept below the fd limit for the runner's fds

_CO_COROUTINE = 0x80
_TOP_LEVEL_AWAIT = 0x2000  # ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


# ---------------------------------------------------------------- state


IDLE, STARTING, PROLOGUE, USER, EPILOGUE = 0, 1, 2, 3, 4


class _State:
    """Mutable runner state shared by the main, reader and io threads.

    `phase` is what the main thread is doing, and so what a SIGINT means:
    STARTING (start-up, prelude: ignored), IDLE (between executions:
    ignored), PROLOGUE (an execution being set up: remembered, raised as
    KeyboardInterrupt when user code starts), USER (user code:
    KeyboardInterrupt now, or at the end of a critical section), EPILOGUE
    (after user code: a traceback being formatted is cut short).
    """

    def __init__(self) -> None:
        self.phase = STARTING
        self.count = 0  # executionCount
        self.serial = 0  # every execution, silent or not
        self.exec_id = None
        self.allow_stdin = False
        self.pending_interrupt = False  # SIGINT seen during PROLOGUE
        self.acked_serial = -1  # serial whose interrupt the handler saw
        self.critical = 0  # main thread writing frames: defer KeyboardInterrupt
        self.deferred = False
        self.main_ident = threading.get_ident()
        self.ns = None  # the user's __main__ dict
        self.loop = None  # asyncio loop, created on first top-level await
        self.input_cond = threading.Condition()
        self.input_wait_id = None
        self.input_value = None
        self.ppid = os.getppid()
        self.host_pid = self.ppid  # PYRUN_HOST_PID when the host sets it (see main)
        self.host_pid_given = False
        self.is_leader = False
        self.prev_dir = None
        self.host_eof = False
        self.pid = os.getpid()  # the kernel process (a forked child has another)
        self.in_child = False  # set in a process forked from the kernel
        self.has_watchdog = False  # _start_watchdog forked one
        self.format_interrupted = False  # SIGINT while the epilogue formats an error
        self.protected = {}  # names __main__ keeps through wipes (the prelude's) -> values
        self.host_problem = None  # why PYRUN_HOST_FUNCTIONS could not be taken, if it could not
        self.template_prelude_errors = []  # a template's preludeErrors, for each kernel it forks


class _Channels:
    """The runner's private fds, all non-inheritable and kept at high numbers
    (see _high_fd) so that user code that closes or reuses low fds
    (`os.closerange(3, 20)`, `os.close(4); open(...)`) does not hit them."""

    req = 0  # private dup of the original fd 0 (requests)
    frame = 1  # private dup of the original fd 1 (frames)
    diag = 2  # private dup of the original fd 2 (runner diagnostics)
    out_r = -1  # read ends of the pipes behind fd 1 / fd 2
    err_r = -1
    wake_r = -1  # writers wake the io thread to schedule a flush
    wake_w = -1
    sig_r = -1  # signal.set_wakeup_fd target
    sig_w = -1
    life_w = -1  # held until the runner dies: the watchdog sees it close
    identity = {}  # fd -> (st_dev, st_ino) when it was set up


class _Prctl:
    """Linux prctl through ctypes, loaded after hello (ctypes costs ~2 ms);
    `call` is set when the parent-death signal is in use."""

    call = None
    SET_PDEATHSIG = 1
    SET_CHILD_SUBREAPER = 36


STATE = _State()
CH = _Channels()
OUT = None  # the _Output (output capture) of this process, made by main()

_phase_lock = threading.Lock()  # phase/serial changes vs. SIGINT re-delivery
_write_lock = threading.Lock()  # one frame write at a time
_drain_lock = threading.Lock()  # one reader of the capture pipes at a time
_decoders = {}  # capture pipe fd -> incremental UTF-8 decoder
_poll_fds = None  # select.poll over the capture pipes, made by main()

_QUEUE = None  # requests for the main thread, made by main()
_HELLO_SENT = threading.Event()  # the reader answers nothing before hello
_EOF = object()  # queued when the request channel ends
_EXIT = object()  # queued for an `exit` request
_INPUT_EOF = object()  # an input_reply with "eof": true

_RUNNER_FILE = None  # this file's name in code objects: its frames are hidden
_WATCHDOG_FORKING = False  # set while _start_watchdog forks: no fork hooks then

_TOKEN_RE = None  # compiled on first use
_ASSIGN_RE = None
_DOLLAR_NAME_RE = None
_MODULE_LISTINGS = {}  # sys.path directory -> (its mtime, the module names in it)

_monotonic = time.monotonic
_builtin_print = builtins.print

# The runner's own references: user code gets wrappers (_exit_flushing, and
# the _self_signal ones that announce a signal the kernel sends itself).
_real_os_exit = os._exit
_kill = os.kill
_killpg = os.killpg
_abort = os.abort
_raise_signal = signal.raise_signal
_pthread_kill = signal.pthread_kill


# ---------------------------------------------------------------- channels


def _high_fd(fd: int) -> int:
    """A non-inheritable duplicate of fd at a high number (closing fd)."""
    try:
        limit = os.sysconf("SC_OPEN_MAX")  # the soft RLIMIT_NOFILE
    except (ValueError, OSError):
        limit = 256
    target = max(3, min(limit, 1024) - _PRIVATE_FDS)
    while target < limit:
        try:
            os.fstat(target)
        except OSError as e:
            if e.errno == _EBADF:  # free: take it
                new = os.dup2(fd, target, inheritable=False)
                if fd > 2:
                    os.close(fd)
                return new
        target += 1
    new = os.dup(fd)  # no free high fd: any will do
    if fd > 2:
        os.close(fd)
    return new


def _identity(fd: int):
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _setup_channels() -> None:
    """Move the protocol off fds 0/1 and capture fds 1/2 into pipes."""
    CH.req = _high_fd(0)
    CH.frame = _high_fd(1)
    CH.diag = _high_fd(2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for target in (1, 2):
        r, w = os.pipe()
        os.dup2(w, target)  # dup2 makes fd 1/2 inheritable: children write here
        os.close(w)
        r = _high_fd(r)
        os.set_blocking(r, False)
        if target == 1:
            CH.out_r = r
        else:
            CH.err_r = r
    r, w = os.pipe()
    CH.wake_r, CH.wake_w = _high_fd(r), _high_fd(w)
    os.set_blocking(CH.wake_w, False)
    r, w = os.pipe()
    CH.sig_r, CH.sig_w = _high_fd(r), _high_fd(w)
    os.set_blocking(CH.sig_w, False)
    os.set_blocking(CH.sig_r, False)
    CH.identity = {fd: _identity(fd) for fd in (CH.req, CH.frame, CH.diag)}


def _channel_intact(fd: int) -> bool:
    """True while fd is still the file it was at start (user code may have
    closed it, or put another file at its number)."""
    now = _identity(fd)
    return now is not None and now == CH.identity.get(fd)


def _diag(text: str) -> None:
    """Runner diagnostics go to the real stderr, which the host logs."""
    fd = CH.diag if _channel_intact(CH.diag) else 2
    try:
        os.write(fd, text.encode("utf-8", "backslashreplace"))
    except OSError:
        pass


def _channel_lost(which: str) -> None:
    """A private channel to the host is gone: the runner cannot speak or
    listen any more.  Say so on stderr and exit EXIT_CHANNEL_LOST."""
    _diag("pyrun: the %s channel was closed or replaced by user code; the kernel cannot "
          "go on (exit status %d)\n" % (which, EXIT_CHANNEL_LOST))
    _kill_descendants()
    _real_os_exit(EXIT_CHANNEL_LOST)


# ---------------------------------------------------------------- frame writer


def _json_surrogates(exc: UnicodeError):
    """Encode lone surrogates as the visible text `\\udXXX` inside JSON strings.

    json.dumps(ensure_ascii=False) leaves lone surrogates raw, UTF-8 cannot
    encode them, and the JSON escape `\\udXXX` would still be a lone surrogate
    for strict decoders; so the backslash itself is escaped.
    """
    if isinstance(exc, UnicodeEncodeError):
        bad = exc.object[exc.start : exc.end]
        return "".join("\\\\u%04x" % ord(c) for c in bad), exc.end
    raise exc


codecs.register_error("pyrun.json", _json_surrogates)


class _JSONContext:
    """What _json.make_scanner reads: strict JSON, plain dicts, floats."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo = None


def _no_default(obj):
    raise TypeError("not JSON serializable: %s" % type(obj).__name__)


try:
    # The json package imports re (and enum): ~5 ms of start-up on a stock
    # interpreter.  Its C accelerator alone is all a runner needs.
    _json = _std("_json")

    _dump_str = _json.encode_basestring
    _c_encode = _json.make_encoder(None, _no_default, _dump_str, None, ":", ",", False, False, False)
    _c_scan = _json.make_scanner(_JSONContext())

    def _dumps(obj) -> str:
        return "".join(_c_encode(obj, 0))

    def _loads(text):
        if isinstance(text, (bytes, bytearray)):
            text = text.decode("utf-8")
        text = text.strip()
        try:
            obj, end = _c_scan(text, 0)
        except StopIteration as e:
            raise ValueError("Expecting value at char %s" % e.value) from None
        except ValueError:
            raise
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        except Exception as e:  # the scanner reports some errors oddly
            raise ValueError("invalid JSON (%s)" % type(e).__name__) from None
        if end != len(text):
            raise ValueError("Extra data at char %d" % end)
        return obj

    if _dumps({"p": [1, 2.5, None, True, "\u00e9"]}) != '{"p":[1,2.5,null,true,"\u00e9"]}' or _loads(
        b'{"p": [1, 2.5, null]}'
    ) != {"p": [1, 2.5, None]}:
        raise RuntimeError("unexpected _json behaviour")
except Exception:  # an interpreter without the accelerator: the full package
    json = _std("json")
    _encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    _dumps = _encoder.encode
    _dump_str = json.encoder.encode_basestring
    _loads = json.loads


def _jsonable(obj, depth: int = 0):
    """Make obj strict-JSON friendly: NaN/Infinity become strings, odd objects repr."""
    if depth > 100:
        return None
    if isinstance(obj, float):
        if obj != obj:
            return "NaN"
        if obj in (float("inf"), float("-inf")):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in obj]
    try:
        return repr(obj)
    except Exception:
        return "<unrepresentable>"


def _frame_line(frame: dict) -> str:
    try:
        return _dumps(frame)
    except (ValueError, TypeError, RecursionError):
        return _dumps(_jsonable(frame))


def _begin_critical() -> bool:
    """Enter a critical section; True if the caller is the main thread.

    The SIGINT handler raises KeyboardInterrupt in the main thread wherever it
    happens to be.  Inside a runner write (half a frame out, a lock held) that
    would corrupt the channel or deadlock the next write, so while
    STATE.critical is non-zero the handler only sets STATE.deferred, and
    _end_critical raises the interrupt once the section is over.  Other
    threads never get KeyboardInterrupt and need no section.
    """
    if threading.get_ident() == STATE.main_ident:
        STATE.critical += 1
        return True
    return False


def _end_critical(was_main: bool) -> None:
    """Leave a critical section (see _begin_critical); leaving the outermost
    one raises a deferred KeyboardInterrupt, if user code still runs."""
    if was_main:
        STATE.critical -= 1
        if STATE.critical == 0 and STATE.deferred:
            STATE.deferred = False
            if STATE.phase == USER:
                raise KeyboardInterrupt


def _write_bytes(data) -> None:
    """Write whole frames (bytes or a list of bytes, via writev); a
    KeyboardInterrupt never cuts a frame in half."""
    if STATE.in_child:  # a forked child has no frame channel: never write frames
        return
    bufs = [data] if isinstance(data, bytes) else data
    main = _begin_critical()
    try:
        with _write_lock:
            if not _channel_intact(CH.frame):
                _channel_lost("frame")
            while bufs:
                batch = bufs[:512]  # stay under IOV_MAX
                n = os.writev(CH.frame, batch)
                total = sum(map(len, batch))
                if n == total:
                    bufs = bufs[512:]
                    continue
                i = 0  # partial write: drop what went out, retry the rest
                while n >= len(batch[i]):
                    n -= len(batch[i])
                    i += 1
                bufs = [memoryview(batch[i])[n:]] + batch[i + 1 :] + bufs[512:]
    except OSError:
        if not _channel_intact(CH.frame):
            _channel_lost("frame")
        _host_gone()  # the host closed our stdout: it is gone
    finally:
        _end_critical(main)


def send(*frames: dict) -> None:
    """Send frames that need no ordering with captured output (replies)."""
    data = "".join([_frame_line(f) + "\n" for f in frames])
    _write_bytes(data.encode("utf-8", "pyrun.json"))


# ---------------------------------------------------------------- output capture


_JSON_SPECIAL = bytes(range(32)) + b'"\\'


def _data_frames(head: bytes, text: str, bufs: list) -> None:
    """Append output frames for text: `data` of at most MAX_FRAME_DATA bytes,
    never split inside a UTF-8 sequence.  Built as byte pieces for writev, and
    escaped with bytes.translate/replace when only newlines need escaping
    (several times faster than the json encoder on large output)."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the general path escapes them
        raw = None
    if raw is None:
        data = text.encode("utf-8", "surrogatepass")
    else:
        data = raw
    i, n = 0, len(data)
    while i < n:
        j = min(i + MAX_FRAME_DATA, n)
        while j < n and (data[j] & 0xC0) == 0x80:
            j -= 1
        piece = data[i:j] if (i or j < n) else data
        i = j
        if raw is not None:
            special = len(piece) - len(piece.translate(None, _JSON_SPECIAL))
            if special == 0:
                bufs += (head, piece, b'"}\n')
                continue
            if special == piece.count(b"\n"):
                bufs += (head, piece.replace(b"\n", b"\\n"), b'"}\n')
                continue
        body = _dump_str(piece.decode("utf-8", "surrogatepass"))
        bufs += (head, body[1:].encode("utf-8", "pyrun.json"), b"}\n")


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _utf8_head(text: str, size: int) -> str:
    """The longest head of text whose UTF-8 form has at most size bytes."""
    if text.isascii():
        return text[:size]
    return text.encode("utf-8", "surrogatepass")[:size].decode("utf-8", "ignore")


def _bundle_size(bundle: dict, metadata=None) -> int:
    """What a display or result counts against maxOutputBytes: its JSON."""
    size = len(_frame_line(bundle).encode("utf-8", "pyrun.json"))
    return size + len(_frame_line(metadata).encode("utf-8", "pyrun.json")) if metadata else size


class _Output:
    """Pending captured output: coalesces writes, keeps stdout/stderr order.

    Writers append under `lock`; `flush_lock` makes take-and-write atomic so
    frames leave in the order the text was written, whoever flushes.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.flush_lock = threading.Lock()
        self.stream = None
        self.chunks = []
        self.segments = []
        self.size = 0
        self.armed = False
        self.id = None
        self.cap = None
        self.used = 0
        self.dropped = 0
        self.noticed = False
        self.next_fd_sync = 0.0
        self.head = None  # a `started` frame not yet written (see begin)
        self.fast_until = 0.0  # the io thread ticks until then (see _io_loop)

    # called with self.lock held
    def _close_run(self) -> None:
        if self.chunks:
            self.segments.append((self.stream, "".join(self.chunks)))
            self.chunks = []

    def _append(self, stream: str, text: str) -> None:
        if self.stream is not stream:
            self._close_run()
            self.stream = stream
        self.chunks.append(text)
        self.size += len(text)

    def _append_capped(self, stream: str, text: str) -> None:
        keep = self._take_room(text)
        if keep:
            self._append(stream, keep)

    def _take_room(self, text: str) -> str:
        """The head of text that fits under the cap; counts the rest dropped."""
        size = _utf8_len(text)
        room = self.cap - self.used
        if size <= room:
            self.used += size
            return text
        keep = ""
        if room > 0:
            keep = _utf8_head(text, room)
            kept = _utf8_len(keep)
            self.used += kept
            size -= kept
        self._drop(size)
        return keep

    def _drop(self, size: int) -> None:
        self.dropped += size
        if not self.noticed:
            self.noticed = True
            self._append(
                "stderr",
                "\n[pyrun] output exceeded maxOutputBytes=%d; the rest of this "
                "execution's output is dropped\n" % self.cap,
            )

    def admit(self, size: int) -> bool:
        """Whether a display or result of `size` bytes fits under the cap
        (then it is counted); if not, it is dropped whole and counted so."""
        with self.lock:
            if self.cap is None:
                return True
            if size <= self.cap - self.used:
                self.used += size
                return True
            self._drop(size)
            return False

    def fit_text(self, text: str) -> str:
        """The head of text (an input prompt) that fits under the cap."""
        with self.lock:
            return text if self.cap is None else self._take_room(text)

    def fit_error(self, frame: dict) -> dict:
        """The error frame cut to fit under the cap: evalue, then the
        traceback's last lines (the ones that say what happened)."""
        with self.lock:
            if self.cap is None:
                return frame
            lines = frame["traceback"]
            size = _utf8_len(frame["evalue"]) + sum(_utf8_len(line) + 1 for line in lines)
            room = self.cap - self.used
            if size <= room:
                self.used += size
                return frame
            evalue = self._take_room(frame["evalue"])
            kept = []
            room = self.cap - self.used
            for line in reversed(lines):
                cost = _utf8_len(line) + 1
                if cost > room:
                    break
                kept.append(line)
                room -= cost
            kept.reverse()
            cut = len(lines) - len(kept)
            self.used = self.cap - room
            self._drop(sum(_utf8_len(line) + 1 for line in lines[:cut]))
            if cut:
                kept.insert(0, "[pyrun] %d traceback lines dropped (maxOutputBytes=%d)" % (cut, self.cap))
            return dict(frame, evalue=evalue, traceback=kept)

    def add(self, stream: str, text: str) -> bool:
        """Queue text; returns True when the caller should flush now."""
        with self.lock:
            if self.cap is None:
                self._append(stream, text)
            else:
                self._append_capped(stream, text)
            if self.size > FLUSH_BYTES:
                return True
            if self.armed:
                return False
            self.armed = True
        _wake_io()
        return False

    def _take(self):
        self._close_run()
        segs = self.segments
        self.segments = []
        self.size = 0
        self.armed = False
        return segs

    def _frames(self, segs, ident) -> list:
        bufs = []
        ident = _dumps(ident)
        for stream, text in segs:
            head = ('{"type":"%s","id":%s,"data":"' % (stream, ident)).encode("utf-8", "pyrun.json")
            _data_frames(head, text, bufs)
        return bufs

    def flush(self, extra=()) -> None:
        """Send pending output as frames, then `extra` frames, in one write."""
        main = _begin_critical()
        try:
            with self.flush_lock:
                with self.lock:
                    segs = self._take() if self.size or self.segments or self.chunks else ()
                    ident = self.id
                    head = self.head
                    self.head = None
                if ident is None:  # no execution yet (prelude): to the real stderr
                    for _, text in segs:
                        _diag(text)
                    for f in extra:  # e.g. display() in the prelude: never before hello
                        _diag("pyrun (no execution): %s\n" % _frame_line(f))
                    segs = extra = ()
                if not segs and not extra and head is None:
                    return
                bufs = self._frames(segs, ident) if segs else []
                if head is not None:
                    bufs.insert(0, (_frame_line(head) + "\n").encode("utf-8", "pyrun.json"))
                if extra:
                    tail = "".join([_frame_line(f) + "\n" for f in extra])
                    bufs.append(tail.encode("utf-8", "pyrun.json"))
                _write_bytes(bufs)
        finally:
            _end_critical(main)

    def begin(self, ident, cap, started: dict) -> None:
        """Switch attribution to a new execution (older output flushed first).

        `started` is queued, not written: it leaves with the first output, the
        background flush (FLUSH_DELAY) or `done`, so a quick execution costs
        one write.  The SIGINT handler is armed before it is queued, so an
        interrupt sent after the host read it is never lost.
        """
        self.flush()
        with self.lock:
            self.id = ident
            self.cap = cap
            self.used = 0
            self.dropped = 0
            self.noticed = False
            self.head = started
        _wake_io()



class _Writer:
    """sys.stdout / sys.stderr: text goes straight into OUT, no pipe hop."""

    encoding = "utf-8"
    errors = "strict"
    newlines = None
    closed = False
    line_buffering = False
    write_through = True

    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self._fd = fd
        self._buffer = None

    def write(self, s) -> int:
        if s.__class__ is not str:
            if not isinstance(s, str):
                raise TypeError("write() argument must be str, not %s" % type(s).__name__)
            s = str.__str__(s)
        out = OUT
        now = _monotonic()
        if now >= out.next_fd_sync:
            out.next_fd_sync = now + FD_SYNC_INTERVAL
            _sync_fds()  # keep order with what children wrote to fd 1/2 just before
        name = self.name
        with out.lock:  # fast path of OUT.add, inlined: this runs per print
            if out.stream is name and out.cap is None and out.armed:
                out.chunks.append(s)
                out.size += len(s)
                if out.size <= FLUSH_BYTES:
                    return len(s)
                big = True
            else:
                big = False
        if big or out.add(name, s):
            out.flush()
        return len(s)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def close(self) -> None:
        """Closing sys.stdout must not break the kernel: a no-op."""

    def flush(self) -> None:
        """Send what is pending now, as `python -u` would: `print(..., flush=True)`
        right before `os._exit()` or a crash must still reach the host. Also a
        sync point: raw fd 1/2 writes made before it come first."""
        _sync_fds()
        OUT.flush()

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def buffer(self):
        if self._buffer is None:
            self._buffer = _BinaryWriter(self)
        return self._buffer

    def __repr__(self) -> str:
        return "<pyrun %s>" % self.name


def _print(*objects, sep=" ", end="\n", file=None, flush=False):
    """builtins.print for user code: one write per call to the runner's own
    streams (C print writes each piece apart), so a background flush can never
    split a print into two frames. Anything unusual goes to the real print."""
    if file is None:
        file = sys.stdout
    if (
        file.__class__ is not _Writer
        or (sep is not None and sep.__class__ is not str)
        or (end is not None and end.__class__ is not str)
    ):
        return _builtin_print(*objects, sep=sep, end=end, file=file, flush=flush)
    file.write((" " if sep is None else sep).join([str(o) for o in objects]) + ("\n" if end is None else end))
    if flush:
        file.flush()


class _BinaryWriter:
    """sys.stdout.buffer: bytes are decoded (backslashreplace) and queued."""

    def __init__(self, text: _Writer) -> None:
        self._text = text
        self._decoder = codecs.getincrementaldecoder("utf-8")("backslashreplace")

    def write(self, b) -> int:
        data = bytes(b)
        text = self._decoder.decode(data)  # keeps a UTF-8 sequence split across writes
        if text:
            self._text.write(text)
        return len(data)

    def flush(self) -> None:
        self._text.flush()

    def fileno(self) -> int:
        return self._text.fileno()


def _drain_fd(fd: int) -> bool:
    """Read what is in one capture pipe (caller holds _drain_lock)."""
    try:
        data = os.read(fd, 1 << 16)
    except BlockingIOError:
        return False
    except OSError:
        return False
    stream = "stdout" if fd == CH.out_r else "stderr"
    if not data:
        try:
            _poll_fds.unregister(fd)
        except Exception:
            pass
        return False
    text = _decoders[fd].decode(data)
    if text and OUT.add(stream, text):
        OUT.flush()
    return True


def _sync_fds() -> None:
    """Move everything already written to fd 1/2 into OUT (any thread)."""
    with _drain_lock:
        while True:
            ready = _poll_fds.poll(0)
            if not ready:
                return
            got = False
            for fd, _ev in ready:
                got = _drain_fd(fd) or got
            if not got:
                return


def _finish_output() -> None:
    """End of an execution: every byte it wrote is queued (not yet sent)."""
    _sync_fds()


# ---------------------------------------------------------------- the io thread


def _wake_io() -> None:
    """Wake the io thread, unless it is ticking anyway (a wake-up makes it
    fight the main thread for the GIL: ~40 us on a quick execution)."""
    if _monotonic() >= OUT.fast_until:
        try:
            os.write(CH.wake_w, b"w")
        except OSError:
            pass


def _io_loop() -> None:
    """One thread: drains fd 1/2, flushes pending output after FLUSH_DELAY,
    re-delivers a SIGINT the main thread did not notice, and watches the parent.

    While there is activity it ticks every FLUSH_DELAY and picks up pending
    output by itself; after FAST_WINDOW without activity it sleeps until woken
    (writers and new executions wake it only then, see _wake_io).
    """
    st = STATE
    out = OUT
    poller = select.poll()
    for fd in (CH.wake_r, CH.sig_r, CH.out_r, CH.err_r):
        poller.register(fd, select.POLLIN)
    flush_at = None
    redeliver_at = None
    redeliver_serial = -1
    backoff = 0.001
    seen_serial = st.serial
    next_ppid = _monotonic() + 0.25
    while True:
        now = _monotonic()
        if out.head is not None or out.armed or st.serial != seen_serial:
            seen_serial = st.serial
            out.fast_until = now + FAST_WINDOW
            if flush_at is None:
                flush_at = now + FLUSH_DELAY
        deadline = next_ppid
        if out.fast_until > now and now + FLUSH_DELAY < deadline:
            deadline = now + FLUSH_DELAY
        if flush_at is not None and flush_at < deadline:
            deadline = flush_at
        if redeliver_at is not None and redeliver_at < deadline:
            deadline = redeliver_at
        timeout = max(0, int((deadline - now) * 1000 + 0.999))
        try:
            events = poller.poll(timeout)
        except InterruptedError:
            events = ()
        for fd, ev in events:
            if fd == CH.wake_r:
                try:
                    os.read(fd, 4096)
                except OSError:
                    pass
                if flush_at is None:
                    flush_at = _monotonic() + FLUSH_DELAY
            elif fd == CH.sig_r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if signal.SIGINT in data and st.phase in (PROLOGUE, USER):
                    redeliver_serial = st.serial
                    backoff = 0.001
                    redeliver_at = _monotonic() + backoff
            else:
                if ev & (select.POLLHUP | select.POLLERR) and not ev & select.POLLIN:
                    try:
                        poller.unregister(fd)
                    except Exception:
                        pass
                    continue
                with _drain_lock:
                    _drain_fd(fd)
                if flush_at is None:
                    flush_at = _monotonic() + FLUSH_DELAY
        now = _monotonic()
        if flush_at is not None and now >= flush_at:
            flush_at = None
            try:
                out.flush()
            except Exception as e:  # never let the io thread die
                _diag("pyrun: flush failed: %r\n" % (e,))
        if redeliver_at is not None and now >= redeliver_at:
            # checked and sent under _phase_lock: the main thread cannot leave
            # the execution in between, so a re-sent SIGINT never reaches the
            # next execution
            _phase_lock.acquire()
            try:
                if (
                    st.phase in (PROLOGUE, USER)
                    and st.serial == redeliver_serial
                    and st.acked_serial != redeliver_serial
                    and signal.getsignal(signal.SIGINT) is _on_sigint
                    and backoff < 0.2
                ):
                    try:
                        _pthread_kill(st.main_ident, signal.SIGINT)
                    except OSError:
                        pass
                    backoff *= 2
                    redeliver_at = now + backoff
                else:
                    redeliver_at = None
            finally:
                _phase_lock.release()
        if now >= next_ppid:
            next_ppid = now + 0.25
            if os.getppid() != st.host_pid:
                _host_gone()


# ---------------------------------------------------------------- signals: SIGINT, SIGTERM, and the ones the code sends itself


def _on_sigint(signum, frame) -> None:
    """SIGINT: KeyboardInterrupt in user code, ignored while idle/starting.

    It also empties the wake-up pipe: the io thread must not take a byte of
    a SIGINT handled here for one the main thread missed (under load it can
    read the byte late, when the next execution already runs).
    """
    try:
        os.read(CH.sig_r, 512)
    except OSError:
        pass
    st = STATE
    phase = st.phase
    if phase == USER:
        st.acked_serial = st.serial
        if _HostCalls.pending:  # calls waiting on other threads end too
            _thread.start_new_thread(_interrupt_host_calls, (st.serial,))
        if st.critical:
            st.deferred = True
            return
        raise KeyboardInterrupt
    if phase == PROLOGUE:
        st.acked_serial = st.serial
        st.pending_interrupt = True
    elif phase == EPILOGUE:  # a traceback may be in the making: cut it short
        st.format_interrupted = True


def _arm_sigint() -> None:
    """Install the runner's SIGINT handler unless it is in place (main thread).

    User code may install `signal.default_int_handler` or SIG_DFL; left in
    place, a SIGINT between executions would kill the kernel.
    """
    if signal.getsignal(signal.SIGINT) is not _on_sigint:
        signal.signal(signal.SIGINT, _on_sigint)


def _on_sigterm(signum, frame) -> None:
    """SIGTERM (a host's shutdown): send what is pending, unless the signal
    interrupted a write in progress; take every descendant along; then die by
    the signal, as without a handler."""
    busy = OUT is None or OUT.lock.locked() or OUT.flush_lock.locked()
    if not (busy or _drain_lock.locked() or _write_lock.locked()):
        try:
            _sync_fds()
            OUT.flush()
        except BaseException:
            pass
    _kill_descendants()
    signal.signal(signum, signal.SIG_DFL)
    _kill(os.getpid(), signum)


def _announce_self_signal(signum) -> None:
    """Send a `self_signal` frame before user code signals the kernel itself.

    The host then blames a death by that signal on the code, not on someone
    outside.  Only for a signal that may end the process: its disposition is
    the default or a handler outside Python (or the runner's SIGTERM handler),
    not a Python handler or SIG_IGN.  Written synchronously, after the output
    so far; a forked child has no channel and says nothing.
    """
    st = STATE
    if st.in_child:
        return
    try:
        signum = int(signum)
        if signum <= 0:
            return
        handler = signal.getsignal(signum)
    except (TypeError, ValueError, OverflowError):
        return  # the real call will raise
    if handler is signal.SIG_IGN or (callable(handler) and handler is not _on_sigterm):
        return
    ident = st.exec_id if st.phase in (PROLOGUE, USER, EPILOGUE) else None
    try:
        _sync_fds()
        OUT.flush(({"type": "self_signal", "id": ident, "signal": signum},))
    except Exception:
        pass


def _targets_self(pid) -> bool:
    try:
        pid = int(pid)
        return pid in (0, -1, STATE.pid) or (pid < -1 and -pid == os.getpgrp())
    except (TypeError, ValueError, OverflowError):
        return False


def _self_signal_kill(pid, signum):
    """os.kill for user code."""
    if _targets_self(pid):
        _announce_self_signal(signum)
    return _kill(pid, signum)


def _self_signal_killpg(pgid, signum):
    """os.killpg for user code."""
    try:
        own = int(pgid) in (0, os.getpgrp())
    except (TypeError, ValueError, OverflowError):
        own = False
    if own:
        _announce_self_signal(signum)
    return _killpg(pgid, signum)


def _self_signal_raise(signum):
    """signal.raise_signal for user code."""
    _announce_self_signal(signum)
    return _raise_signal(signum)


def _self_signal_pthread_kill(thread_id, signum):
    """signal.pthread_kill for user code: every thread is the kernel's."""
    _announce_self_signal(signum)
    return _pthread_kill(thread_id, signum)


def _self_signal_abort():
    """os.abort for user code: SIGABRT."""
    _announce_self_signal(signal.SIGABRT)
    return _abort()


def _install_self_signal_wrappers() -> None:
    os.kill = _self_signal_kill
    os.killpg = _self_signal_killpg
    os.abort = _self_signal_abort
    modules = [signal, sys.modules.get("signal")]  # the wrapper module copies from _signal
    for mod in modules:
        if mod is not None:
            mod.raise_signal = _self_signal_raise
            mod.pthread_kill = _self_signal_pthread_kill


# ---------------------------------------------------------------- the kernel's processes: parent death, subreaper, descendants


def _guard_process() -> None:
    """Tie the kernel's life to the host's (Linux; before any user code runs).

    The runner becomes a child subreaper, so orphans of the code's processes
    (double-fork daemons, `setsid`) are reparented to it and found at exit.
    When the host set PYRUN_HOST_PID it also asks for a parent-death signal,
    which the kernel delivers even while user code holds the GIL.  Only then:
    Linux sends that signal when the *thread* that spawned the runner exits,
    and PYRUN_HOST_PID is the host's word that this thread lives as long as
    the host (other hosts keep the io thread's watch of the parent pid).
    Then the runner checks that its parent is still the host (PYRUN_HOST_PID,
    else the parent at start): the host may have died before.
    """
    if sys.platform.startswith("linux"):
        try:
            # Plain ints: libffi widens them to the registers' width, and a call
            # without argtypes costs half as much (it is made twice per execution).
            call = _std("ctypes").CDLL(None).prctl
            if not STATE.has_watchdog:  # a forked kernel's is the template's child
                _start_watchdog()  # first: it must not be reparented to the subreaper
            call(_Prctl.SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            if STATE.host_pid_given:
                _Prctl.call = call
                _set_parent_death_signal(signal.SIGTERM)
        except MemoryError:
            raise
        except Exception as e:  # the ppid watch of the io thread remains
            _diag("pyrun: no subreaper or parent-death signal: %r\n" % (e,))
    if os.getppid() != STATE.host_pid:
        _diag("pyrun: the host (pid %d) is gone; exiting\n" % STATE.host_pid)
        _host_gone()


# How long the watchdog lets a runner end by itself after its request channel
# closed while the process that started it lives on (a host shutting it down
# escalates well within this).
WATCHDOG_GRACE = 30.0


def _start_watchdog() -> None:
    """Start the process that ends the kernel's processes when the runner cannot.

    The runner cleans up after itself when it sees the host go, except when it
    cannot run: code that holds the GIL (a long regex match) keeps its handlers
    and threads from running, and a runner killed outright cleans up nothing.
    The watchdog, a process of the kernel's session that runs no user code,
    covers both.  When the request channel hangs up and the process that
    started the runner (the host, or sshd) is gone, it ends the runner and
    every descendant at once; when that process lives on (a host closing the
    channel to shut the runner down), it gives the runner WATCHDOG_GRACE first.
    When the runner dies, it ends what is left of the session.  With a
    watchdog, the parent-death signal stays SIGTERM even while code runs, so
    that the runner's process tree is still whole when the watchdog looks.

    It is forked twice so that it is not the runner's child (user code waiting
    for all of its children would wait for it forever); this happens before
    the runner becomes a subreaper, so it is reparented away.  Only a session
    leader has one: ending a session it does not own would reach the host.
    A kernel forked from a template has one the template forked instead
    (_fork_watchdog), and does not start one of its own.
    """
    global _WATCHDOG_FORKING
    if os.getsid(0) != os.getpid():
        return
    runner = (os.getpid(), _start_time(os.getpid()))
    parent = (os.getppid(), _start_time(os.getppid()))
    life_w = -1
    try:  # readable when the runner exits, whatever its code closes
        death_fd = os.pidfd_open(os.getpid())
    except (AttributeError, OSError):  # before Linux 5.3: a pipe the runner holds
        death_fd, life_w = os.pipe()
    warnings = _std("warnings")
    _WATCHDOG_FORKING = True
    try:
        with warnings.catch_warnings():  # 3.12+ warns about forking with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            middle = os.fork()
            if middle == 0:
                try:
                    if os.fork() == 0:
                        _watchdog(CH.req, death_fd, runner, parent, os.getsid(0))
                finally:
                    _real_os_exit(0)
    finally:
        _WATCHDOG_FORKING = False
    os.close(death_fd)
    if life_w >= 0:
        CH.life_w = _high_fd(life_w)
    try:
        os.waitpid(middle, 0)
    except ChildProcessError:
        pass
    STATE.has_watchdog = True


def _start_time(pid: int, zombie: bool = False):
    """The start time of pid from /proc (with the pid, it names one process), or
    None when pid is gone or (unless `zombie`) a zombie."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
    except (OSError, ValueError):
        return None
    return None if fields[0] == b"X" or (fields[0] == b"Z" and not zombie) else fields[19]


def _watchdog(request_fd: int, death_fd: int, runner, parent, session: int) -> None:
    """The watchdog's life (see _start_watchdog); never returns.

    It uses nothing of the runner but os, select and signal: the threads that
    held the runner's locks did not come along.  death_fd (a pidfd, or a pipe
    the runner holds; -1 for none) wakes it when the runner may have died; the
    runner's start time confirms it, since code can close the pipe's write
    end, and is looked at every second anyway.  session is the runner's.
    """
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the code's
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a template's handler
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd not in (request_fd, death_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
        poller = select.poll()
        # Requests stay the runner's to read: only hang-up and errors are asked for.
        poller.register(request_fd, getattr(select, "POLLRDHUP", 0))
        if death_fd >= 0:
            poller.register(death_fd, select.POLLIN)
        deadline = None  # set when the request channel closed
        death_pipe_closed = False  # with the runner alive: its code closed the write end
        while True:
            # Each second it also looks at the runner and its parent itself: a request
            # channel whose write end leaked into another process never hangs up.
            timeout = 1000
            if deadline is not None:
                timeout = min(timeout, max(0, int((deadline - _monotonic()) * 1000)))
            ready = poller.poll(timeout)
            if _start_time(runner[0]) != runner[1]:
                break  # the runner died
            if _start_time(parent[0]) != parent[1]:
                break  # its host is gone: nobody is left to wait for
            if not death_pipe_closed and any(fd == death_fd for fd, _ in ready):
                poller.unregister(death_fd)
                death_pipe_closed = True
            if deadline is not None and _monotonic() >= deadline:
                break  # the runner did not leave in time
            if any(fd == request_fd for fd, _ in ready):
                poller.unregister(request_fd)
                deadline = _monotonic() + WATCHDOG_GRACE
        _kill_family(runner, session)
    finally:
        _real_os_exit(0)


def _kill_family(runner, session: int) -> None:
    """SIGKILL the runner, its descendants, the members of its session and
    their descendants.  Each is stopped (SIGSTOP) as it is found, so that none
    forks or dies (its children going to init) while the tree is walked; when a
    pass finds nothing new, all are killed at once.  Five seconds at most."""
    me = os.getpid()
    deadline = _monotonic() + 5.0
    found = set()
    while True:
        table = _proc_table() or {}
        by_parent = {}
        for pid, (ppid, _, _, _) in table.items():
            by_parent.setdefault(ppid, []).append(pid)
        todo = [pid for pid, row in table.items() if row[3] == session]
        if _start_time(runner[0]) == runner[1]:  # not a process that reused its pid
            todo.append(runner[0])
        family = set()
        while todo:
            pid = todo.pop()
            if pid not in family and pid != me and pid in table:
                family.add(pid)
                todo.extend(by_parent.get(pid, ()))
        fresh = [pid for pid in family - found if table[pid][2] not in (b"Z", b"X")]
        if not fresh or _monotonic() > deadline:
            break
        for pid in fresh:
            try:
                _kill(pid, signal.SIGSTOP)
            except OSError:
                pass
        found.update(fresh)
    for pid in found:
        try:
            _kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _set_parent_death_signal(signum: int) -> None:
    """The signal the kernel sends the runner when the host dies.

    SIGTERM while no user code runs (the handler takes every descendant
    along); SIGKILL while it runs, since code that holds the GIL (a long regex
    match) would keep a Python handler from ever running.
    """
    if STATE.has_watchdog:
        signum = signal.SIGTERM  # the watchdog ends code that keeps a handler from running
    if _Prctl.call is not None and not STATE.in_child:
        _Prctl.call(_Prctl.SET_PDEATHSIG, signum, 0, 0, 0)


def _proc_children(pid: int):
    """Children of pid from /proc/<pid>/task/*/children; None if unsupported."""
    kids = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return kids if os.path.isdir("/proc/self/task") else None
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid), "rb") as f:
                kids.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            if tid == str(pid) and not kids:
                return None  # a kernel without CONFIG_PROC_CHILDREN
        except (OSError, ValueError):
            pass
    return kids


def _proc_table():
    """pid -> (ppid, pgid, state, sid) for every process /proc shows; None without /proc."""
    table = {}
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            table[pid] = (int(fields[1]), int(fields[2]), fields[0], int(fields[3]))
        except (OSError, ValueError, IndexError):
            pass
    return table


def _descendants():
    """Live descendants of the runner and members of its process group (if it
    leads one), or None where /proc cannot tell (not Linux)."""
    me = os.getpid()
    found = []
    kids = _proc_children(me)
    if kids is not None:
        todo = kids
        while todo:
            pid = todo.pop()
            if pid in found or pid == me:
                continue
            found.append(pid)
            todo.extend(_proc_children(pid) or ())
    table = _proc_table()
    if table is None:
        return None if kids is None else found
    pgid = os.getpgrp() if STATE.is_leader else None
    if kids is None:  # walk the parent links instead
        by_parent = {}
        for pid, (ppid, _, _, _) in table.items():
            by_parent.setdefault(ppid, []).append(pid)
        todo = list(by_parent.get(me, ()))
        while todo:
            pid = todo.pop()
            if pid not in found:
                found.append(pid)
                todo.extend(by_parent.get(pid, ()))
    for pid, (_, group, _, _) in table.items():
        if group == pgid and pid != me and pid not in found:
            found.append(pid)
    return [pid for pid in found if pid in table and table[pid][2] not in (b"Z", b"X")]


def _kill_descendants() -> None:
    """SIGKILL every process the kernel's code left behind: children, their
    children (orphans come back to the runner, a child subreaper), and the
    runner's process group, whatever session or group they moved to; until
    none is left (a dying parent's children are reparented to the runner and
    found by the next pass) or two seconds have passed."""
    me = os.getpid()
    deadline = _monotonic() + 2.0
    while True:
        pids = _descendants()
        if pids is None:  # no /proc: the process group is all that can be reached
            if STATE.is_leader:
                try:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    _killpg(os.getpgrp(), signal.SIGTERM)
                except (OSError, ValueError):
                    pass
            return
        if not pids:
            return
        for pid in pids:
            if pid != me:
                try:
                    _kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:  # reap: exit is near, no status is owed
                pass
        except ChildProcessError:
            pass
        if _monotonic() > deadline:
            return
        time.sleep(0.002)


def _host_gone() -> None:
    """The host went away (stdout closed or parent died): leave now."""
    _kill_descendants()
    _real_os_exit(0)


# ---------------------------------------------------------------- display


_MIME_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("application/json", "_repr_json_"),
    ("text/latex", "_repr_latex_"),
)


def _b64(data) -> str:
    base64 = _std("base64")
    return base64.b64encode(data).decode("ascii")


def _is_json_mime(mime: str) -> bool:
    """application/json and every `+json` type (the prelude's status
    displays): their values travel as JSON, not as text."""
    return mime == "application/json" or mime.endswith("+json")


def _mime_bundle(obj):
    """text/plain always; rich types from _repr_mimebundle_ / _repr_*_."""
    bundle = {}
    metadata = {}
    is_fake = False
    try:  # objects answering every attribute (mocks, proxies) get plain repr
        is_fake = getattr(obj, "_pyrun_canary_method_should_not_exist_", None) is not None
    except Exception:
        is_fake = True
    if not is_fake and not isinstance(obj, type):
        method = getattr(obj, "_repr_mimebundle_", None)
        if callable(method):
            try:
                got = method(include=None, exclude=None)
            except TypeError:
                got = method()
            if isinstance(got, tuple) and len(got) == 2:
                got, md = got
                if isinstance(md, dict):
                    metadata.update(md)
            if isinstance(got, dict):
                for k, v in got.items():
                    bundle[str(k)] = v
        for mime, name in _MIME_METHODS:
            if mime in bundle:
                continue
            method = getattr(obj, name, None)
            if not callable(method):
                continue
            try:
                value = method()
            except Exception as e:
                sys.stderr.write("%s.%s failed: %r\n" % (type(obj).__name__, name, e))
                continue
            if isinstance(value, tuple) and len(value) == 2:
                value, md = value
                if isinstance(md, dict):
                    metadata[mime] = md
            if value is not None:
                bundle[mime] = value
    for mime, value in list(bundle.items()):
        if isinstance(value, (bytes, bytearray, memoryview)):
            if mime.startswith("text/") or mime == "image/svg+xml":
                bundle[mime] = bytes(value).decode("utf-8", "backslashreplace")
            else:
                bundle[mime] = _b64(bytes(value))
        elif _is_json_mime(mime):
            bundle[mime] = _jsonable(value)
        elif not isinstance(value, str):
            bundle[mime] = str(value)
    if "text/plain" not in bundle:
        bundle["text/plain"] = repr(obj)
    return bundle, metadata


def display(*objs, metadata=None, **_ignored) -> None:
    """Send each object as a `display` frame (builtin, like IPython's)."""
    if STATE.in_child:  # no frames from a forked child: what python would print
        for obj in objs:
            print(repr(obj))
        return
    for obj in objs:
        bundle, md = _mime_bundle(obj)
        if metadata:
            md.update(metadata)
        frame = {"type": "display", "id": OUT.id, "bundle": bundle}
        if md:
            frame["metadata"] = md
        _sync_fds()
        if OUT.cap is not None and not OUT.admit(_bundle_size(bundle, md)):
            OUT.flush()  # the notice, in its place
            continue
        OUT.flush((frame,))


def _flush_figures() -> None:
    """Open matplotlib figures become image/png displays, then close."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        nums = plt.get_fignums()
    except Exception:
        return
    if not nums:
        return
    io = _std("io")
    for num in nums:
        fig = plt.figure(num)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        bundle = {"text/plain": repr(fig), "image/png": _b64(buf.getvalue())}
        _sync_fds()
        if OUT.cap is not None and not OUT.admit(_bundle_size(bundle)):
            continue
        OUT.flush(({"type": "display", "id": OUT.id, "bundle": bundle},))
    plt.close("all")


# ---------------------------------------------------------------- stdin


def _ask(prompt: str, password: bool) -> str:
    st = STATE
    if st.in_child:
        raise EOFError("stdin is not available in a process forked from the kernel")
    if not st.allow_stdin or st.phase != USER or threading.get_ident() != st.main_ident:
        raise EOFError(
            "stdin is not available: nothing answers input() in this execution; put the value "
            "in the code instead (a host can offer input: pyrun --allow-stdin, "
            "ExecutionOptions.stdinHandler in Swift, allowStdin in the request)"
        )
    _sync_fds()
    with st.input_cond:
        st.input_wait_id = st.exec_id
        st.input_value = None
    try:
        prompt = OUT.fit_text(prompt)
        OUT.flush(({"type": "input_request", "id": st.exec_id, "prompt": prompt, "password": password},))
        with st.input_cond:
            while st.input_value is None:
                if st.host_eof:
                    raise EOFError("stdin is not available: the host closed the request channel")
                st.input_cond.wait()
            if st.input_value is _INPUT_EOF:
                raise EOFError("end of input: the host's stdin is exhausted")
            return st.input_value
    finally:
        with st.input_cond:
            st.input_wait_id = None
            st.input_value = None


def _input(prompt="") -> str:
    """builtins.input: asks the host with an input_request frame."""
    return _ask(str(prompt), False)


def _getpass(prompt="Password: ", stream=None) -> str:
    """getpass.getpass: like input() but the host hides what is typed."""
    return _ask(str(prompt), True)


# ---------------------------------------------------------------- host calls


class HostCallError(Exception):
    """A host function failed: `type` and `message` are what the host said,
    `function` the name that was called."""

    def __init__(self, function: str, type: str, message: str) -> None:
        Exception.__init__(self, "host.%s: %s: %s" % (function, type, message))
        self.function = function
        self.type = type
        self.message = message

    def __reduce__(self):
        return (HostCallError, (self.function, self.type, self.message))


HostCallError.__module__ = "builtins"  # where user code finds it; tracebacks say `HostCallError`


class _HostCall:
    """One call waiting for its `call_reply`; `answered` is released once
    `answer` is set: ("value", v), ("error", type, message), or a reason the
    runner ended it (_CALL_INTERRUPTED, _CALL_ORPHANED)."""

    __slots__ = ("id", "exec_id", "serial", "function", "answered", "answer")

    def __init__(self, ident: str, function: str) -> None:
        self.id = ident
        self.exec_id = STATE.exec_id
        self.serial = STATE.serial
        self.function = function
        self.answered = _thread.allocate_lock()
        self.answered.acquire()
        self.answer = None


class _HostCalls:
    """Calls in flight and the host's declared functions.

    `sending` is held while a `call` or `call_cancel` frame is written (it
    comes before any output lock), so the host reads a call's cancellation
    after the call and before the execution's `done`.  `lock` guards
    `pending` for moments only: the reader thread, which delivers replies,
    never waits for a write."""

    sending = threading.Lock()
    lock = threading.Lock()
    pending = {}  # callId -> _HostCall
    counter = 0
    host_gone = False  # the request channel ended: no reply can come
    functions = {}  # name -> (parameters schema, required names, open to other names)
    callables = {}  # name -> the Python function user code calls


_CALL_INTERRUPTED = ("interrupted",)
_CALL_ORPHANED = ("orphaned",)
_CALL_HOST_GONE = ("host gone",)
_HOST_GONE_MESSAGE = "the host closed the request channel, so no answer can come"


def _call_host(function: str, args: dict):
    """Send a `call` frame and block this thread until its answer.

    Only while an execution's code runs (from any of its threads); an
    interrupt ends the wait with KeyboardInterrupt, and the end of the
    execution with HostCallError: in both cases the host is told with
    `call_cancel`, and a reply that still comes is dropped.
    """
    st = STATE
    if st.in_child:
        raise HostCallError(function, "NoChannel", "a process forked from the kernel cannot call the host")
    call = None
    try:
        main = _begin_critical()  # a SIGINT waits until the frame is out
        try:
            with _HostCalls.sending:
                with _HostCalls.lock:
                    if st.phase != USER:
                        raise HostCallError(
                            function, "NoExecution",
                            "no execution is running: the host answers calls only while the code of an "
                            "execution runs (this call came after its execution ended)")
                    if _HostCalls.host_gone:
                        raise HostCallError(function, "HostGone", _HOST_GONE_MESSAGE)
                    _HostCalls.counter += 1
                    call = _HostCall("c%d" % _HostCalls.counter, function)
                    _HostCalls.pending[call.id] = call
                _sync_fds()  # what the code printed before the call comes first
                OUT.flush(({"type": "call", "id": call.exec_id, "callId": call.id, "name": function,
                            "args": args},))
        finally:
            _end_critical(main)
        call.answered.acquire()
    except BaseException:
        if call is not None:
            _end_host_calls(_CALL_INTERRUPTED, [call.id])
        raise
    answer = call.answer
    if answer is _CALL_INTERRUPTED:
        raise KeyboardInterrupt
    if answer is _CALL_ORPHANED:
        raise HostCallError(function, "ExecutionEnded",
                            "the execution that made this call ended before the host answered")
    if answer is _CALL_HOST_GONE:
        raise HostCallError(function, "HostGone", _HOST_GONE_MESSAGE)
    if answer[0] == "value":
        return answer[1]
    raise HostCallError(function, answer[1], answer[2])


def _end_host_calls(reason, ids=None, serial=None) -> None:
    """End waiting calls without the host's answer (all of them, those in
    `ids`, or those of execution `serial`) and send `call_cancel` for each."""
    main = _begin_critical()  # a second SIGINT must not leave a call popped but waiting
    try:
        with _HostCalls.sending:
            with _HostCalls.lock:
                pending = _HostCalls.pending
                if ids is None:
                    ids = [c.id for c in pending.values() if serial is None or c.serial == serial]
                ended = [pending.pop(i) for i in ids if i in pending]
            if not ended:
                return
            try:
                OUT.flush(tuple({"type": "call_cancel", "id": c.exec_id, "callId": c.id} for c in ended))
            finally:
                for c in ended:
                    c.answer = reason
                    c.answered.release()
    finally:
        _end_critical(main)


def _interrupt_host_calls(serial: int) -> None:
    """An interrupt ends every call of the execution waiting at that moment
    (on a thread of its own: the SIGINT handler must not wait for a lock)."""
    try:
        _end_host_calls(_CALL_INTERRUPTED, serial=serial)
    except Exception as e:
        _diag("pyrun: ending host calls after an interrupt failed: %r\n" % (e,))


def _request_call_reply(req: dict, ident) -> None:
    """The host's answer to a call; one for a call no longer waiting is dropped."""
    call_id = req.get("callId")
    with _HostCalls.lock:
        call = _HostCalls.pending.pop(call_id, None) if isinstance(call_id, str) else None
    if call is None:
        return
    error = req.get("error")
    if error is not None:
        error = error if isinstance(error, dict) else {"message": error}
        kind = error.get("type")
        message = error.get("message")
        call.answer = ("error", str(kind) if kind else "HostError", "" if message is None else str(message))
    else:
        call.answer = ("value", req.get("value"))
    call.answered.release()


# -- the `host` namespace: one Python function per declared host function


_JSON_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "a list",
    "object": "a dict",
    "null": "None",
}


def _json_type_of(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a dict"
    return "a %s" % type(value).__name__


def _is_json_type(value, name) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    if name == "null":
        return value is None
    return True  # a type this validator does not know: the host decides


def _json_equal(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):  # JSON's true is not 1
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


_JSON_EXACT_INTEGER = 2 ** 53


def _to_json(value, where: str, depth: int = 0):
    """value as JSON can carry it (tuples become lists); TypeError names what cannot."""
    if depth > 64:
        raise TypeError("%s is nested too deeply (or refers to itself)" % where)
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        # The host reads JSON numbers as doubles: past 2**53 an integer would arrive changed.
        if abs(value) > _JSON_EXACT_INTEGER:
            raise OverflowError("%s is %d, beyond the integers a JSON number carries exactly (up to 2**53 "
                             "either side); send it as a string" % (where, value))
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError("%s is %r, which JSON cannot carry" % (where, value))
        return value
    if isinstance(value, (list, tuple)):
        return [_to_json(v, "%s[%d]" % (where, i), depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError("%s has the key %r; JSON objects have string keys" % (where, k))
            out[k] = _to_json(v, "%s[%r]" % (where, k), depth + 1)
        return out
    raise TypeError("%s is %s; only JSON values (dict, list, tuple, str, int, float, bool, None) "
                    "can be sent to the host" % (where, _json_type_of(value)))


def _schema_problem(value, schema, where: str):
    """What is wrong with value under a JSON Schema, or None.

    A small validator: type, enum, const, properties, required,
    additionalProperties, items, the length, size and range keywords,
    pattern, anyOf, oneOf (as anyOf) and allOf.  Other keywords ($ref,
    formats) are left to the host."""
    if schema is False:
        return "%s is not accepted" % where
    if not isinstance(schema, dict):
        return None
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_json_type(value, k) for k in kinds):
            wanted = " or ".join(_JSON_TYPES.get(k, str(k)) for k in kinds)
            return "%s must be %s, not %s" % (where, wanted, _json_type_of(value))
    if "enum" in schema and isinstance(schema["enum"], list):
        if not any(_json_equal(value, e) for e in schema["enum"]):
            return "%s must be one of %s, not %r" % (where, ", ".join(repr(e) for e in schema["enum"]), value)
    if "const" in schema and not _json_equal(value, schema["const"]):
        return "%s must be %r, not %r" % (where, schema["const"], value)
    if isinstance(value, str):
        problem = _size_problem(len(value), schema, "minLength", "maxLength", where, "characters")
        if problem:
            return problem
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                found = _std("re").search(pattern, value)
            except Exception:
                found = True  # a pattern Python cannot read: the host decides
            if not found:
                return "%s must match the pattern %r" % (where, pattern)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        for key, fails, words in (("minimum", lambda v, m: v < m, "at least"),
                                  ("maximum", lambda v, m: v > m, "at most"),
                                  ("exclusiveMinimum", lambda v, m: v <= m, "more than"),
                                  ("exclusiveMaximum", lambda v, m: v >= m, "less than")):
            bound = schema.get(key)
            if isinstance(bound, (int, float)) and not isinstance(bound, bool) and fails(value, bound):
                return "%s must be %s %s, not %r" % (where, words, bound, value)
    elif isinstance(value, list):
        problem = _size_problem(len(value), schema, "minItems", "maxItems", where, "items")
        if problem:
            return problem
        items = schema.get("items")
        if isinstance(items, (dict, bool)):
            for i, v in enumerate(value):
                problem = _schema_problem(v, items, "%s[%d]" % (where, i))
                if problem:
                    return problem
    elif isinstance(value, dict):
        problem = _object_problem(value, schema, where)
        if problem:
            return problem
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            problems = [_schema_problem(value, s, where) for s in options]
            if all(problems):
                return problems[0] if len(problems) == 1 else "%s matches none of the allowed forms (%s)" % (
                    where, "; ".join(problems))
    for sub in schema.get("allOf") or ():
        problem = _schema_problem(value, sub, where)
        if problem:
            return problem
    return None


def _size_problem(size, schema, low_key, high_key, where, unit):
    low, high = schema.get(low_key), schema.get(high_key)
    if isinstance(low, int) and size < low:
        return "%s must have at least %d %s, not %d" % (where, low, unit, size)
    if isinstance(high, int) and size > high:
        return "%s must have at most %d %s, not %d" % (where, high, unit, size)
    return None


def _object_problem(value: dict, schema: dict, where: str):
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    for name in schema.get("required") or ():
        if isinstance(name, str) and name not in value:
            return "%s needs the key %r" % (where, name)
    extra = schema.get("additionalProperties", True)
    for name, v in value.items():
        if name in properties:
            problem = _schema_problem(v, properties[name], "%s[%r]" % (where, name))
        elif extra is False:
            problem = "%s has the key %r, which is not one of %s" % (where, name, ", ".join(properties) or "none")
        else:
            problem = _schema_problem(v, extra, "%s[%r]" % (where, name))
        if problem:
            return problem
    return None


def _check_host_arguments(function: str, given: dict, more):
    """The arguments of a call as the JSON object the host gets; TypeError
    (before any round trip) when they do not fit the declared schema."""
    schema, required, open_ended = _HostCalls.functions[function]
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    args = {}
    for name, value in given.items():
        if value is not None or name in required:  # None leaves an optional argument out
            args[name] = value
    for name, value in (more or {}).items():
        if name not in properties and not open_ended:
            raise TypeError("host.%s() got an unexpected argument %r (its arguments: %s)"
                            % (function, name, ", ".join(properties) or "none"))
        if value is not None or name in required:
            args[name] = value
    missing = [name for name in required if name not in args]
    if missing:
        raise TypeError("host.%s() is missing the argument%s %s" % (
            function, "s" if len(missing) > 1 else "", ", ".join(repr(m) for m in missing)))
    args = {name: _to_json(value, "host.%s() argument %r" % (function, name)) for name, value in args.items()}
    for name, value in args.items():
        sub = properties.get(name, schema.get("additionalProperties", True))
        problem = _schema_problem(value, sub, "argument %r" % name)
        if problem:
            raise TypeError("host.%s(): %s" % (function, problem))
    return args


def _host_function_call(function: str, given: dict, more):
    """What every generated host function does: check, then call."""
    return _call_host(function, _check_host_arguments(function, given, more))


def _type_words(schema) -> str:
    """A short description of a schema's type, for help()."""
    if not isinstance(schema, dict):
        return "any"
    if isinstance(schema.get("enum"), list):
        return "one of " + ", ".join(repr(e) for e in schema["enum"])
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    words = []
    for kind in kinds:
        if kind == "array" and isinstance(schema.get("items"), dict):
            words.append("list of %s" % _type_words(schema["items"]))
        else:
            words.append({"array": "list", "object": "dict", "boolean": "bool", "integer": "int",
                          "string": "str", "number": "number", "null": "None"}.get(kind, str(kind)))
    return " or ".join(words) or "any"


def _make_host_function(name: str, description: str, schema: dict):
    """A Python function for one host function, with a real signature (so
    help() and wrong names work as for any function): required arguments
    positional or by keyword, in the order of `required`; optional ones by
    keyword, None meaning left out; names that are not identifiers, or any
    names when the schema allows others, through **kwargs."""
    iskeyword = _std("keyword").iskeyword

    def plain(n) -> bool:
        return n.isidentifier() and not iskeyword(n) and not n.startswith("__pyrun")

    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = [r for r in dict.fromkeys(schema.get("required") or ()) if isinstance(r, str)]
    extra = schema.get("additionalProperties")  # absent: only the listed names
    open_ended = (not properties and extra is not False) or extra is True or isinstance(extra, dict)
    positional = [r for r in required if plain(r)]
    optional = [p for p in properties if p not in required and plain(p)]
    params = list(positional)
    if optional:
        params += ["*"] + ["%s=%s" % (p, _shown_default(properties.get(p))) for p in optional]
    more = "None"
    if open_ended or any(not plain(n) for n in list(properties) + required):
        more = "kwargs" if "kwargs" not in params and "kwargs=None" not in params else "__pyrun_more__"
        params.append("**" + more)
    pyname = name if plain(name) else "host_function"
    source = "def %s(%s):\n    return __pyrun_call__(%r, {%s}, %s)\n" % (
        pyname, ", ".join(params), name, ", ".join("%r: %s" % (p, p) for p in positional + optional), more)
    namespace = {"__pyrun_call__": _host_function_call, "__builtins__": builtins}
    exec(compile(source, _RUNNER_FILE or "<pyrun>", "exec", dont_inherit=True), namespace)
    fn = namespace[pyname]
    fn.__code__ = fn.__code__.replace(co_name="host." + name)  # what 3.9's TypeErrors name
    fn.__name__ = name
    fn.__qualname__ = "host." + name
    fn.__module__ = "host"
    lines = [description or "(no description)", ""]
    if properties or required:
        lines.append("Arguments:")
    else:
        lines.append("Arguments: any, by keyword." if open_ended else "No arguments.")
    for arg in list(dict.fromkeys(required + list(properties))):
        sub = properties.get(arg)
        text = "  %s: %s%s" % (arg, _type_words(sub), " (required)" if arg in required else "")
        if isinstance(sub, dict) and isinstance(sub.get("description"), str):
            text += " \u2014 " + sub["description"]
        lines.append(text)
    if open_ended and properties:
        lines.append("  (other names are accepted too)")
    lines += ["", "Waits for the host's answer and returns it as Python values; raises HostCallError",
              "when the host reports an error, TypeError (before any call) when the arguments do",
              "not fit, KeyboardInterrupt when the execution is interrupted meanwhile."]
    fn.__doc__ = "\n".join(lines)
    return fn, (schema, required, open_ended)


def _shown_default(schema) -> str:
    """The default of an optional host-function argument, as its signature
    shows it: the schema's `default` when it is a plain number, string or
    boolean (then it is sent when the code gives none), else None (left out)."""
    value = schema.get("default") if isinstance(schema, dict) else None
    if isinstance(value, (bool, int, float, str)):
        return repr(value)
    return "None"


def _host_call_by_name(name, /, *args, **kwargs):
    """host.call(name, ...): call the host function `name` (for names that are
    not Python identifiers, or chosen at run time)."""
    fn = _HostCalls.callables.get(name)
    if fn is None:
        raise AttributeError(_no_such_host_function(name))
    return fn(*args, **kwargs)


def _no_such_host_function(name) -> str:
    known = ", ".join(sorted(_HostCalls.callables)) or "none"
    return "the host has no function %r (its functions: %s)" % (name, known)


def _host_namespace(declaration):
    """The `host` module of user code, built from PYRUN_HOST_FUNCTIONS (a JSON
    list of {name, description, parameters}); returns (module, problem or None).
    A declaration that cannot be read leaves the namespace empty or partial,
    and `hello` says why."""
    problems = []
    specs = []
    if declaration:
        try:
            specs = _loads(declaration)
        except ValueError as e:
            specs, problems = [], ["PYRUN_HOST_FUNCTIONS is not JSON: %s" % e]
        if not isinstance(specs, list):
            specs, problems = [], ["PYRUN_HOST_FUNCTIONS must be a JSON list of functions"]
    for spec in specs:
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not name:
            problems.append("a host function without a name was left out")
            continue
        if name in _HostCalls.functions:
            problems.append("host function %r is declared twice; the first is kept" % name)
            continue
        schema = spec.get("parameters")
        if schema is None:
            schema = {"type": "object"}
        if not isinstance(schema, dict):
            problems.append("host function %r: parameters must be a JSON Schema object" % name)
            continue
        description = spec.get("description")
        fn, rules = _make_host_function(name, description if isinstance(description, str) else "", schema)
        _HostCalls.functions[name] = rules
        _HostCalls.callables[name] = fn
    module = _HostModule("host")
    names = sorted(_HostCalls.callables)
    summary = ["  %s \u2014 %s" % (n, ((_HostCalls.callables[n].__doc__ or "").split("\n") or [""])[0])
               for n in names]
    module.__doc__ = "\n".join(
        ["The functions of the host that runs this kernel: each call goes to the host",
         "and waits for its answer, e.g. host.%s(...), or host.call(name, ...) by name." % (names[0] if names else "read"),
         "Errors the host reports raise HostCallError (.type, .message); arguments that do",
         "not fit the function's schema raise TypeError before anything is sent.", ""]
        + (["Functions:"] + summary if names else ["The host declared no functions."]))
    for n in names:
        if n.isidentifier() and n != "call":
            setattr(module, n, _HostCalls.callables[n])
    _host_call_by_name.__name__ = "call"
    _host_call_by_name.__qualname__ = "host.call"
    _host_call_by_name.__module__ = "host"
    module.call = _host_call_by_name
    module.__all__ = [n for n in names if n.isidentifier() and n != "call"] + ["call"]
    return module, "; ".join(problems) or None


class _HostModule(type(sys)):
    """The type of `host`: a module whose missing attributes say which
    functions the host has."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise AttributeError(_no_such_host_function(name))


# ---------------------------------------------------------------- magics


def _token_re():
    global _TOKEN_RE
    if _TOKEN_RE is None:
        re = _std("re")
        _TOKEN_RE = re.compile(
            r"""
              '''(?:[^'\\]|\\.|'(?!''))*(?:'''|\Z)
            | \"\"\"(?:[^"\\]|\\.|"(?!""))*(?:\"\"\"|\Z)
            | '(?:[^'\\\n]|\\.)*(?:'|(?=\n)|\Z)
            | "(?:[^"\\\n]|\\.)*(?:"|(?=\n)|\Z)
            | \#[^\n]*
            | [(\[{]
            | [)\]}]
            | \\\r?\n
            | \n
            """,
            re.X | re.S,
        )
    return _TOKEN_RE


def transform_magics(src: str) -> str:
    """Rewrite `!cmd` and `%magic args` lines into calls; strings untouched.

    Only physical lines that start a logical line (outside strings, brackets
    and backslash continuations) qualify; one line becomes one line, so line
    numbers in tracebacks stay right.
    """
    if "!" not in src and "%" not in src:
        return src
    tok = _token_re()
    out = []
    pos = 0
    last = 0
    n = len(src)
    depth = 0
    line_start = True
    while pos < n:
        if line_start:
            line_start = False
            q = pos
            while q < n and src[q] in " \t":
                q += 1
            eol = src.find("\n", q)
            if eol < 0:
                eol = n
            target = None
            if q < n and src[q] not in "!%" and "=" in src[q:eol]:
                m = _assign_re().match(src, q, eol)  # `x = !cmd`, `x = %magic`
                if m:
                    target = m.group(1)
                    q = m.start(2)
            if q < n and src[q] in "!%":
                line = src[q:eol].rstrip("\r")
                out.append(src[last : m.start() if target else q])
                if target:
                    out.append("%s = " % target)
                out.append(_magic_call(line, capture=target is not None))
                last = q + len(line)
                pos = eol + 1
                line_start = True
                continue
        m = tok.search(src, pos)
        if m is None:
            break
        t = m.group()
        pos = m.end()
        c = t[0]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c == "\n" and depth == 0:
            line_start = True
    out.append(src[last:])
    return "".join(out)


def _assign_re():
    global _ASSIGN_RE
    if _ASSIGN_RE is None:
        re = _std("re")
        _ASSIGN_RE = re.compile(r"([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*([!%])")
    return _ASSIGN_RE


def _magic_call(line: str, capture: bool = False) -> str:
    if line.startswith("!"):
        if capture:
            return "__pyrun__.getoutput(%r)" % line[1:].strip()
        return "__pyrun__.shell(%r)" % line[1:].strip()
    body = line[1:]
    name, _, arg = body.strip().partition(" ")
    return "__pyrun__.magic(%r, %r)" % (name, arg.strip())


class UsageError(Exception):
    """A magic was called wrongly (like IPython's UsageError)."""


def _run_shell(cmd: str, capture: bool = False):
    """`!cmd`: a shell whose fd 1/2 are the capture pipes (streamed).

    Returns None (the exit status is `_exit_code`, as in IPython); with
    capture (`x = !cmd`) the list of stdout lines.
    """
    subprocess = _std("subprocess")
    sys.stdout.flush()
    _sync_fds()
    OUT.flush()
    p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE if capture else None)
    try:
        data = p.stdout.read() if capture else None
        rc = p.wait()
    except BaseException:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGINT)
                p.wait(0.2)
            except Exception:
                p.kill()
                p.wait()
        raise
    finally:
        if p.stdout is not None:
            p.stdout.close()
    if rc == -signal.SIGINT:
        raise KeyboardInterrupt
    STATE.ns["_exit_code"] = rc
    if capture:
        return data.decode("utf-8", "backslashreplace").splitlines()
    return None


def _shell(cmd: str):
    """`!cmd`: expanded in the namespace of the code that runs it, then run."""
    return _run_shell(_expand_command(cmd, sys._getframe(1)))


def _getoutput(cmd: str):
    """`x = !cmd`: stdout lines of the command (stderr is streamed)."""
    return _run_shell(_expand_command(cmd, sys._getframe(1)), capture=True)


_CONVERSIONS = {"r": repr, "s": str, "a": ascii}


def _expand_command(cmd: str, frame) -> str:
    """A shell command with Python values put in, as IPython does.

    `{expression}` becomes the expression's value (`{x!r}` its repr) and
    `$name` or `$name.attr` a variable's, when the code has one by that name;
    otherwise `$name` is left to the shell (an environment variable), as is
    any `$` inside single quotes.  `{{`, `}}` and `$$` stand for `{`, `}` and
    `$`.  If an expression fails, or a brace has no expression (`find -exec
    ... {} ;`), the command runs exactly as written.  Names are looked up in
    the caller's frame: inside a function, its locals too.
    """
    if "{" not in cmd and "}" not in cmd and "$" not in cmd:
        return cmd
    names, globs = frame.f_locals, frame.f_globals
    out = []
    quoted = False
    i, n = 0, len(cmd)
    try:
        while i < n:
            c = cmd[i]
            two = cmd[i : i + 2]
            if two in ("{{", "}}") or (two == "$$" and not quoted):
                out.append(c)
                i += 2
            elif c == "{":
                end, text = _expression_at(cmd, i, globs, names)
                out.append(text)
                i = end
            elif c == "}":
                raise ValueError("a single '}'")
            elif c == "$" and not quoted:
                m = _dollar_name_re().match(cmd, i + 1)
                root = m.group().split(".")[0] if m else None
                if root is not None and (root in names or root in globs or hasattr(builtins, root)):
                    out.append(str(eval(m.group(), globs, names)))
                    i = m.end()
                else:
                    out.append(c)
                    i += 1
            else:
                if c == "'":
                    quoted = not quoted
                out.append(c)
                i += 1
    except Exception:
        return cmd
    return "".join(out)


def _expression_at(cmd: str, start: int, globs: dict, names) -> tuple:
    """For the `{` at start: (index after its `}`, the expression's value as
    text).  The expression ends at the first `}` after which it compiles, so
    braces, brackets and strings inside it are fine."""
    end = start
    while True:
        end = cmd.find("}", end + 1)
        if end < 0:
            raise ValueError("no expression in braces")
        expr, convert = cmd[start + 1 : end], str
        if len(expr) > 2 and expr[-2] == "!" and expr[-1] in _CONVERSIONS:
            expr, convert = expr[:-2], _CONVERSIONS[expr[-1]]
        try:
            code = compile(expr.strip() or "!", "<shell command>", "eval")
        except SyntaxError:
            continue
        return end + 1, convert(eval(code, globs, names))


def _dollar_name_re():
    global _DOLLAR_NAME_RE
    if _DOLLAR_NAME_RE is None:
        _DOLLAR_NAME_RE = _std("re").compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
    return _DOLLAR_NAME_RE


def _run_statement(stmt: str, ns: dict):
    """Run one statement for %time/%timeit: value if it is an expression."""
    try:
        code = compile(stmt, "<magic>", "eval")
        return eval(code, ns)
    except SyntaxError:
        exec(compile(stmt, "<magic>", "exec"), ns)
        return None


def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return "%.3g s" % seconds
    if seconds >= 1e-3:
        return "%.3g ms" % (seconds * 1e3)
    if seconds >= 1e-6:
        return "%.3g \u00b5s" % (seconds * 1e6)
    return "%.3g ns" % (seconds * 1e9)


def _magic_pwd(arg: str):
    """`%pwd`: the working directory."""
    return os.getcwd()


def _magic_cd(arg: str):
    """`%cd [dir|-]`: change directory (home without one, the last with -)."""
    target = os.path.expanduser(arg or "~")
    if target == "-":
        if STATE.prev_dir is None:
            raise UsageError("%cd -: no previous directory")
        target = STATE.prev_dir
    prev = os.getcwd()
    os.chdir(target)
    STATE.prev_dir = prev
    print(os.getcwd())
    return None


def _magic_env(arg: str):
    """`%env`, `%env NAME`, `%env NAME=value` (or `NAME value`)."""
    if not arg:
        return dict(os.environ)
    if "=" in arg or " " in arg.strip():
        sep = "=" if "=" in arg else " "
        key, _, value = arg.partition(sep)
        key, value = key.strip(), value.strip()
        os.environ[key] = value
        print("env: %s=%s" % (key, value))
        return None
    if arg not in os.environ:
        raise UsageError("environment does not have key: %s" % arg)
    return os.environ[arg]


def _magic_time(arg: str):
    """`%time statement`: run it once, print CPU and wall time."""
    if not arg:
        raise UsageError("%time needs a statement")
    t0, c0 = time.perf_counter(), os.times()
    try:
        return _run_statement(arg, STATE.ns)
    finally:
        c1, wall = os.times(), time.perf_counter() - t0
        user, system = c1.user - c0.user, c1.system - c0.system
        print(
            "CPU times: user %s, sys: %s, total: %s\nWall time: %s"
            % (_fmt_time(user), _fmt_time(system), _fmt_time(user + system), _fmt_time(wall))
        )


def _magic_timeit(arg: str):
    """`%timeit statement`: mean and spread of several timed loops."""
    if not arg:
        raise UsageError("%timeit needs a statement")
    timeit = _std("timeit")
    timer = timeit.Timer(arg, globals=STATE.ns)
    number = 1
    while True:  # grow the loop count until one run takes >= 20 ms
        t = timer.timeit(number)
        if t >= 0.02 or number >= 10**7:
            break
        number *= 10 if t < 0.002 else 2
    runs = [t] + timer.repeat(repeat=4, number=number)
    per = [r / number for r in runs]
    mean = sum(per) / len(per)
    std = (sum((p - mean) ** 2 for p in per) / len(per)) ** 0.5
    print(
        "%s \u00b1 %s per loop (mean \u00b1 std. dev. of %d runs, %d loop%s each)"
        % (_fmt_time(mean), _fmt_time(std), len(per), number, "" if number == 1 else "s")
    )
    return None


def _magic_pip(arg: str):
    """`%pip args`: the kernel's own interpreter's `python -m pip`."""
    importlib = _std("importlib")
    shlex = _std("shlex")
    subprocess = _std("subprocess")
    sys.stdout.flush()
    OUT.flush()
    rc = subprocess.call([sys.executable, "-m", "pip"] + shlex.split(arg))
    importlib.invalidate_caches()
    if rc:
        print("pip exited with status %d" % rc, file=sys.stderr)
    return None


_RESET_KEEPS = frozenset({"__name__", "__doc__", "__builtins__", "__package__", "__loader__", "__spec__"})


def _magic_reset(arg: str):
    """`%reset` (or `%reset -f`): delete every name the code defined in
    __main__, without asking; the prelude's helpers stay, as they were
    loaded (a helper the code had re-bound is the helper again)."""
    if arg.strip() not in ("", "-f"):
        raise UsageError("%%reset takes no arguments but -f; got %r" % arg.strip())
    ns = STATE.ns
    for name in [n for n in ns if n not in _RESET_KEEPS]:
        del ns[name]
    ns.update(STATE.protected)
    return None


_MAGICS = {
    "pwd": _magic_pwd,
    "cd": _magic_cd,
    "env": _magic_env,
    "time": _magic_time,
    "timeit": _magic_timeit,
    "pip": _magic_pip,
    "reset": _magic_reset,
}


def _magic(name: str, arg: str):
    """`%name arg` line magics: the value of the magic (shown as a result)."""
    handler = _MAGICS.get(name)
    if handler is None:
        raise UsageError("Line magic function `%%%s` not found." % name)
    return handler(arg)


class _MagicNamespace:
    """`__pyrun__` in builtins: what transformed magic lines call."""

    shell = staticmethod(_shell)
    getoutput = staticmethod(_getoutput)
    magic = staticmethod(_magic)


# ---------------------------------------------------------------- execution


def _register_source(filename: str, src: str) -> None:
    linecache = _std("linecache")
    lines = src.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(src), None, lines, filename)


def _compile_cell(src: str, filename: str):
    """Compile a cell: (body code or None, final-expression code or None)."""

    code = transform_magics(src)
    flags = _TOP_LEVEL_AWAIT if ("await" in code or "async" in code) else 0
    if "\n" not in code.strip():  # one line: an expression compiles directly
        try:
            return None, compile(code.strip(), filename, "eval", flags, dont_inherit=True)
        except SyntaxError:
            pass
    ast = _std("_ast")  # the C module: `ast` itself is free for a user's ast.py
    tree = compile(code, filename, "exec", ast.PyCF_ONLY_AST | flags, dont_inherit=True)
    body = tree.body
    expr = None
    if body and isinstance(body[-1], ast.Expr):
        expr = ast.Expression(body.pop().value)
    body_code = compile(tree, filename, "exec", flags, dont_inherit=True) if body else None
    expr_code = compile(expr, filename, "eval", flags, dont_inherit=True) if expr is not None else None
    return body_code, expr_code


def _get_loop():
    if STATE.loop is None:
        asyncio = _std("asyncio")
        STATE.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(STATE.loop)
    return STATE.loop


def _await(coro):
    """Run a top-level-await coroutine; an interrupt cancels the task."""
    loop = _get_loop()
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt:
        if not task.done():
            task.cancel()
            try:
                loop.run_until_complete(task)
            except BaseException:
                pass
        elif not task.cancelled():
            task.exception()  # mark retrieved
        raise


def _run_code(code, ns):
    value = eval(code, ns)
    if code.co_flags & _CO_COROUTINE:
        value = _await(value)
    return value


def _run_user(body_code, expr_code, silent: bool):
    """Run compiled user code in USER phase: (exception, result bundle).

    The way out of USER is itself a critical section: a SIGINT that lands
    while the phase turns to EPILOGUE is deferred, then dropped (the code has
    ended; nothing is left to interrupt), so no KeyboardInterrupt escapes into
    the runner after the code's own exception was taken.  A SIGINT that came
    in PROLOGUE is raised here, as the code's first act.
    """
    st = STATE
    ns = st.ns
    bundle = None
    _set_parent_death_signal(signal.SIGKILL)  # the code may hold the GIL
    try:
        try:
            st.phase = USER
            if st.pending_interrupt:
                st.pending_interrupt = False
                raise KeyboardInterrupt
            if body_code is not None:
                _run_code(body_code, ns)
            if expr_code is not None:
                value = _run_code(expr_code, ns)
                if value is not None and not silent and not st.in_child:
                    ns["_"] = value
                    bundle = _mime_bundle(value)[0]
            if not st.in_child:
                _flush_figures()
        finally:
            st.critical += 1  # a second SIGINT now is deferred, then dropped
            try:
                with _phase_lock:
                    st.phase = EPILOGUE
            finally:
                st.critical -= 1
                st.deferred = False
                _set_parent_death_signal(signal.SIGTERM)
    except BaseException as e:
        return e, None
    return None, bundle


def _peak_rss() -> int:
    try:
        resource = _std("resource")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024
    except Exception:
        return 0


def _execute(req: dict) -> None:
    """One execution: started, output, result/error, done — always done."""
    st = STATE
    ident = req.get("id")
    src = req.get("code")
    silent = bool(req.get("silent", False))
    cap = req.get("maxOutputBytes")
    if isinstance(cap, float) and cap == cap and cap >= 0 and cap != float("inf"):
        cap = int(cap)
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
        cap = None  # absent, null or nonsense: unlimited
    if not silent:
        st.count += 1
        filename = "<cell %d>" % st.count
    else:
        filename = "<silent %d>" % (st.serial + 1)
    st.exec_id = ident
    st.allow_stdin = bool(req.get("allowStdin", False))
    _restore_protected(st)
    t0 = _monotonic()
    c0 = os.times()
    _arm_sigint()  # user code may have replaced it during the last execution
    with _phase_lock:  # from here a SIGINT is never lost
        st.serial += 1
        st.pending_interrupt = False
        st.format_interrupted = False
        st.phase = PROLOGUE
    OUT.begin(ident, cap, {"type": "started", "id": ident, "executionCount": st.count})
    exc = None
    bundle = None
    try:
        _register_source(filename, src)
        body_code, expr_code = _compile_cell(src, filename)
    except BaseException as e:
        exc = e
    if exc is None:
        exc, bundle = _run_user(body_code, expr_code, silent)
        if st.in_child:  # os.fork() in the code: this is the child leaving it
            _leave_forked_child(exc)
    with _phase_lock:
        st.phase = EPILOGUE
    _end_host_calls(_CALL_ORPHANED)  # from threads the code left running: before `done`
    _arm_sigint()  # an idle kernel ignores SIGINT, whatever the code installed
    _finish_output()
    frames = []
    if bundle is not None and (OUT.cap is None or OUT.admit(_bundle_size(bundle))):
        frames.append({"type": "result", "id": ident, "bundle": bundle, "executionCount": st.count})
    cancelled = False
    if exc is not None:
        cancelled = isinstance(exc, KeyboardInterrupt) and st.acked_serial == st.serial
        try:
            frames.append(OUT.fit_error(_error_frame(ident, exc)))
        except BaseException as e:  # a broken exception object must not kill us
            frames.append({"type": "error", "id": ident, "ename": "Exception",
                           "evalue": "could not format error: %r" % (e,), "traceback": []})
    c1 = os.times()
    cpu = (c1[0] + c1[1] + c1[2] + c1[3]) - (c0[0] + c0[1] + c0[2] + c0[3])
    done = {
        "type": "done",
        "id": ident,
        "status": "error" if exc is not None else "ok",
        "executionCount": st.count,
        "cancelled": cancelled,
        "durationMs": round((_monotonic() - t0) * 1000, 3),
        "cpuMs": round(cpu * 1000, 3),
        "peakRssBytes": _peak_rss(),
    }
    with OUT.lock:
        dropped = OUT.dropped
    if dropped:
        done["droppedBytes"] = dropped
    frames.append(done)
    exc = None
    st.allow_stdin = False
    st.phase = IDLE  # before `done` leaves: a host may ask `info` right after it
    OUT.flush(frames)


# ---------------------------------------------------------------- errors and tracebacks


def _is_user_file(name: str) -> bool:
    return name.startswith("<cell ") or name.startswith("<silent ")


class _FormatInterrupted(Exception):
    """SIGINT while a traceback was being formatted (see _on_sigint)."""


def _tb_entries(tb) -> list:
    """The entries of a traceback chain, as a list (a deep recursion has 10**6)."""
    entries = []
    st = STATE
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
        if not len(entries) & 0xFFFF and st.format_interrupted:
            raise _FormatInterrupted
    return entries


def _relink(entries):
    """A new traceback chain of the given entries, in order."""
    types = _std("types")
    tb = None
    for e in reversed(entries):
        tb = types.TracebackType(tb, e.tb_frame, e.tb_lasti, e.tb_lineno)
    return tb


def _exception_chain(exc, entries) -> list:
    """[(exception, its traceback entries, the line that leads to the next)],
    oldest first, as python prints a chain (causes, contexts, no cycles)."""
    traceback = _std("traceback")
    cause = getattr(traceback, "_cause_message",
                    "\nThe above exception was the direct cause of the following exception:\n\n")
    context = getattr(traceback, "_context_message",
                      "\nDuring handling of the above exception, another exception occurred:\n\n")
    chain = [(exc, entries, "")]
    seen = {id(exc)}
    while True:
        e = chain[-1][0]
        if e.__cause__ is not None:
            older, link = e.__cause__, cause
        elif e.__context__ is not None and not e.__suppress_context__:
            older, link = e.__context__, context
        else:
            break
        if id(older) in seen:
            break
        seen.add(id(older))
        chain.append((older, _tb_entries(older.__traceback__), link))
    chain.reverse()
    return chain


def _format_exception(exc, entries) -> str:
    """Python's traceback text for exc (with its chain), whose own traceback
    is `entries`.  A very deep traceback (a runaway recursion) keeps its first
    TRACEBACK_HEAD and last TRACEBACK_TAIL frames and says how many it left
    out: formatting all of them takes seconds per 10**5 frames."""
    traceback = _std("traceback")
    chain = _exception_chain(exc, entries)
    deep = any(len(ents) > TRACEBACK_HEAD + TRACEBACK_TAIL for _, ents, _ in chain)
    group = getattr(builtins, "BaseExceptionGroup", ())
    if not deep or any(isinstance(e, group) for e, _, _ in chain):  # python's own format
        return "".join(traceback.format_exception(type(exc), exc, _relink(entries)))
    parts = []
    for e, ents, link in chain:
        if ents:
            parts.append("Traceback (most recent call last):\n")
            if len(ents) > TRACEBACK_HEAD + TRACEBACK_TAIL:
                parts += traceback.extract_tb(_relink(ents[:TRACEBACK_HEAD])).format()
                parts.append("  [... %d frames omitted (the first %d and the last %d are shown) ...]\n"
                             % (len(ents) - TRACEBACK_HEAD - TRACEBACK_TAIL, TRACEBACK_HEAD, TRACEBACK_TAIL))
                parts += traceback.extract_tb(_relink(ents[-TRACEBACK_TAIL:])).format()
            else:
                parts += traceback.extract_tb(_relink(ents)).format()
        parts += traceback.format_exception_only(type(e), e)
        parts.append(link)
    return "".join(parts)


def _is_prelude_frame(tb) -> bool:
    """A frame of a prelude module (one whose globals have __pyrun_prelude__)."""
    try:
        return bool(tb.tb_frame.f_globals.get("__pyrun_prelude__"))
    except Exception:
        return False


def _hides_traceback(frame) -> bool:
    try:
        return bool(frame.f_locals.get("__tracebackhide__"))
    except Exception:
        return False


def _without_helper_internals(exc, entries) -> list:
    """The traceback a user should see when a prelude helper raised.

    A helper that raises on purpose (a missing file, an ambiguous edit) does
    so from a frame whose local `__tracebackhide__` is true: then that frame,
    every prelude frame above it and every frame below it go, so the
    traceback ends at the user's call.  The same for a KeyboardInterrupt
    (where a helper was when it came says nothing).  Any other error in a
    helper is a bug in the helper, and keeps all its frames.
    """
    innermost = next((i for i in range(len(entries) - 1, -1, -1) if _is_prelude_frame(entries[i])), None)
    if innermost is None:
        return entries
    if not isinstance(exc, KeyboardInterrupt) and not _hides_traceback(entries[innermost].tb_frame):
        return entries
    return [t for t in entries[:innermost] if not _is_prelude_frame(t)]


def _error_frame(ident, exc: BaseException, user_file=None) -> dict:
    """error frame with a traceback of user frames only.

    `user_file` names the file whose frames are the user's (a prelude being
    loaded: its own frames all stay); by default the cells are, and a
    prelude helper's internals are hidden (see _without_helper_internals)."""
    entries = []
    try:
        entries = _tb_entries(exc.__traceback__)
        want = user_file or _is_user_file
        match = (lambda f: f == want) if isinstance(want, str) else want
        first = next((i for i, t in enumerate(entries) if match(t.tb_frame.f_code.co_filename)), 0)
        # drop the runner's (and asyncio's) frames above the cell, and any below it
        entries = [t for t in entries[first:] if t.tb_frame.f_code.co_filename != _RUNNER_FILE]
        if user_file is None:
            entries = _without_helper_internals(exc, entries)
        with _runner_imports():
            text = _format_exception(exc, entries)
    except _FormatInterrupted:
        text = "%s: %s\n[pyrun] formatting the traceback (%d frames) was interrupted\n" % (
            type(exc).__name__, _safe_str(exc), len(entries))
    except Exception:
        text = "%s: %s\n" % (type(exc).__name__, _safe_str(exc))
    return {
        "type": "error",
        "id": ident,
        "ename": type(exc).__name__,
        "evalue": _safe_str(exc),
        "traceback": text.rstrip("\n").split("\n"),
    }


def _safe_str(exc) -> str:
    try:
        return str(exc)
    except Exception:
        return "<unprintable %s>" % type(exc).__name__


# ---------------------------------------------------------------- completion


def _complete(code: str, cursor: int):
    """(matches, cursorStart, cursorEnd) for a `complete` request.

    After `import` and `from`: module names, and the names a module offers.
    Elsewhere: names in the kernel's namespace and their attributes (through
    rlcompleter), and attributes of modules the code imports but has not run
    yet (`import math; math.sq`).  Completion never runs the user's code to
    get there: it imports only a module already in sys.modules or a module of
    the standard library that the code's import would also find; a module
    from the user's directory or site-packages is listed by file, never
    imported.
    """
    with _runner_imports():
        return _complete_names(code, cursor)


def _complete_names(code: str, cursor: int):
    re = _std("re")
    if not isinstance(cursor, int) or isinstance(cursor, bool) or not 0 <= cursor <= len(code):
        cursor = len(code)
    before = code[:cursor]
    m = re.search(r"[A-Za-z_][\w.]*$|(?<=[^\w.])$|^$", before)
    token = m.group() if m else ""
    statement = re.split(r"[\n;]", before)[-1].lstrip()
    names = _import_completions(statement)
    if names is None:
        names = _name_completions(token, before)
    fragment = token.rpartition(".")[2]
    if not fragment:  # nothing typed yet: no private names
        names = [n for n in names if not n.rpartition(".")[2].startswith("_")]
    return sorted(set(names)), cursor - len(token), cursor


def _import_completions(statement: str):
    """Completions inside an import statement, or None if it is not one."""
    re = _std("re")
    m = re.match(r"from\s+([\w.]+)\s+import\s+\(?\s*(?:\w+(?:\s+as\s+\w+)?\s*,\s*)*(\w*)$", statement)
    if m:
        module, prefix = m.groups()
        if module.startswith("."):
            return []  # relative to a package the kernel is not in
        return [n for n in _names_in_module(module) if n.startswith(prefix)]
    m = re.match(r"from\s+([\w.]*)$", statement) or re.match(
        r"import\s+(?:[\w.]+(?:\s+as\s+\w+)?\s*,\s*)*([\w.]*)$", statement)
    if m:
        return _module_names(m.group(1))
    if re.match(r"(import|from)\s", statement):
        return []  # after `as`, or a module name that is complete
    return None


def _name_completions(token: str, before: str) -> list:
    """Names and attributes: the namespace's (rlcompleter), then those of
    modules the code imports before the cursor."""
    rlcompleter = _std("rlcompleter")
    imported = _imports_in(before)
    root = token.split(".")[0]
    completer = rlcompleter.Completer(STATE.ns)
    names = []
    try:
        if "." not in token:
            names = [n.rstrip("( ") for n in completer.global_matches(token)]
            names += [n for n in imported if n.startswith(token)]
        elif root in STATE.ns or root not in imported:
            names = [n.rstrip("( ") for n in completer.attr_matches(token)]
        else:
            obj = _object_for_completion(imported[root])
            path, _, prefix = token.rpartition(".")
            for attr in path.split(".")[1:]:
                obj = getattr(obj, attr)
            if obj is not None:
                names = [path + "." + n for n in dir(obj) if n.startswith(prefix)]
    except Exception:
        pass
    return names


def _imports_in(code: str) -> dict:
    """The names import statements in code bind -> the dotted name they stand
    for (`import a.b` binds a -> a; `import a.b as m`: m -> a.b; `from a
    import b as c`: c -> a.b)."""
    re = _std("re")
    bound = {}
    for statement in re.split(r"[\n;]", code):
        statement = statement.strip()
        m = re.match(r"import\s+(.+)$", statement)
        if m:
            for part in m.group(1).split(","):
                mm = re.match(r"\s*([\w.]+)(?:\s+as\s+(\w+))?\s*$", part)
                if mm:
                    name, alias = mm.groups()
                    top = name.split(".")[0]
                    bound[alias or top] = name if alias else top
            continue
        m = re.match(r"from\s+(\w[\w.]*)\s+import\s+\(?([^)]*)\)?$", statement)
        if m:
            for part in m.group(2).split(","):
                mm = re.match(r"\s*(\w+)(?:\s+as\s+(\w+))?\s*$", part)
                if mm:
                    bound[mm.group(2) or mm.group(1)] = m.group(1) + "." + mm.group(1)
    return bound


def _module_names(partial: str) -> list:
    """Module names that complete a dotted partial name (`xml.et`)."""
    parent, _, prefix = partial.rpartition(".")
    if parent:
        return [parent + "." + n for n in _submodules(parent) if n.startswith(prefix)]
    return [n for n in _top_level_modules() if n.startswith(prefix)]


def _names_in_module(dotted: str) -> list:
    """What `from dotted import ...` can name: its submodules, and its
    attributes if completion may import it (see _complete)."""
    names = set(_submodules(dotted))
    mod = _module_for_completion(dotted)
    if mod is not None:
        names.update(dir(mod))
    return list(names)


def _top_level_modules() -> set:
    """Every top-level module name on sys.path, and the built-in ones.
    Each directory is listed again only when it changed (its mtime)."""
    pkgutil = _std("pkgutil")
    names = set(sys.builtin_module_names)
    for entry in sys.path:
        where = os.path.abspath(entry or ".")
        try:
            mtime = os.stat(where).st_mtime_ns
        except OSError:
            continue
        listed = _MODULE_LISTINGS.get(where)
        if listed is None or listed[0] != mtime:
            listed = (mtime, [name for _, name, _ in pkgutil.iter_modules([where])])
            _MODULE_LISTINGS[where] = listed
        names.update(listed[1])
    return names


def _submodules(dotted: str) -> set:
    """Names of the modules inside package `dotted`, found by listing its
    directories (nothing is imported), and any in sys.modules (os.path)."""
    pkgutil = _std("pkgutil")
    mod = sys.modules.get(dotted)
    locations = getattr(mod, "__path__", None) if mod is not None else _package_path(dotted)
    names = {name for _, name, _ in pkgutil.iter_modules(list(locations))} if locations else set()
    head = dotted + "."
    names.update(k[len(head):] for k in list(sys.modules) if k.startswith(head) and "." not in k[len(head):])
    return names


def _package_path(dotted: str):
    """The directories of package `dotted`, found without importing it."""
    finder = _StdlibOnly.path_finder
    parts = dotted.split(".")
    spec = finder.find_spec(parts[0], sys.path)
    for i in range(1, len(parts)):
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = finder.find_spec(".".join(parts[: i + 1]), list(spec.submodule_search_locations))
    return spec.submodule_search_locations if spec is not None else None


# Standard modules whose import does something (prints, opens a browser).
_NOT_IMPORTED_FOR_COMPLETION = frozenset({"antigravity", "this", "__hello__", "__phello__"})


def _module_for_completion(dotted: str):
    """Module `dotted` if completion may have it: already imported, or of the
    standard library (what the code's own import would find too); else None."""
    mod = sys.modules.get(dotted)
    if mod is not None:
        return mod
    top = dotted.split(".")[0]
    if top in _NOT_IMPORTED_FOR_COMPLETION or not _finds_stdlib(top):
        return None
    try:
        __import__(dotted)  # under _runner_imports: its own imports are stdlib too
    except Exception:
        return None
    return sys.modules.get(dotted)


def _finds_stdlib(top: str) -> bool:
    """Whether `import top` in the kernel would load a standard module."""
    if top in sys.builtin_module_names:
        return True
    spec = _StdlibOnly.path_finder.find_spec(top, sys.path)  # where the code's import looks
    if spec is None or not spec.origin:
        return False
    return any(spec.origin.startswith(os.path.join(p, "")) for p in _StdlibOnly.paths)


def _object_for_completion(dotted: str):
    """What a dotted import name stands for (a module, or an attribute of
    one), if completion may import it; else None."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        mod = _module_for_completion(".".join(parts[:i]))
        if mod is not None:
            obj = mod
            for attr in parts[i:]:
                obj = getattr(obj, attr)
            return obj
    return None


def _is_complete(code: str):
    with _runner_imports():
        return _is_complete_code(code)


def _is_complete_code(code: str):
    codeop = _std("codeop")
    try:
        src = transform_magics(code)
        compiler = codeop.CommandCompiler()
        compiler.compiler.flags |= _TOP_LEVEL_AWAIT
        got = compiler(src, "<input>", "exec")
    except (SyntaxError, OverflowError, ValueError):
        return "invalid", ""
    if got is not None:
        return "complete", ""
    last = code.rstrip("\n").split("\n")[-1] if code.strip() else ""
    indent = last[: len(last) - len(last.lstrip())]
    if last.rstrip().endswith(":"):
        indent += "    "
    return "incomplete", indent


# ---------------------------------------------------------------- requests


def _info_reply(ident) -> dict:
    return {
        "type": "info_reply",
        "id": ident,
        "protocol": PROTOCOL,
        "pid": os.getpid(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "executable": sys.executable,
        "cwd": os.getcwd(),
        "executionCount": STATE.count,
        "busy": STATE.phase != IDLE,
    }


def _interrupt() -> None:
    if STATE.is_leader:
        _killpg(os.getpgrp(), signal.SIGINT)
    else:  # never signal a group we do not lead (it may hold the host)
        _kill(os.getpid(), signal.SIGINT)


def _matchable_id(ident) -> bool:
    """A string that frames carry unchanged (a lone surrogate would not be)."""
    if not isinstance(ident, str):
        return False
    try:
        ident.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _request_execute(req: dict, ident) -> None:
    """Queued for the main thread; refused without an id or code."""
    if not _matchable_id(ident):  # its frames could not be matched to it
        send({"type": "error_reply", "id": None,
              "message": "execute needs a string `id` (without lone surrogates)"})
        return
    if not isinstance(req.get("code"), str):
        send({"type": "error_reply", "id": ident, "message": "execute needs a string `code`"})
        return
    _QUEUE.put(req)


def _request_exit(req: dict, ident) -> None:
    """In order: after the executions already queued."""
    _QUEUE.put(_EXIT)


def _request_interrupt(req: dict, ident) -> None:
    """For hosts that cannot send signals: as SIGINT would."""
    _interrupt()


def _request_kill(req: dict, ident) -> None:
    """For hosts that cannot send signals (ssh, `kubectl exec` between them):
    what SIGKILL to the kernel and all it started does, from inside, at once,
    whatever the main thread runs.  The output so far is sent first (this is
    the reader thread: a write of the main thread's is waited for, not cut);
    then every descendant is killed, and the runner dies by SIGKILL."""
    try:
        _sync_fds()
        OUT.flush()
    except BaseException:
        pass
    _kill_descendants()
    _kill(os.getpid(), signal.SIGKILL)


def _request_input_reply(req: dict, ident) -> None:
    """The answer to the input() waiting with this id (others are ignored)."""
    value = req.get("value")
    st = STATE
    with st.input_cond:
        if st.input_wait_id is not None and st.input_wait_id == ident:
            if req.get("eof"):  # the host's stdin ended: input() raises EOFError
                st.input_value = _INPUT_EOF
            else:
                st.input_value = "" if value is None else str(value)
            st.input_cond.notify_all()


def _request_info(req: dict, ident) -> None:
    send(_info_reply(ident))


def _request_complete(req: dict, ident) -> None:
    code = req.get("code") or ""
    matches, start, end = _complete(str(code), req.get("cursor", len(code)))
    send({"type": "complete_reply", "id": ident, "matches": matches, "cursorStart": start, "cursorEnd": end})


def _request_is_complete(req: dict, ident) -> None:
    status, indent = _is_complete(str(req.get("code") or ""))
    send({"type": "is_complete_reply", "id": ident, "status": status, "indent": indent})


# Request type -> handler(request, id), run on the reader thread: all but
# execute answer at once, even while an execution runs.
_REQUESTS = {
    "execute": _request_execute,
    "exit": _request_exit,
    "interrupt": _request_interrupt,
    "kill": _request_kill,
    "input_reply": _request_input_reply,
    "call_reply": _request_call_reply,
    "info": _request_info,
    "complete": _request_complete,
    "is_complete": _request_is_complete,
}


def _handle_line(line: bytes) -> None:
    """One request line: decoded, checked, handed to its handler."""
    line = line.strip()
    if not line:
        return
    try:
        req = _loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # (json's pure-Python decoder recurses)
        send({"type": "error_reply", "id": None, "message": "request is not JSON: %s" % e})
        return
    if not isinstance(req, dict):
        send({"type": "error_reply", "id": None, "message": "request is not a JSON object"})
        return
    kind = req.get("type", "execute")
    ident = req.get("id")
    handler = _REQUESTS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        send({"type": "error_reply", "id": ident, "message": "unknown request type %s" % (kind,)})
        return
    try:
        handler(req, ident)
    except Exception as e:
        send({"type": "error_reply", "id": ident, "message": "%s failed: %r" % (kind, e)})


def _reader_loop(prefix: bytes) -> None:
    """Reads requests from the private fd; answers the quick ones itself."""
    _HELLO_SENT.wait()  # started before hello; nothing may come before it
    pending = []  # pieces of an unfinished line (joined once: no quadratic copies)
    chunk = prefix
    while True:
        if chunk:
            if b"\n" in chunk:
                lines = (b"".join(pending) + chunk if pending else chunk).split(b"\n")
                pending = [lines.pop()]
                for line in lines:
                    _handle_line(line)
            else:
                pending.append(chunk)
        try:
            chunk = os.read(CH.req, 1 << 16)
        except InterruptedError:
            chunk = b""
            continue
        except OSError:
            chunk = b""
        if not _channel_intact(CH.req):  # what it read is not from the host
            _channel_lost("request")
        if not chunk:
            break
    rest = b"".join(pending)
    if rest.strip():
        _handle_line(rest)
    st = STATE
    with st.input_cond:  # an input() waiting for a reply must not wait forever
        st.host_eof = True
        st.input_cond.notify_all()
    with _HostCalls.lock:  # nor may a host call, now or later
        _HostCalls.host_gone = True
    try:
        _end_host_calls(_CALL_HOST_GONE)
    except Exception as e:
        _diag("pyrun: ending host calls at the end of input failed: %r\n" % (e,))
    _QUEUE.put(_EOF)


# ---------------------------------------------------------------- forked children


def _after_fork_in_child() -> None:
    """A forked child (os.fork, multiprocessing 'fork') is not the kernel.

    It has no io or reader thread and no channel to the host: the private fds
    are closed (so the host sees end of file when the kernel itself exits), it
    writes no frames, and its sys.stdout/sys.stderr are plain unbuffered files
    on fd 1/2, the capture pipes of the kernel, as under `python -u`.  Locks
    the fork may have copied mid-use are replaced.  When it leaves user code it
    exits (_leave_forked_child); it never returns to the runner's loop.
    """
    global _write_lock, _drain_lock, _phase_lock
    if _WATCHDOG_FORKING:
        return
    STATE.in_child = True
    _write_lock = threading.Lock()
    _drain_lock = threading.Lock()
    _phase_lock = threading.Lock()
    OUT.lock = threading.Lock()
    OUT.flush_lock = threading.Lock()
    OUT.chunks = []
    OUT.segments = []
    OUT.size = 0
    OUT.head = None
    _HostCalls.sending = threading.Lock()
    _HostCalls.lock = threading.Lock()
    _HostCalls.pending = {}
    STATE.main_ident = threading.get_ident()
    try:
        signal.set_wakeup_fd(-1)
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError):
        pass
    for fd in (CH.req, CH.frame, CH.diag, CH.out_r, CH.err_r, CH.wake_r, CH.wake_w, CH.sig_r, CH.sig_w, CH.life_w):
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass
    CH.req = CH.frame = CH.out_r = CH.err_r = CH.wake_r = CH.wake_w = CH.sig_r = CH.sig_w = CH.life_w = -1
    CH.diag = 2
    io = _std("io")
    for name, fd in (("stdout", 1), ("stderr", 2)):
        try:
            stream = io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True, write_through=True)
            setattr(sys, name, stream)
        except (OSError, ValueError):
            pass


def _exit_status(code) -> int:
    """The status python gives `SystemExit(code)`; a message goes to stderr."""
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code & 0xFF
    try:
        sys.stderr.write("%s\n" % (code,))
    except BaseException:
        pass
    return 1


def _leave_forked_child(exc) -> None:
    """A forked child leaving user code ends as a python process would.

    Return or end of cell: status 0.  SystemExit: its status.  Any other
    exception: the traceback on stderr, status 1; KeyboardInterrupt: death by
    SIGINT, as python does.  Output is flushed first; then `_exit`, so the
    child never runs the runner's loop or writes a frame.
    """
    status = 0
    by_sigint = False
    try:
        if isinstance(exc, SystemExit):
            status = _exit_status(exc.code)
        elif exc is not None:
            status = 1
            by_sigint = isinstance(exc, KeyboardInterrupt)
            try:
                text = "\n".join(_error_frame(None, exc)["traceback"]) + "\n"
            except BaseException:
                text = "%s\n" % type(exc).__name__
            sys.stderr.write(text)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        if by_sigint:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _kill(os.getpid(), signal.SIGINT)
    finally:
        _real_os_exit(status)


# ---------------------------------------------------------------- start and exit


def _apply_limits(spec) -> list:
    """PYRUN_LIMITS → setrlimit; returns the names not enforced here."""
    ignored = []
    if not isinstance(spec, dict):
        return ["PYRUN_LIMITS"]
    try:
        resource = _std("resource")
    except ImportError:
        return sorted(spec)
    names = {
        "memoryBytes": "RLIMIT_AS",
        "cpuSeconds": "RLIMIT_CPU",
        "openFiles": "RLIMIT_NOFILE",
        "fileSizeBytes": "RLIMIT_FSIZE",
    }
    for key, value in spec.items():
        if value is None:
            continue
        rname = names.get(key)
        limit = getattr(resource, rname, None) if rname else None
        if limit is None or (rname == "RLIMIT_AS" and sys.platform == "darwin"):
            ignored.append(key)
            continue
        try:
            value = int(value)
            soft, hard = resource.getrlimit(limit)
            if hard != resource.RLIM_INFINITY and value > hard:
                value = hard
            resource.setrlimit(limit, (value, hard))
        except (ValueError, OSError, TypeError):
            ignored.append(key)
    return ignored


def _address_space_in_use():
    """VmSize in bytes (Linux), or None."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _memory_too_low(limit, in_use, error) -> None:
    """PYRUN_LIMITS.memoryBytes is too low for the runner itself: say what it
    needs on stderr and exit EXIT_TOO_LITTLE_MEMORY (before hello)."""
    what = "%d bytes (%.0f MiB)" % (limit, limit / _MIB)
    if in_use is None:
        need = "more"
    else:
        at_least = -(-(in_use + 2 * RUNNER_HEADROOM) // (8 * _MIB)) * 8
        need = ("about %d MiB: the interpreter used %.0f MiB of address space before the limit, "
                "and the runner's threads and %d MiB of headroom come on top"
                % (at_least, in_use / _MIB, RUNNER_HEADROOM // _MIB))
    _diag("pyrun: PYRUN_LIMITS memoryBytes=%s is too low for the runner itself (%s: %s); "
          "it needs %s\n" % (what, type(error).__name__, error, need))
    _real_os_exit(EXIT_TOO_LITTLE_MEMORY)


def _prelude_entries(spec: str) -> list:
    """PYRUN_PRELUDE as a list of entries: a JSON list, or one plain path.

    Entries, loaded in order: {"path": file} (a module named after the
    file's stem, unless "name" says otherwise), {"module": name} (imported
    by the kernel's own import system), {"name": n, "source": text,
    "filename": f} (source sent over the pipe, for kernels where nothing is
    installed).  Each may say "export": false: loaded and importable, but
    none of its names copied into __main__ (pyrun_testing, for instance); a
    path entry may say "cacheBytecode": true (a file the host installed in a
    directory of its own: its bytecode is cached even where
    PYTHONDONTWRITEBYTECODE is set, as the runner's own is).
    Raises ValueError for a spec that is none of this.
    """
    if not spec.lstrip().startswith("["):
        return [{"path": spec}]
    entries = _loads(spec)
    if not isinstance(entries, list):
        raise ValueError("PYRUN_PRELUDE is not a JSON list")
    return entries


def _registrable(name) -> bool:
    """Whether a prelude module may go into sys.modules under `name`: never
    over a module already there or one of the standard library's."""
    if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
        return False
    if name in sys.modules:
        return False
    top = name.partition(".")[0]
    stdlib = getattr(sys, "stdlib_module_names", None)  # 3.10+
    if stdlib is not None:
        return top not in stdlib
    return top not in sys.builtin_module_names and _StdlibOnly.path_finder.find_spec(top, _StdlibOnly.paths) is None


def _prelude_module(entry: dict):
    """(the module, the file its errors name, how to run it) for an entry;
    a module entry is imported here already (run is None)."""
    if "module" in entry:
        name = entry["module"]
        if not isinstance(name, str) or not name:
            raise ValueError("a prelude entry's \"module\" must be a module name; got %r" % (name,))
        __import__(name)
        return sys.modules[name], name, None
    if "path" in entry:
        path = entry["path"]
        if not isinstance(path, str) or not path:
            raise ValueError("a prelude entry's \"path\" must be a file name; got %r" % (path,))
        name = entry.get("name") or os.path.splitext(os.path.basename(path))[0]
        # The importer's own loader: the module gets __file__ and __spec__, and its
        # bytecode is cached beside it as for any import (a prelude is paid per start).
        external = sys.modules["_frozen_importlib_external"]
        loader = external.SourceFileLoader(name, path)
        spec = external.spec_from_file_location(name, path, loader=loader)
        module = sys.modules["_frozen_importlib"].module_from_spec(spec)
        if not entry.get("cacheBytecode"):
            return module, path, lambda: loader.exec_module(module)

        def run_caching():  # a host's own file: cached even under PYTHONDONTWRITEBYTECODE
            setting = sys.dont_write_bytecode
            sys.dont_write_bytecode = False
            try:
                loader.exec_module(module)
            finally:
                sys.dont_write_bytecode = setting

        return module, path, run_caching
    name, source = entry.get("name"), entry.get("source")
    if not isinstance(name, str) or not name or not isinstance(source, str):
        raise ValueError("a prelude entry needs \"path\", \"module\", or \"name\" and \"source\"; got keys %s"
                         % ", ".join(sorted(map(str, entry))))
    filename = entry.get("filename") or "<prelude %s>" % name
    module = type(sys)(name)
    module.__file__ = filename

    def run():
        _register_source(filename, source)
        exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)

    return module, filename, run


def _export(module) -> None:
    """Copy a prelude module's `__all__` (else its public names) into
    __main__, and remember them as protected (see _restore_protected)."""
    values = vars(module)
    names = values.get("__all__")
    if not isinstance(names, (list, tuple)):
        names = [n for n in values if not n.startswith("_")]
    missing = object()
    for name in names:
        value = getattr(module, name, missing) if isinstance(name, str) else missing
        if value is not missing:
            STATE.ns[name] = value
            STATE.protected[name] = value


def _restore_protected(st) -> None:
    """Before each execution: a protected name (the prelude's, __name__,
    __builtins__) missing from __main__ (deleted, or wiped with the rest by
    `globals().clear()`) is put back; one the code re-bound stays the code's."""
    protected = st.protected
    if not st.ns.keys() >= protected.keys():
        ns = st.ns
        for name, value in protected.items():
            if name not in ns:
                ns[name] = value


def _error_line(exc: BaseException, file: str):
    """The line of `file` where exc was raised (the innermost frame in it)."""
    if isinstance(exc, SyntaxError) and exc.filename == file:
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _prelude_error(exc: BaseException, file) -> dict:
    """A preludeErrors entry: where in which file, and the file's own frames."""
    frame = _error_frame(None, exc, user_file=file)
    return {"file": file, "line": _error_line(exc, file) if file else None,
            "ename": frame["ename"], "evalue": frame["evalue"], "traceback": frame["traceback"]}


def _load_prelude_entry(entry):
    """Load one entry into its module and export its names; returns its
    preludeErrors entry, or None.  A module that raised part-way keeps (and
    exports) what it defined before the error: the kernel goes on without
    the rest, and the next entry loads as if nothing happened."""
    module, file, error, registered = None, None, None, False
    try:
        if not isinstance(entry, dict):
            raise ValueError("a prelude entry is a JSON object; got %r" % (entry,))
        module, file, run = _prelude_module(entry)
        if run is not None:
            module.__dict__["__pyrun_prelude__"] = True
            registered = _registrable(module.__name__)
            if registered:
                sys.modules[module.__name__] = module  # as an import does: `import name` finds it
            _set_parent_death_signal(signal.SIGKILL)  # user code: it may hold the GIL
            try:
                run()  # in STARTING phase: SIGINT is ignored during start-up
            finally:
                _set_parent_death_signal(signal.SIGTERM)
        elif not getattr(module, "__pyrun_prelude__", False):
            module.__pyrun_prelude__ = True
    except BaseException as e:
        if STATE.in_child:
            _leave_forked_child(e)
        if file is None and isinstance(entry, dict):
            file = entry.get("path") or entry.get("filename") or entry.get("module") or entry.get("name")
        if isinstance(entry, dict) and "module" in entry:
            file = _module_origin(entry["module"]) or file
        error = _prelude_error(e, file if isinstance(file, str) else None)
        if registered and sys.modules.get(module.__name__) is module:
            del sys.modules[module.__name__]  # as a failed import: `import name` tries again
    finally:
        if STATE.in_child:
            _leave_forked_child(None)
    if module is not None and (not isinstance(entry, dict) or entry.get("export", True) is not False):
        _export(module)
    return error


def _module_origin(name):
    """The file a module name would load from, for a module entry that failed."""
    try:
        spec = _std("importlib.util").find_spec(name)
        return spec.origin if spec is not None and spec.has_location else None
    except Exception:
        return None


def _load_prelude(spec) -> list:
    """Load PYRUN_PRELUDE's entries (or the start line's list of them) in
    order; returns the preludeErrors (one per entry that failed; the others
    load regardless)."""
    errors = []
    try:
        entries = spec if isinstance(spec, list) else _prelude_entries(spec)
    except ValueError as e:
        entries = []
        errors.append({"file": None, "line": None, "ename": "ValueError",
                       "evalue": "PYRUN_PRELUDE: %s" % (e,), "traceback": []})
    try:
        for entry in entries:
            error = _load_prelude_entry(entry)
            if error is not None:
                errors.append(error)
    finally:
        _sync_fds()
        OUT.flush()
    return errors


# The start options a host sets in the environment (docs/protocol.md §7).
_HOST_OPTIONS = ("PYRUN_CWD", "PYRUN_PRELUDE", "PYRUN_LIMITS", "PYRUN_HOST_FUNCTIONS", "PYRUN_HOST_PID")


def _start_bootstrapped(options):
    """A runner the loader started (docs/protocol.md, Bootstrap): its host may
    be on the far side of ssh, `kubectl exec` or `docker exec`, which carry
    neither the host's environment nor its process arrangements, nor any of
    its files.

    The environment comes with the source line instead: `options` is that
    line's object without its "source", and its "environment" says which
    variables to keep ("keepOnly", a list of names; absent: all) and which
    to set ("set", name to value).  The PYRUN_* options are among them, so
    they reach the runner however it was started; the far side's own are
    dropped first, as a local host drops its own.  Its "prelude" (a list of
    PYRUN_PRELUDE entries whose files the host read and sent as sources) is
    returned, to be loaded in place of PYRUN_PRELUDE: kept out of the
    environment, where the code's children would inherit sources of any
    size and exec would refuse them (E2BIG); None when there is none.

    The runner also makes itself the leader of a session of its own where
    the launcher did not (docker and kubectl exec need not): its interrupt
    then reaches the processes the code starts, and ending its session ends
    them, never a group the launcher or a container's init shares.
    """
    env = options.get("environment") if isinstance(options, dict) else None
    if isinstance(env, dict):
        for name in _HOST_OPTIONS:  # the host's alone, never the far side's own
            os.environ.pop(name, None)
        keep = env.get("keepOnly")
        if isinstance(keep, list):
            kept = {name for name in keep if isinstance(name, str)}
            for name in list(os.environ):
                if name not in kept:
                    del os.environ[name]
        values = env.get("set")
        if isinstance(values, dict):
            for name, value in values.items():
                if isinstance(name, str) and isinstance(value, str) and name and "=" not in name:
                    os.environ[name] = value
    if os.getsid(0) != os.getpid():
        try:
            os.setsid()
        except OSError:  # a group leader already: its group is its own
            pass
    prelude = options.get("prelude") if isinstance(options, dict) else None
    return prelude if isinstance(prelude, list) and prelude else None


def _make_user_namespace() -> dict:
    """A fresh __main__ module: user code never sees runner internals."""
    mod = type(sys)("__main__")
    mod.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = mod
    # What a wipe (`globals().clear()`) must not take for good, beside the prelude's names.
    STATE.protected.update(__name__="__main__", __builtins__=builtins)
    return mod.__dict__


def _fix_sys_path(runner_dir) -> None:
    if runner_dir and sys.path and os.path.abspath(sys.path[0] or ".") == runner_dir:
        del sys.path[0]
    if "" not in sys.path:
        sys.path.insert(0, "")


def _start_thread(target, *args, stack: int = IO_THREAD_STACK) -> None:
    """A runner thread.  It blocks SIGTERM, so the signal reaches the main
    thread and wakes it from any blocking call to run _on_sigterm."""
    old = threading.stack_size()
    try:
        threading.stack_size(stack)  # address space only: pages are touched as used
    except (ValueError, RuntimeError):
        pass
    try:
        threading.Thread(target=_blocking_sigterm, args=(target,) + args, name="pyrun-" + target.__name__,
                         daemon=True).start()
    finally:
        try:
            threading.stack_size(old)
        except (ValueError, RuntimeError):
            pass


def _blocking_sigterm(target, *args) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    target(*args)


def _exit_flushing(status):
    """`os._exit` as user code sees it: what the code printed first still
    reaches the host (an unbuffered terminal would show it), then the process
    ends at once. In a forked child the streams are plain files; flush those."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    _real_os_exit(status)


def _normal_exit() -> None:
    try:
        _std("atexit")._run_exitfuncs()
    except BaseException:
        pass
    try:
        _sync_fds()
        OUT.flush()
    except BaseException:
        pass
    _kill_descendants()
    _real_os_exit(0)


def main() -> None:
    """Run the runner until the host sends `exit` or goes away."""
    _check_version()
    st = STATE
    _arm_sigint()  # first: SIGINT may be inherited ignored
    signal.signal(signal.SIGTERM, _on_sigterm)
    prefix = b""
    sent_prelude = None  # the start line's (see _start_bootstrapped)
    g = globals()
    if isinstance(g.get("__pyrun_stdin__"), bytes):
        prefix = g.pop("__pyrun_stdin__")
        sent_prelude = _start_bootstrapped(g.pop("__pyrun_start__", None))
    host = os.environ.pop("PYRUN_HOST_PID", "")  # not for the code's own children
    if host.isdigit():
        st.host_pid = int(host)
        st.host_pid_given = True
    _prepare_interpreter()
    _take_channels()
    _prepare_namespace()
    hello = _hello_frame()
    _start_thread(_io_loop)
    memory_limit = _apply_start_limits(hello, prefix)
    cwd = os.environ.get("PYRUN_CWD")
    if cwd:
        _enter_working_directory(cwd)
    prelude = sent_prelude or os.environ.get("PYRUN_PRELUDE")
    if prelude:
        if memory_limit is None:
            _guard_process()
        _note_prelude_errors(hello, _load_prelude(prelude))
    _say_hello(hello)
    if not prelude and memory_limit is None:
        _guard_process()  # after hello: start-up is what a host waits for
    _serve_requests()


def _check_version() -> None:
    if sys.version_info < (3, 9):
        sys.stderr.write("pyrun runner needs Python 3.9 or newer, this is %s\n" % sys.version.split()[0])
        sys.exit(3)
    STATE.phase = STARTING
    STATE.main_ident = threading.get_ident()


def _prepare_interpreter() -> None:
    """What a kernel sets up before its channels, and a template before it forks."""
    global OUT, _QUEUE, _RUNNER_FILE
    runner_file = globals().get("__file__")
    runner_dir = os.path.dirname(os.path.abspath(runner_file)) if runner_file else None
    _RUNNER_FILE = main.__code__.co_filename
    OUT = _Output()
    _QUEUE = _std("_queue").SimpleQueue()
    sys.argv = [""]
    _fix_sys_path(runner_dir)
    os.environ.setdefault("MPLBACKEND", "Agg")
    getpass = _std("getpass")
    builtins.input = _input
    builtins.print = _print
    getpass.getpass = _getpass
    builtins.display = display
    builtins.__pyrun__ = _MagicNamespace
    STATE.ns = _make_user_namespace()
    builtins.HostCallError = HostCallError


def _take_channels() -> None:
    """The kernel's private channels and output capture: after a template's fork, in the child."""
    global _poll_fds
    STATE.is_leader = os.getpgrp() == os.getpid()
    _setup_channels()
    signal.set_wakeup_fd(CH.sig_w, warn_on_full_buffer=False)
    _poll_fds = select.poll()
    for fd in (CH.out_r, CH.err_r):
        _poll_fds.register(fd, select.POLLIN)
        _decoders[fd] = codecs.getincrementaldecoder("utf-8")("backslashreplace")
    sys.stdout = _Writer("stdout", 1)
    sys.stderr = _Writer("stderr", 2)
    os._exit = _exit_flushing
    _install_self_signal_wrappers()
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _prepare_namespace() -> None:
    """The parts of the user's namespace that depend on this kernel's own options."""
    builtins.host, STATE.host_problem = _host_namespace(os.environ.pop("PYRUN_HOST_FUNCTIONS", ""))


def _hello_frame() -> dict:
    hello = {
        "type": "hello",
        "protocol": PROTOCOL,
        "pid": os.getpid(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "executable": sys.executable,
    }
    if STATE.host_problem:
        hello["hostFunctionsError"] = STATE.host_problem
    return hello


def _apply_start_limits(hello: dict, prefix: bytes):
    """PYRUN_LIMITS, then the threads the runner needs under them; returns the memory limit, if any."""
    limits = os.environ.get("PYRUN_LIMITS")
    memory_limit = None
    in_use = None
    if limits:
        try:
            spec = _loads(limits)
            in_use = _address_space_in_use()
            ignored = _apply_limits(spec)
        except ValueError:
            spec, ignored = None, ["PYRUN_LIMITS"]
        if ignored:
            hello["limitsIgnored"] = ignored
        if isinstance(spec, dict) and spec.get("memoryBytes") is not None and "memoryBytes" not in ignored:
            memory_limit = spec["memoryBytes"]
    try:  # the runner's own needs, under the limits: threads, ctypes, headroom
        _start_thread(_reader_loop, prefix, stack=READER_THREAD_STACK)  # it waits for hello to answer
        if memory_limit is not None:
            _guard_process()
            bytearray(RUNNER_HEADROOM)
    except (MemoryError, RuntimeError) as e:
        if memory_limit is None:
            raise
        _memory_too_low(memory_limit, in_use, e)
    return memory_limit


def _enter_working_directory(cwd: str) -> None:
    try:
        os.chdir(cwd)
    except OSError as e:  # a kernel in the wrong directory would mislead: stop
        _diag("pyrun: PYRUN_CWD: %s\n" % e)
        os._exit(2)
    sys.path.insert(0, os.getcwd())


def _note_prelude_errors(hello: dict, errors: list) -> None:
    if errors:
        hello["preludeErrors"] = errors
        hello["preludeError"] = errors[0]  # what hosts before prelude lists read


def _say_hello(hello: dict) -> None:
    hello["cwd"] = os.getcwd()
    # The newline ends any partial line the interpreter's start wrote to fd 1
    # (a sitecustomize printing "note: "), so hello is a line of its own.
    _write_bytes(b"\n" + (_frame_line(hello) + "\n").encode("utf-8", "pyrun.json"))
    _HELLO_SENT.set()


def _serve_requests() -> None:
    st = STATE
    st.phase = IDLE
    while True:
        req = _QUEUE.get()
        if req is _EOF or req is _EXIT:
            _normal_exit()
        try:
            _execute(req)
        except BaseException as e:  # the runner must outlive anything
            st.phase = IDLE
            _diag("pyrun: execution machinery failed: %r\n" % (e,))
            try:
                OUT.flush(({"type": "done", "id": req.get("id"), "status": "error",
                            "executionCount": st.count, "cancelled": False,
                            "durationMs": 0, "cpuMs": 0, "peakRssBytes": _peak_rss()},))
            except BaseException:
                pass



# ---------------------------------------------------------------- templates: kernels forked from a prepared interpreter


TEMPLATE_MESSAGE_LIMIT = 1 << 20  # bytes of one control message from the host

# What each kernel forked from a template gets for itself, in its fork request, so that one
# template serves kernels that differ only in these: their limits, host functions, working
# directory and temporary directory (a test run gives every file its own).
TEMPLATE_PER_KERNEL_OPTIONS = ("PYRUN_LIMITS", "PYRUN_HOST_FUNCTIONS", "PYRUN_CWD", "TMPDIR")

# What a kernel imports lazily on its first executions (source registration, the
# peak memory of each `done`, tracebacks, completeness checks): a spawned kernel
# pays for them once, a forked one would pay in every kernel (6 of the 9 ms of CPU a
# forked kernel spent up to its first result), so its template imports them.
TEMPLATE_WARM_MODULES = ("linecache", "resource", "traceback", "codeop", "_ast", "warnings")


def serve_template() -> None:
    """Be a template: prepare an interpreter as far as a kernel gets before its
    channels (runner imported, PYRUN_CWD entered, PYRUN_PRELOAD imported,
    PYRUN_PRELUDE loaded), then fork kernels on the host's request, and
    nothing else.  The wire is docs/protocol.md, "Templates".

    fd 0 is the control channel, a SOCK_SEQPACKET Unix socket: one JSON
    object per message.  The template stays single-threaded, so a fork copies
    no lock held by another thread.  It holds each child it forked as a zombie
    after the child exits, until the host `release`s it: until then the
    child's pid (and the session and group named after it) cannot be reused,
    so the host's signals by pid stay safe, as they are for a process it
    spawned itself.  It dies with the host (parent-death signal SIGKILL, and
    end of file on the control channel); its kernels then die as kernels do
    when their host dies.
    """
    _check_version()
    st = STATE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a template runs no code to interrupt
    host = os.environ.pop("PYRUN_HOST_PID", "")
    if sys.platform.startswith("linux"):
        try:
            _std("ctypes").CDLL(None).prctl(_Prctl.SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except Exception as e:
            _diag("pyrun template: no parent-death signal: %r\n" % (e,))
    if host.isdigit() and os.getppid() != int(host):
        _real_os_exit(0)  # the host died before the signal was asked for
    control = _std("socket").socket(fileno=0)
    errors = []
    _prepare_interpreter()
    cwd = os.environ.get("PYRUN_CWD")
    if cwd:
        _enter_working_directory(cwd)
    for name in TEMPLATE_WARM_MODULES:
        _std(name)
    for name in filter(None, os.environ.pop("PYRUN_PRELOAD", "").split(",")):
        try:
            __import__(name)
        except BaseException as e:  # a preload is an optimisation: the kernel imports it again
            errors.append({"module": name, "ename": type(e).__name__, "evalue": _safe_str(e)})
    global _poll_fds
    _poll_fds = select.poll()  # the prelude's output goes to the template's own stderr
    prelude = os.environ.get("PYRUN_PRELUDE")
    prelude_errors = _load_prelude(prelude) if prelude else []
    st.template_prelude_errors = prelude_errors
    threads = _thread_count()
    if threads > 1:  # a fork would copy locks those threads may hold: kernels start the ordinary way
        _template_send(control, {"type": "template_failed", "message":
                                 "the prelude or a preload left %d threads running; a template must stay "
                                 "single-threaded to fork safely" % threads})
        _real_os_exit(1)
    _template_loop(control, {"type": "template_ready", "pid": os.getpid(),
                             "python": "%d.%d.%d" % sys.version_info[:3], "preloadErrors": errors})


def _thread_count() -> int:
    """Threads of this process, those started outside `threading` too (Linux)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _template_send(control, message: dict) -> None:
    control.sendall(_frame_line(message).encode("utf-8", "pyrun.json"))


def _template_loop(control, ready: dict) -> None:
    """Fork on `fork`, reap on `release`, report each child's end; never returns."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # the wake-up byte is the news
    socket = _std("socket")
    poller = select.poll()
    poller.register(control.fileno(), select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    running = set()  # children whose end is not reported yet
    held = set()  # children reported and not yet released
    watchdogs = set()  # the kernels' watchdogs, reaped as they end
    _template_send(control, ready)
    while True:
        for fd, _ in poller.poll():
            if fd == wake_r:
                try:
                    while os.read(wake_r, 512):
                        pass
                except OSError:
                    pass
                continue
            message, fds, _, _ = socket.recv_fds(control, TEMPLATE_MESSAGE_LIMIT, 3)
            if not message:
                _real_os_exit(0)  # the host closed the channel or died
            try:
                request = _loads(message.decode("utf-8"))
                kind = request.get("type")
            except (ValueError, UnicodeDecodeError, AttributeError):
                request, kind = {}, None
            if kind == "fork":
                try:
                    pid, watchdog = _template_fork(request, fds, (control.fileno(), wake_r, wake_w))
                except OSError as e:  # EAGAIN, ENOMEM: the host starts this kernel the ordinary way
                    _template_send(control, {"type": "fork_failed", "id": request.get("id"), "message": str(e)})
                    continue
                running.add(pid)
                watchdogs.add(watchdog)
                _template_send(control, {"type": "forked", "id": request.get("id"), "pid": pid})
            elif kind == "release":
                pid = request.get("pid")
                for fd in fds:
                    os.close(fd)
                if pid in held:
                    held.discard(pid)
                    os.waitpid(pid, 0)
            else:
                for fd in fds:
                    os.close(fd)
                _diag("pyrun template: unknown control message %r\n" % (message[:200],))
        for pid in list(running):
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is None:
                continue
            running.discard(pid)
            held.add(pid)
            if info.si_code == os.CLD_EXITED:
                status = {"exitCode": info.si_status}
            else:
                status = {"signal": info.si_status}
            _template_send(control, dict(type="exited", pid=pid, **status))
        for pid in list(watchdogs):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            except ChildProcessError:
                pass
            watchdogs.discard(pid)


def _template_fork(request: dict, fds: list, private: tuple):
    """Fork one kernel and its watchdog; in the kernel's child, become the
    kernel (see _become_forked_kernel).  Returns both pids."""
    try:
        if len(fds) != 3:
            raise OSError("a fork needs 3 descriptors (requests, frames, stderr); got %d" % len(fds))
        pid = os.fork()
        if pid == 0:
            try:
                _become_forked_kernel(request, fds, private)
            except BaseException as e:
                _diag("pyrun template: the forked kernel failed to start: %r\n" % (e,))
            finally:
                _real_os_exit(1)
        try:
            watchdog = _fork_watchdog(pid, fds[0])
        except OSError:  # a kernel without its watchdog would break a guarantee: none at all
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        return pid, watchdog
    finally:
        for fd in fds:
            os.close(fd)


def _fork_watchdog(kernel: int, request_fd: int) -> int:
    """Fork the watchdog of a kernel just forked (see _start_watchdog) as the
    template's own child: the kernel's start then waits for no fork of its own
    (the double fork cost a forked kernel most of its start), and the
    watchdog is no child of the kernel's.  It watches the kernel's request
    pipe, the kernel and the template, and ends the kernel's session, which
    the kernel's pid names once the kernel has called setsid (until then no
    process is in it).  The kernel cannot be reaped before the host releases
    it, so its pid and start time name it here even if it exited already."""
    runner = (kernel, _start_time(kernel, zombie=True))
    parent = (os.getpid(), _start_time(os.getpid()))
    try:
        death_fd = os.pidfd_open(kernel)
    except (AttributeError, OSError):  # before Linux 5.3: the once-a-second look
        death_fd = -1
    try:
        watchdog = os.fork()
        if watchdog == 0:
            _watchdog(request_fd, death_fd, runner, parent, kernel)
    finally:
        if death_fd >= 0:
            os.close(death_fd)
    return watchdog


def _become_forked_kernel(request: dict, fds: list, private: tuple) -> None:
    """The child of a fork: a session of its own, the host's channels on fds
    0-2, its own options; then the same start as a spawned kernel's from
    its channels on.  Never returns."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in list(fds) + list(private):
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass
    st = STATE
    st.pid = os.getpid()
    st.ppid = st.host_pid = os.getppid()  # the template: its death is the host's
    st.host_pid_given = True
    env = os.environ
    for name in TEMPLATE_PER_KERNEL_OPTIONS:
        env.pop(name, None)
        if isinstance(request.get(name), str):
            env[name] = request[name]
    if "tempfile" in sys.modules:  # its cached directory was the template's TMPDIR
        sys.modules["tempfile"].tempdir = None
    if env.get("PYRUN_CWD"):
        _enter_working_directory(env["PYRUN_CWD"])
    st.main_ident = threading.get_ident()
    st.has_watchdog = True  # the template forks it (_fork_watchdog)
    _arm_sigint()
    signal.signal(signal.SIGTERM, _on_sigterm)
    _take_channels()
    _prepare_namespace()
    hello = _hello_frame()
    _start_thread(_io_loop)
    memory_limit = _apply_start_limits(hello, b"")
    _note_prelude_errors(hello, st.template_prelude_errors)
    _say_hello(hello)
    if memory_limit is None:
        _guard_process()
    _serve_requests()


if __name__ == "__main__":
    main()
