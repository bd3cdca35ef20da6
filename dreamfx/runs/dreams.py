"""Planning and running a ``dreamfx run`` request (also ``dreamfx demo`` and the Python API).

:func:`plan_dream` checks a :class:`~dreamfx.config.request.DreamRequest` and plans it
without TensorFlow: every option, the settings (a preset with overrides, or an output's
stored settings with ``from_output``), the jobs (one image, or files and folders mirrored
into an output folder), every path that would be written (:mod:`dreamfx.runs.writes`: never
an input, never two things in one place, never a file dreamfx did not write, formats able
to hold what is asked), writable folders, and a single input decoded once to fail fast.
:meth:`DreamPlan.run` dreams it (building the dreamer only when something is to do) and
returns a :class:`DreamRun` with every outcome; :func:`run_request` does both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dreamfx.config.request import DreamRequest, check_output_format
from dreamfx.errors import DreamfxError, ImageError, SettingsError
from dreamfx.io.images import DEFAULT_MAX_PIXELS, PNG_LEVEL, Picture
from dreamfx.runs.batch import BatchRunner, EventFn
from dreamfx.runs.inputs import Job
from dreamfx.runs.outcomes import BatchOptions, Outcome


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
    from dreamfx.runs.inputs import collect_jobs, inspect_input
    from dreamfx.runs.writes import check_plan, refuse_existing

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
        check_plan(jobs, extra, inputs=_mask_files(settings, jobs))
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
        if settings.mask_folder:  # each photo's own mask, found and read before any work
            from dreamfx.runs.maskfolder import pair_masks

            jobs = pair_masks(jobs, out, Path(settings.output["mask"]), recursive=request.recursive)
        report = out / "report.json"
        check_plan(jobs, [("the report", report)], inputs=_mask_files(settings, jobs))
        refuse_existing(report, "the report", request.force, json_keys=("dreamfx_version", "files"))
        folders = {out}
    executor = build_executor(request, host)  # a usage error leaves no folder behind
    for folder in folders:
        try:
            check_writable_folder(folder)
        except DreamfxError as exc:
            raise SettingsError(str(exc)) from None
        remove_stale_temporaries(folder, recursive=report is not None)
    if report is None and jobs[0].problem is None:  # fail fast, before TensorFlow loads; decoded once
        pictures[jobs[0].source] = load_picture(jobs[0].source, max_pixels=max_pixels)
    single = report is None
    options = BatchOptions(force=request.force, redo=single, keep_results=single, color=request.color,
                           keep_alpha=request.keep_alpha, max_pixels=max_pixels, min_size=request.min_size,
                           batch_size=request.batch_size, panel=Path(request.panel) if request.panel else None,
                           png_level=PNG_LEVEL if request.png_level is None else request.png_level)
    return DreamPlan(request, host, settings, jobs, report, options, pictures, executor)


def _mask_files(settings: Any, jobs: list[Job]) -> list[Path]:
    """The mask files a run reads, which it must never write: the one mask for all, or each
    photo's own."""
    if settings.mask_sha256 is not None:
        return [Path(settings.output["mask"])]
    return [Path(job.mask.path) for job in jobs if job.mask is not None]


def build_executor(request: DreamRequest, host: Any) -> Any:
    """The executor of a folder run (``--executor``, ``--cluster``), built; None for the
    in-process default. One image is always dreamed in this process."""
    name = request.executor or ("dask" if request.cluster else "local")
    if request.single:
        if request.cluster or name != "local":
            raise SettingsError("--cluster and --executor dream folders; one image is dreamed in this process "
                                "(give several inputs, a folder, or -o ending in / to use them)")
        return None
    return executor_for(name, request.cluster, host)


def executor_for(name: str, cluster: str | None, host: Any) -> Any:
    """Executor ``name`` built (``cluster``: its ``--cluster`` address, or None); a bad
    address is a :class:`SettingsError`. Folder runs and ``dreamfx video --cluster`` use it."""
    component = host.get("executors", name)
    params = {}
    if cluster:
        if not any(p.name == "address" for p in component.parameters):
            raise SettingsError(f"executor {name!r} takes no --cluster address")
        params["address"] = cluster
    try:
        return component.build(**params)
    except DreamfxError:
        raise
    except (Exception, SystemExit) as exc:  # a plugin's bug: one line naming it
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
