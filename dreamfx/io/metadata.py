"""The provenance every dreamfx file carries, written in one place: :func:`provenance_of`
(what made it: dreamfx's version, the preset, the settings, the model's name and digest, the
settings hash, the seed) is the base of every output's, report's and sheet's metadata, and
:func:`output_metadata` adds a dream's own (input, scores, backend) for folder runs, the
Python API, workers and animation frames (``dreamfx info`` prints it; ``--from`` and resume
read it)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from dreamfx import __version__

if TYPE_CHECKING:
    from dreamfx.engine.results import DreamResult
    from dreamfx.config.settings import Settings


def provenance_of(settings: "Settings", settings_dict: dict[str, Any] | None = None, *, hashed: bool = True,
                  **fields: Any) -> dict[str, Any]:
    """What made a file, then ``fields``: ``settings_dict`` replaces the stored settings (an
    atlas stores them without the map it varies, and then no ``settings_hash``: ``hashed``
    False), so ``--from`` repeats what the file shows."""
    made = {
        "dreamfx_version": __version__,
        "preset": settings.preset,
        "settings": settings.to_dict() if settings_dict is None else settings_dict,
        "model": settings.model_record(),
        "seed": settings.seed,
    }
    if getattr(settings, "mask_sha256", None):
        made["mask_sha256"] = settings.mask_sha256  # output.mask names the file; this, what it held
    if hashed:
        made["settings_hash"] = settings.digest()
    return {**made, **fields}


def output_hash(settings: "Settings", color: str, keep_alpha: bool) -> str:
    """:func:`run_hash` from its parts (the Python API's results have no batch options)."""
    blob = json.dumps([settings.digest(), color, keep_alpha]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def output_metadata(settings: "Settings", result: "DreamResult", *, color: str, keep_alpha: bool,
                    input_name: str | None, input_digest: str | None) -> dict[str, Any]:
    """The provenance every dreamfx output carries (``dreamfx info`` prints it, ``--from``
    and resume read it), the same for the command line and :meth:`DreamResultView.save`.

    ``settings`` are the run's; the stored ``settings`` are the result's own, which differ
    where the run left a choice to each image (``objective.map = "auto"``: the map chosen),
    so ``--from`` repeats the dream without choosing again. The run hash is the run's, so a
    rerun of the same command finds the output up to date."""
    own = getattr(result, "settings", None) or settings
    return provenance_of(
        own,
        run_hash=output_hash(settings, color, keep_alpha),
        color=color,
        keep_alpha=keep_alpha,
        input=input_name,
        input_sha256=input_digest,
        objective=result.objective,
        score_before=result.score_before,
        score_after=result.score_after,
        backend=getattr(result, "backend", "tensorflow"),
    )
