"""Which files a run dreams, and where each result goes.

Files given directly keep their name in the output folder; files found in a folder keep
their path relative to that folder, so the output tree mirrors the input tree. A plan that
would write over an input, or write two inputs to one output, is refused before any work.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import SettingsError
from .imageio import FORMATS, INPUT_SUFFIXES


@dataclass(frozen=True)
class Job:
    """One input and the output it will be written to."""

    source: Path
    output: Path


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
    out_root = out_dir.resolve()
    jobs: list[Job] = []
    for given in map(Path, inputs):
        if given.is_dir():
            if given.resolve() == out_root:
                raise SettingsError(
                    f"output folder {out_dir} is the input folder: dreams would overwrite or mix with the inputs; "
                    "choose another output folder"
                )
            found = sorted(given.rglob("*") if recursive else given.glob("*"))
            for path in found:
                if not (path.is_file() or path.is_symlink()) or out_root in path.resolve().parents:
                    continue  # never dream our own outputs on a re-run
                if pattern is not None and not fnmatch.fnmatch(path.name, pattern):
                    continue
                if pattern is None and path.suffix.lower() not in INPUT_SUFFIXES:
                    continue
                jobs.append(Job(path, out_dir / path.relative_to(given).with_suffix(suffix)))
        else:  # a file, or a missing one: the run reports it as failed and goes on
            jobs.append(Job(given, out_dir / (given.stem + suffix)))
    check_plan(jobs)
    return jobs


def check_plan(jobs: Sequence[Job]) -> None:
    """Refuse plans that overwrite an input or write two inputs to the same output."""
    sources = {job.source.resolve() for job in jobs}
    seen: dict[Path, Path] = {}
    for job in jobs:
        target = job.output.resolve()
        if target in sources:
            raise SettingsError(
                f"output {job.output} would overwrite the input {target}; dreamfx never writes its inputs: "
                "choose another output folder"
            )
        if target in seen:
            raise SettingsError(
                f"inputs {seen[target]} and {job.source} would both be written to {job.output}; "
                "rename one or dream them into separate folders"
            )
        seen[target] = job.source
