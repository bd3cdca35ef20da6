"""The ``dreamfx`` command line.

Start-up stays light: ``--help``, ``presets``, ``plugins`` and ``info`` never import
TensorFlow; ``run``, ``demo`` and ``train`` import it when they start working.
User mistakes print one line (``dreamfx: error: ...``) and exit 2 (settings, usage) or 1
(unreadable input, failed output); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .errors import DreamfxError, ImageError, SettingsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SAMPLE_IMAGE = Path(__file__).with_name("data") / "coffee.png"


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _quiet_tensorflow(debug: bool) -> None:
    """Import TensorFlow without its C++ start-up chatter (CUDA probing on CPU machines).

    Those lines are written by native code before logging is configured, so the only way to
    keep them off the user's terminal is to point file descriptor 2 elsewhere while
    TensorFlow loads. ``--debug`` shows them.
    """
    if debug or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_logical_devices()  # initialise the runtime (and its CUDA probe) now
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dreamfx",
        description="DeepDream-style image filters on a tiny CNN trained on MNIST.",
        epilog="Examples:\n  dreamfx demo -o out\n  dreamfx run --preset single-map photo.jpg -o dream.png --panel panel.png\n"
        "  dreamfx run photo.jpg --set objective.map=12 --set optimizer.steps=40\n  dreamfx presets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dreamfx {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    for target, default in ((parser, False), (common, argparse.SUPPRESS)):
        # accepted before or after the command: dreamfx --debug run ... or dreamfx run --debug ...
        target.add_argument("--debug", action="store_true", default=default, help="show tracebacks and TensorFlow's log")
        target.add_argument("--strict", action="store_true", default=default, help="make a broken third-party plugin fatal")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_parser = sub.add_parser

    def add_command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return add_parser(name, parents=[common], **kwargs)

    sub.add_parser = add_command  # type: ignore[method-assign]

    def dream_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--preset", default="single-map", help="preset name (see 'dreamfx presets') or a .toml file")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a setting, e.g. objective.map=12 or optimizer.steps=40 (repeatable)")
        p.add_argument("--seed", type=int, help="random seed (default: the preset's)")
        p.add_argument("--device", default="auto", help="auto, cpu, gpu or gpu:N (default: auto)")
        p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")

    run = sub.add_parser("run", help="dream images or folders",
                         description="Dream image files or folders with a preset. One file: -o names the output "
                         "image. Several files or a folder: -o names the output folder, whose tree mirrors the inputs'.")
    run.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="image files (PNG, JPEG, TIFF, BMP, WebP, GIF) or folders of them")
    run.add_argument("-o", "--output", help="output image (one input) or folder (default for one input: ./<name>-dream.png)")
    run.add_argument("--panel", help="one input: also write the article's figure (pattern, dream, result) here")
    run.add_argument("-r", "--recursive", action="store_true", help="also dream images in sub-folders")
    run.add_argument("--glob", help="only files whose name matches this pattern, e.g. '*.jpg'")
    run.add_argument("--format", help="output format for folders: png (default), jpg, tif, bmp, webp")
    run.add_argument("--force", action="store_true", help="redo outputs that already exist with the same settings")
    run.add_argument("--color", choices=("gray", "luma"), default="gray",
                     help="gray (default, as in the article) or luma: dream the brightness, keep the colours")
    run.add_argument("--keep-alpha", action="store_true", help="keep the input's transparency in the output")
    run.add_argument("--max-pixels", type=int, default=None,
                     help="refuse images with more pixels than this (default: Pillow's decompression-bomb limit)")
    run.add_argument("--min-size", type=int, default=None, help="refuse images whose short side is below this")
    run.add_argument("--png-level", type=int, default=None, metavar="0-9",
                     help="PNG compression level of the outputs (default 1: fast; 9: smallest files, ~3x slower)")
    run.add_argument("--batch-size", type=int, default=16, help="images of one size dreamed together (default 16)")
    run.add_argument("--from", dest="from_output", metavar="OUTPUT",
                     help="repeat the settings stored in a dreamfx output (then --set overrides them)")
    dream_options(run)

    demo = sub.add_parser("demo", help="dream the bundled sample photo",
                          description="Dream the bundled CC0 sample photo and write the result and the panel.")
    demo.add_argument("-o", "--out-dir", default="out", help="folder for demo.png and demo-panel.png (default: out)")
    dream_options(demo)

    oip = sub.add_parser("oip", help="grow optimal input patterns from noise",
                         description="Grow patterns from random noise that maximise an objective (the article's OIP "
                         "experiment) and save them as one labelled grid.")
    oip.add_argument("--layer", help="shortcut for --set objective.layer=LAYER")
    oip.add_argument("--map", type=int, help="shortcut for --set objective.map=N")
    oip.add_argument("-n", "--count", type=int, default=4, help="how many patterns (default 4)")
    oip.add_argument("--rounds", type=int, default=10, help="optimizer calls (each of optimizer.steps steps; default 10)")
    oip.add_argument("-o", "--output", default="oip.png", help="the grid image (default oip.png)")
    dream_options(oip)

    layers = sub.add_parser("layers", help="list the model's layers",
                            description="List the model's layers with output shapes and map counts.")
    layers.add_argument("--model", default="mnist-cnn", help="a registered model (default mnist-cnn)")
    layers.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="model parameters, e.g. model.path=my.keras")

    sub.add_parser("presets", help="list presets", description="List the presets with their descriptions.")

    plugins = sub.add_parser("plugins", help="list plugins", description="List plugins, their status and what they register.")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")

    info = sub.add_parser("info", help="show how an output was made", description="Print the settings stored in a dreamfx output.")
    info.add_argument("output", help="an image written by dreamfx")

    train = sub.add_parser("train", help="train the built-in MNIST CNN",
                           description="Train the article's CNN with a stratified held-out split and save it as .keras.")
    train.add_argument("--data", help="MNIST as IDX files (folder or images file), mnist.npz, or CSV(.gz); "
                       "default: keras.datasets.mnist (needs internet)")
    train.add_argument("--epochs", type=int, default=None, help="training epochs (default: the recipe's)")
    train.add_argument("--seed", type=int, default=0, help="random seed for split, augmentation and weights")
    train.add_argument("-o", "--output", help="where to write the .keras file (default: the shipped model file)")
    return parser


# -- commands ------------------------------------------------------------------------------------

def _host(args: argparse.Namespace) -> Any:
    from .plugins import create_host

    host = create_host(strict=args.strict)
    for info in host.failed():
        print(f"dreamfx: warning: plugin {info.name!r} ({info.distribution or 'no distribution'}) "
              f"failed and was skipped: {info.error}", file=sys.stderr)
    return host


def _settings(args: argparse.Namespace, host: Any) -> Any:
    from .presets import settings_for
    from .settings import apply_overrides, parse_override, resolve_settings

    overrides = [parse_override(text) for text in args.overrides]
    source = getattr(args, "from_output", None)
    if source:
        from .imageio import read_metadata

        meta = read_metadata(source) if Path(source).is_file() else None
        if not meta or "settings" not in meta:
            raise SettingsError(f"--from {source}: no dreamfx settings found in that file")
        args.color = meta.get("color", args.color)
        args.keep_alpha = meta.get("keep_alpha", args.keep_alpha)
        return resolve_settings(meta.get("preset", "from-output"), apply_overrides(meta["settings"], overrides),
                                host.registries, seed=args.seed)
    return settings_for(host, args.preset, overrides, seed=args.seed)


def _dream(args: argparse.Namespace, inputs: list[str], output: str | None, panel: str | None) -> int:
    """``run`` and ``demo``: plan the jobs, build the dreamer once, run them all, report."""
    from .batch import BatchOptions, BatchRunner
    from .imageio import DEFAULT_MAX_PIXELS, PNG_LEVEL, load_picture
    from .inputs import Job, check_plan, collect_jobs

    if args.png_level is not None and not 0 <= args.png_level <= 9:
        raise SettingsError(f"--png-level must be 0-9, got {args.png_level}")

    host = _host(args)
    settings = _settings(args, host)
    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    single = len(inputs) == 1 and not Path(inputs[0]).is_dir() and (output is None or Path(output).suffix != "")
    if single:
        source = Path(inputs[0])
        jobs = [Job(source, Path(output) if output else Path.cwd() / f"{source.stem}-dream.png")]
        check_plan(jobs)
        load_picture(source, max_pixels=max_pixels)  # fail fast, before TensorFlow loads
    else:
        if output is None:
            raise SettingsError("several inputs or a folder need -o OUTPUT_FOLDER")
        if panel:
            raise SettingsError("--panel needs exactly one input file")
        jobs = collect_jobs(inputs, Path(output), recursive=args.recursive, pattern=args.glob,
                            suffix=args.format or ".png")
        if not jobs:
            raise SettingsError(f"no images found in {', '.join(inputs)} (formats: png, jpg, tif, bmp, webp, gif"
                                f"{'; try --recursive' if not args.recursive else ''})")
    if args.batch_size < 1:
        raise SettingsError("--batch-size must be at least 1")
    _quiet_tensorflow(args.debug)
    from .pipeline import Dreamer
    from .progress import BatchProgress, summary_table

    console = _console()
    started = time.perf_counter()
    dreamer = Dreamer(host, settings, args.device)
    options = BatchOptions(force=args.force or single, color=args.color, keep_alpha=args.keep_alpha,
                           max_pixels=max_pixels, min_size=args.min_size, batch_size=args.batch_size,
                           panel=Path(panel) if panel else None,
                           png_level=PNG_LEVEL if args.png_level is None else args.png_level)
    with BatchProgress(console, len(jobs), quiet=args.quiet or single) as progress:
        runner = BatchRunner(dreamer, jobs, options, progress)
        runner.run()
    elapsed = time.perf_counter() - started
    if single:
        outcome = runner.outcomes[0]
        if runner.interrupted:
            print("dreamfx: interrupted; nothing was written", file=sys.stderr)
            return EXIT_INTERRUPTED
        if outcome.status == "failed":
            raise ImageError(outcome.reason or "failed")
        if not args.quiet:
            _summary(console, settings, dreamer, outcome.result, outcome.job.output, options.panel, elapsed, outcome.notes)
        return EXIT_OK
    runner.write_report(Path(output) / "report.json")
    if not args.quiet:
        console.print(summary_table(runner, elapsed))
        console.print(f"report: {Path(output) / 'report.json'}")
    if runner.interrupted:
        print("dreamfx: interrupted; finished outputs are complete, run again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if runner.counts()["failed"] else EXIT_OK


def _summary(console: Any, settings: Any, dreamer: Any, result: Any, output: Path, panel: Path | None,
             elapsed: float, notes: list[str]) -> None:
    from rich.table import Table

    opt, loop = settings.optimizer.params, settings.loop.params
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold cyan")
    table.add_column()
    table.add_row("preset", settings.preset)
    table.add_row("model", f"{settings.model.name}")
    table.add_row("objective", f"{settings.objective.name}: {result.objective}")
    table.add_row("scaler", settings.scaler.name)
    rounds = loop.get("rounds", "?")
    table.add_row("rounds x steps", f"{rounds} x {opt.get('steps', '?')}  (step size {opt.get('step_size', '?')}, seed {settings.seed})")
    gain = f"x{result.gain:.1f}" if result.gain != float("inf") else "from zero"
    table.add_row("objective value", f"{result.score_before:.4g} -> {result.score_after:.4g}  ({gain})")
    table.add_row("time", f"{elapsed:.2f} s on {dreamer.device} (dream {result.seconds:.2f} s)")
    table.add_row("output", str(output))
    if panel is not None:
        table.add_row("panel", str(panel))
    if result.score_before == 0.0 and result.score_after == 0.0:
        notes = [*notes, "the objective is silent on this image (zero activation, so zero gradient) and nothing "
                 "changed: try another map or layer ('dreamfx oip' shows what a map responds to)"]
    for note in notes:
        table.add_row("[yellow]note[/]", note)
    console.print(table)


def cmd_run(args: argparse.Namespace) -> int:
    return _dream(args, args.inputs, args.output, args.panel)


def cmd_demo(args: argparse.Namespace) -> int:
    args.from_output = None
    for name, value in (("recursive", False), ("glob", None), ("format", None), ("force", True), ("color", "gray"),
                        ("keep_alpha", False), ("max_pixels", None), ("min_size", None), ("batch_size", 1),
                        ("png_level", None)):
        setattr(args, name, value)
    out_dir = Path(args.out_dir)
    return _dream(args, [str(SAMPLE_IMAGE)], str(out_dir / "demo.png"), str(out_dir / "demo-panel.png"))


def cmd_oip(args: argparse.Namespace) -> int:
    if args.count < 1 or args.rounds < 1:
        raise SettingsError("--count and --rounds must be at least 1")
    if args.layer is not None:
        args.overrides.append(f"objective.layer={args.layer}")
    if args.map is not None:
        args.overrides.append(f"objective.map={args.map}")
    host = _host(args)
    settings = _settings(args, host)
    output = Path(args.output)
    _quiet_tensorflow(args.debug)
    from .imageio import write_image_atomic
    from .panel import render_grid
    from .patterns import grow_patterns
    from .pipeline import Dreamer

    console = _console()
    started = time.perf_counter()
    with console.status(f"growing {args.count} patterns ...", spinner="dots") if not args.quiet else nullcontext():
        dreamer = Dreamer(host, settings, args.device)
        result = grow_patterns(dreamer, args.count, args.rounds)
    labels = [f"#{i + 1}: {after:.3g} (noise {before:.2g})" for i, (before, after) in enumerate(zip(result.before, result.after))]
    steps = settings.optimizer.params.get("steps", "?")
    title = f"{dreamer.objective.describe()}: {args.rounds} x {steps} steps from noise, seed {settings.seed}"
    metadata = {"dreamfx_version": __version__, "command": "oip", "settings": settings.to_dict(),
                "settings_hash": settings.digest(), "scores": [float(a) for a in result.after]}
    write_image_atomic(output, render_grid(result.patterns, labels, title), metadata)
    if not args.quiet:
        gains = result.after / result.before.clip(min=1e-12)
        console.print(f"[bold]{title}[/]")
        for label, gain in zip(labels, gains):
            console.print(f"  {label}  x{gain:.1f}")
        if not result.after.any():
            console.print("[yellow]note:[/] the objective stayed at zero: it is silent on gray noise (no activation, so no "
                          "gradient); try another map ('dreamfx layers' lists them)")
        console.print(f"wrote {output} in {time.perf_counter() - started:.1f} s")
    return EXIT_OK


def cmd_layers(args: argparse.Namespace) -> int:
    from .settings import parse_override, resolve_settings

    host = _host(args)
    data = {"model": {"name": args.model}}
    for key, value in (parse_override(t) for t in args.overrides):
        section, _, name = key.partition(".")
        if section != "model" or not name:
            raise SettingsError(f"dreamfx layers only takes model.* settings, got {key!r}")
        data["model"][name] = value
    choice = resolve_settings("layers", data, host.registries).model
    _quiet_tensorflow(args.debug)
    from rich.table import Table

    from .models import cached_model
    from .objectives import ModelInfo

    component = host.get("models", choice.name)
    model = cached_model(choice.name, choice.params, lambda: component.build(**choice.params))
    info = ModelInfo.from_model(model, choice.name)
    table = Table(title=f"model {choice.name}: input {info.input_shape}", title_justify="left")
    for col in ("layer", "type", "output shape", "maps / units", "weights"):
        table.add_column(col, justify="right" if col in ("maps / units", "weights") else "left")
    for layer in model.layers:
        if layer.name not in info.layers:
            continue
        shape = info.layers[layer.name]
        kind = "maps" if len(shape) == 3 else "units"
        table.add_row(layer.name, type(layer).__name__, str(shape), f"{shape[-1]} {kind}", f"{layer.count_params():,}")
    _console().print(table)
    _console().print("Dream one with: dreamfx run photo.jpg --set objective.layer=conv2 --set objective.map=5")
    return EXIT_OK


def cmd_presets(args: argparse.Namespace) -> int:
    from rich.table import Table

    host = _host(args)
    table = Table(title="dreamfx presets", title_justify="left")
    table.add_column("preset", style="bold cyan", no_wrap=True)
    table.add_column("description")
    table.add_column("plugin", style="dim")
    for component in host.registry("presets"):
        table.add_row(component.name, component.description, component.plugin)
    _console().print(table)
    _console().print("Use one with: dreamfx run --preset NAME photo.jpg   (override with --set key=value)")
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    host = _host(args)
    infos = list(host.plugins.values())
    if args.json:
        print(json.dumps([i.as_dict() for i in infos], indent=2))
        return EXIT_OK
    from rich.table import Table

    table = Table(title="dreamfx plugins", title_justify="left")
    for col in ("plugin", "distribution", "status", "hooks", "registers"):
        table.add_column(col)
    colours = {"ok": "green", "failed": "red", "disabled": "yellow"}
    for info in infos:
        registers = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.registered.items())
        status = f"[{colours[info.status]}]{info.status}[/]"
        if info.error:
            status += f"\n[red]{info.error}[/]"
        dist = f"{info.distribution or '-'} {info.version or ''}".strip()
        hooks = ", ".join(h.removeprefix("dreamfx_") for h in info.hooks)
        table.add_row(info.name, dist, status, hooks, registers)
    _console().print(table)
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from .imageio import read_metadata

    path = Path(args.output)
    if not path.exists():
        raise ImageError(f"{path} does not exist")
    meta = read_metadata(path)
    if meta is None:
        raise ImageError(f"{path} carries no dreamfx metadata (was it written by dreamfx?)")
    print(json.dumps(meta, indent=2, sort_keys=True))
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    _quiet_tensorflow(args.debug)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dreamfx_mnist import MODEL_FILE
    from dreamfx_mnist.train import DEFAULT_EPOCHS, train

    out = Path(args.output) if args.output else MODEL_FILE
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS
    with Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[logs]}"),
                  TimeRemainingColumn(), console=_console()) as progress:
        task = progress.add_task("train", total=epochs, logs="")

        def on_epoch(epoch: int, logs: dict[str, Any]) -> None:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if isinstance(v, float))
            progress.update(task, completed=epoch + 1, logs=shown)

        try:
            report = train(data=args.data, out=out, epochs=epochs, seed=args.seed, progress=on_epoch)
        except (ValueError, OSError) as exc:
            raise DreamfxError(f"cannot train on {args.data or 'keras.datasets.mnist'}: {exc}") from exc
    _console().print(
        f"held-out accuracy [bold]{report.accuracy:.2%}[/] on {report.n_holdout} digits "
        f"(trained on {report.n_train}, {report.epochs} epochs, seed {report.seed}); "
        f"wrote {report.out} (sha256 {report.sha256[:16]}...)"
    )
    return EXIT_OK


COMMANDS = {"run": cmd_run, "demo": cmd_demo, "oip": cmd_oip, "layers": cmd_layers, "presets": cmd_presets, "plugins": cmd_plugins,
            "info": cmd_info, "train": cmd_train}


def _terminate_as_interrupt() -> None:
    """Let SIGTERM (a job scheduler, ``kill``) stop a run the way Ctrl-C does: the writes
    under way finish, the report is written, no partial files are left."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (dreamfx.cli.main called from a thread)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _terminate_as_interrupt()
    try:
        code = COMMANDS[args.command](args)
        if code == EXIT_INTERRUPTED:
            gc.freeze()  # the exit's last collection of TensorFlow's objects takes 2 s or more: skip it
        return code
    except KeyboardInterrupt:
        print("dreamfx: interrupted", file=sys.stderr)
        gc.freeze()  # as above
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # dreamfx info out.png | head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except DreamfxError as exc:
        if args.debug:
            raise
        print(f"dreamfx: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, SettingsError) else EXIT_FAILED
