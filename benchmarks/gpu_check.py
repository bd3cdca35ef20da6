"""Run the dream loop on a CUDA GPU with the JAX backend, print a small benchmark table and
cross-check the GPU's result against the CPU's (issue #16).

    KERAS_BACKEND=jax python benchmarks/gpu_check.py [--json gpu.json] [--allow-cpu]

Needs JAX with CUDA (``pip install "jax[cuda13]"``; no TensorFlow: the machines with GPUs
this project borrows carry JAX, not TensorFlow). Without a GPU it says so and exits 3;
``--allow-cpu`` runs the same table on the CPU alone (what the tests do on a CPU machine).

Rows: the first dream (compilation included), a warm single-map dream of the bundled
600x400 photo, the tiling preset on it, and a batch of 64 photos of 160x120 (images/s).
The cross-check dreams a 120x90 crop on both devices with the single-map preset and
reports the largest difference of the written 8-bit images (2/255 is the agreement the
backends promise; GPU kernels sum in another order than the CPU's, so the chaotic presets,
tiling and hybrid at full length, may part further, as they do across CPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a checkout without `pip install -e .` (the GPU machine's)
sys.path.insert(0, str(ROOT / "plugins"))
PHOTO = ROOT / "dreamfx" / "data" / "coffee.png"
NO_GPU = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--allow-cpu", action="store_true", help="without a GPU, run the table on the CPU")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from dreamfx.engine import backend

    if backend.active() != "jax":
        print(f"gpu_check needs the jax backend; KERAS_BACKEND is {os.environ.get('KERAS_BACKEND')!r}", file=sys.stderr)
        return 2
    import jax

    gpus = backend.kernel().gpus()
    print(f"jax {jax.__version__}; devices: {', '.join(str(d) for d in jax.devices())}")
    if not gpus:
        print("no CUDA GPU visible to JAX (install jax[cuda13] on a machine with an NVIDIA GPU)"
              + ("; running the table on the CPU" if args.allow_cpu else ""))
        if not args.allow_cpu:
            return NO_GPU
    device = "gpu" if gpus else "cpu"
    print(f"selected device: {backend.resolve_device(device)}")

    import numpy as np
    from PIL import Image

    from dreamfx.api import make_dreamer
    from dreamfx.io.images import to_gray

    with Image.open(PHOTO) as img:
        photo = to_gray(img.convert("RGB"))
        small = to_gray(img.convert("RGB").resize((160, 120), Image.Resampling.LANCZOS))
        crop = to_gray(img.convert("RGB").resize((120, 90), Image.Resampling.LANCZOS))

    def timed(fn, warmup: int = 1) -> float:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    figures: dict[str, float] = {}
    started = time.perf_counter()
    single = make_dreamer("single-map", device=device)
    single(photo)
    figures["first dream, s"] = time.perf_counter() - started
    figures["single-map 600x400, s"] = timed(lambda: single(photo))
    tiling = make_dreamer("tiling", device=device)
    figures["tiling 600x400, s"] = timed(lambda: tiling(photo))
    folder = [small, small[::-1].copy(), small[:, ::-1].copy(), small[::-1, ::-1].copy()] * 16
    figures["64 photos 160x120, img/s"] = len(folder) / timed(lambda: single.dream_batch(folder))
    on_device = make_dreamer("single-map", {"seed": 3}, device=device)(crop).image
    on_cpu = make_dreamer("single-map", {"seed": 3}, device="cpu")(crop).image
    eight = [np.round(np.clip(a, 0, 1) * 255).astype(int) for a in (on_device, on_cpu)]
    figures["cross-check vs CPU, max |diff| /255"] = float(np.abs(eight[0] - eight[1]).max())
    width = max(len(k) for k in figures)
    print(f"{'figure':{width}}  {device}")
    for key, value in figures.items():
        print(f"{key:{width}}  {value:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "figures": figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
