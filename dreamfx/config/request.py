"""One dream request, the rules of a run, shared by ``dreamfx run``, ``dreamfx demo`` and the
Python API (:func:`dreamfx.dream` checks its options and settings with the same code).

:func:`plan_dream` checks a :class:`DreamRequest` and plans it without TensorFlow: every
option, the settings (a preset with overrides, or an output's stored settings with
``from_output``), the jobs (one image, or files and folders mirrored into an output folder),
every path that would be written (never an input, never two things in one place, formats
able to hold what is asked), writable folders, and a single input decoded once to fail fast.
:meth:`DreamPlan.run` dreams it (building the dreamer only when something is to do) and
returns a :class:`DreamRun` with every outcome; :func:`run_request` does both.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from dreamfx.runs.batch import BatchRunner, EventFn
from dreamfx.runs.outcomes import BatchOptions, Outcome
from dreamfx.errors import DreamfxError, ImageError, SettingsError
from dreamfx.io.images import DEFAULT_MAX_PIXELS, FORMATS, PNG_LEVEL, Picture
from dreamfx.runs.inputs import Job
from dreamfx.config.values import COLORS

#: Output formats that can keep an alpha channel.
ALPHA_FORMATS = ("PNG", "TIFF", "WEBP")


def parse_overrides(overrides: Sequence[str | tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``--set`` texts (``"key=value"``) or (dotted key, value) pairs, as pairs: the one
    parser of overrides for every command and the API."""
    from dreamfx.config.settings import parse_override

    return [parse_override(o) if isinstance(o, str) else tuple(o) for o in overrides]


@dataclass(frozen=True, kw_only=True)
class CommonOptions:
    """What every dreaming command (``run``, ``demo``, ``zoom``, ``video``, ``atlas``, ``oip``)
    and the API take alike, and check and turn into settings the same way."""

    preset: str = "single-map"
    overrides: Sequence[str | tuple[str, Any]] = ()  # "key=value" texts or (dotted key, value) pairs
    seed: int | None = None
    device: str = "auto"
    color: str = "gray"
    force: bool = False  # replace files dreamfx did not write

    def check_common(self) -> None:
        """The shared options' mistakes, found before any file is read."""
        from dreamfx.config.device import parse_device

        parse_device(self.device)
        if self.color not in COLORS:
            raise SettingsError(f"color must be one of {', '.join(COLORS)}, got {self.color!r}")

    def shortcuts(self) -> list[tuple[str, Any]]:
        """A command's own options that stand for settings (``--layer``: ``objective.layer``),
        applied after ``overrides``; none here."""
        return []

    def settings(self, host: Any) -> Any:
        """The validated settings of ``preset`` with ``overrides``, the command's shortcuts
        and ``seed``."""
        from dreamfx.config.presets import settings_for

        return settings_for(host, self.preset, parse_overrides(self.overrides) + self.shortcuts(), seed=self.seed)


@dataclass(frozen=True)
class DreamRequest(CommonOptions):
    """What to dream, with what, and where to write it: the options of ``dreamfx run``."""

    inputs: Sequence[str | os.PathLike[str]]
    output: str | None = None  # one input: the output image (default ./<name>-dream.png); else a folder
    panel: str | None = None  # one input: also write the article's figure here
    keep_alpha: bool = False
    recursive: bool = False
    glob: str | None = None
    format: str | None = None  # output format for folders (default png)
    max_pixels: int | None = None  # default: Pillow's decompression-bomb limit
    min_size: int | None = None
    png_level: int | None = None  # default: PNG_LEVEL
    batch_size: int = 16
    from_output: str | None = None  # repeat the settings stored in this output (overrides apply on top)
    cluster: str | None = None  # folders: the executor's address, e.g. local:4 or tcp://host:8786 (docs/cluster.md)
    executor: str | None = None  # folders: a registered executor (default: dask with a cluster, else local)
    debug: bool = False  # show an engine's own log (Dask's)

    def check(self) -> None:
        """Every option mistake, found before any file is read."""
        self.check_common()
        if self.png_level is not None and not 0 <= self.png_level <= 9:
            raise SettingsError(f"--png-level must be 0-9, got {self.png_level}")
        if self.batch_size < 1:
            raise SettingsError("--batch-size must be at least 1")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise SettingsError(f"--max-pixels must be a positive number of pixels, got {self.max_pixels}")
        if self.min_size is not None and self.min_size < 1:
            raise SettingsError(f"--min-size must be at least 1 pixel, got {self.min_size}")
        if self.format is not None and "." + self.format.lower().lstrip(".") not in FORMATS:
            raise SettingsError(f"unknown output format {self.format!r}; use one of {', '.join(sorted(FORMATS))}")

    def resolve(self, host: Any) -> tuple[Any, "DreamRequest"]:
        """The validated settings, and this request with ``color``/``keep_alpha`` as an
        output named by ``from_output`` stored them."""
        from dreamfx.config.presets import settings_from_output

        if self.from_output:
            overrides = parse_overrides(self.overrides)
            notes: list[str] = []
            settings, color, keep_alpha = settings_from_output(host, self.from_output, overrides, seed=self.seed,
                                                               color=self.color, keep_alpha=self.keep_alpha,
                                                               notes=notes)
            for note in notes:
                print(f"dreamfx: note: {note}", file=sys.stderr)
            return settings, replace(self, color=color, keep_alpha=keep_alpha)
        return self.settings(host), self

    @property
    def single(self) -> bool:
        """One input file and an output naming an image (not a folder)."""
        if len(self.inputs) != 1 or Path(self.inputs[0]).is_dir():
            return False
        out = self.output
        return out is None or not (str(out).endswith(("/", os.sep)) or Path(out).is_dir())


def check_output_format(path: Path, what: str, keep_alpha: bool) -> None:
    """An output path's format must be known, and able to hold alpha if ``keep_alpha``."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SettingsError(f"{what} {path}: unknown image format {path.suffix or '(no suffix)'}; use one of "
                            f"{', '.join(sorted(FORMATS))} (to write into a folder, end the path with /)")
    if keep_alpha and fmt not in ALPHA_FORMATS:
        raise SettingsError(f"{what} {path}: {fmt} cannot hold transparency, which --keep-alpha asks for; "
                            "use .png, .tif or .webp")


@dataclass
class DreamPlan:
    """A checked request: its settings, jobs, report path (None for one image) and the
    options of the batch runner."""

    request: DreamRequest
    host: Any
    settings: Any
    jobs: list[Job]
    report: Path | None
    options: BatchOptions
    pictures: dict[Path, Picture] = field(default_factory=dict)  # inputs already decoded
    executor: Any = None  # who dreams (dreamfx.runs.folderwork); None: this process

    @property
    def single(self) -> bool:
        return self.report is None

    def make_dreamer(self) -> Any:
        from dreamfx.engine import dreamer

        return dreamer.Dreamer(self.host, self.settings, self.request.device)

    def run(self, event: EventFn | None = None, make_dreamer: Callable[[], Any] | None = None) -> "DreamRun":
        """Dream the jobs (Ctrl-C ends the run as ``interrupted``, with the finished writes kept)."""
        started = time.perf_counter()
        runner = BatchRunner(self.settings, self.jobs, self.options, make_dreamer or self.make_dreamer, event,
                             pictures=self.pictures, executor=self.executor, host=self.host,
                             device=self.request.device, debug=self.request.debug)
        self.pictures = {}
        try:
            runner.run()
        except KeyboardInterrupt:  # between the runner's own handlers
            runner.interrupted = True
        return DreamRun(self, runner, started)


@dataclass
class DreamRun:
    """What a run did: each input's :class:`~dreamfx.runs.outcomes.Outcome` (``outcomes``)."""

    plan: DreamPlan
    runner: BatchRunner
    started: float

    @property
    def outcomes(self) -> list[Outcome]:
        return self.runner.outcomes

    @property
    def interrupted(self) -> bool:
        return self.runner.interrupted

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def finish(self) -> None:
        """Write report.json (folder runs); one image: its failure is an error, raised here."""
        if self.plan.report is not None:
            self.runner.write_report(self.plan.report)
        elif not self.interrupted and self.outcomes[0].status not in ("done", "silent"):
            outcome = self.outcomes[0]
            # chained: --debug shows the traceback into the plugin that failed
            raise ImageError(outcome.reason or outcome.status) from outcome.error


def plan_dream(request: DreamRequest, host: Any) -> DreamPlan:
    """Check ``request`` and plan it (see the module's docstring); no TensorFlow."""
    from dreamfx.io.images import load_picture
    from dreamfx.io.writing import check_writable_folder, remove_stale_temporaries
    from dreamfx.runs.inputs import check_plan, collect_jobs, inspect_input

    request.check()
    settings, request = request.resolve(host)
    max_pixels = request.max_pixels or DEFAULT_MAX_PIXELS
    pictures: dict[Path, Picture] = {}
    if request.single:
        source = Path(request.inputs[0])
        target = Path(request.output) if request.output else Path.cwd() / f"{source.stem}-dream.png"
        check_output_format(target, "output", request.keep_alpha)
        extra = [("the panel", Path(request.panel))] if request.panel else []
        if request.panel:
            check_output_format(Path(request.panel), "panel", False)
        jobs = [Job(source, target, inspect_input(source))]
        check_plan(jobs, extra)
        folders = {target.parent, *(p.parent for _, p in extra)}
        report = None
    else:
        if request.output is None:
            raise SettingsError("several inputs or a folder need -o OUTPUT_FOLDER")
        if request.panel:
            raise SettingsError("--panel needs exactly one input file")
        suffix = "." + (request.format or "png").lower().lstrip(".")
        check_output_format(Path("x" + suffix), "--format", request.keep_alpha)
        out = Path(request.output)
        jobs = collect_jobs(request.inputs, out, recursive=request.recursive, pattern=request.glob, suffix=suffix)
        if not jobs:
            raise SettingsError(f"no images found in {', '.join(map(str, request.inputs))} (formats: png, jpg, tif, "
                                f"bmp, webp, gif{'; try --recursive' if not request.recursive else ''})")
        report = out / "report.json"
        check_plan(jobs, [("the report", report)])
        if report.exists() and not request.force and not _is_report(report):
            raise SettingsError(f"{report} exists and was not written by dreamfx; it is not replaced "
                                "(choose another output folder, or --force)")
        folders = {out}
    for folder in folders:
        try:
            check_writable_folder(folder)
        except DreamfxError as exc:
            raise SettingsError(str(exc)) from None
        remove_stale_temporaries(folder, recursive=report is not None)
    if report is None and jobs[0].problem is None:  # fail fast, before TensorFlow loads; decoded once
        pictures[jobs[0].source] = load_picture(jobs[0].source, max_pixels=max_pixels)
    single = report is None
    executor = build_executor(request, host)
    options = BatchOptions(force=request.force, redo=single, keep_results=single, color=request.color,
                           keep_alpha=request.keep_alpha, max_pixels=max_pixels, min_size=request.min_size,
                           batch_size=request.batch_size, panel=Path(request.panel) if request.panel else None,
                           png_level=PNG_LEVEL if request.png_level is None else request.png_level)
    return DreamPlan(request, host, settings, jobs, report, options, pictures, executor)


def build_executor(request: DreamRequest, host: Any) -> Any:
    """The executor of a folder run (``--executor``, ``--cluster``), built; None for the
    in-process default. One image is always dreamed in this process."""
    name = request.executor or ("dask" if request.cluster else "local")
    if request.single:
        if request.cluster or name != "local":
            raise SettingsError("--cluster and --executor dream folders; one image is dreamed in this process "
                                "(give several inputs, a folder, or -o ending in / to use them)")
        return None
    component = host.get("executors", name)
    params = {}
    if request.cluster:
        if not any(p.name == "address" for p in component.parameters):
            raise SettingsError(f"executor {name!r} takes no --cluster address")
        params["address"] = request.cluster
    try:
        return component.build(**params)
    except DreamfxError:
        raise
    except Exception as exc:  # a plugin's bug: one line naming it (pipeline.plugin_call would import TensorFlow)
        from dreamfx.errors import PluginError

        raise PluginError(f"executor {name!r} (plugin {component.plugin!r}) failed while being built: "
                          f"{type(exc).__name__}: {exc}") from exc


def run_request(request: DreamRequest, host: Any = None, event: EventFn | None = None) -> DreamRun:
    """Check, plan and dream ``request``; write its report; return what happened."""
    from dreamfx import interrupts
    from dreamfx.host.manager import create_host

    run = plan_dream(request, host or create_host()).run(event)
    with interrupts.shielded():
        run.finish()
    return run


def _is_report(path: Path) -> bool:
    """Whether ``path`` is a report.json that dreamfx wrote (only a regular file is read)."""
    from dreamfx.io.images import open_regular

    try:
        fd = open_regular(path, "report")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            data = json.loads(fh.read(64 << 20))
    except (DreamfxError, OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "dreamfx_version" in data and "files" in data
