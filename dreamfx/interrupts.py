"""How the command line stops: every stop signal acts like Ctrl-C, and the final writes are
shielded from a second one.

SIGTERM (``kill``, a job scheduler) and SIGHUP (the terminal closed) raise
KeyboardInterrupt like SIGINT does, so a run stops the same way whichever arrives: the
writes under way finish, report.json is written, the exit status is 130. While those last
writes happen, further stop signals are noted and ignored: pressing Ctrl-C twice cannot
lose the report. SIGKILL cannot be caught; a later run removes the temporary files it
leaves (:func:`dreamfx.io.writing.remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

#: Signals that stop a run like Ctrl-C (those this platform has).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def install() -> None:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt (where nobody set a handler before)."""
    for signum in STOP_SIGNALS:
        try:
            if signal.getsignal(signum) == signal.SIG_DFL:
                signal.signal(signum, _raise_interrupt)
        except ValueError:  # not the main thread (dreamfx.cli.main called from a thread)
            return


@contextlib.contextmanager
def _handling(handler: Any, keep_default_stops: bool = False) -> Iterator[None]:
    """``handler`` for SIGINT and the stop signals while the block runs, then the handlers
    before it again. A signal ignored (SIG_IGN) stays ignored; ``keep_default_stops``: a
    stop signal nobody handles (SIG_DFL) keeps ending the process. Off the main thread no
    handler can be set, and none is restored."""
    saved: dict[int, Any] = {}
    for signum in (signal.SIGINT, *STOP_SIGNALS):
        try:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN or (keep_default_stops and signum != signal.SIGINT
                                              and previous == signal.SIG_DFL):
                continue
            signal.signal(signum, handler)
            saved[signum] = previous  # only once set: off the main thread nothing was
        except ValueError:  # not the main thread: signals go to the main thread's handlers
            break
    try:
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)


@contextlib.contextmanager
def shielded() -> Iterator[list[int]]:
    """Hold off SIGINT and the stop signals while the block runs (the report, the summary);
    yields the list of signals that arrived meanwhile."""
    arrived: list[int] = []
    with _handling(lambda signum, frame: arrived.append(signum)):
        yield arrived


@contextlib.contextmanager
def watched() -> Iterator[list[int]]:
    """While the block runs, a stop signal (SIGINT and the stop signals) raises
    KeyboardInterrupt as usual and is remembered in the yielded list: code that isolates a
    plugin's own ``raise KeyboardInterrupt`` can tell it from the user's Ctrl-C, which must
    stop the program."""
    arrived: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        arrived.append(signum)
        raise KeyboardInterrupt

    with _handling(stop, keep_default_stops=True):
        yield arrived


#: Set when the main thread was interrupted while a dream ran in a worker thread
#: (:func:`dreamfx.runs.outcomes.interruptible`): the dream stops at its next check.
_STOP = threading.Event()


def request_stop() -> None:
    """Ask the dream running in a worker thread to stop at its next :func:`check_stop`."""
    _STOP.set()


def clear_stop() -> None:
    _STOP.clear()


def check_stop() -> None:
    """Raise KeyboardInterrupt in a worker thread whose dream was abandoned; long loops call
    this between their compiled calls (the built-in optimizer between pieces of steps)."""
    if _STOP.is_set():
        raise KeyboardInterrupt

