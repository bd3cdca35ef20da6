"""Dream every preset (and check the recipe's invariants) on one Keras backend, for
tests/test_backends.py: ``KERAS_BACKEND=jax python tests/backend_probe.py OUT.npz``.

Keras fixes its backend when first imported, so each backend runs in its own process; the
test compares what the processes wrote. Written images are compared as the 8-bit values
dreamfx writes.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from PIL import Image

from dreamfx.api import make_dreamer
from dreamfx.io.images import to_gray

SAMPLE = "dreamfx/data/coffee.png"
#: The built-in presets (presets/*.toml).
PRESETS = ("single-map", "whole-layer", "weighted-layers", "tiling", "hybrid", "octaves")


def eight_bit(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def main(out: str) -> None:
    with Image.open(SAMPLE) as img:
        photo = to_gray(img.resize((120, 90), Image.Resampling.LANCZOS))
    results: dict[str, np.ndarray] = {}
    seconds = {}
    for preset in PRESETS:
        dreamer = make_dreamer(preset, {"seed": 3})
        started = time.perf_counter()
        result = dreamer(photo)
        seconds[preset] = time.perf_counter() - started
        results[f"preset/{preset}"] = eight_bit(result.image)
        results[f"score/{preset}"] = np.array([result.score_before, result.score_after])
        short = make_dreamer(preset, {"seed": 3, "steps": 5, "rounds": 2})(photo)
        results[f"short/{preset}"] = eight_bit(short.image)
        results[f"short-score/{preset}"] = np.array([short.score_before, short.score_after])
    results["photo"] = eight_bit(photo)
    # invariants, on this backend
    zero = make_dreamer("single-map", {"steps": 0, "seed": 3})(photo)
    results["zero_steps_error"] = np.array(np.abs(zero.image - photo).max())
    again = make_dreamer("single-map", {"seed": 3})(photo)
    results["same_seed_error"] = np.array(np.abs(again.image - make_dreamer("single-map", {"seed": 3})(photo).image).max())
    images = [photo, photo[::-1].copy(), np.full_like(photo, 0.4)]
    batch_error = 0.0
    for preset in ("single-map", "tiling"):
        dreamer = make_dreamer(preset, {"steps": 5, "rounds": 2, "seed": 3})
        for image, batched in zip(images, dreamer.dream_batch(images)):
            batch_error = max(batch_error, float(np.abs(batched.image - dreamer(image).image).max()))
    results["batch_error"] = np.array(batch_error)
    results["tensorflow_imported"] = np.array("tensorflow" in sys.modules)
    results["backend"] = np.array(make_dreamer("single-map", {}).backend)
    results["seconds"] = np.array([seconds[p] for p in PRESETS])
    np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[1])
