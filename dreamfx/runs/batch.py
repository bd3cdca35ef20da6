"""Dreaming many files: planning, batching under a memory budget, resume, failure isolation
and a report.

A run first *plans* without TensorFlow: each job is failed (unusable input), skipped (its
output is dreamfx's, made with the same settings from the same input bytes), refused (its
output exists but dreamfx did not write it: never replaced without ``force``) or to do.
Only when something is to do is the dreamer built (and TensorFlow imported).

Decoding runs in worker threads ahead of the dream, encoding and writing behind it, so the
compute never waits for disk. Images of the same size are dreamed together, one batch per
graph call. Everything in flight (decoded, dreaming, being written) is bounded by a pixel
budget (each picture counted as the size of the one decoded before it until its own is
known), so a folder of 12-megapixel photos never holds more than a few of them in memory.
A file that cannot be read or written fails alone with its reason; the run goes on.
Outputs are written atomically, so an interrupted run leaves only complete files.
"""

from __future__ import annotations

import json
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from dreamfx.errors import DreamfxError, ImageError
from dreamfx.io.images import Picture, compose, digest, load_picture, read_input_bytes
from dreamfx.io.writing import write_bytes_atomic, write_image_atomic
from dreamfx.runs.inputs import Job
from dreamfx.io.metadata import output_metadata, provenance_of
from dreamfx.runs.outcomes import BatchOptions, PROBLEMS, Outcome, PixelBudget, interruptible, run_hash
from dreamfx.runs.writes import existing

if TYPE_CHECKING:  # the pipeline imports TensorFlow's helpers; planning must not
    from dreamfx.engine.dreamer import Dreamer
    from dreamfx.engine.results import DreamResult
    from dreamfx.config.settings import Settings


#: Progress callback: ``event(kind, outcome_or_None, detail)`` with kind one of "skipped",
#: "refused", "failed", "done", "silent", "round" (detail: round index), "batch" (detail: (batch
#: size, rounds the batch will take)), "piece" (detail: a :class:`dreamfx.engine.results.Piece`,
#: where the batch's dream stands: pieces within a round and each round's end), "status"
#: (detail: an executor's news, a line of text).
EventFn = Callable[[str, "Outcome | None", Any], None]


class BatchRunner:
    """Dream a list of jobs with one dreamer, built by ``make_dreamer`` only if needed."""

    def __init__(self, settings: "Settings", jobs: Sequence[Job], options: BatchOptions,
                 make_dreamer: Callable[[], "Dreamer"], event: EventFn | None = None,
                 pictures: dict[Path, Picture] | None = None, executor: Any = None, host: Any = None,
                 device: str = "auto", debug: bool = False) -> None:
        self.settings, self.options, self.make_dreamer = settings, options, make_dreamer
        #: Who dreams (``dreamfx.kinds.executors``): None, or the ``local`` executor, in this process.
        self.executor, self.host, self.device, self.debug = executor, host, device, debug
        #: Why the run ended before its end (its engine was lost), or None.
        self.stopped: str | None = None
        #: Inputs already decoded (a single-image run checks its input before TensorFlow
        #: loads): used instead of decoding them again.
        self.pictures = dict(pictures or {})
        self.dreamer: Dreamer | None = None
        self.outcomes = [Outcome(job) for job in jobs]
        self.event: EventFn = event or (lambda kind, outcome, detail: None)
        self.hash = run_hash(settings, options)
        self.started = time.perf_counter()
        self.interrupted = False
        self.budget = PixelBudget(options.pixel_budget)

    # -- planning (no TensorFlow) ---------------------------------------------------------------
    def plan(self) -> list[Outcome]:
        """Settle every job that needs no dream; return those that do."""
        todo = []
        for outcome in self.outcomes:
            if outcome.status != "pending":
                continue
            if outcome.job.problem is not None:
                self._finish(outcome, "failed", outcome.job.problem)
                continue
            verdict = self._existing(outcome.job.output, outcome.job.source, mask=outcome.job.mask)
            if verdict is None:
                todo.append(outcome)
            else:
                self._finish(outcome, *verdict)
        if self.options.panel is not None and todo:
            verdict = self._existing(self.options.panel, None, "panel")
            if verdict is not None:
                for outcome in todo:
                    self._finish(outcome, *verdict)
                todo = []
        return todo

    def _existing(self, output: Path, source: Path | None, what: str = "output",
                  mask: Any = None) -> tuple[str, str] | None:
        """What to do about an output path that may exist: None (dream it), or a final
        (status, reason). ``source`` None: never up to date (a panel); ``mask``: the input's
        own mask (a folder of masks), whose digest the output must record too."""
        found = existing(output, what, self.options.force)
        if found.refused is not None:
            return ("failed" if found.folder else "refused"), found.refused
        meta = found.meta
        if meta is None or self.options.force or self.options.redo or source is None:
            return None
        if meta.get("run_hash") != self.hash or meta.get("complete") is False:
            return None
        if mask is not None and meta.get("mask_sha256") != mask.sha256:
            return None  # dreamed through another mask
        stored = meta.get("input_sha256")
        if not isinstance(stored, str):
            return None  # written before outputs recorded their input's digest
        try:
            current = digest(read_input_bytes(source))
        except DreamfxError:
            return None  # the dream reports why the input cannot be read
        if stored != current:
            return None
        silent = meta.get("score_before") == 0 and meta.get("score_after") == 0
        return "skipped", ("output exists with the same settings and input (use --force to redo)"
                           + ("; its dream was silent: the objective is zero on it, nothing changed" if silent else ""))

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> list[Outcome]:
        """Plan, then dream what is to do; on Ctrl-C finish the writes under way and stop
        (``interrupted``)."""
        self._pending: list[Future[None]] = []
        try:
            todo = self.plan()
            if not todo:
                return self.outcomes
            if self.executor is None:
                self.run_here(todo)
            else:
                from dreamfx.runs.folderwork import FolderWork

                try:
                    self.executor.run(FolderWork(self, todo, self.host, device=self.device, debug=self.debug))
                except DreamfxError:
                    raise  # it could not start (no engine, a worker that cannot dream): one line, no work done
                except (Exception, SystemExit) as exc:  # an executor's bug, or its engine's: the report says so
                    self.stopped = f"the executor failed: {type(exc).__name__}: {str(exc).strip()[:300]}"
        except KeyboardInterrupt:
            self.interrupted = True
            self._settle(self._pending)
        return self.outcomes

    def run_here(self, todo: list[Outcome]) -> None:
        """Dream ``todo`` in this process (the ``local`` executor). The dreamer is built (and
        TensorFlow imported) when the first picture has decoded: a rerun whose inputs left to do
        are all unreadable (a corrupt file that failed before) fails them again in a second,
        without starting TensorFlow; an input edited into a good photo is dreamed."""
        pending_writes = self._pending = getattr(self, "_pending", [])
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="dreamfx-io") as pool:
            try:
                for group in self._groups(pool, todo):
                    if self.dreamer is None:  # the next pictures decode meanwhile
                        self.dreamer = self.make_dreamer()
                    self._dream_group(group, pool, pending_writes)
            finally:
                self._settle(pending_writes)

    @staticmethod
    def _settle(writes: list[Future[None]]) -> None:
        """Let the writes under way land (each is atomic), whatever the main thread meets."""
        for future in writes:
            while True:
                try:
                    future.result()
                    break
                except KeyboardInterrupt:  # a second Ctrl-C: the writes still finish
                    continue

    def _load(self, outcome: Outcome) -> Picture:
        picture = self.pictures.pop(outcome.job.source, None)
        if picture is None:
            picture = load_picture(outcome.job.source, max_pixels=self.options.max_pixels)
        short = min(picture.size)
        if self.options.min_size is not None and short < self.options.min_size:
            raise ImageError(f"image is {picture.size[1]}x{picture.size[0]}, smaller than --min-size {self.options.min_size}")
        return picture  # (a picture smaller than the model's view is noted when its group dreams)

    def _groups(self, pool: ThreadPoolExecutor, todo: list[Outcome]) -> Iterator[list[tuple[Outcome, Picture]]]:
        """Decoded pictures in same-size groups of at most ``batch_size`` images and half the
        pixel budget, decoding ahead as far as the pixel budget allows."""
        window = max(2 * self.options.batch_size, 4)
        group_pixels = max(1, self.options.pixel_budget // 2)
        queue = deque(todo)
        loads: deque[tuple[Outcome, Future[Picture], int]] = deque()
        by_size: dict[tuple[int, int], list[tuple[Outcome, Picture]]] = {}
        estimate = 0  # pixels of the last decoded picture: the next one is taken to match
        while queue or loads:
            while queue and len(loads) < window:
                if not estimate and loads:
                    break  # no size known yet: one decode at a time until there is
                pixels = max(1, estimate)
                if not self.budget.fits(pixels):
                    break
                outcome = queue.popleft()
                self.budget.take(pixels)
                loads.append((outcome, pool.submit(self._load, outcome), pixels))
            if not loads:  # the budget is full and nothing is decoding
                if by_size:
                    yield by_size.pop(max(by_size, key=lambda s: len(by_size[s])))
                else:
                    self.budget.wait()  # for a write to finish
                continue
            outcome, future, pixels = loads.popleft()
            started = time.perf_counter()
            try:
                picture = future.result()
            except Exception as exc:  # a decoder bug on one file must not end the run
                self.budget.give(pixels)
                reason = str(exc) if isinstance(exc, DreamfxError) else f"{type(exc).__name__}: {exc}"
                outcome.error = exc
                self._fail(outcome, reason, time.perf_counter() - started)
                continue
            size_pixels = estimate = picture.size[0] * picture.size[1]
            self.budget.give(pixels - size_pixels)  # the estimate, corrected
            outcome.notes.extend(picture.notes)
            group = by_size.setdefault(picture.size, [])
            group.append((outcome, picture))
            if len(group) >= self.options.batch_size or (len(group) + 1) * size_pixels > group_pixels:
                yield by_size.pop(picture.size)
        while by_size:
            yield by_size.pop(next(iter(by_size)))

    def _dream_group(self, group: list[tuple[Outcome, Picture]], pool: ThreadPoolExecutor,
                     pending: list[Future[None]]) -> None:
        assert self.dreamer is not None
        size = group[0][1].size
        pixels = size[0] * size[1]
        view = min(self.dreamer.model_info.input_size)
        if min(size) < view:
            for outcome, _ in group:
                outcome.notes.append(f"{size[1]}x{size[0]} is smaller than the model's {view}x{view} "
                                     "input: the model sees it upsampled")
        started = time.perf_counter()
        try:
            self.event("batch", group[0][0], (len(group), self.dreamer.rounds_for(size)))
            images = [p.pixels(self.dreamer.channels) for _, p in group]  # a colour model dreams the RGB image
            masks = [outcome.job.mask for outcome, _ in group]  # a folder of masks: each photo's own
            results = interruptible(lambda: self.dreamer.dream_batch(
                images, on_round=lambda r: self.event("round", group[0][0], r),
                on_piece=lambda piece: self.event("piece", group[0][0], piece),
                **({"masks": masks} if any(masks) else {})))
        except DreamfxError as exc:
            self.budget.give(pixels * len(group))
            for outcome, _ in group:
                outcome.error = exc
                self._fail(outcome, str(exc), 0.0)
            return
        each = (time.perf_counter() - started) / len(group)
        for (outcome, picture), result in zip(group, results):
            outcome.seconds, outcome.scores = each, (result.score_before, result.score_after)
            outcome.silence = result.silence
            if self.options.keep_results:
                outcome.result = result
            if result.problem is not None:  # a non-finite score or image: write nothing for it
                self.budget.give(pixels)
                self._fail(outcome, result.problem, each)
                continue
            future = pool.submit(self._write, outcome, picture, result)
            future.add_done_callback(lambda _, n=pixels: self.budget.give(n))
            pending.append(future)

    def _write(self, outcome: Outcome, picture: Picture, result: "DreamResult") -> None:
        try:
            image = compose(picture, result.image, self.options.color, self.options.keep_alpha)
            metadata = self.metadata(outcome, picture, result)
            write_image_atomic(outcome.job.output, image, metadata, self.options.png_level)
            if self.options.panel is not None:
                from dreamfx.io.panel import render_panel

                title = f"{outcome.job.source.name}: {result.settings.preset}, {result.objective}"
                write_image_atomic(self.options.panel, render_panel(result, title=title), metadata, self.options.png_level)
        except Exception as exc:  # an encoder or disk failure fails this image alone
            if isinstance(exc, DreamfxError):
                reason = str(exc)
            elif isinstance(exc, OSError):
                reason = f"cannot write {outcome.job.output}: {exc.strerror or exc}"
            else:
                reason = f"cannot write {outcome.job.output}: {type(exc).__name__}: {exc}"
            self._fail(outcome, reason, outcome.seconds)
            return
        self.written(outcome)

    def written(self, outcome: Outcome) -> None:
        """``outcome``'s output is in place: it is done, or silent (its ``silence`` set: the
        objective was zero on it, so nothing changed; the reason says what to try)."""
        outcome.status = "done" if outcome.silence is None else "silent"
        if outcome.silence is not None:
            outcome.reason = outcome.silence.reason()
        self.event(outcome.status, outcome, None)

    def _finish(self, outcome: Outcome, status: str, reason: str, seconds: float = 0.0) -> None:
        outcome.status, outcome.reason, outcome.seconds = status, reason, seconds
        self.event(status, outcome, None)

    def _fail(self, outcome: Outcome, reason: str, seconds: float) -> None:
        self._finish(outcome, "failed", reason, seconds)

    # -- provenance and the report --------------------------------------------------------------
    def metadata(self, outcome: Outcome, picture: Picture, result: "DreamResult") -> dict[str, Any]:
        return output_metadata(self.settings, result, color=self.options.color, keep_alpha=self.options.keep_alpha,
                               input_name=outcome.job.source.name, input_digest=picture.digest)

    def counts(self) -> dict[str, int]:
        counts = {"done": 0, "silent": 0, "skipped": 0, "refused": 0, "failed": 0, "pending": 0}
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return counts

    def silent(self) -> list[Outcome]:
        """The outcomes dreamed silent: written, exit status 0, but nothing changed."""
        return [o for o in self.outcomes if o.status == "silent"]

    def problems(self) -> list[Outcome]:
        """The outcomes that make the run exit 1: failed inputs and refused outputs."""
        return [o for o in self.outcomes if o.status in PROBLEMS]

    def write_report(self, path: Path) -> None:
        """Write report.json atomically; a failure is one :class:`ImageError`."""
        report = {
            **provenance_of(self.settings),
            "run_hash": self.hash,
            "interrupted": self.interrupted,
            "stopped": self.stopped,
            "seconds": round(time.perf_counter() - self.started, 3),
            "counts": self.counts(),
            "files": [o.as_dict(self.hash) for o in self.outcomes],
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, json.dumps(report, indent=2).encode())
        except OSError as exc:
            raise ImageError(f"cannot write the report {path}: {exc.strerror or exc}") from None
