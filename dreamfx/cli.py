"""The ``dreamfx`` command line.

Start-up stays light: ``--help``, ``presets``, ``plugins`` and ``info`` never import
TensorFlow; ``run``, ``demo`` and ``train`` import it when they start working.
User mistakes print one line (``dreamfx: error: ...``) and exit 2 (settings, usage) or 1
(unreadable input, failed output); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
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
    from .progress import make_console

    return make_console(stderr)


def _quiet_tensorflow(debug: bool) -> None:
    """Import TensorFlow with none of its chatter reaching the user unless ``--debug``.

    The C++ start-up lines (CUDA probing on CPU machines) are written by native code before
    logging is configured, so file descriptor 2 points elsewhere while TensorFlow loads; the
    native log level hides later C++ warnings; TensorFlow's and absl's Python loggers (the
    retracing warnings of a folder of many sizes) and Python warnings from TensorFlow and
    Keras are raised to errors-only. ``--debug`` shows all of it.
    """
    if debug or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging
    import warnings

    for module in ("tensorflow", "keras", "absl", "tf_keras", "h5py"):
        warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
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
    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass


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
    train.add_argument("--holdout", type=int, default=50, metavar="N",
                       help="digits per class held out for the accuracy report (default 50)")
    train.add_argument("-o", "--output", help="where to write the .keras file (default: mnist_cnn.keras in your "
                       "data folder, $XDG_DATA_HOME/dreamfx or ~/.local/share/dreamfx; never the shipped model)")
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
    from .presets import settings_for, settings_from_output
    from .settings import parse_override

    overrides = [parse_override(text) for text in args.overrides]
    source = getattr(args, "from_output", None)
    if source:
        settings, args.color, args.keep_alpha = settings_from_output(
            host, source, overrides, seed=args.seed, color=getattr(args, "color", "gray"),
            keep_alpha=getattr(args, "keep_alpha", False))
        return settings
    return settings_for(host, args.preset, overrides, seed=args.seed)


#: Output formats that can keep an alpha channel.
ALPHA_FORMATS = ("PNG", "TIFF", "WEBP")


def _check_options(args: argparse.Namespace) -> None:
    """Every option mistake of ``run``/``demo`` is found here, before any file is read."""
    from .device import parse_device
    from .imageio import FORMATS

    parse_device(args.device)
    if args.png_level is not None and not 0 <= args.png_level <= 9:
        raise SettingsError(f"--png-level must be 0-9, got {args.png_level}")
    if args.batch_size < 1:
        raise SettingsError("--batch-size must be at least 1")
    if args.max_pixels is not None and args.max_pixels < 1:
        raise SettingsError(f"--max-pixels must be a positive number of pixels, got {args.max_pixels}")
    if args.min_size is not None and args.min_size < 1:
        raise SettingsError(f"--min-size must be at least 1 pixel, got {args.min_size}")
    if args.format is not None and "." + args.format.lower().lstrip(".") not in FORMATS:
        raise SettingsError(f"unknown output format {args.format!r}; use one of {', '.join(sorted(FORMATS))}")


def _output_format(path: Path, what: str, keep_alpha: bool) -> None:
    """An output path's format must be known, and able to hold alpha if ``--keep-alpha``."""
    from .imageio import FORMATS

    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SettingsError(f"{what} {path}: unknown image format {path.suffix or '(no suffix)'}; use one of "
                            f"{', '.join(sorted(FORMATS))} (to write into a folder, end the path with /)")
    if keep_alpha and fmt not in ALPHA_FORMATS:
        raise SettingsError(f"{what} {path}: {fmt} cannot hold transparency, which --keep-alpha asks for; "
                            "use .png, .tif or .webp")


def _single_output(inputs: list[str], output: str | None) -> bool:
    """One input file and -o naming an image (not a folder): the output is that image."""
    if len(inputs) != 1 or Path(inputs[0]).is_dir():
        return False
    return output is None or not (output.endswith(("/", os.sep)) or Path(output).is_dir())


def _plan(args: argparse.Namespace, inputs: list[str], output: str | None, panel: str | None) -> tuple[list[Any], Path | None]:
    """The jobs of a run and its report path (None for one image), checked before any work:
    paths that collide with inputs or each other, formats, a writable output folder."""
    from .imageio import check_writable_folder, remove_stale_temporaries
    from .inputs import Job, check_plan, collect_jobs, inspect_input

    if _single_output(inputs, output):
        source = Path(inputs[0])
        target = Path(output) if output else Path.cwd() / f"{source.stem}-dream.png"
        _output_format(target, "output", args.keep_alpha)
        extra = [Path(panel)] if panel else []
        if panel:
            _output_format(Path(panel), "panel", False)
        jobs = [Job(source, target, inspect_input(source))]
        check_plan(jobs, extra)
        folders = {target.parent, *(p.parent for p in extra)}
        report = None
    else:
        if output is None:
            raise SettingsError("several inputs or a folder need -o OUTPUT_FOLDER")
        if panel:
            raise SettingsError("--panel needs exactly one input file")
        suffix = "." + (args.format or "png").lower().lstrip(".")
        _output_format(Path("x" + suffix), "--format", args.keep_alpha)
        jobs = collect_jobs(inputs, Path(output), recursive=args.recursive, pattern=args.glob, suffix=suffix)
        if not jobs:
            raise SettingsError(f"no images found in {', '.join(inputs)} (formats: png, jpg, tif, bmp, webp, gif"
                                f"{'; try --recursive' if not args.recursive else ''})")
        report = Path(output) / "report.json"
        check_plan(jobs, [report])
        if report.exists() and not args.force and not _is_report(report):
            raise SettingsError(f"{report} exists and was not written by dreamfx; it is not replaced "
                                "(choose another output folder, or --force)")
        folders = {Path(output)}
    for folder in folders:
        try:
            check_writable_folder(folder)
        except DreamfxError as exc:
            raise SettingsError(str(exc)) from None
        remove_stale_temporaries(folder, recursive=report is not None)
    return jobs, report


def _is_report(path: Path) -> bool:
    """Whether ``path`` is a report.json that dreamfx wrote (only a regular file is read)."""
    from .imageio import open_regular

    try:
        fd = open_regular(path, "report")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            data = json.loads(fh.read(64 << 20))
    except (DreamfxError, OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "dreamfx_version" in data and "files" in data


def _dream(args: argparse.Namespace, inputs: list[str], output: str | None, panel: str | None) -> int:
    """``run`` and ``demo``: check and plan the jobs, build the dreamer only when something
    is to do, run them all, report."""
    from . import interrupts
    from .batch import BatchOptions, BatchRunner
    from .imageio import DEFAULT_MAX_PIXELS, PNG_LEVEL, load_picture
    from rich.markup import escape

    from .progress import BatchProgress, summary_table

    _check_options(args)
    host = _host(args)
    settings = _settings(args, host)
    jobs, report = _plan(args, inputs, output, panel)
    single = report is None
    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    if single and jobs[0].problem is None:
        load_picture(jobs[0].source, max_pixels=max_pixels)  # fail fast, before TensorFlow loads

    def make_dreamer() -> Any:
        _quiet_tensorflow(args.debug)
        from .pipeline import Dreamer

        return Dreamer(host, settings, args.device)

    console = _console()
    started = time.perf_counter()
    options = BatchOptions(force=args.force, redo=single, keep_results=single, color=args.color, keep_alpha=args.keep_alpha,
                           max_pixels=max_pixels, min_size=args.min_size, batch_size=args.batch_size,
                           panel=Path(panel) if panel else None,
                           png_level=PNG_LEVEL if args.png_level is None else args.png_level)
    # one image: its failure is the command's one-line error; folders: -q still names each failure
    errors = None if single else _console(stderr=True)
    with BatchProgress(console, len(jobs), quiet=args.quiet or single, errors=errors) as progress:
        runner = BatchRunner(settings, jobs, options, make_dreamer, progress)
        try:
            runner.run()
        except KeyboardInterrupt:  # between the runner's own handlers
            runner.interrupted = True
    with interrupts.shielded():
        elapsed = time.perf_counter() - started
        if single:
            outcome = runner.outcomes[0]
            if runner.interrupted:
                print("dreamfx: interrupted; nothing was written", file=sys.stderr)
                return EXIT_INTERRUPTED
            if outcome.status != "done":
                raise ImageError(outcome.reason or outcome.status)
            if not args.quiet:
                _summary(console, settings, runner.dreamer, outcome.result, outcome.job.output, options.panel, elapsed,
                         outcome.notes)
            return EXIT_OK
        runner.write_report(report)
        if not args.quiet:
            console.print(summary_table(runner, elapsed))
            console.print(f"report: {escape(str(report))}")
        if runner.interrupted:
            print("dreamfx: interrupted; finished outputs are complete, run again to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        return EXIT_FAILED if runner.problems() else EXIT_OK


def _summary(console: Any, settings: Any, dreamer: Any, result: Any, output: Path, panel: Path | None,
             elapsed: float, notes: list[str]) -> None:
    from rich.markup import escape
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
    # a ratio means something only between positive scores
    gain = (f"  (x{result.gain:.1f})" if result.score_before > 0 and result.score_after > 0
            else "  (from zero)" if result.score_before == 0 else "")
    table.add_row("objective value", f"{result.score_before:.4g} -> {result.score_after:.4g}{gain}")
    table.add_row("time", f"{elapsed:.2f} s on {dreamer.device} (dream {result.seconds:.2f} s)")
    table.add_row("output", escape(str(output)))
    if panel is not None:
        table.add_row("panel", escape(str(panel)))
    if result.score_before == 0.0 and result.score_after == 0.0:
        notes = [*notes, "the objective is silent on this image (zero activation, so zero gradient) and nothing "
                 f"changed: {_silent_hint(dreamer, result.image)}"]
    for note in notes:
        table.add_row("[yellow]note[/]", escape(note))
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
        console.print(f"[bold]{title}[/]")
        for label, before, after in zip(labels, result.before, result.after):
            # a ratio means something only between positive scores
            gain = f"  x{after / before:.1f}" if before > 1e-6 and after > 0 else ""
            console.print(f"  {label}{gain}")
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
    console = _console()
    console.print(table)
    map_layers = info.map_layers()
    model_args = "" if choice.name == "mnist-cnn" else f" --set model={choice.name}" + "".join(
        f" --set model.{k}={v}" for k, v in choice.params.items())
    if not map_layers:
        dense = [name for name, shape in info.layers.items() if len(shape) == 1]
        if dense:
            console.print(f"This model has no layer with feature maps; dream a unit of its last layer with: dreamfx run "
                          f"photo.jpg{model_args} --set objective=class --set objective.layer={dense[-1]} "
                          f"--set objective.unit=0", soft_wrap=True)
        return EXIT_OK
    layer = map_layers[-1]  # the deepest layer with maps: the article's choice of layer
    best = _responding_map(host, model, info, layer)
    if best is None:
        console.print(f"Dream its deepest layer with: dreamfx run photo.jpg{model_args} --set objective.layer={layer} "
                      f"--set objective.map=N   (a map that is zero on your photo cannot start a dream: try others)",
                      soft_wrap=True)
    else:
        console.print(f"Dream its deepest layer with: dreamfx run photo.jpg{model_args} --set objective.layer={layer} "
                      f"--set objective.map={best}   (map {best} responds most to the bundled photo, shrunk to the "
                      f"model's input; a map that is zero on your photo cannot start a dream)", soft_wrap=True)
    return EXIT_OK


def _responding_map(host: Any, model: Any, info: Any, layer: str) -> int | None:
    """The map of ``layer`` with the largest mean response to the bundled photo seen the way the
    default preset sees it (shrunk to the model's input by the ``downscale`` scaler); None when
    that cannot be computed (an input of unknown size) or every map is silent."""
    try:
        downscale = host.get("scalers", "downscale")
        scaler = downscale.build(downscale.context(model=info))
    except (TypeError, ValueError):
        return None
    from .api import as_gray_array

    return _strongest_map(model, info, scaler, layer, as_gray_array(SAMPLE_IMAGE))


def _strongest_map(model: Any, info: Any, scaler: Any, layer: str, image: Any) -> int | None:
    """The map of ``layer`` whose mean response to the (H, W) ``image``, seen through
    ``scaler``'s finest level, is largest; None when every map is zero."""
    import numpy as np
    import tensorflow as tf

    from .features import feature_model
    from .scaling import split_views

    batch = tf.tile(tf.constant(np.asarray(image, np.float32)[None, :, :, None]), [1, 1, 1, int(info.input_shape[2])])
    level = scaler.levels(tuple(image.shape[:2]))[-1]
    canvas = level.to_canvas(batch)
    views = canvas if level.view_size is None else split_views(canvas, level.view_size)
    any_size = bool(getattr(scaler, "fully_convolutional", False))
    acts = feature_model(model, (layer,), any_size=any_size)(views, training=False)[layer]
    means = np.asarray(tf.reduce_mean(acts, axis=[0, 1, 2]))
    return int(np.argmax(means)) if means.max() > 0 else None


def _silent_hint(dreamer: Any, image: Any) -> str:
    """For a silent dream: a map of the objective's deepest map layer that responds to ``image``."""
    general = "try another map or layer ('dreamfx oip' shows what a map responds to)"
    layers = [name for name in dreamer.objective.layers if name in dreamer.model_info.map_layers()]
    if not layers:
        return general
    try:
        best = _strongest_map(dreamer.model, dreamer.model_info, dreamer.scaler, layers[-1], image)
    except Exception:  # a hint must never turn a finished dream into an error
        return general
    if best is None:
        return f"every map of {layers[-1]} is zero on it; try an earlier layer"
    return f"try --set objective.layer={layers[-1]} --set objective.map={best}, the map of {layers[-1]} that responds most to it"


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
    from rich.markup import escape

    from .plugins import describe_parameters

    components = Table(title="components and their parameters", title_justify="left")
    for col in ("component", "plugin", "description and parameters"):
        components.add_column(col)
    for kind, registry in host.registries.items():
        for component in registry if kind != "presets" else ():  # presets: see dreamfx presets
            components.add_row(f"{kind[:-1]} {component.name}", escape(component.plugin),
                               escape(describe_parameters(component)))
    _console().print(components)
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
    if args.holdout < 1:
        raise SettingsError(f"--holdout must be at least 1 digit per class, got {args.holdout}")
    _quiet_tensorflow(args.debug)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dreamfx_mnist import user_model_file
    from dreamfx_mnist.train import DEFAULT_EPOCHS, train

    out = Path(args.output) if args.output else user_model_file()
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS
    with Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[logs]}"),
                  TimeRemainingColumn(), console=_console()) as progress:
        task = progress.add_task("train", total=epochs, logs="")

        def on_epoch(epoch: int, logs: dict[str, Any]) -> None:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if isinstance(v, float))
            progress.update(task, completed=epoch + 1, logs=shown)

        try:
            report = train(data=args.data, out=out, epochs=epochs, seed=args.seed, holdout_per_class=args.holdout,
                           progress=on_epoch)
        except (ValueError, OSError) as exc:
            raise DreamfxError(f"cannot train on {args.data or 'keras.datasets.mnist'}: {exc}") from exc
    console = _console()
    console.print(
        f"held-out accuracy [bold]{report.accuracy:.2%}[/] on {report.n_holdout} digits "
        f"(trained on {report.n_train}, {report.epochs} epochs, seed {report.seed})"
    )
    console.print(f"wrote {report.out} (sha256 {report.sha256[:16]}...)", soft_wrap=True)
    console.print(f"dream with it: dreamfx run photo.jpg --set model=keras-file --set model.path={report.out}",
                  soft_wrap=True)
    return EXIT_OK


COMMANDS = {"run": cmd_run, "demo": cmd_demo, "oip": cmd_oip, "layers": cmd_layers, "presets": cmd_presets, "plugins": cmd_plugins,
            "info": cmd_info, "train": cmd_train}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from . import interrupts

    interrupts.install()
    try:
        return COMMANDS[args.command](args)
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

