"""The ``dreamfx`` command's argument parser: every built-in subcommand's options, and the
commands plugins add (``dreamfx_register_commands``).
"""

from __future__ import annotations

import argparse
from typing import Any

from dreamfx import __version__
from dreamfx.host.values import COLORS


class _MaskAction(argparse.Action):
    """``--mask PATH``: the override ``output.mask = PATH`` (a path is never read as TOML),
    in order among the ``--set`` overrides."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, "overrides", [*(getattr(namespace, "overrides", None) or []), ("output.mask", values)])


def build_parser(commands: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dreamfx",
        description="DeepDream-style image filters on a tiny CNN trained on MNIST.",
        epilog="Examples:\n  dreamfx demo -o out\n  dreamfx run --preset single-map photo.jpg -o dream.png --panel panel.png\n"
        "  dreamfx run photo.jpg --set objective.map=52 --set optimizer.steps=40\n  dreamfx presets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dreamfx {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    for target, default in ((parser, False), (common, argparse.SUPPRESS)):
        # accepted before or after the command: dreamfx --debug run ... or dreamfx run --debug ...
        target.add_argument("--debug", action="store_true", default=default, 
                            help="show tracebacks, TensorFlow's log and dreamfx's debug lines")
        target.add_argument("--strict", action="store_true", default=default, help="make a broken third-party plugin fatal")
        target.add_argument("--backend", default=default if default is argparse.SUPPRESS else None,
                            metavar="{tensorflow,jax}",
                            help="the Keras backend to compute on (default: KERAS_BACKEND, else ~/.keras/keras.json's, "
                            "else tensorflow)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_parser = sub.add_parser

    def add_command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return add_parser(name, parents=[common], **kwargs)

    sub.add_parser = add_command  # type: ignore[method-assign]

    def dream_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--preset", default="single-map", help="preset name (see 'dreamfx presets') or a .toml file")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a setting, e.g. objective.map=52 or optimizer.steps=40 (repeatable)")
        p.add_argument("--seed", type=int, help="random seed (default: the preset's)")
        p.add_argument("--device", default="auto", help="auto, cpu, gpu or gpu:N (default: auto)")
        p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")

    def mask_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--mask", dest="overrides", action=_MaskAction, default=argparse.SUPPRESS, metavar="MASK",
                       help="an image: dream where it is white, keep the photo where it is black, blend where grey "
                       "(resized to each photo, edges feathered; shortcut for --set output.mask=MASK); a folder "
                       "run takes a folder of masks too: each photo's own, by name")

    def animation_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("-o", "--output", required=True,
                       help="OUT.gif, OUT.webp, OUT.mp4 or FOLDER/ (numbered PNG frames)")
        p.add_argument("--color", choices=COLORS, default="gray",
                       help="gray (default) or luma: dream the brightness, keep the colours")
        p.add_argument("--force", action="store_true", help="redo every frame, and replace files dreamfx did not write")
        p.add_argument("--max-pixels", type=int, default=None,
                       help="refuse a photo or frames with more pixels than this (default: Pillow's decompression-bomb "
                       "limit)")
        p.add_argument("--maps", metavar="MAPS", help="map keyframes: 56,33,28 (with --every N) or 56@0,33@24,28@48: "
                       "the dream moves from map to map, crossfading between keys (objective keyframes)")
        p.add_argument("--every", type=int, metavar="N", help="with --maps: frames from one map to the next")
        mask_option(p)
        dream_options(p)

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
    run.add_argument("--color", choices=COLORS, default="gray",
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
    run.add_argument("--cluster", metavar="ADDRESS", help="folders: dream on a Dask cluster: local:N (N local worker "
                     "processes) or a scheduler's address, tcp://host:8786 (default: $DREAMFX_CLUSTER; docs/cluster.md)")
    run.add_argument("--executor", metavar="NAME", help="folders: a registered executor (default: dask with --cluster, "
                     "else local)")
    mask_option(run)
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
    oip.add_argument("--all", action="store_true", help="one pattern for every map of the layer, in one batch and one sheet")
    oip.add_argument("--force", action="store_true", help="replace an output that dreamfx did not write")
    dream_options(oip)

    zoom = sub.add_parser("zoom", help="dream an endless zoom into a photo",
                          description="Dream a photo, zoom into the dream (and turn it), dream again, N times: "
                          "an animated GIF/WebP, an MP4 (H.264, needs dreamfx[video]) or a folder of PNG frames.")
    zoom.add_argument("photo", help="the photo to start from")
    zoom.add_argument("--frames", type=int, required=True, help="how many frames")
    zoom.add_argument("--zoom", type=float, default=1.05, help="enlargement per frame (default 1.05)")
    zoom.add_argument("--rotate", type=float, default=0.0, help="degrees turned per frame, counter-clockwise (default 0)")
    zoom.add_argument("--fps", type=float, default=12.0, help="frames per second of a GIF/WebP/MP4 (default 12)")
    zoom.add_argument("--loop", action="store_true", help="the GIF/WebP/MP4 loops without a jump: its last frames "
                      "fade into its first (it starts a little way in; docs/controls.md)")
    animation_options(zoom)

    video = sub.add_parser("video", help="dream a video, the dream flowing with the scene",
                           description="Dream every frame of a video (or a folder of frames), each starting from "
                           "the frame blended with the previous dream warped by optical flow, its ascent pulled "
                           "toward it (a temporal term); hard cuts start a new shot, and shots are dreamed side by side (needs "
                           "dreamfx[video]; docs/animation.md).")
    video.add_argument("input", help="a video file (MP4, ...) or a folder of same-sized frames")
    video.add_argument("--blend", type=float, default=0.5,
                       help="weight of the previous dream in each frame's start, 0-1 (default 0.5; 0: independent)")
    video.add_argument("--flow", choices=("farneback", "none"), default="farneback",
                       help="warp the previous dream by optical flow (default) or blend it unwarped")
    video.add_argument("--fps", type=float, default=None, help="frame rate (default: the video's; 24 for a folder)")
    video.add_argument("--temporal", type=float, default=None, metavar="WEIGHT",
                       help="weight of the temporal term: each frame's ascent pulled toward the previous output, "
                       "warped by the flow, on the pixels the flow's check keeps (0: off; default 0.5; "
                       "docs/animation.md)")
    video.add_argument("--lanes", type=int, default=None, metavar="N",
                       help="shots dreamed side by side in one batch (default 16): hard cuts split a clip into shots")
    video.add_argument("--cluster", metavar="ADDRESS", help="dream the shots on a Dask cluster: local:N (N local "
                       "worker processes) or a scheduler's address, tcp://host:8786 (default: $DREAMFX_CLUSTER; "
                       "docs/cluster.md)")
    animation_options(video)
    atlas = sub.add_parser("atlas", help="dream a photo under every map of a layer, on one sheet",
                           description="Dream one photo once per map (or unit) of a layer, all in one batch, and "
                           "write a labelled contact sheet (gain under each tile, silent maps marked) and the scores.")
    atlas.add_argument("photo", metavar="PHOTO", help="the image to dream")
    atlas.add_argument("--layer", help="shortcut for --set objective.layer=LAYER (default: the preset's)")
    atlas.add_argument("--maps", help="maps (or units) to dream: all (default), 0-127, 3,7,56 or 0-9,33")
    atlas.add_argument("--sort", choices=("map", "gain", "after"), default="map",
                       help="tile order: map index (default), gain or score after, largest first")
    atlas.add_argument("-o", "--output", default="atlas.png", help="the sheet (default atlas.png)")
    atlas.add_argument("--json", dest="json_path", metavar="PATH", help="also write every map's scores as JSON")
    atlas.add_argument("--force", action="store_true", help="replace outputs that dreamfx did not write")
    dream_options(atlas)

    explore = sub.add_parser("explore", help="explore a photo's dreams live in the browser",
                             description="Start a local web app: pick a map of a layer and watch the dream change "
                             "round by round, with the maps' patterns, the atlas, the digit bars and the command "
                             "that repeats a dream (needs dreamfx[explore]; docs/explore.md).")
    explore.add_argument("photos", nargs="*", metavar="PHOTO", help="photos to explore (default: the bundled one; "
                         "more can be uploaded in the page)")
    explore.add_argument("--port", type=int, default=8765, help="the port to listen on (default 8765; 0: any free one)")
    explore.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1, this "
                         "machine only; another is reachable by others, with a warning)")
    explore.add_argument("--no-browser", action="store_true", help="only print the address; open no browser")

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

    for command in (commands or {}).values():  # commands that plugins add (dreamfx_register_commands)
        extra = sub.add_parser(command.name, help=command.description, description=command.description)
        if command.arguments is not None:
            command.arguments(extra)
    return parser
