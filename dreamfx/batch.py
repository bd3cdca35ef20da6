"""Dreaming many files: batching, resume, failure isolation and a report.

Decoding runs in worker threads ahead of the dream, encoding and writing behind it, so the
compute never waits for disk. Images of the same size are dreamed together, one batch per
graph call. A file that cannot be read or written fails alone with its reason; the run goes
on. Outputs are written atomically, so an interrupted run leaves only complete files, and
a re-run skips every output whose stored run hash matches (``force`` redoes them).
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from . import __version__
from .errors import DreamfxError, ImageError
from .imageio import (DEFAULT_MAX_PIXELS, PNG_LEVEL, Picture, compose, load_picture, read_metadata, write_bytes_atomic,
                      write_image_atomic)
from .inputs import Job
from .pipeline import Dreamer, DreamResult


@dataclass(frozen=True)
class BatchOptions:
    force: bool = False
    color: str = "gray"  # gray | luma
    keep_alpha: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    min_size: int | None = None  # refuse images whose short side is below this
    batch_size: int = 16
    workers: int = 2
    panel: Path | None = None  # single-file runs: also write the article's figure here
    png_level: int = PNG_LEVEL  # PNG compression level of the outputs (0-9)


@dataclass
class Outcome:
    """What happened to one input (one entry of report.json)."""

    job: Job
    status: str = "pending"  # done | skipped | failed | pending (not reached)
    reason: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    result: DreamResult | None = None

    def as_dict(self, settings_hash: str) -> dict[str, Any]:
        return {
            "input": str(self.job.source),
            "status": self.status,
            "reason": self.reason,
            "output": str(self.job.output) if self.status in ("done", "skipped") else None,
            "settings_hash": settings_hash,
            "seconds": round(self.seconds, 4),
            "notes": self.notes,
        }


#: Progress callback: ``event(kind, outcome_or_None, detail)`` with kind one of
#: "skipped", "failed", "done", "round" (detail: round index), "batch" (detail: (batch size,
#: rounds the batch will take)).
EventFn = Callable[[str, "Outcome | None", Any], None]


def run_hash(dreamer: Dreamer, options: BatchOptions) -> str:
    """A hash of everything that determines an output's pixels."""
    blob = json.dumps([dreamer.settings.digest(), options.color, options.keep_alpha]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class BatchRunner:
    """Dream a list of jobs with one :class:`Dreamer`."""

    def __init__(self, dreamer: Dreamer, jobs: Sequence[Job], options: BatchOptions,
                 event: EventFn | None = None) -> None:
        self.dreamer, self.options = dreamer, options
        self.outcomes = [Outcome(job) for job in jobs]
        self.event: EventFn = event or (lambda kind, outcome, detail: None)
        self.hash = run_hash(dreamer, options)
        self.started = time.perf_counter()
        self.interrupted = False

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> list[Outcome]:
        """Dream every job; on Ctrl-C finish the writes under way and stop (``interrupted``)."""
        todo = [o for o in self.outcomes if not self._skip(o)]
        pending_writes: list[Future[None]] = []
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="dreamfx-io") as pool:
            try:
                for group in self._groups(pool, todo):
                    self._dream_group(group, pool, pending_writes)
            except KeyboardInterrupt:
                self.interrupted = True
            finally:
                for future in pending_writes:
                    future.result()  # writes are atomic; let those under way land
        return self.outcomes

    def _skip(self, outcome: Outcome) -> bool:
        if self.options.force or not outcome.job.output.is_file():
            return False
        meta = read_metadata(outcome.job.output)
        if not meta or meta.get("run_hash") != self.hash or meta.get("input") != outcome.job.source.name:
            return False
        outcome.status, outcome.reason = "skipped", "output exists with the same settings (use --force to redo)"
        self.event("skipped", outcome, None)
        return True

    def _load(self, outcome: Outcome) -> Picture:
        picture = load_picture(outcome.job.source, max_pixels=self.options.max_pixels)
        short = min(picture.size)
        if self.options.min_size is not None and short < self.options.min_size:
            raise ImageError(f"image is {picture.size[1]}x{picture.size[0]}, smaller than --min-size {self.options.min_size}")
        view = min(self.dreamer.model_info.input_size)
        if short < view:
            picture.notes.append(f"{picture.size[1]}x{picture.size[0]} is smaller than the model's {view}x{view} "
                                 "input: the model sees it upsampled")
        return picture

    def _groups(self, pool: ThreadPoolExecutor, todo: list[Outcome]) -> Iterator[list[tuple[Outcome, Picture]]]:
        """Decoded pictures in same-size groups of at most ``batch_size``, decoding ahead."""
        window = max(2 * self.options.batch_size, 4)
        loads: list[tuple[Outcome, Future[Picture]]] = []
        index = 0
        by_size: dict[tuple[int, int], list[tuple[Outcome, Picture]]] = {}
        while index < len(todo) or loads:
            while index < len(todo) and len(loads) < window:
                loads.append((todo[index], pool.submit(self._load, todo[index])))
                index += 1
            outcome, future = loads.pop(0)
            started = time.perf_counter()
            try:
                picture = future.result()
            except DreamfxError as exc:
                self._fail(outcome, str(exc), time.perf_counter() - started)
                continue
            except Exception as exc:  # a decoder bug on one file must not end the run
                self._fail(outcome, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
                continue
            outcome.notes.extend(picture.notes)
            group = by_size.setdefault(picture.size, [])
            group.append((outcome, picture))
            if len(group) >= self.options.batch_size:
                yield by_size.pop(picture.size)
        yield from by_size.values()

    def _dream_group(self, group: list[tuple[Outcome, Picture]], pool: ThreadPoolExecutor,
                     pending: list[Future[None]]) -> None:
        size = group[0][1].size
        rounds = self.dreamer.settings.loop.params.get("rounds", 1) * len(self.dreamer.scaler.levels(size))
        self.event("batch", group[0][0], (len(group), rounds))
        started = time.perf_counter()
        try:
            colour = self.dreamer.channels == 3  # a colour model dreams the RGB image (gray ones: luma, repeated)
            results = self.dreamer.dream_batch([p.rgb if colour and p.rgb is not None else p.luma for _, p in group],
                                               on_round=lambda r: self.event("round", group[0][0], r))
        except DreamfxError as exc:
            for outcome, _ in group:
                self._fail(outcome, str(exc), 0.0)
            return
        each = (time.perf_counter() - started) / len(group)
        for (outcome, picture), result in zip(group, results):
            outcome.result, outcome.seconds = result, each
            if result.problem is not None:  # a non-finite score or image: write nothing for it
                self._fail(outcome, result.problem, each)
                continue
            pending.append(pool.submit(self._write, outcome, picture, result))

    def _write(self, outcome: Outcome, picture: Picture, result: DreamResult) -> None:
        try:
            image = compose(picture, result.image, self.options.color, self.options.keep_alpha)
            write_image_atomic(outcome.job.output, image, self.metadata(outcome, result), self.options.png_level)
            if self.options.panel is not None:
                from .panel import render_panel

                title = f"{outcome.job.source.name}: {result.settings.preset}, {result.objective}"
                write_image_atomic(self.options.panel, render_panel(result, title=title), self.metadata(outcome, result),
                                   self.options.png_level)
        except (DreamfxError, OSError) as exc:
            reason = str(exc) if isinstance(exc, DreamfxError) else f"cannot write {outcome.job.output}: {exc}"
            self._fail(outcome, reason, outcome.seconds)
            return
        outcome.status = "done"
        self.event("done", outcome, None)

    def _fail(self, outcome: Outcome, reason: str, seconds: float) -> None:
        outcome.status, outcome.reason, outcome.seconds = "failed", reason, seconds
        self.event("failed", outcome, None)

    # -- provenance and the report --------------------------------------------------------------
    def metadata(self, outcome: Outcome, result: DreamResult) -> dict[str, Any]:
        settings = self.dreamer.settings
        return {
            "dreamfx_version": __version__,
            "preset": settings.preset,
            "settings": settings.to_dict(),
            "settings_hash": settings.digest(),
            "run_hash": self.hash,
            "seed": settings.seed,
            "color": self.options.color,
            "keep_alpha": self.options.keep_alpha,
            "input": outcome.job.source.name,
            "objective": result.objective,
            "score_before": result.score_before,
            "score_after": result.score_after,
        }

    def counts(self) -> dict[str, int]:
        counts = {"done": 0, "skipped": 0, "failed": 0, "pending": 0}
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return counts

    def write_report(self, path: Path) -> None:
        report = {
            "dreamfx_version": __version__,
            "preset": self.dreamer.settings.preset,
            "settings": self.dreamer.settings.to_dict(),
            "run_hash": self.hash,
            "interrupted": self.interrupted,
            "seconds": round(time.perf_counter() - self.started, 3),
            "counts": self.counts(),
            "files": [o.as_dict(self.hash) for o in self.outcomes],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, json.dumps(report, indent=2).encode())
