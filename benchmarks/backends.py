"""Benchmarks of issue #16 (Keras backends): TensorFlow and JAX on the same jobs, each
backend in its own process (Keras fixes its backend when first imported), printed as one
table with the JAX/TensorFlow ratio per row.

    python benchmarks/backends.py [--repeats 3] [--json benchmarks/backends-results.json]

import    `import keras` and dreamfx's dreaming modules in a fresh process
command   wall time of `dreamfx run --backend B PHOTO -o OUT` (a new process, start-up included)
single    a kept Dreamer, single-map on the bundled 600x400 photo (warm: compiled before timing)
warm-api  `dreamfx.dream(photo, "single-map", map=k)` in the same process, a new map each call
tiling    a kept Dreamer, the tiling preset on a 300x200 crop (many 28x28 views per step)
folder    a kept Dreamer, one batch of 64 photos of 160x120 (single-map): images per second

Lower is better for every row but ``folder``. The ratio decides ``--backend auto`` (see
docs/performance.md, "Backends").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "dreamfx" / "data" / "coffee.png"
BACKENDS = ("tensorflow", "jax")
WARM_MAPS = (26, 10, 78, 100, 29, 110, 72, 49)  # maps that respond on the bundled photo


def child(repeats: int) -> dict[str, float]:
    """Measure in this process (KERAS_BACKEND set by the parent)."""
    started = time.perf_counter()
    import keras  # noqa: F401

    import dreamfx
    from dreamfx.engine import dreamer  # noqa: F401
    from dreamfx.api import make_dreamer

    figures = {"import": time.perf_counter() - started}
    from PIL import Image

    from dreamfx.io.images import to_gray

    with Image.open(PHOTO) as img:
        photo = to_gray(img.convert("RGB"))
        small = to_gray(img.convert("RGB").resize((160, 120), Image.Resampling.LANCZOS))
    crop = photo[:200, :300]

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import timed as median_time  # benchmarks/run.py: median of repeats after warm-ups

    def timed(fn, warmup: int = 2) -> float:
        return median_time(fn, repeats, warmup)

    single = make_dreamer("single-map")
    figures["single"] = timed(lambda: single(photo))
    maps = iter(WARM_MAPS * 4)
    figures["warm-api"] = timed(lambda: dreamfx.dream(PHOTO, "single-map", map=next(maps)))
    tiling = make_dreamer("tiling")
    figures["tiling"] = timed(lambda: tiling(crop), warmup=1)
    folder = [small, small[::-1].copy(), small[:, ::-1].copy(), small[::-1, ::-1].copy()] * 16
    seconds = timed(lambda: single.dream_batch(folder), warmup=1)
    figures["folder"] = len(folder) / seconds
    return figures


def command_wall(name: str, repeats: int) -> float:
    exe = Path(sys.executable).with_name("dreamfx")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "dreamfx"]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            start = time.perf_counter()
            subprocess.run(base + ["run", "--backend", name, str(PHOTO), "-o", str(Path(tmp) / f"{i}.png"), "-q"],
                           check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


ROWS = (("import", "s"), ("command", "s"), ("single", "s"), ("warm-api", "s"), ("tiling", "s"), ("folder", "img/s"))


def markdown(results: dict) -> str:
    """The table docs/performance.md quotes (tests/test_backends.py checks it is this)."""
    table = results["figures"]
    lines = ["| row | tensorflow | jax | jax / tensorflow |", "| --- | --- | --- | --- |"]
    for row, unit in ROWS:
        tf_value, jax_value = table["tensorflow"][row], table["jax"][row]
        lines.append(f"| {row} | {tf_value:.3f} {unit} | {jax_value:.3f} {unit} | {jax_value / tf_value:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--markdown", metavar="JSON", help="print the table of a --json file as Markdown")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())))
        return
    if args.child:
        print(json.dumps(child(args.repeats)))
        return
    table: dict[str, dict[str, float]] = {}
    for name in BACKENDS:
        env = {**os.environ, "KERAS_BACKEND": name, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run([sys.executable, __file__, "--child", "--repeats", str(args.repeats)], env=env,
                             check=True, capture_output=True, text=True)
        table[name] = json.loads(out.stdout.strip().splitlines()[-1])
        table[name]["command"] = command_wall(name, max(1, args.repeats // 2))
    print(f"{'':10} {'tensorflow':>11} {'jax':>11} {'jax/tf':>8}")
    for row, unit in ROWS:
        tf_value, jax_value = table["tensorflow"][row], table["jax"][row]
        print(f"{row:10} {tf_value:9.3f}{unit:>2} {jax_value:9.3f}{unit:>2} {jax_value / tf_value:7.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"cpus": os.cpu_count(), "repeats": args.repeats, "figures": table},
                                              indent=2) + "\n")


if __name__ == "__main__":
    main()
