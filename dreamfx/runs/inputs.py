"""Which files a run dreams, and where each result goes.

Files given directly keep their name in the output folder; files found in a folder keep
their path relative to that folder, so the output tree mirrors the input tree. Folders are
walked without following symbolic links to folders (a link loop cannot trap the walk);
links to files are dreamed. A found entry that cannot be an image (a FIFO, a socket, a
device, a link loop, a dangling link) becomes a job that fails with its reason, without
ever being opened.

Every path a run will write (outputs, their metadata sidecars, the panel, report.json) is
checked, through symbolic links and ``..``, against every input and every other written
path before any work: a plan that would write over an input, or write two things to one
place, is refused.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from dreamfx.errors import SettingsError
from dreamfx.io.images import FORMATS, INPUT_SUFFIXES, file_kind
from dreamfx.io.writing import written_paths


@dataclass(frozen=True)
class Job:
    """One input and the output it will be written to; ``problem`` is set when the input
    was found unusable while planning (it fails with that reason, never opened)."""

    source: Path
    output: Path
    problem: str | None = None


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


def _real(path: Path) -> Path:
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
    out_root = _real(out_dir)
    jobs: list[Job] = []
    for given in map(Path, inputs):
        if given.is_dir():
            if _real(given) == out_root:
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
                if problem is None and out_root in _real(path).parents:
                    continue  # never dream our own outputs on a re-run
                jobs.append(Job(path, out_dir / path.relative_to(given).with_suffix(suffix), problem))
        else:  # a file, or a missing one: the run reports it as failed and goes on
            jobs.append(Job(given, out_dir / (given.stem + suffix), inspect_input(given)))
    return jobs


def check_plan(jobs: Sequence[Job], extra_outputs: Iterable[Path | tuple[str, Path]] = ()) -> None:
    """Refuse a plan that writes over an input, or writes two things to the same place.

    Written paths are each job's output and its metadata sidecar, plus ``extra_outputs``
    (the panel, report.json: ``(what, path)`` to name it in errors, e.g. "the panel", or a
    bare path, named "output");
    all are compared after resolving symbolic links and ``..``.
    (A hard link needs no check: outputs are renamed into place, which never changes the
    content of another name of the old file.)"""
    sources: dict[Path, Path] = {}
    for job in jobs:
        sources.setdefault(_real(job.source), job.source)
    written: dict[Path, str] = {}

    def claim(path: Path, what: str, named: str) -> None:
        """``what``: the written thing in a clash of two outputs ("the output of a.png");
        ``named``: how the refusal names it, its path included ("output dream.png")."""
        real = _real(path)
        if real in sources:
            raise SettingsError(
                f"{named} would overwrite the input {sources[real]}; dreamfx never writes its "
                "inputs: choose another output name or folder"
            )
        if real in written:
            raise SettingsError(f"{written[real]} and {what} would both be written to {path}; "
                                "rename one or dream them into separate folders")
        written[real] = what

    for job in jobs:
        image, *sidecars = written_paths(job.output)
        # "output b.png, dreamed from a.png," only where the input it hits is another one
        origin = "" if _real(image) == _real(job.source) else f", dreamed from {job.source},"
        claim(image, f"the output of {job.source}", f"output {image}{origin}")
        for sidecar in sidecars:
            claim(sidecar, f"the metadata of {job.source}'s output",
                  f"the metadata sidecar {sidecar} of output {image}")
    for extra in extra_outputs:
        label, path = extra if isinstance(extra, tuple) else ("output", Path(extra))
        image, *sidecars = written_paths(path) if path.suffix.lower() in FORMATS else [path]
        claim(image, label, f"{label} {image}")
        for sidecar in sidecars:
            claim(sidecar, f"the metadata of {label}", f"the metadata sidecar {sidecar} of {label} {image}")


def check_outputs(inputs: Sequence[Path], outputs: Sequence[tuple[str, Path | None, Callable[[Path], bool] | None]],
                  force: bool) -> None:
    """The output plan of a command that writes a few named files (``dreamfx atlas``,
    ``dreamfx oip``), before any work: the first is an image, whose format must be known;
    each ``(what, path, ours)`` (a None path: not written) must not hit an input or another output
    (:func:`check_plan`), must go to a writable folder, and an existing file there is
    replaced only when dreamfx wrote it (``ours(path)``; default: it carries dreamfx's
    provenance) or with ``force``."""
    from dreamfx.io.provenance import provenance
    from dreamfx.io.writing import check_writable_folder, format_for

    named = [(what, path, ours) for what, path, ours in outputs if path is not None]
    first, *extra = named
    format_for(first[1])  # a clear error for an unknown format, before any work
    if inputs:
        check_plan([Job(inputs[0], first[1])], [(what, path) for what, path, _ in extra])
    else:
        check_plan([], [(what, path) for what, path, _ in named])
    for what, path, ours in named:
        check_writable_folder(path.parent)
        if force or not path.exists():
            continue
        if not (ours(path) if ours is not None else provenance(path)[0] is not None):
            raise SettingsError(f"{path} exists and was not written by dreamfx; it is not replaced "
                                "(choose another name, or --force)")
