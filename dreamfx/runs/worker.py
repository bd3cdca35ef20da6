"""A cluster worker's side of a folder run: module-level functions a worker imports by name.

:func:`dream_task` turns a task into its results with one warm dreamer per settings (built
once per worker process); :func:`check_worker` says whether this worker can dream these
settings (same dreamfx, same plugins, same backend). Nothing here imports the backend at
module level: a worker starts it, quietly, on its first task.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from dreamfx import __version__
from dreamfx.cache import process_cache
from dreamfx.errors import DreamfxError, ImageError

if TYPE_CHECKING:
    from dreamfx.config.settings import Settings
from dreamfx.kinds.executors import DreamTask, ExecutorError, ImageResult, Requirements, TaskItem


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



def warm_dreamer(requirements: Requirements | None, settings: "Settings", device: str) -> tuple[Any, threading.Lock]:
    """This worker's warm dreamer for ``settings`` and the lock its dreams take, once the
    worker is checked against ``requirements`` (once per process; a worker that cannot dream
    them raises, and Dask tries the task on another worker)."""
    if requirements is not None and requirements not in _CHECKED:
        problem = check_worker(requirements)
        if problem is not None:
            raise ExecutorError(f"this worker {problem}")
        _CHECKED.append(requirements)
    return _dreamer_for(settings, device)



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
    from dreamfx.io.images import compose, decode_picture
    from dreamfx.io.writing import encode_image

    dreamer, lock = warm_dreamer(task.requirements, task.settings, task.device)
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
        images = [p.pixels(dreamer.channels) for _, p in group]
        started = time.perf_counter()
        try:
            masks = [item.mask for item, _ in group]  # a folder of masks: each input's own, with its bytes
            with lock:
                dreamed = dreamer.dream_batch(images, **({"masks": masks} if any(masks) else {}))
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
