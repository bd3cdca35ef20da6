"""What an executor is: which engine dreams a folder run's images (``--executor``, ``--cluster``).

The host always plans the run and writes every output; an executor only decides where the
dreams happen. ``local`` (the default) dreams in this process. A distributed executor (the
built-in ``dask``) sends *tasks* to workers: groups of same-sized inputs as their encoded
bytes, with the settings; a worker decodes them, dreams them with one warm dreamer per
settings (:mod:`dreamfx.runs.worker`) and returns each output already encoded, with its
provenance. The client then writes the bytes atomically and records the image in
report.json (:class:`dreamfx.runs.folderwork.FolderWork`), so no shared filesystem is needed
and resume, ``--force`` and the report work as in a local run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dreamfx.errors import DreamfxError

if TYPE_CHECKING:
    from dreamfx.config.settings import Settings


class Executor(Protocol):
    """What a `dreamfx_register_executors` factory returns."""

    def run(self, work: Any) -> None:
        """Dream every task of ``work`` (a :class:`dreamfx.runs.folderwork.FolderWork`), or
        call ``work.run_here()``; see the hook."""



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
    the provenance's input name), its bytes and their SHA-256, and the output's format;
    ``mask``, its own mask with the mask file's bytes in a run with a folder of masks (a
    :class:`dreamfx.engine.masks.MaskFile`)."""

    index: int
    path: str
    name: str
    data: bytes
    digest: str
    fmt: str
    mask: Any = None



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
        return sum(len(item.data) + len(getattr(item.mask, "data", None) or b"") for item in self.items)



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
    #: A silent dream's :class:`dreamfx.engine.responses.Silence` (the output is written all the same).
    silence: Any = None


# -- the contract, checked when a component is built ------------------------------------------


def problem(obj: Any) -> str | None:
    """Why a built executor does not meet this contract (checked when it is built), or None."""
    return None if callable(getattr(obj, "run", None)) else "it has no run(work) method"
