"""Benchmarks of issue #15 (the map atlas, warm dreams): ratios against plain reference runs
measured in the same run, printed with their targets.

    python benchmarks/atlas.py [--repeats 3] [--only A1,A2] [--json results.json]

A1  `dreamfx atlas PHOTO` (all 128 maps of conv3 of mnist-cnn, one batch) vs one `dreamfx run
    PHOTO`: wall time of each command, start-up included (the bundled 600x400 photo,
    single-map preset); A1-64 the atlas of the 64-map network (`--set model=mnist-cnn-64`)
A2  a warm `dreamfx.dream(photo, "single-map", map=k)` (the same process, a new map each call)
    vs benchmarks/run.py's eager reference of the article's recipe (per-step GradientTape,
    PIL bicubic resizing) on the same photo; A2b a kept `Dreamer` for context
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from run import (PHOTO, dreamfx_command, eager_reference, gray, plain_tf_features, single_map_dreamer,  # noqa: E402
                 timed)

#: Maps the warm dreams cycle through (each call a map the previous call did not use).
WARM_MAPS = (26, 10, 78, 100, 29, 110, 72, 49)  # maps that respond on the bundled photo


def wall(args: list[str], repeats: int) -> float:
    """Median wall time of a command (a new process each time)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_a1(repeats: int) -> dict[str, Any]:
    cmd = dreamfx_command()
    with tempfile.TemporaryDirectory() as tmp:
        run = wall([*cmd, "run", str(PHOTO), "-o", f"{tmp}/dream.png", "-q", "--force"], repeats)
        atlas = wall([*cmd, "atlas", str(PHOTO), "-o", f"{tmp}/atlas.png", "-q", "--force"], repeats)
        atlas64 = wall([*cmd, "atlas", str(PHOTO), "-o", f"{tmp}/atlas64.png", "-q", "--force",
                        "--set", "model=mnist-cnn-64"], repeats)
    return {"run_s": run, "atlas_s": atlas, "ratio": atlas / run, "atlas64_s": atlas64, "ratio64": atlas64 / run}


def bench_a2(repeats: int) -> dict[str, Any]:
    import dreamfx

    photo = gray(PHOTO)
    calls = iter(WARM_MAPS * (repeats + 2))
    dreamfx.dream(str(PHOTO), "single-map", map=19)  # the first call builds and traces

    def warm() -> None:
        dreamfx.dream(str(PHOTO), "single-map", map=next(calls))

    dreamer = single_map_dreamer()
    p = dreamer.settings.objective.params
    features, written = dreamer.features, "keras"
    if dreamer.backend != "tensorflow":  # Keras on JAX: the same recipe in plain TensorFlow ops
        features, written = plain_tf_features(dreamer.model, p["layer"]), "tf.nn"
        check_same_features(dreamer, features, p["layer"], photo)

    def reference() -> None:
        eager_reference(features, p["layer"], p["map"], photo, 4, 20, dreamer.settings.optimizer.params["step_size"])

    # interleaved: each round times the reference once and each of ours a few times, so the
    # machine's drift (15-25% within minutes on the standard VM) moves both sides alike
    times: dict[str, list[float]] = {"ours": [], "kept": [], "ref": []}
    dreamer(photo)
    reference()
    for _ in range(max(repeats, 3)):
        times["ref"].append(timed(reference, 1, warmup=0))
        times["ours"].append(timed(warm, 3, warmup=0))
        times["kept"].append(timed(lambda: dreamer(photo), 3, warmup=0))
    ours, kept, ref = (statistics.median(times[k]) for k in ("ours", "kept", "ref"))
    return {"warm_s": ours, "kept_dreamer_s": kept, "reference_s": ref, "ratio": ref / ours,
            "ratio_kept": ref / kept, "backend": dreamer.backend, "reference_written_with": written}


def check_same_features(dreamer: Any, features: Any, layer: str, photo: Any) -> None:
    """The plain-TensorFlow layers give the Keras model's activations (to float rounding)."""
    from PIL import Image

    small = np.asarray(Image.fromarray(photo, mode="F").resize((28, 28), Image.Resampling.BICUBIC))[None, :, :, None]
    ours = np.asarray(dreamer.features(small.astype(np.float32), training=False)[layer])
    plain = np.asarray(features(small.astype(np.float32))[layer])
    if not np.allclose(ours, plain, rtol=1e-4, atol=1e-5):
        raise SystemExit(f"the plain TensorFlow layers differ from the model: {np.abs(ours - plain).max()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (median reported)")
    parser.add_argument("--only", help="comma-separated subset, e.g. A2")
    parser.add_argument("--json", help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    chosen = set((args.only or "A1,A2").upper().split(","))
    results: dict[str, Any] = {}
    for name, bench in {"A1": bench_a1, "A2": bench_a2}.items():
        if name in chosen:
            start = time.perf_counter()
            results[name] = bench(args.repeats)
            print(f"{name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    rows = []
    if "A1" in results:
        r = results["A1"]
        rows.append(("A1", "atlas of 128 maps vs one dreamfx run", f"{r['ratio']:.2f}x ({r['atlas_s']:.2f} s / "
                     f"{r['run_s']:.2f} s)", "<= 5x", r["ratio"] <= 5))
        rows.append(("A1-64", "atlas of 64 maps (mnist-cnn-64) vs one run", f"{r['ratio64']:.2f}x "
                     f"({r['atlas64_s']:.2f} s / {r['run_s']:.2f} s)", "<= 3x", r["ratio64"] <= 3))
    if "A2" in results:
        r = results["A2"]
        on = "" if r["backend"] == "tensorflow" else f" on {r['backend']}"
        rows.append(("A2", f"warm dreamfx.dream(){on} vs eager recipe", f"{r['ratio']:.1f}x ({r['reference_s']:.3f} s / "
                     f"{r['warm_s']:.3f} s)", ">= 15x", r["ratio"] >= 15))
        rows.append(("A2b", f"kept Dreamer{on} vs eager recipe", f"{r['ratio_kept']:.1f}x ({r['reference_s']:.3f} s / "
                     f"{r['kept_dreamer_s']:.3f} s)", "(no target)", True))
    width = max(len(r[2]) for r in rows) if rows else 10
    label = max([38, *(len(r[1]) for r in rows)])
    print(f"\n{'id':5} {'benchmark':{label}} {'figure':{width}} {'target':10} ok")
    for rid, what, figure, target, ok in rows:
        print(f"{rid:5} {what:{label}} {figure:{width}} {target:10} {'yes' if ok else 'NO'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r[4] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
