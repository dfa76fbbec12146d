"""Catches the status displays prelude helpers send, in a kernel or under plain python3."""

import builtins
import contextlib

STATUS_MIME = "application/vnd.pyrun.status+json"


@contextlib.contextmanager
def recorded():
    """Within the block, `display` is replaced; yields the list of
    (payload, text/plain) pairs of every status display sent."""
    seen = []
    missing = object()
    previous = getattr(builtins, "display", missing)

    def display(*objs, **_options):
        for obj in objs:
            bundle = obj._repr_mimebundle_() if hasattr(obj, "_repr_mimebundle_") else {}
            if STATUS_MIME in bundle:
                seen.append((bundle[STATUS_MIME], bundle["text/plain"]))

    builtins.display = display
    try:
        yield seen
    finally:
        if previous is missing:
            del builtins.display
        else:
            builtins.display = previous


def statuses(call, *args, **kwargs):
    """Call a helper and return (its value, the payloads it reported)."""
    with recorded() as seen:
        value = call(*args, **kwargs)
    return value, [payload for payload, _ in seen]
