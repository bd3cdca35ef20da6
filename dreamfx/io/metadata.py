"""The provenance every dreamfx output carries: one dict, the same for folder runs, the
Python API, workers, zoom and video (``dreamfx info`` prints it; ``--from`` and resume read it)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from dreamfx import __version__

if TYPE_CHECKING:
    from dreamfx.engine.results import DreamResult
    from dreamfx.config.settings import Settings


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
    return {
        "dreamfx_version": __version__,
        "preset": settings.preset,
        "settings": own.to_dict(),
        "model": own.model_record(),
        "settings_hash": own.digest(),
        "run_hash": output_hash(settings, color, keep_alpha),
        "seed": settings.seed,
        "color": color,
        "keep_alpha": keep_alpha,
        "input": input_name,
        "input_sha256": input_digest,
        "objective": result.objective,
        "score_before": result.score_before,
        "score_after": result.score_after,
        "backend": getattr(result, "backend", "tensorflow"),
    }
