"""A folder of masks mirrored by name (``dreamfx run PHOTOS/ --mask MASKS/ -o OUT/``): each
photo's own mask, found and checked when the run is planned, before any work.

A photo's mask is the image in the mask folder at the place its output takes in the output
folder, with the photo's stem: for ``PHOTOS/sub/x.jpg`` (output ``OUT/sub/x.png``) it is
``MASKS/sub/x.png``, ``x.jpg`` or any other image suffix a folder run reads. The mask folder
is walked as an input folder is (sub-folders only with ``--recursive``, links to folders not
followed), and its images are masks, never photos, even where it lies in the photo folder.
Every photo needs exactly one: photos without a mask, or with two of the same stem, are a
usage error that names them; each mask is read as a single ``--mask`` is (a regular file,
within the pixel limit, decoded once) for its SHA-256, which the photo's output records
(``--from`` repeats that one dream) and resume compares (a changed mask redoes that photo
alone). Masks are only ever read.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from dreamfx.errors import SettingsError
from dreamfx.io.images import INPUT_SUFFIXES
from dreamfx.runs.inputs import Job, _walk, real_path

#: Photos without a mask named in the error, at most.
SHOWN = 3


def pair_masks(jobs: Sequence[Job], out_dir: Path, folder: Path, *, recursive: bool = False) -> list[Job]:
    """``jobs`` (mirrored into ``out_dir``), each with its mask from ``folder``
    (:class:`~dreamfx.engine.masks.MaskFile`); a job whose input is unusable keeps none (it
    fails with its own reason). Any photo without exactly one readable mask: a
    :class:`SettingsError`."""
    from dreamfx.config.settings import read_mask
    from dreamfx.engine.masks import MaskFile

    root = real_path(folder)
    if real_path(out_dir) == root:
        raise SettingsError(f"output folder {out_dir} is the mask folder: dreams would overwrite or mix with the "
                            "masks; choose another output folder")
    photos = [job for job in jobs if root not in real_path(job.source).parents]  # a mask is never a photo
    if jobs and not photos:
        raise SettingsError(f"every image given is in the mask folder {folder}: give the masks a folder of their own")
    jobs = photos
    found: dict[tuple[Path, str], list[Path]] = {}
    for path in _walk(folder, recursive):
        if path.suffix.lower() in INPUT_SUFFIXES and not path.is_dir():
            place = path.relative_to(folder)
            found.setdefault((place.parent, place.stem), []).append(path)
    chosen: list[Path | None] = []
    missing: list[Job] = []
    for job in jobs:
        if job.problem is not None:
            chosen.append(None)
            continue
        place = job.output.relative_to(out_dir)
        candidates = found.get((place.parent, place.stem), [])
        if len(candidates) > 1:
            raise SettingsError(f"{' and '.join(map(str, candidates))} are both masks for {job.source} (the same "
                                "name): keep one of them")
        if not candidates:
            missing.append(job)
        chosen.append(candidates[0] if candidates else None)
    if missing:
        raise SettingsError(_missing(missing, len(jobs), out_dir, folder))
    paired = []
    for job, path in zip(jobs, chosen):
        if path is not None:
            resolved, digest = read_mask(path)
            job = replace(job, mask=MaskFile(resolved, digest))
        paired.append(job)
    return paired


def _missing(missing: Sequence[Job], total: int, out_dir: Path, folder: Path) -> str:
    """The one line for photos without a mask: the first few, how many, where each one's
    mask belongs, and what to give a photo that should be dreamed whole."""
    names = ", ".join(str(job.source) for job in missing[:SHOWN])
    more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
    first = missing[0]
    place = folder / first.output.relative_to(out_dir).with_suffix(".png")
    have = "has" if len(missing) == 1 else "have"
    return (f"{len(missing)} of {total} photos {have} no mask in {folder}: {names}{more}; give each photo a mask "
            f"of the same name in the same place (for {first.source}: {place}, or .jpg, ...); a white mask leaves "
            "a photo fully dreamed")
