"""What a folder run is made of: its options (:class:`BatchOptions`), one :class:`Outcome` per
input (the job, what became of it, the report's entry), the statuses, the run's hash, and
two mechanics every way of running it shares: the pixel budget of images held at once and
waits that Ctrl-C can interrupt.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from dreamfx import interrupts
from dreamfx.io.images import DEFAULT_MAX_PIXELS, PNG_LEVEL
from dreamfx.runs.inputs import Job
from dreamfx.io.metadata import output_hash

if TYPE_CHECKING:  # the pipeline imports TensorFlow's helpers; planning must not
    from dreamfx.engine.results import DreamResult
    from dreamfx.config.settings import Settings


#: Pixels decoded, dreaming or being written at once, by default: 24 megapixels, two
#: 12-megapixel photos. Measured peak for a folder of 12-megapixel photos: docs/batch.md.
PIXEL_BUDGET = 24_000_000


@dataclass(frozen=True)
class BatchOptions:
    force: bool = False  # replace outputs even when up to date, or not written by dreamfx
    redo: bool = False  # dream again outputs that are up to date (single-file runs)
    color: str = "gray"  # gray | luma
    keep_alpha: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    min_size: int | None = None  # refuse images whose short side is below this
    batch_size: int = 16
    workers: int = 2
    panel: Path | None = None  # single-file runs: also write the article's figure here
    png_level: int = PNG_LEVEL  # PNG compression level of the outputs (0-9)
    pixel_budget: int = PIXEL_BUDGET  # pixels in flight at most (one image always fits)
    keep_results: bool = False  # keep each DreamResult (its full-size arrays) on its outcome


@dataclass
class Outcome:
    """What happened to one input (one entry of report.json)."""

    job: Job
    status: str = "pending"  # done | silent | skipped | refused | failed | pending (not reached)
    #: Why it failed, was refused or skipped; for "silent" (written, but the objective was
    #: zero on it, so nothing changed: a finished output), what to try instead.
    reason: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    result: "DreamResult | None" = None  # only with ``keep_results``: it holds full-size arrays
    scores: tuple[float, float] | None = None  # the objective before and after
    #: The exception behind a failure, when there was one (``--debug`` shows its traceback).
    error: BaseException | None = field(default=None, repr=False, compare=False)
    #: A silent dream's :class:`dreamfx.engine.responses.Silence` (the summary's one line comes from these).
    silence: Any = field(default=None, repr=False, compare=False)

    def as_dict(self, settings_hash: str) -> dict[str, Any]:
        own = {} if self.job.mask is None else {"mask": self.job.mask.path}  # a folder of masks: this input's
        return {
            "input": str(self.job.source),
            **own,
            "status": self.status,
            "reason": self.reason,
            "output": str(self.job.output) if self.status in FINISHED else None,
            "settings_hash": settings_hash,
            "seconds": round(self.seconds, 4),
            "score_before": None if self.scores is None else self.scores[0],
            "score_after": None if self.scores is None else self.scores[1],
            "notes": self.notes,
        }


#: Statuses that make a run exit 1.
PROBLEMS = ("failed", "refused")


#: Statuses of an input whose output is written and up to date (a rerun skips it).
FINISHED = ("done", "silent", "skipped")


def run_hash(settings: "Settings", options: BatchOptions) -> str:
    """A hash of everything besides the input that determines an output's pixels."""
    return output_hash(settings, options.color, options.keep_alpha)


def interruptible(work: Callable[[], Any]) -> Any:
    """Run ``work`` (a dream) in a worker thread while this thread waits for it in short
    sleeps, so Ctrl-C and the stop signals, which Python delivers to the main thread between
    bytecodes, take effect at once even while one TensorFlow call runs for seconds (a step of
    a 6000x4000 ``octaves`` dream is one call of several seconds). On an interrupt the dream
    is abandoned: its thread finishes the call in the background. The ``dreamfx`` program
    then ends the process at once (:func:`dreamfx.cli.entry`); a Python caller's interpreter
    waits for the thread at exit (it is not a daemon: tearing TensorFlow down under a running
    call crashes the process)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the waiting thread as it was
            box["error"] = exc
        finally:
            done.set()

    interrupts.clear_stop()
    threading.Thread(target=run, name="dreamfx-dream", daemon=False).start()
    try:
        while not done.wait(0.05):
            pass
    except KeyboardInterrupt:
        interrupts.request_stop()  # the worker stops at its next check
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


class PixelBudget:
    """Pixels in flight, shared by the planner thread and the writer threads."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = max(1, int(limit)), 0
        self._cond = threading.Condition()

    def fits(self, pixels: int) -> bool:
        with self._cond:
            return self.used == 0 or self.used + pixels <= self.limit

    def take(self, pixels: int) -> None:
        with self._cond:
            self.used += pixels

    def give(self, pixels: int) -> None:
        with self._cond:
            self.used -= pixels
            self._cond.notify_all()

    def wait(self, timeout: float = 0.1) -> None:
        with self._cond:
            self._cond.wait(timeout)
