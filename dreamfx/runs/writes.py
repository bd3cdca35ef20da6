"""What a run may write, decided once for every command and the API: the write plan.

Two rules, checked before any work:

- :func:`check_plan`: no written path (outputs, their metadata sidecars, the panel,
  report.json, a sheet's JSON, frames) is an input or another written path, compared after
  resolving symbolic links and ``..``.
- :func:`existing`: a file already at a written path is replaced only when dreamfx wrote it
  (its provenance, or for a JSON file dreamfx's own keys) or with ``--force``; a symbolic
  link is never followed into a replacement without ``--force``; a folder is never replaced.
  A non-PNG output's metadata sidecar (``out.jpg.dreamfx.json``) is held to the same rule:
  a user's file there is not overwritten with metadata.

``dreamfx run`` (:mod:`dreamfx.runs.dreams`, per job in :mod:`dreamfx.runs.batch`), ``atlas``
and ``oip`` (:func:`check_outputs`), ``zoom`` and ``video`` (:mod:`dreamfx.runs.frames`) and
:meth:`dreamfx.DreamResultView.save` all call these, so the refusals read alike everywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from dreamfx.errors import DreamfxError, SettingsError
from dreamfx.io.images import FORMATS
from dreamfx.runs.inputs import Job, real_path

#: The tail of every refusal to replace a file.
NOT_REPLACED = "it was not replaced (use --force to replace it)"

#: Written paths that come with a metadata sidecar when named in a plan's extra outputs.
_WITH_SIDECAR = (set(FORMATS) - {".png"}) | {".gif", ".mp4"}


@dataclass(frozen=True)
class Existing:
    """What is at an output path before a run writes it: ``meta``, the dreamfx provenance
    of a file dreamfx wrote there (None: nothing there, or a file ``--force`` replaces);
    ``refused``, why it may not be replaced (None: the run may write it); ``folder``: the
    refusal is a folder in the way (``--force`` cannot help)."""

    meta: dict[str, Any] | None = None
    refused: str | None = None
    folder: bool = False


def ours_json(path: Path, keys: Sequence[str] = ("dreamfx_version",), max_bytes: int = 64 << 20) -> bool:
    """Whether ``path`` is a JSON object that dreamfx wrote (it has all of ``keys``); only a
    regular file is opened, at most ``max_bytes`` read."""
    from dreamfx.io.images import open_regular

    try:
        fd = open_regular(path, "file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            data = json.loads(fh.read(max_bytes + 1))
    except (DreamfxError, OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and all(key in data for key in keys)


def has_sidecar(path: Path) -> bool:
    """Whether writing an output at ``path`` also writes a metadata sidecar (every format
    but PNG, animations included)."""
    return path.suffix.lower() != ".png"


def existing(path: Path, what: str, force: bool, *, json_keys: Sequence[str] | None = None) -> Existing:
    """Whether a run may write ``path`` (named ``what`` in a refusal: "output", "the panel",
    "frame"), and the provenance of what dreamfx wrote there. ``json_keys``: the path is a
    JSON file (a report, a sheet's JSON) that is dreamfx's when it has these keys."""
    from dreamfx.io.provenance import provenance
    from dreamfx.io.writing import sidecar_path

    if os.path.lexists(path):
        if path.is_dir() and not path.is_symlink():
            return Existing(refused=f"{what} {path} is a folder", folder=True)
        if path.is_symlink():
            return Existing() if force else Existing(
                refused=f"{what} {path} is a symbolic link, which dreamfx did not write; {NOT_REPLACED}")
        if json_keys is not None:
            if force or ours_json(path, json_keys):
                return Existing()
            return Existing(refused=f"{what} {path} exists and was not written by dreamfx; {NOT_REPLACED}")
        meta, why = provenance(path)
        if meta is None:
            return Existing() if force else Existing(
                refused=f"{what} {path} exists and was not written by dreamfx ({why}); {NOT_REPLACED}")
        return Existing(meta)
    if json_keys is None and has_sidecar(path) and not force:
        sidecar = sidecar_path(path)
        if os.path.lexists(sidecar) and (sidecar.is_symlink() or not ours_json(sidecar, max_bytes=1 << 20)):
            return Existing(refused=f"the metadata sidecar {sidecar} of {what} {path} exists and was not written "
                                    f"by dreamfx; {NOT_REPLACED}")
    return Existing()


def refuse_existing(path: Path, what: str, force: bool, **kwargs: Any) -> dict[str, Any] | None:
    """:func:`existing` for a command that stops at a refusal (a :class:`SettingsError`);
    returns the provenance of what dreamfx wrote there."""
    found = existing(path, what, force, **kwargs)
    if found.refused is not None:
        raise SettingsError(found.refused)
    return found.meta


def check_plan(jobs: Sequence[Job], extra_outputs: Iterable[Path | tuple[str, Path]] = (),
               inputs: Iterable[Path] = ()) -> None:
    """Refuse a plan that writes over an input, or writes two things to the same place.

    Written paths are each job's output and its metadata sidecar, plus ``extra_outputs``
    (the panel, report.json: ``(what, path)`` to name it in errors, e.g. "the panel", or a
    bare path, named "output"); all are compared after resolving symbolic links and ``..``
    with the jobs' sources and ``inputs`` (an animation's photo, clip or folder of frames). (A hard link needs no check: outputs are
    renamed into place, which never changes the content of another name of the old file.)"""
    from dreamfx.io.writing import sidecar_path, written_paths

    sources: dict[Path, Path] = {}
    for source in [*(job.source for job in jobs), *inputs]:
        sources.setdefault(real_path(source), source)
    written: dict[Path, str] = {}

    def claim(path: Path, what: str, named: str) -> None:
        """``what``: the written thing in a clash of two outputs ("the output of a.png");
        ``named``: how the refusal names it, its path included ("output dream.png")."""
        real = real_path(path)
        hit = sources.get(real)
        if hit is not None and hit.is_dir():
            raise SettingsError(f"{named} is the input folder{'' if str(hit) == str(path) else f' {hit}'}: "
                                "the frames would overwrite or mix with the inputs; dreamfx never writes its "
                                "inputs: choose another output folder")
        if hit is not None:
            raise SettingsError(f"{named} would overwrite the input {hit}; dreamfx never writes its "
                                "inputs: choose another output name or folder")
        if real in written:
            raise SettingsError(f"{written[real]} and {what} would both be written to {path}; "
                                "rename one or dream them into separate folders")
        written[real] = what

    for job in jobs:
        image, *sidecars = written_paths(job.output)
        # "output b.png, dreamed from a.png," only where the input it hits is another one
        origin = "" if real_path(image) == real_path(job.source) else f", dreamed from {job.source},"
        claim(image, f"the output of {job.source}", f"output {image}{origin}")
        for sidecar in sidecars:
            claim(sidecar, f"the metadata of {job.source}'s output",
                  f"the metadata sidecar {sidecar} of output {image}")
    for extra in extra_outputs:
        label, path = extra if isinstance(extra, tuple) else ("output", Path(extra))
        image, sidecars = path, [sidecar_path(path)] if path.suffix.lower() in _WITH_SIDECAR else []
        claim(image, label, f"{label} {image}")
        for sidecar in sidecars:
            claim(sidecar, f"the metadata of {label}", f"the metadata sidecar {sidecar} of {label} {image}")


def check_outputs(inputs: Sequence[Path], outputs: Sequence[tuple[str, Path | None, Sequence[str] | None]],
                  force: bool) -> None:
    """The write plan of a command that writes a few named files (``dreamfx atlas``,
    ``dreamfx oip``), before any work: the first is an image, whose format must be known;
    each ``(what, path, json_keys)`` (a None path: not written; ``json_keys``: a JSON file,
    dreamfx's when it has these keys) must not hit an input or another output
    (:func:`check_plan`), must go to a writable folder, and must not replace a file dreamfx
    did not write (:func:`existing`) unless ``force``."""
    from dreamfx.io.writing import check_writable_folder, format_for

    named = [(what, path, keys) for what, path, keys in outputs if path is not None]
    first, *extra = named
    format_for(first[1])  # a clear error for an unknown format, before any work
    if inputs:
        check_plan([Job(inputs[0], first[1])], [(what, path) for what, path, _ in extra])
    else:
        check_plan([], [(what, path) for what, path, _ in named])
    for what, path, keys in named:
        if not path.name:
            raise SettingsError(f"{what} {path} names a folder; give a file name")
        try:
            check_writable_folder(path.parent)
        except DreamfxError as exc:
            raise SettingsError(str(exc)) from None
        refuse_existing(path, what, force, json_keys=keys)
