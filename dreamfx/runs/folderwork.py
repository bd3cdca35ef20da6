"""A folder run handed to an executor (:class:`FolderWork`): the planned to-do list and the
client's side of the protocol -- read the inputs and group them into same-sized tasks of
encoded bytes (:mod:`dreamfx.kinds.executors`), write what the workers send back
atomically and record it in report.json. The worker's side is :mod:`dreamfx.runs.worker`.
"""

from __future__ import annotations

from typing import Any, Iterator

from dreamfx import __version__
from dreamfx.errors import DreamfxError, ImageError

from dreamfx.kinds.executors import DreamTask, ImageResult, Requirements, TaskItem
from dreamfx.runs.outcomes import Outcome
from dreamfx.runs.worker import check_worker, dream_task

#: Input bytes read ahead of the tasks being grouped by size, at most.
LOOKAHEAD_BYTES = 64 << 20


class FolderWork:
    """A planned folder run handed to an executor: the to-do list and the client's side of
    the protocol (read and group the inputs, write what comes back). ``runner``: the
    :class:`dreamfx.runs.batch.BatchRunner` that planned it, which records each outcome."""

    def __init__(self, runner: Any, todo: list[Outcome], host: Any, *, device: str = "auto",
                 debug: bool = False) -> None:
        self.runner, self.todo, self.host, self.device, self.debug = runner, todo, host, device, debug
        self.settings = runner.settings
        self.stopped: str | None = None
        self.lookahead_bytes = LOOKAHEAD_BYTES
        self._requirements: Requirements | None = None

    def __len__(self) -> int:
        return len(self.todo)

    def run_here(self) -> None:
        """Dream the to-do list in this process (the ``local`` executor)."""
        self.runner.run_here(self.todo)

    @property
    def worker_function(self) -> Any:
        """The function a worker runs on a task: ``dream_task(task) -> [ImageResult, ...]``."""
        return dream_task

    @property
    def check_function(self) -> Any:
        """``check_worker(requirements) -> None | "what is wrong"``, for each worker first."""
        return check_worker

    @property
    def requirements(self) -> Requirements:
        """What a worker needs (see :class:`Requirements`)."""
        return requirements_for(self.host, self.settings)

    def tasks(self) -> Iterator[DreamTask]:
        """The inputs as tasks, read lazily: same-sized images grouped (at most the batch
        size, and half the pixel budget) within a look-ahead of ``lookahead_bytes``. An input
        that cannot be read fails here, with its reason."""
        from dreamfx.engine.masks import settings_mask, with_bytes
        from dreamfx.io.images import FORMATS, digest, read_input_bytes

        options = self.runner.options
        group_pixels = max(1, options.pixel_budget // 2)
        try:  # the settings' mask for all, read once: a worker is sent its bytes
            one_for_all, unreadable = with_bytes(settings_mask(self.runner.settings)), None
        except DreamfxError as exc:  # changed since the plan: each photo fails with it
            one_for_all, unreadable = None, exc
        by_size: dict[Any, list[TaskItem]] = {}
        buffered = 0
        for index, outcome in enumerate(self.todo):
            if outcome.status != "pending":
                continue
            path = outcome.job.source
            try:
                data = read_input_bytes(path)
                if not data:
                    raise ImageError(f"input image {path} is empty (0 bytes)")
                if outcome.job.mask is None and unreadable is not None:
                    raise unreadable
                mask = with_bytes(outcome.job.mask) if outcome.job.mask is not None else one_for_all
            except DreamfxError as exc:
                outcome.error = exc
                self.runner._fail(outcome, str(exc), 0.0)
                continue
            size = header_size(data)
            item = TaskItem(index, str(path), path.name, data, digest(data),
                            FORMATS[outcome.job.output.suffix.lower()], mask)
            key: Any = size if size is not None else ("unreadable", index)
            group = by_size.setdefault(key, [])
            group.append(item)
            buffered += len(data) + (len(mask.data) if mask is not None else 0)
            pixels = size[0] * size[1] if size is not None else group_pixels
            if len(group) >= options.batch_size or (len(group) + 1) * pixels > group_pixels:
                buffered -= sum(_nbytes(i) for i in group)
                yield self._task(by_size.pop(key))
            while buffered > self.lookahead_bytes and by_size:
                largest = max(by_size, key=lambda k: len(by_size[k]))
                buffered -= sum(_nbytes(i) for i in by_size[largest])
                yield self._task(by_size.pop(largest))
        while by_size:
            yield self._task(by_size.pop(next(iter(by_size))))

    def _task(self, items: list[TaskItem]) -> DreamTask:
        o = self.runner.options
        if self._requirements is None:
            self._requirements = self.requirements
        return DreamTask(self.settings, items, o.color, o.keep_alpha, o.max_pixels, o.min_size, o.png_level,
                         self.device, self._requirements)

    def finish(self, task: DreamTask, results: list[ImageResult]) -> None:
        """Write what a worker returned for ``task`` (atomically, with its provenance); an
        input it returned nothing for fails."""
        from dreamfx.io.writing import write_encoded_atomic

        returned = {r.index: r for r in results}
        for item in task.items:
            outcome = self.todo[item.index]
            result = returned.get(item.index)
            if outcome.status != "pending":
                continue  # settled already (a task that ran twice)
            if result is None:
                self.runner._fail(outcome, "the worker returned no result for it", 0.0)
                continue
            outcome.notes.extend(result.notes)
            outcome.seconds, outcome.scores, outcome.silence = result.seconds, result.scores, result.silence
            if result.data is None:
                self.runner._fail(outcome, result.reason or "the worker could not dream it", result.seconds)
                continue
            try:
                write_encoded_atomic(outcome.job.output, result.data, result.metadata)
            except OSError as exc:
                self.runner._fail(outcome, f"cannot write {outcome.job.output}: {exc.strerror or exc}", result.seconds)
                continue
            except DreamfxError as exc:
                self.runner._fail(outcome, str(exc), result.seconds)
                continue
            self.runner.written(outcome)

    def fail(self, task: DreamTask, reason: str) -> None:
        """Every input of ``task`` failed with ``reason`` (the task itself failed)."""
        for item in task.items:
            outcome = self.todo[item.index]
            if outcome.status == "pending":
                self.runner._fail(outcome, reason, 0.0)

    def fail_rest(self, reason: str) -> None:
        """Every input not settled yet, sent or not, failed with ``reason`` (the engine can
        dream no more: no worker left); a rerun dreams them."""
        for outcome in self.todo:
            if outcome.status == "pending":
                self.runner._fail(outcome, reason, 0.0)

    def status(self, text: str) -> None:
        """Show ``text`` as the run's current activity (where the dreams happen)."""
        self.runner.event("status", None, text)

    def stop(self, message: str) -> None:
        """End the run early (the engine was lost): what is not done stays pending, the
        report is written and says why, and a rerun resumes."""
        self.stopped = message
        self.runner.stopped = message


def requirements_for(host: Any, settings: Any) -> Requirements:
    """What a worker needs to dream ``settings`` like this client (:class:`Requirements`)."""
    from dreamfx.config.settings import COMPONENT_SECTIONS
    from dreamfx.engine.backend import planned

    components = {}
    for section, kind in COMPONENT_SECTIONS.items():
        name = settings.component(section).name
        component = host.get(kind, name)
        info = host.plugins.get(component.plugin)
        components[section] = (kind, name, component.plugin, info.version if info is not None else None)
    return Requirements(__version__, components, planned())


def _nbytes(item: TaskItem) -> int:
    return len(item.data) + (len(item.mask.data) if item.mask is not None else 0)


def header_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from an encoded image's header, or None if it cannot be read (the
    worker then says why)."""
    import io

    from dreamfx.io.images import _open_image

    try:
        with _open_image(io.BytesIO(data)) as img:
            return int(img.size[1]), int(img.size[0])
    except Exception:  # noqa: BLE001 - any bad input: the worker's decode names the reason
        return None


# -- the worker side ----------------------------------------------------------------------------


