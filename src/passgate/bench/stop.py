"""SIGTERM for benchmarks: unwind like Ctrl-C, so the benchmark's own cleanup stops the
server processes, reader workers and temporary PostgreSQL it started.

The handler's ``SystemExit`` is raised wherever the main thread happens to be. When that
is a finalizer or a weakref callback, Python prints it ("Exception ignored in ...") and
goes on, and the benchmark would run to its end. So the signal is remembered, and the
benchmark's waits (:func:`check`, :func:`sleep`) raise the exit again; the dropped one
is not printed (it is no error, and it is not lost).
"""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

_received: int | None = None


def on_term(signum: int, _frame: FrameType | None) -> None:
    global _received
    _received = signum
    sys.exit(128 + signum)


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    exc = unraisable.exc_value
    if not (isinstance(exc, SystemExit) and _received is not None):
        sys.__unraisablehook__(unraisable)


def install() -> None:
    signal.signal(signal.SIGTERM, on_term)
    sys.unraisablehook = _unraisable


def check() -> None:
    """Exit now if SIGTERM arrived (its first exit may have been dropped)."""
    if _received is not None:
        sys.exit(128 + _received)


def sleep(seconds: float) -> None:
    time.sleep(seconds)
    check()
