"""Every preset's output digest on photos the tests do not use: run it before and after a
change to the engine, on the same machine, and compare (issue 23: "every preset's
TensorFlow output the same bits as before").

    python benchmarks/same_bits.py [--backend tensorflow] [--json digests.json]
    python benchmarks/same_bits.py --compare digests.json      # exit 1 on any difference

The photos are generated here from a seed no test uses (a smooth landscape with shapes and
grain, and a high-contrast pattern of stripes and blobs), at sizes no test uses; each preset
dreams them at its default settings, one at a time (three times each: small
dreams run as one compiled call from the third on) and as a batch with a map per image
(the run-time choices path). A digest is the SHA-256 of the float32 result's bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("single-map", "whole-layer", "weighted-layers", "tiling", "hybrid", "octaves")


def photos() -> dict[str, np.ndarray]:
    """Two photos no test uses: (H, W) float32 in [0, 1]."""
    rng = np.random.default_rng(9_417_263)
    h, w = 117, 163
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    land = 0.35 + 0.3 * np.sin(x / 23.0) * np.cos(y / 31.0) + 0.2 * (y / h)
    for _ in range(5):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(6, 25)
        land += 0.25 * ((y - cy) ** 2 + (x - cx) ** 2 < r * r)
    land += rng.normal(0, 0.03, (h, w))
    h2, w2 = 90, 134
    y2, x2 = np.mgrid[0:h2, 0:w2].astype(np.float32)
    stripes = 0.5 + 0.5 * np.sign(np.sin((x2 + 0.6 * y2) / 5.0))
    blobs = np.exp(-(((y2 - 40) / 18.0) ** 2 + ((x2 - 90) / 25.0) ** 2))
    contrast = 0.7 * stripes * (1 - blobs) + 0.9 * blobs + rng.normal(0, 0.02, (h2, w2))
    return {"landscape": np.clip(land, 0, 1).astype(np.float32),
            "stripes": np.clip(contrast, 0, 1).astype(np.float32)}


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, np.float32).tobytes()).hexdigest()[:16]


def _engine_module():
    """The module whose ``PIECE_SECONDS`` sizes the compiled calls (before and after issue 23)."""
    import importlib

    for name in ("dreamfx.engine.ascent", "dreamfx.ascent"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("no dreamfx engine module with PIECE_SECONDS")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="tensorflow", choices=("tensorflow", "jax"))
    parser.add_argument("--json", type=Path, help="write the digests here")
    parser.add_argument("--compare", type=Path, help="compare with digests written by --json")
    args = parser.parse_args()
    from dreamfx.engine import backend

    backend.request(args.backend)
    from dreamfx.api import make_dreamer

    images = photos()
    digests: dict[str, str] = {}
    for preset in PRESETS:
        started = time.perf_counter()
        dreamer = make_dreamer(preset)
        for name, image in images.items():
            # the third dream of a shape may run as one compiled call (pipeline.WholeDreams)
            for run in range(3):
                digests[f"{preset}/{name}/{run}"] = digest(dreamer(image).image)
        if getattr(dreamer.objective, "selectable", None) is not None:
            crops = [images["landscape"][:90, :134], images["stripes"], images["landscape"][27:, 29:]]
            results = dreamer.dream_batch(crops, choices=[3, 100, 56])
            for i, result in enumerate(results):
                digests[f"{preset}/batch{i}"] = digest(result.image)
        print(f"{preset:16s} {time.perf_counter() - started:6.1f} s", file=sys.stderr, flush=True)
    # pieces and split steps (a canvas too large for one call) give the same values as one loop
    engine = _engine_module()
    saved, engine.PIECE_SECONDS = engine.PIECE_SECONDS, 1e-4
    try:
        for preset in ("tiling", "hybrid"):
            digests[f"{preset}/landscape/split"] = digest(make_dreamer(preset)(images["landscape"]).image)
    finally:
        engine.PIECE_SECONDS = saved
    for key, value in digests.items():
        print(f"{key:28s} {value}")
    if args.json:
        args.json.write_text(json.dumps(digests, indent=1) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        differ = [key for key in before if before[key] != digests.get(key)]
        print(f"{len(before) - len(differ)} of {len(before)} the same bits; differ: {', '.join(differ) or 'none'}")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
