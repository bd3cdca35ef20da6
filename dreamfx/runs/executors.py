"""Executors: which engine dreams a folder run's images (``--executor``, ``--cluster``).

The host always plans the run and writes every output; an executor only decides where the
dreams happen. ``local`` (the default) dreams in this process, as :class:`BatchRunner`
always did. A distributed executor (the built-in ``dask``) sends *tasks* to workers: groups
of same-sized inputs as their encoded bytes, with the settings; a worker decodes them,
dreams them with one warm :class:`~dreamfx.engine.dreamer.Dreamer` per settings (built once per
worker process) and returns each output already encoded, with its provenance. The client
then writes the bytes atomically and records the image in report.json, so no shared
filesystem is needed and resume, ``--force`` and the report work as in a local run.

Client side: :class:`FolderWork` (what an executor's ``run(work)`` receives). Worker side,
module-level functions a worker imports by name: :func:`dream_task` (a task to its
results), :func:`check_worker` (whether this worker can dream these settings: same dreamfx,
same plugins). Nothing here imports TensorFlow or an
engine's library at module level.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from dreamfx import __version__
from dreamfx.cache import process_cache
from dreamfx.errors import DreamfxError, ImageError

if TYPE_CHECKING:
    from dreamfx.runs.batch import BatchRunner, Outcome
    from dreamfx.config.settings import Settings

#: Input bytes read ahead of the tasks being grouped by size, at most.
LOOKAHEAD_BYTES = 64 << 20


class Executor(Protocol):
    """What a `dreamfx_register_executors` factory returns."""

    def run(self, work: "FolderWork") -> None:
        """Dream every task of ``work`` (or call ``work.run_here()``); see the hook."""


class ExecutorError(DreamfxError):
    """An executor cannot start (no engine, no workers, a worker that cannot dream)."""


@dataclass(frozen=True)
class Requirements:
    """What a worker needs to dream these settings like the client: the same dreamfx
    version, each component from the same plugin at the same version, and the same Keras
    backend (the backends agree within 2/255 only where a dream is not chaotic:
    docs/performance.md)."""

    version: str
    #: section -> (kind, component name, plugin, plugin version)
    components: dict[str, tuple[str, str, str, str | None]]
    backend: str = "tensorflow"


@dataclass
class TaskItem:
    """One input of a task: its index in the run's to-do list, its path (for messages and
    the provenance's input name), its bytes and their SHA-256, and the output's format."""

    index: int
    path: str
    name: str
    data: bytes
    digest: str
    fmt: str


@dataclass
class DreamTask:
    """A group of inputs (the same size as far as their headers say) and how to dream them."""

    settings: "Settings"
    items: list[TaskItem]
    color: str
    keep_alpha: bool
    max_pixels: int | None
    min_size: int | None
    png_level: int
    device: str
    #: Checked once per worker process before its first task (a worker that joined late).
    requirements: Requirements | None = None

    @property
    def nbytes(self) -> int:
        return sum(len(item.data) for item in self.items)


@dataclass
class ImageResult:
    """What a worker returns for one input: the encoded output and its provenance, or why not."""

    index: int
    data: bytes | None = None
    metadata: dict[str, Any] | None = None
    reason: str | None = None
    scores: tuple[float, float] | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    #: A silent dream's :class:`dreamfx.runs.hints.Silence` (the output is written all the same).
    silence: Any = None


class FolderWork:
    """A planned folder run handed to an executor: the to-do list and the client's side of
    the protocol (read and group the inputs, write what comes back)."""

    def __init__(self, runner: "BatchRunner", todo: list["Outcome"], host: Any, *, device: str = "auto",
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
        from dreamfx.config.settings import COMPONENT_SECTIONS

        host = self.host
        components = {}
        for section, kind in COMPONENT_SECTIONS.items():
            name = self.settings.component(section).name
            component = host.get(kind, name)
            info = host.plugins.get(component.plugin)
            components[section] = (kind, name, component.plugin, info.version if info is not None else None)
        from dreamfx.engine.backend import planned

        return Requirements(__version__, components, planned())

    def tasks(self) -> Iterator[DreamTask]:
        """The inputs as tasks, read lazily: same-sized images grouped (at most the batch
        size, and half the pixel budget) within a look-ahead of ``lookahead_bytes``. An input
        that cannot be read fails here, with its reason."""
        from dreamfx.io.images import FORMATS, digest, read_input_bytes

        options = self.runner.options
        group_pixels = max(1, options.pixel_budget // 2)
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
            except DreamfxError as exc:
                outcome.error = exc
                self.runner._fail(outcome, str(exc), 0.0)
                continue
            size = header_size(data)
            item = TaskItem(index, str(path), path.name, data, digest(data),
                            FORMATS[outcome.job.output.suffix.lower()])
            key: Any = size if size is not None else ("unreadable", index)
            group = by_size.setdefault(key, [])
            group.append(item)
            buffered += len(data)
            pixels = size[0] * size[1] if size is not None else group_pixels
            if len(group) >= options.batch_size or (len(group) + 1) * pixels > group_pixels:
                buffered -= sum(len(i.data) for i in group)
                yield self._task(by_size.pop(key))
            while buffered > self.lookahead_bytes and by_size:
                largest = max(by_size, key=lambda k: len(by_size[k]))
                buffered -= sum(len(i.data) for i in by_size[largest])
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
        from dreamfx.io.images import write_encoded_atomic

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

    def status(self, text: str) -> None:
        """Show ``text`` as the run's current activity (where the dreams happen)."""
        self.runner.event("status", None, text)

    def stop(self, message: str) -> None:
        """End the run early (the engine was lost): what is not done stays pending, the
        report is written and says why, and a rerun resumes."""
        self.stopped = message
        self.runner.stopped = message


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

_HOST: Any = None
_DREAMERS = process_cache("executors.worker_dreamers", 4, "a worker's warm dreamers, by settings digest and device")
_LOCK = threading.Lock()
_CHECKED: list[Requirements] = []
THREADS_ENV = "DREAMFX_WORKER_THREADS"


def _worker_host() -> Any:
    global _HOST
    if _HOST is None:
        from dreamfx.host.manager import create_host

        _HOST = create_host()
    return _HOST


def _start_backend() -> None:
    """Start this worker's Keras backend once (through its kernel), quietly when asked."""
    from dreamfx.engine.backend import kernel, planned, started

    if started():
        return

    chosen = kernel(planned())
    for name, value in chosen.QUIET_ENV.items():
        os.environ.setdefault(name, value)
    if os.environ.get("DREAMFX_WORKER_QUIET"):
        # a local cluster's worker writes to the user's terminal: the backend's native lines
        # (written before its log level applies) go nowhere; the client reports failures
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    if os.environ.get("DREAMFX_LOCAL_WORKER"):
        # a worker of a cluster dreamfx started: when it is closed, skip the interpreter's
        # teardown of the backend (seconds), after which its nanny would kill it anyway
        import atexit

        atexit.register(os._exit, 0)
    _large_arrays_from_the_heap()
    chosen.start(contextlib.nullcontext)
    threads = int(os.environ[THREADS_ENV]) if os.environ.get(THREADS_ENV, "").isdigit() else None
    if threads:
        chosen.set_threads(threads)


def _large_arrays_from_the_heap() -> None:
    """Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_`` set, which turns off
    glibc's adaptive mmap threshold: every image-sized array is then a fresh mmap, zeroed
    page by page, and a dream ran 2-3x slower than in the client (measured, docs/cluster.md).
    Raise the mmap threshold again (64 MiB) in this process; Linux with glibc only."""
    import sys

    if not os.environ.get("MALLOC_TRIM_THRESHOLD_") or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _dreamer_for(settings: "Settings", device: str) -> tuple[Any, threading.Lock]:
    """This worker's warm dreamer for ``settings`` (built on first use, then kept)."""
    key = (settings.digest(), device)
    def build() -> tuple[Any, threading.Lock]:
        _start_backend()
        from dreamfx.engine.dreamer import Dreamer

        return Dreamer(_worker_host(), settings, device), threading.Lock()

    with _LOCK:  # one dreamer built at a time
        return _DREAMERS.get_or_build(key, build)


def check_worker(requirements: Requirements) -> str | None:
    """None if this process can dream with ``requirements``' components, else what is
    wrong, in a few words (run on every worker before any work)."""
    if __version__ != requirements.version:
        return f"has dreamfx {__version__}, the client {requirements.version}"
    from dreamfx.engine.backend import planned

    here = planned()
    if here != requirements.backend:
        return (f"runs Keras on {here}, the client on {requirements.backend}; start the workers with "
                f"KERAS_BACKEND={requirements.backend}")
    host = _worker_host()
    for section, (kind, name, plugin, version) in requirements.components.items():
        if name not in host.registry(kind):
            info = host.plugins.get(plugin)
            why = ("not installed" if info is None else
                   f"{info.status}" + (f": {info.error}" if info.error else ""))
            return f"lacks {kind[:-1]} {name!r}: plugin {plugin!r} is {why}"
        component = host.get(kind, name)
        if component.plugin != plugin:
            return f"has {kind[:-1]} {name!r} from plugin {component.plugin!r}, the client from {plugin!r}"
        info = host.plugins.get(plugin)
        found = info.version if info is not None else None
        if found != version:
            return f"has plugin {plugin!r} {found}, the client {version}"
    return None


def dream_task(task: DreamTask, dreams_done: Callable[[], Any] | None = None) -> list[ImageResult]:
    """Decode, dream and encode a task's inputs on this worker; an input that fails gets its
    reason, as in a local run.

    ``dreams_done``, if given, is called once every dream of the task is over and only the
    encoding is left (not after an error raised before): an engine may then start the
    worker's next task, whose decoding and dreaming overlap this one's encoding, as a local
    run's write-behind threads do (Dask's ``secede``; measured in docs/cluster.md)."""
    from dreamfx.io.metadata import output_metadata
    from dreamfx.io.images import compose, decode_picture, encode_image

    if task.requirements is not None and task.requirements not in _CHECKED:
        problem = check_worker(task.requirements)
        if problem is not None:  # raised: Dask tries the task on another worker
            raise ExecutorError(f"this worker {problem}")
        _CHECKED.append(task.requirements)
    dreamer, lock = _dreamer_for(task.settings, task.device)
    results: list[ImageResult] = []
    groups: dict[tuple[int, int], list[tuple[TaskItem, Any]]] = {}
    view = min(dreamer.model_info.input_size)
    for item in task.items:
        try:
            picture = decode_picture(item.data, item.path, max_pixels=task.max_pixels)
            short = min(picture.size)
            if task.min_size is not None and short < task.min_size:
                raise ImageError(f"image is {picture.size[1]}x{picture.size[0]}, smaller than --min-size "
                                 f"{task.min_size}")
        except DreamfxError as exc:
            results.append(ImageResult(item.index, reason=str(exc)))
            continue
        if short < view:
            picture.notes.append(f"{picture.size[1]}x{picture.size[0]} is smaller than the model's {view}x{view} "
                                 "input: the model sees it upsampled")
        picture.digest = item.digest
        groups.setdefault(picture.size, []).append((item, picture))
    dreamt: list[tuple[TaskItem, Any, Any, float]] = []
    for group in groups.values():
        colour = dreamer.channels == 3
        images = [p.rgb if colour and p.rgb is not None else p.luma for _, p in group]
        started = time.perf_counter()
        try:
            with lock:
                dreamed = dreamer.dream_batch(images)
        except DreamfxError as exc:
            results.extend(ImageResult(item.index, reason=str(exc), notes=list(p.notes)) for item, p in group)
            continue
        each = (time.perf_counter() - started) / len(group)
        dreamt.extend((item, picture, result, each) for (item, picture), result in zip(group, dreamed))
    if dreams_done is not None:
        dreams_done()
    for item, picture, result, each in dreamt:
        scores = (result.score_before, result.score_after)
        if result.problem is not None:
            results.append(ImageResult(item.index, reason=result.problem, scores=scores, seconds=each,
                                       notes=list(picture.notes)))
            continue
        try:
            metadata = output_metadata(task.settings, result, color=task.color, keep_alpha=task.keep_alpha,
                                       input_name=item.name, input_digest=item.digest)
            image = compose(picture, result.image, task.color, task.keep_alpha)
            data = encode_image(image, item.fmt, metadata, task.png_level)
        except Exception as exc:  # noqa: BLE001 - an encoder failure fails this image alone
            reason = str(exc) if isinstance(exc, DreamfxError) else f"cannot encode it: {type(exc).__name__}: {exc}"
            results.append(ImageResult(item.index, reason=reason, scores=scores, seconds=each))
            continue
        results.append(ImageResult(item.index, data, metadata, scores=scores, seconds=each,
                                   notes=list(picture.notes), silence=result.silence))
    return results
