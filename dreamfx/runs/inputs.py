"""Which files a run dreams, and where each result goes.

Files given directly keep their name in the output folder; files found in a folder keep
their path relative to that folder, so the output tree mirrors the input tree. Folders are
walked without following symbolic links to folders (a link loop cannot trap the walk);
links to files are dreamed. A found entry that cannot be an image (a FIFO, a socket, a
device, a link loop, a dangling link) becomes a job that fails with its reason, without
ever being opened.

What a run may write is decided in :mod:`dreamfx.runs.writes`.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from dreamfx.errors import SettingsError
from dreamfx.io.images import FORMATS, INPUT_SUFFIXES, file_kind


@dataclass(frozen=True)
class Job:
    """One input and the output it will be written to; ``problem`` is set when the input
    was found unusable while planning (it fails with that reason, never opened); ``mask``,
    the input's own mask (a :class:`dreamfx.engine.masks.MaskFile`) in a run with a folder
    of masks (:mod:`dreamfx.runs.maskfolder`)."""

    source: Path
    output: Path
    problem: str | None = None
    mask: Any = None


def inspect_input(path: Path) -> str | None:
    """Why ``path`` cannot be an input image (without opening it), or None if it may be one.
    A missing file is left to the reader, which says so."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"input image {path} does not exist" + (" (a dangling symbolic link)" if path.is_symlink() else "")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"input image {path} is a symbolic link loop"
        return f"input image {path} cannot be read: {exc.strerror}"
    if stat.S_ISDIR(info.st_mode):
        return f"{path} is a folder, not an image file"
    if not stat.S_ISREG(info.st_mode):
        return f"input {path} is not a regular file ({file_kind(info.st_mode)}); it was not opened"
    return None


def _walk(folder: Path, recursive: bool) -> Iterator[Path]:
    """Every entry below ``folder`` that is not a folder, sorted, links to folders not followed."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False, onerror=lambda exc: None):
        base = Path(dirpath)
        dirnames.sort()
        entries = list(filenames)
        # os.walk lists links to folders (and link loops) under dirnames: keep them as
        # entries (a loop must be reported, a link to a folder is skipped below)
        entries += [d for d in dirnames if (base / d).is_symlink()]
        for name in sorted(entries):
            yield base / name
        if not recursive:
            return


def real_path(path: Path) -> Path:
    """``path`` with symbolic links and ``..`` resolved as far as they exist (never raises)."""
    try:
        return Path(os.path.realpath(path))
    except (OSError, RuntimeError, ValueError):
        return Path(os.path.abspath(path))


def collect_jobs(
    inputs: Sequence[str | Path],
    out_dir: Path,
    *,
    recursive: bool = False,
    pattern: str | None = None,
    suffix: str = ".png",
) -> list[Job]:
    """Expand files and folders into jobs with mirrored output paths under ``out_dir``."""
    if not suffix.startswith("."):
        suffix = "." + suffix
    if suffix.lower() not in FORMATS:
        raise SettingsError(f"unknown output format {suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    if out_dir.exists() and not out_dir.is_dir():
        raise SettingsError(f"-o {out_dir} is an existing file; with several inputs or a folder, -o names a folder")
    out_root = real_path(out_dir)
    jobs: list[Job] = []
    for given in map(Path, inputs):
        if given.is_dir():
            if real_path(given) == out_root:
                raise SettingsError(
                    f"output folder {out_dir} is the input folder: dreams would overwrite or mix with the inputs; "
                    "choose another output folder"
                )
            for path in _walk(given, recursive):
                if pattern is not None and not fnmatch.fnmatch(path.name, pattern):
                    continue
                if pattern is None and path.suffix.lower() not in INPUT_SUFFIXES:
                    continue
                problem = inspect_input(path)
                if problem is not None and path.is_dir():
                    continue  # a link to a folder, or a folder named like an image: not followed
                if problem is None and out_root in real_path(path).parents:
                    continue  # never dream our own outputs on a re-run
                jobs.append(Job(path, out_dir / path.relative_to(given).with_suffix(suffix), problem))
        else:  # a file, or a missing one: the run reports it as failed and goes on
            jobs.append(Job(given, out_dir / (given.stem + suffix), inspect_input(given)))
    return jobs
