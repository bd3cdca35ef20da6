"""Benchmark of `dreamfx video` (issues #14, #27): frames per second against the same frames
dreamed as a folder by `dreamfx run`, in one process, and the coherence each gives.

    python benchmarks/animation.py [--size 320x240] [--json results.json] [--quick] [--repeat N]

The VM's load moves frames/s by up to 2x from one minute to the next, so each speed pair
(run, then video) is timed ``--repeat`` times (default 3), interleaved, and the ratio quoted
is the median of the pairs' ratios (each pair's printed too). Every clip is made here from photos generated here (seeds no test uses; the tests' generator
is tests/test_video_shots.py's, with other seeds), so nothing is tuned to them. Each variant
runs once warm (TensorFlow loaded and its graphs traced by a first run of the same command
on another clip of the same shape), with the default preset and default video settings.

Speed (issue 27's targets):

S1  8 shots of 6-12 frames (hard cuts between generated photos, a pan or a zoom in each):
    `dreamfx run FRAMES/` (batches of 16) against `dreamfx video FRAMES/` (the shots as lanes
    of one batch); target: video at least 0.7x run's frames/s.
S2  one shot (a 24-frame pan): `dreamfx run FRAMES/ --batch-size 1` against `dreamfx video`;
    target: at least 0.75x.

Coherence (target: video's warping error at most 0.5x that of the same frames dreamed
independently by `dreamfx run`), on 24-frame pans and zooms over generated photos: C1 a slow
pan, C2 a fast pan, C3 a zoom in, C4 a pan over the bundled photo (issue 27's clip); and the
flicker of each. Metrics: dreamfx.runs.flow.clip_coherence on the frames written, pairs across
a cut left out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dreamfx.tools.clips import generated_photo, pan_frames  # noqa: E402
PHOTO = ROOT / "dreamfx" / "data" / "coffee.png"
SPEED_TARGET, SINGLE_TARGET, WARP_TARGET = 0.7, 0.75, 0.5
SEEDS = 5000  # generated photos from this seed on: the tests use seeds below 1000


def save(folder: Path, frames: list[Image.Image]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        frame.save(folder / f"f{i:03d}.png")
    return folder


def shots_clip(seed: int, size: tuple[int, int]) -> tuple[list[Image.Image], list[int]]:
    rng = np.random.default_rng(seed)
    lengths = [int(n) for n in rng.integers(6, 13, 8)]
    frames: list[Image.Image] = []
    for k, n in enumerate(lengths):
        zoom = 1.02 if k % 3 == 2 else 1.0
        frames += pan_frames(generated_photo(seed + 1 + k), n, size, 0.0 if zoom > 1 else 1.0 + k % 3, zoom)
    return frames, lengths


def gray(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), np.float32) / 255.0


def timed(dreamfx, argv: list[str], warm_argv: list[str], out: Path, fresh: bool = False) -> float:
    """Seconds of ``argv`` writing to ``out`` (emptied first when ``fresh``: a rerun dreams
    again), after ``warm_argv`` (TensorFlow loaded and its graphs traced)."""
    if fresh and out.exists():
        shutil.rmtree(out)
    assert dreamfx(warm_argv) == 0  # load and trace first
    started = time.perf_counter()
    assert dreamfx(argv + [str(out) + "/"]) == 0
    return time.perf_counter() - started


def speed_pair(dreamfx, pair: tuple[tuple[str, list[str]], ...], clip: Path, warm: Path, base: Path, repeat: int,
               cuts: list[int]) -> dict[str, dict[str, Any]]:
    """Each command of ``pair`` timed on ``clip`` ``repeat`` times, interleaved (each after a
    warm run on ``warm``): the median seconds and frames/s, every timing, the coherence."""
    n = len(list(clip.glob("*.png")))
    results: dict[str, dict[str, Any]] = {}
    for rep in range(repeat):
        for name, cmd in pair:
            out = base / name.replace(" ", "_").replace("/", "")
            secs = timed(dreamfx, [*cmd, str(clip), "-q", "-o"],
                         [*cmd, str(warm), "-q", "-o", str(out) + f"-warm{rep}/"], out, fresh=rep > 0)
            each = results.get(name, {}).get("each_seconds", []) + [secs]
            median = float(np.median(each))
            results[name] = {"frames": n, "seconds": median, "frames_per_s": n / median, "each_seconds": each,
                             **metrics_of(clip, out, cuts)}
    return results


def metrics_of(clip: Path, out: Path, cuts: list[int]) -> dict[str, float]:
    from dreamfx.runs.flow import Coherence, Motion

    inputs = [gray(p) for p in sorted(clip.glob("*.png"))]
    outputs = [gray(p) for p in sorted(out.glob("frame_*.png"))] or [gray(p) for p in sorted(out.glob("f*.png"))]
    m = Coherence()
    for t in range(1, len(inputs)):
        if t not in cuts:
            m.add(inputs[t - 1], inputs[t], outputs[t - 1], outputs[t], Motion.between(inputs[t - 1], inputs[t]))
    return m.as_dict()


def sheet(clip: Path, dreamed: Path, lengths: list[int], path: Path) -> None:
    """Each shot's middle frame (top) over its dream by `dreamfx video` (below), at half size."""
    middles = [int(first + n // 2) for first, n in zip(np.cumsum([0, *lengths[:-1]]), lengths)]
    inputs, outputs = sorted(clip.glob("*.png")), sorted(dreamed.glob("frame_*.png"))
    with Image.open(inputs[0]) as first:
        w, h = first.size[0] // 2, first.size[1] // 2
    out = Image.new("RGB", (w * len(middles) + 4 * (len(middles) - 1), 2 * h + 4), "white")
    for k, i in enumerate(middles):
        for row, source in enumerate((inputs[i], outputs[i])):
            with Image.open(source) as img:
                out.paste(img.convert("RGB").resize((w, h), Image.Resampling.LANCZOS), (k * (w + 4), row * (h + 4)))
    out.save(path, quality=88)


def pair_ratios(results: dict[str, dict[str, Any]], reference: str, variant: str) -> list[float]:
    """Each interleaved pair's frames/s ratio, ``variant`` over ``reference``."""
    return [r / v for r, v in zip(results[reference]["each_seconds"], results[variant]["each_seconds"])]


def speed_table(results: dict[str, dict[str, Any]], lengths: list[int], w: int, h: int) -> dict[str, Any]:
    """Print S1 and S2 (median frames/s; the median of the pairs' ratios); return the ratios."""
    print(f"\nspeed, {w}x{h}, default preset and settings (frames/s, median of the runs; higher is better)\n")
    s1_each = pair_ratios(results, "S1 run FRAMES/", "S1 video")
    s2_each = pair_ratios(results, "S2 run --batch-size 1", "S2 video")
    s1, s2 = float(np.median(s1_each)), float(np.median(s2_each))
    print(f"{'variant':28} {'frames':>6} {'frames/s':>9} {'flicker':>8} {'warp err':>9}")
    for name in ("S1 run FRAMES/", "S1 video", "S2 run --batch-size 1", "S2 video"):
        r = results[name]
        print(f"{name:28} {int(r['frames']):6d} {r['frames_per_s']:9.2f} {r['flicker']:8.4f} {r['warping_error']:9.5f}")
    each = ", ".join(f"{r:.2f}" for r in s1_each)
    print(f"\nS1 {len(lengths)} shots {lengths}: video/run {s1:.2f}x, median of {each} (target {SPEED_TARGET}x: "
          f"{'ok' if s1 >= SPEED_TARGET else 'MISSED'}); cuts found right: {bool(results['S1 video']['cuts_found_right'])}")
    each = ", ".join(f"{r:.2f}" for r in s2_each)
    print(f"S2 one shot: video/run --batch-size 1 {s2:.2f}x, median of {each} (target {SINGLE_TARGET}x: "
          f"{'ok' if s2 >= SINGLE_TARGET else 'MISSED'})")
    return {"S1": s1, "S2": s2, "S1 pairs": s1_each, "S2 pairs": s2_each}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--frames", type=int, default=24, help="frames of each single-shot clip")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="speed only (S1, S2)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved timings of each speed pair (default 3)")
    parser.add_argument("--coherence", action="store_true", help="coherence only (C1-C4)")
    parser.add_argument("--video-set", action="append", default=[], metavar="ARG",
                        help="an option for every `dreamfx video` (e.g. --video-set=--temporal=0.7), repeatable")
    parser.add_argument("--still", help="also write a still of S1: each shot's middle frame over its dream (JPEG)")
    args = parser.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    size = (w, h)
    from dreamfx.cli import main as dreamfx

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        extra = args.video_set
        frames, lengths = shots_clip(SEEDS, size)
        clip = save(base / "shots", frames)
        warm = save(base / "shots-warm", shots_clip(SEEDS + 100, size)[0])
        cuts = list(np.cumsum(lengths)[:-1])
        if not args.coherence:
            results.update(speed_pair(dreamfx, (("S1 run FRAMES/", ["run"]), ("S1 video", ["video", *extra])),
                                      clip, warm, base, args.repeat, cuts))
        if args.still:
            sheet(clip, base / "S1_video", lengths, Path(args.still))
        if not args.coherence:
            report = json.loads((base / "S1_video" / "report.json").read_text())
            found = [s["first"] for s in report["shots"]][1:]
            results["S1 video"]["cuts_found_right"] = float(found == [int(c) for c in cuts])
        single = save(base / "single", pan_frames(generated_photo(SEEDS + 200), args.frames, size, 1.0))
        single_warm = save(base / "single-warm", pan_frames(generated_photo(SEEDS + 300), args.frames, size, 1.0))
        if not args.coherence:
            results.update(speed_pair(dreamfx, (("S2 run --batch-size 1", ["run", "--batch-size", "1"]),
                                                ("S2 video", ["video", *extra])),
                                      single, single_warm, base, args.repeat, []))
        if not args.quick:
            with Image.open(PHOTO) as photo:
                bundled = photo.convert("RGB")
            clips = {"C1 slow pan": pan_frames(generated_photo(SEEDS + 400), args.frames, size, 1.0),
                     "C2 fast pan": pan_frames(generated_photo(SEEDS + 500), args.frames, size, 4.0),
                     "C3 zoom in": pan_frames(generated_photo(SEEDS + 600), args.frames, size, 0.0, 1.01),
                     "C4 pan, bundled photo": pan_frames(bundled, args.frames, size, 1.0)}
            for name, made in clips.items():
                folder = save(base / name.split()[0], made)
                for variant, cmd in (("independent", ["run"]), ("video", ["video", *extra])):
                    out = base / f"{name.split()[0]}-{variant}"
                    assert dreamfx([*cmd, str(folder), "-q", "-o", str(out) + "/"]) == 0
                    results[f"{name}: {variant}"] = metrics_of(folder, out, [])
    results["ratios"] = speed_table(results, lengths, w, h) if not args.coherence else {}
    if not args.quick:
        print(f"\ncoherence, {args.frames} frames of {w}x{h} (lower is better)\n")
        print(f"{'clip':24} {'flicker ind.':>12} {'flicker video':>13} {'warp ind.':>10} {'warp video':>10} {'ratio':>6}")
        for name in ("C1 slow pan", "C2 fast pan", "C3 zoom in", "C4 pan, bundled photo"):
            a, b = results[f"{name}: independent"], results[f"{name}: video"]
            ratio = b["warping_error"] / a["warping_error"]
            results["ratios"][name] = ratio
            print(f"{name:24} {a['flicker']:12.4f} {b['flicker']:13.4f} {a['warping_error']:10.5f} "
                  f"{b['warping_error']:10.5f} {ratio:5.2f}x {'ok' if ratio <= WARP_TARGET else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
