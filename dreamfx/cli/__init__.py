"""The ``dreamfx`` command line: thin commands over the library (:mod:`dreamfx.runs.dreams` plans and
runs dreams, :mod:`dreamfx.runs.hints` lists layers) plus the commands plugins add.

Start-up stays light: ``--help``, ``presets``, ``plugins`` and ``info`` never import
TensorFlow; ``run``, ``demo`` and plugin commands such as ``train`` import it when they start working.
User mistakes print one line (``dreamfx: error: ...``) and exit 2 (settings, usage) or 1
(unreadable input, failed output); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager, nullcontext
from dataclasses import fields
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from dreamfx.engine.backend import quiet_tensorflow as _quiet_tensorflow
from dreamfx.host.commands import console as _console
from dreamfx.errors import DreamfxError, ImageError, SettingsError
from dreamfx.runs.hints import SAMPLE_IMAGE
from dreamfx.cli.parser import build_parser

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def cmd_run(args: argparse.Namespace, host: Any) -> int:
    from dreamfx.config.request import DreamRequest

    request = DreamRequest(**{f.name: getattr(args, f.name) for f in fields(DreamRequest)})
    if request.cluster is None and os.environ.get("DREAMFX_CLUSTER") and not request.single:
        request = DreamRequest(**{**{f.name: getattr(request, f.name) for f in fields(DreamRequest)},
                                  "cluster": os.environ["DREAMFX_CLUSTER"]})
    return _dream(args, host, request)


def cmd_demo(args: argparse.Namespace, host: Any) -> int:
    from dreamfx.config.request import DreamRequest

    out = Path(args.out_dir)
    return _dream(args, host, DreamRequest([str(SAMPLE_IMAGE)], str(out / "demo.png"), str(out / "demo-panel.png"),
                                           preset=args.preset, overrides=args.overrides, seed=args.seed,
                                           device=args.device, force=True, batch_size=1))


def _dream(args: argparse.Namespace, host: Any, request: Any) -> int:
    """``run`` and ``demo``: plan (no TensorFlow), dream what is to do with a progress display, report."""
    from dreamfx import interrupts
    from dreamfx.cli.progress import BatchProgress, PathText
    from dreamfx.cli.tables import dream_summary, summary_table
    from dreamfx.runs.dreams import plan_dream

    plan = plan_dream(request, host)

    def make_dreamer() -> Any:
        _quiet_tensorflow(args.debug)
        return plan.make_dreamer()

    console = _console()
    # one image: its failure is the command's one-line error; folders: -q still names each failure
    errors = None if plan.single else _console(stderr=True)
    # one image: a bar over its dream's rounds and steps on a terminal, nothing elsewhere
    with BatchProgress(console, len(plan.jobs), quiet=args.quiet, errors=errors, single=plan.single) as progress:
        run = plan.run(progress, make_dreamer)
    with interrupts.shielded():
        if plan.single and run.interrupted:
            print("dreamfx: interrupted; nothing was written", file=sys.stderr)
            return EXIT_INTERRUPTED
        run.finish()
        if plan.single:
            if not args.quiet:
                console.print(dream_summary(run.runner.dreamer, run.outcomes[0], plan.options.panel, run.elapsed))
            return EXIT_OK
        if not args.quiet:
            console.print(summary_table(run.runner, run.elapsed))
            console.print(PathText(plan.report, prefix="report: "))
        if run.interrupted:
            print("dreamfx: interrupted; finished outputs are complete, run again to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        if run.runner.stopped:
            print(f"dreamfx: error: {run.runner.stopped}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_FAILED if run.runner.problems() else EXIT_OK


def _common(args: argparse.Namespace) -> dict[str, Any]:
    """The options every dreaming command takes alike (:class:`dreamfx.config.request.CommonOptions`)."""
    from dreamfx.config.request import CommonOptions

    return {f.name: getattr(args, f.name) for f in fields(CommonOptions)}


def cmd_zoom(args: argparse.Namespace, host: Any) -> int:
    from dreamfx.runs.zoom import ZoomRequest, run_zoom

    request = ZoomRequest(args.photo, args.output, args.frames, args.zoom, args.rotate, args.fps,
                          max_pixels=args.max_pixels, loop=args.loop, maps=args.maps,
                          every=args.every, **_common(args))
    return _animate(args, host, "dreamfx zoom", lambda event, make: run_zoom(request, host, make, event))


def cmd_video(args: argparse.Namespace, host: Any) -> int:
    from dreamfx.runs.video import VideoRequest, run_video

    cluster = args.cluster if args.cluster is not None else os.environ.get("DREAMFX_CLUSTER") or None
    chosen = {k: v for k, v in (("temporal", args.temporal), ("lanes", args.lanes), ("cluster", cluster))
              if v is not None}
    request = VideoRequest(args.input, args.output, args.blend, args.flow, args.fps, max_pixels=args.max_pixels,
                           maps=args.maps, every=args.every, **chosen, **_common(args))
    return _animate(args, host, "dreamfx video", lambda event, make: run_video(request, host, make, event))


def _animate(args: argparse.Namespace, host: Any, what: str, work: Any) -> int:
    """``zoom`` and ``video``: plan, dream with a progress bar, write, summarise; 130 on Ctrl-C."""
    from dreamfx import interrupts
    from dreamfx.cli.progress import FrameProgress
    from dreamfx.cli.tables import animation_summary

    def make_dreamer(settings: Any) -> Any:
        _quiet_tensorflow(args.debug)
        from dreamfx.engine import dreamer

        return dreamer.Dreamer(host, settings, args.device)

    console = _console()
    with FrameProgress(console, "dreaming", quiet=args.quiet) as progress:
        run = work(progress, make_dreamer)
    with interrupts.shielded():
        if run.interrupted:
            print(f"dreamfx: interrupted; {run.reused + run.dreamed} of {run.frames} frames are complete in "
                  f"{run.folder}, run again to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        if not args.quiet:
            console.print(animation_summary(run, what))
    return EXIT_OK


def cmd_oip(args: argparse.Namespace, host: Any) -> int:
    from dreamfx.runs.patterns import PatternRequest

    settings = PatternRequest(output=args.output, count=args.count, rounds=args.rounds, all_maps=args.all, map=args.map,
                              layer=args.layer, preset=args.preset, overrides=args.overrides, seed=args.seed,
                              device=args.device, force=args.force).resolve(host)
    _quiet_tensorflow(args.debug)
    from dreamfx.runs.patterns import grow_patterns, write_grid
    from dreamfx.engine.dreamer import Dreamer

    console, started = _console(), time.perf_counter()
    with console.status("growing patterns ...", spinner="dots") if not args.quiet else nullcontext():
        dreamer = Dreamer(host, settings, args.device)
        if args.all:
            from dreamfx.runs.atlas import layer_of, parse_maps

            choices = parse_maps(None, layer_of(dreamer)[2], layer_of(dreamer)[1])
            result = grow_patterns(dreamer, len(choices), args.rounds, choices=choices)
        else:
            result = grow_patterns(dreamer, args.count, args.rounds)
    title, labels = write_grid(dreamer, result, args.rounds, Path(args.output))
    if not args.quiet:
        from dreamfx.cli.tables import patterns_report

        patterns_report(console, title, labels, result, f"wrote {args.output} in {time.perf_counter() - started:.1f} s")
    return EXIT_OK


def cmd_atlas(args: argparse.Namespace, host: Any) -> int:
    """Thin: the work is :mod:`dreamfx.runs.atlas`'s."""
    from dreamfx.io.images import load_picture
    from dreamfx.runs.atlas import AtlasRequest, groups, make_atlas, write_atlas

    settings = AtlasRequest(photo=args.photo, output=args.output, json_path=args.json_path, maps=args.maps,
                            layer=args.layer, preset=args.preset, overrides=args.overrides, seed=args.seed,
                            device=args.device, force=args.force).resolve(host)
    photo, output = Path(args.photo), Path(args.output)
    json_path = Path(args.json_path) if args.json_path else None
    picture = load_picture(photo)  # fails fast, before TensorFlow
    _quiet_tensorflow(args.debug)
    from dreamfx.engine.dreamer import Dreamer
    from dreamfx.cli.progress import round_progress
    from dreamfx.cli.tables import atlas_report

    console, started = _console(), time.perf_counter()
    dreamer = Dreamer(host, settings, args.device)
    image = picture.pixels(dreamer.channels)
    from dreamfx.runs.atlas import layer_of, parse_maps

    count = len(parse_maps(args.maps, layer_of(dreamer)[2], layer_of(dreamer)[1]))
    total = len(groups(count, picture.luma.size)) * dreamer.rounds_for(picture.luma.shape)
    with round_progress(console, total, f"dreaming {count} maps", quiet=args.quiet) as advance:
        atlas = make_atlas(dreamer, image, args.maps, on_round=advance, input_name=photo.name)
    write_atlas(atlas, output, json_path, args.sort)
    if not args.quiet:
        atlas_report(console, atlas, [output, *([json_path] if json_path else [])], time.perf_counter() - started)
    return EXIT_OK


def cmd_layers(args: argparse.Namespace, host: Any) -> int:
    from dreamfx.runs.hints import list_layers, model_choice
    from dreamfx.config.request import parse_overrides

    name, params = model_choice(host, args.model, parse_overrides(args.overrides))
    _quiet_tensorflow(args.debug)
    from dreamfx.cli.tables import layers_table

    listing = list_layers(host, name, params)
    console = _console()
    console.print(layers_table(listing))
    if listing.hint:
        console.print(listing.hint, soft_wrap=True)
    return EXIT_OK


def cmd_presets(args: argparse.Namespace, host: Any) -> int:
    from dreamfx.cli.tables import presets_table

    _console().print(presets_table(host.registry("presets")))
    _console().print("Use one with: dreamfx run --preset NAME photo.jpg   (override with --set key=value)")
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace, host: Any) -> int:
    infos = list(host.plugins.values())
    if args.json:
        print(json.dumps([i.as_dict() for i in infos], indent=2))
        return EXIT_OK
    from dreamfx.cli.tables import components_table, plugins_table
    _console().print(plugins_table(infos))
    _console().print(components_table(host))
    return EXIT_OK


def cmd_info(args: argparse.Namespace, host: Any) -> int:
    from dreamfx.io.provenance import provenance

    path = Path(args.output)
    if not path.exists():
        raise ImageError(f"{path} does not exist")
    meta, why = provenance(path)
    if meta is None and why == "it carries no dreamfx metadata":
        raise ImageError(f"{path} carries no dreamfx metadata (was it written by dreamfx?)")
    if meta is None:  # too large, a bomb, not JSON, not an object, not a regular file: say which
        raise ImageError(f"{path}: its dreamfx metadata cannot be shown: {why}")
    print(json.dumps(meta, indent=2, sort_keys=True))
    return EXIT_OK


def cmd_explore(args: argparse.Namespace, host: Any) -> int:
    try:  # the web stack is an extra, imported only here: dreamfx --help stays free of it
        from dreamfx.explore.server import serve
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise SettingsError(f"dreamfx explore needs the explore extra ({exc.name} is missing): "
                            "pip install 'dreamfx[explore]'") from None
    return serve(args.photos, args.host, args.port, open_browser=not args.no_browser)


COMMANDS = {"run": cmd_run, "demo": cmd_demo, "zoom": cmd_zoom, "video": cmd_video, "oip": cmd_oip, "atlas": cmd_atlas,
            "layers": cmd_layers, "presets": cmd_presets, "explore": cmd_explore,
            "plugins": cmd_plugins, "info": cmd_info}


def _early_option(argv: Sequence[str], name: str) -> str | None:
    """The value of option ``name`` (``--name VALUE`` or ``--name=VALUE``), read before
    parsing: the backend must be set before plugins or commands import Keras."""
    value = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == name and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = argparse.Namespace(debug="--debug" in argv)
    with _debug_lines(args.debug):
        return _main(argv, args)


@contextmanager
def _debug_lines(on: bool) -> Iterator[None]:
    """With ``--debug``, the host's debug lines (which faster route it left, and why) on
    stderr as ``dreamfx: debug: ...``, for this call only."""
    import logging

    if not on:
        yield
        return
    log = logging.getLogger("dreamfx")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dreamfx: debug: %(message)s"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def _main(argv: list[str], args: argparse.Namespace) -> int:
    from dreamfx import interrupts
    from dreamfx.host.commands import collect_commands, run_command
    from dreamfx.host.manager import create_host

    try:
        from dreamfx.engine import backend

        backend.request(_early_option(argv, "--backend"))  # before anything imports Keras
        host = create_host(strict="--strict" in argv)  # plugins add commands: known before parsing
        commands = collect_commands(host)
        parser = build_parser(commands)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        for info in host.failed() if args.command in COMMANDS and args.command != "info" else []:
            print(f"dreamfx: warning: plugin {info.name!r} ({info.distribution or 'no distribution'}) "
                  f"failed and was skipped: {info.error}", file=sys.stderr)
        interrupts.install()
        if args.command in commands:
            return run_command(commands[args.command], args)
        return COMMANDS[args.command](args, host)
    except KeyboardInterrupt:
        print("dreamfx: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # dreamfx info out.png | head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except DreamfxError as exc:
        if args.debug:
            raise
        print(f"dreamfx: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, SettingsError) else EXIT_FAILED


def entry(argv: Sequence[str] | None = None) -> None:
    """The ``dreamfx`` program: :func:`main`, then the process ends with its exit status.

    An interrupted run ends at once when its report is written (``os._exit``): a dream it
    abandoned may still be finishing a TensorFlow call in a background thread, and the
    interpreter's shutdown would wait for TensorFlow's objects (2 s or more of garbage
    collection) or tear them down under that thread. Everything dreamfx writes is complete
    and synced by then.
    """
    code = main(argv)
    if code == EXIT_INTERRUPTED:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    raise SystemExit(code)
