"""Benchmark of `dreamfx video` (issue #14): frames per second against the same frames
dreamed as a folder by `dreamfx run`, in one process, and the coherence each gives.

    python benchmarks/animation.py [--frames 48] [--size 320x240] [--json results.json]

The clip is a slow pan (1 pixel per frame) over the bundled photo, made here. Each variant
runs once warm (TensorFlow loaded and its graphs traced by a first small run of each
command), with the default preset:

A1  `dreamfx run FRAMES/ -o OUT/` (the reference: batches of 16 same-sized frames)
A1b `dreamfx run FRAMES/ --batch-size 1 -o OUT/` (no target: one frame per dream, as a video
    must go, so A2 against A1b is what flow, blending and the frame chain cost)
A2  `dreamfx video FRAMES/ -o OUT/` (frame by frame, in order); target: at least 0.7x A1's
    frames/s

For each, the flicker and the warping error of the frames written (dreamfx.runs.flow).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "dreamfx" / "data" / "coffee.png"
TARGET = 0.7


def pan_clip(folder: Path, count: int, size: tuple[int, int], step: float = 1.0) -> list[Path]:
    """A slow pan over the bundled photo, as the tests make it."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    with Image.open(PHOTO) as src:
        src = src.convert("RGB")
        big = src.resize((round(src.size[0] * h / src.size[1]), h), Image.Resampling.LANCZOS)
    paths = []
    for i in range(count):
        frame = big.transform((w, h), Image.Transform.AFFINE, (1, 0, i * step, 0, 1, 0),
                              resample=Image.Resampling.BICUBIC)
        paths.append(folder / f"f{i:03d}.png")
        frame.save(paths[-1])
    return paths


def gray(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), np.float32) / 255.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    from dreamfx.cli import main as dreamfx
    from dreamfx.runs.flow import clip_coherence

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        paths = pan_clip(base / "clip", args.frames, (w, h))
        warm = pan_clip(base / "warm", 4, (w, h))
        inputs = [gray(p) for p in paths]
        variants = {
            "A1 run FRAMES/ (reference)": ["run", str(base / "clip"), "-q", "-o"],
            "A1b run FRAMES/ --batch-size 1": ["run", str(base / "clip"), "--batch-size", "1", "-q", "-o"],
            "A2 video": ["video", str(base / "clip"), "-q", "-o"],
        }
        for i, (name, argv_) in enumerate(variants.items()):
            warm_argv = [a if a != str(base / "clip") else str(warm[0].parent) for a in argv_]
            assert dreamfx(warm_argv + [str(base / f"warm{i}") + "/"]) == 0  # load and trace first
            out = base / f"out{i}"
            started = time.perf_counter()
            assert dreamfx(argv_ + [str(out) + "/"]) == 0
            seconds = time.perf_counter() - started
            written = sorted(p for p in out.glob("*.png"))
            assert len(written) == args.frames, (name, len(written))
            metrics = clip_coherence(inputs, [gray(p) for p in written])
            results[name] = {"seconds": seconds, "frames_per_s": args.frames / seconds, **metrics.as_dict()}
    reference = results["A1 run FRAMES/ (reference)"]
    print(f"\n{args.frames} frames of {w}x{h}, a 1-pixel-per-frame pan over the bundled photo, preset single-map\n")
    print(f"{'variant':32} {'frames/s':>9} {'vs run':>7} {'flicker':>8} {'warp err':>9}")
    for name, r in results.items():
        ratio = r["frames_per_s"] / reference["frames_per_s"]
        r["ratio_vs_run"] = ratio
        print(f"{name:32} {r['frames_per_s']:9.2f} {ratio:6.2f}x {r['flicker']:8.4f} {r['warping_error']:9.5f}")
    ratio = results["A2 video"]["ratio_vs_run"]
    single = results["A2 video"]["frames_per_s"] / results["A1b run FRAMES/ --batch-size 1"]["frames_per_s"]
    results["A2 video"]["ratio_vs_run_batch_1"] = single
    print(f"\nvideo against run --batch-size 1 (the same one-frame dreams): {single:.2f}x")
    ok = ratio >= TARGET
    print(f"\ntarget: video at least {TARGET}x the frames/s of run: {ratio:.2f}x  {'ok' if ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
