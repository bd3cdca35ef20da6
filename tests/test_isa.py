"""Results do not depend on the CPU's instruction set.

The same dreams run in fresh processes (so oneDNN reads its environment) with the default
instruction set (AVX2 on the 2-core CI machine, AVX-512 elsewhere), with oneDNN limited to
SSE4.1 (``ONEDNN_MAX_CPU_ISA``: its matrix products, which TensorFlow's convolutions call,
then use SSE4.1 kernels that round differently), and with TensorFlow's oneDNN graph
rewrites off; each writes its 8-bit PNGs through the command line, alone (``--batch-size
1``) and as one batch. Photos, a flat gray, a black image and ramps along both axes, with
the single-map and the tiling preset, must agree within 2/255.

Exact ties of max pooling on flat regions used to decide these dreams by the last bit of
a convolution: before the fix this test found 188/255 (flat), 85 (ramp), 69 (vertical
ramp) under SSE4.1; see ``dreamfx.ascent``. Kept small: 60x84 images, single-map
10 steps x 2 rounds, tiling 4 steps x 2 rounds (about 20-35 s on 2 busy cores). At the
tiling preset's full length (20 steps x 4 rounds) results still part, photos included (up
to 168/255 on a 60x84 crop; single-map stays at 0): a near tie that rounding flips grows,
because gradient ascent through ReLUs and max pooling is chaotic, and no tie-breaking
removes that.
"""

from __future__ import annotations

import pytest

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .conftest import ROOT, SAMPLE

H, W = 60, 84
RUNS = [(preset, batch) for preset in ("single-map", "tiling") for batch in (1, 16)]
CHILD = """
import sys
from dreamfx.cli import main
src, out = sys.argv[1], sys.argv[2]
for preset, steps in (("single-map", "10"), ("tiling", "4")):
    for batch in ("1", "16"):
        code = main(["run", src, "-o", f"{out}/{preset}-{batch}", "--preset", preset, "--batch-size", batch,
                     "--seed", "0", "--set", f"optimizer.steps={steps}", "--set", "loop.rounds=2", "-q"])
        assert code == 0, code
"""
ENVIRONMENTS = {
    "default": {},
    "sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ONEDNN_VERBOSE": "1"},
    "onednn-off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}


def _inputs(folder: Path) -> None:
    folder.mkdir()

    def crop(path: Path, width: int = 100) -> np.ndarray:
        with Image.open(path) as img:
            img = img.convert("L")
            img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
            return np.asarray(img)[:H, :W]

    images = {
        "coffee": crop(SAMPLE),
        "chelsea": crop(ROOT / "tests" / "data" / "chelsea.png"),
        "flat": np.full((H, W), 102, np.uint8),
        "black": np.zeros((H, W), np.uint8),
        "ramp": np.tile(np.linspace(0, 255, W).round().astype(np.uint8), (H, 1)),
        "vramp": np.tile(np.linspace(0, 255, H).round().astype(np.uint8)[:, None], (1, W)),
    }
    for name, array in images.items():
        Image.fromarray(array).save(folder / f"{name}.png")


def _read(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as img:
            out[path.stem] = np.asarray(img.convert("L"), np.int16)
    return out


@pytest.mark.slow
def test_dreams_agree_across_instruction_sets_and_batch_sizes(tmp_path):
    src = tmp_path / "in"
    _inputs(src)
    procs = {}
    for name, extra in ENVIRONMENTS.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ONEDNN_", "TF_ENABLE_ONEDNN"))}
        env.update(extra)
        procs[name] = subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(tmp_path / name)], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout = {}
    for name, proc in procs.items():  # run side by side
        stdout[name], stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, stderr[-3000:])
    # oneDNN (its verbose lines go to stdout) really used the older instruction set there
    isa = [line for line in stdout["sse41"].splitlines() if ",isa:" in line]
    assert isa and "isa:Intel SSE4.1" in isa[0], isa

    reference = {run: _read(tmp_path / "default" / f"{run[0]}-{run[1]}") for run in RUNS}
    assert all(len(images) == 6 for images in reference.values())
    worst = {}
    for name in ENVIRONMENTS:
        for run in RUNS:
            images = _read(tmp_path / name / f"{run[0]}-{run[1]}")
            for image, ref in reference[run].items():
                assert images[image].shape == ref.shape
                worst[(name, *run, image)] = int(np.abs(images[image] - ref).max())
            # a batch of all six equals each dreamed alone
            if run[1] == 16:
                alone = _read(tmp_path / name / f"{run[0]}-1")
                for image, array in images.items():
                    worst[(name, run[0], "batch-vs-alone", image)] = int(np.abs(array - alone[image]).max())
    print("max |difference| (of 255):", {"/".join(map(str, k)): v for k, v in worst.items() if v})
    assert max(worst.values()) <= 2, {k: v for k, v in worst.items() if v > 2}
    # and the dreams are real dreams, not unchanged inputs
    inputs = _read(src)
    assert np.abs(reference[("tiling", 1)]["coffee"] - inputs["coffee"]).mean() > 5
    assert np.abs(reference[("single-map", 1)]["flat"] - inputs["flat"]).mean() > 5


FULL_CHILD = """
import sys
from dreamfx.cli import main
src, out = sys.argv[1], sys.argv[2]
for batch in sys.argv[3:]:
    code = main(["run", src, "-o", f"{out}/tiling-{batch}", "--preset", "tiling", "--batch-size", batch,
                 "--seed", "0", "-q"])
    assert code == 0, code
"""


@pytest.mark.slow
def test_full_length_tiling_across_instruction_sets(tmp_path):
    """What holds for the tiling preset at its full length (20 steps x 4 rounds), where
    dreams on different instruction sets part (see the module docstring):

    - on one CPU, a batch equals each image dreamed alone, bit for bit;
    - images without a near tie (black, a horizontal ramp) still agree exactly;
    - on the others the dreams are different draws of the same dream: each image's
      objective after the dream is within 10% (measured: 0-9%, the flat image the
      largest), and the dream is as strong (gain over the input) on both.

    Measured on the 2-core AVX2 CI machine against SSE4.1: 71-80% of the pixels of the
    coffee, cat, flat and vertical-ramp crops differ by more than 2/255 (mean 7.6-12.2/255),
    which is why no test promises pixel agreement here."""
    import json

    src = tmp_path / "in"
    _inputs(src)
    runs = {"default": ({}, ["1", "16"]), "sse41": ({"ONEDNN_MAX_CPU_ISA": "SSE41"}, ["16"])}
    procs = {}
    for name, (extra, batches) in runs.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ONEDNN_", "TF_ENABLE_ONEDNN"))}
        env.update(extra)
        procs[name] = subprocess.Popen([sys.executable, "-c", FULL_CHILD, str(src), str(tmp_path / name), *batches],
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name, proc in procs.items():
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, (name, stderr[-3000:])

    alone, batched = _read(tmp_path / "default" / "tiling-1"), _read(tmp_path / "default" / "tiling-16")
    other = _read(tmp_path / "sse41" / "tiling-16")
    assert set(alone) == set(batched) == set(other) and len(alone) == 6
    for image in alone:
        assert np.array_equal(alone[image], batched[image]), image
    for image in ("black", "ramp"):
        assert np.abs(alone[image] - other[image]).max() <= 2, image
    # docs/batch.md quotes this: most pixels of a photo part. If this ever fails, long tiling
    # dreams became CPU-independent: say so in docs/batch.md and assert agreement instead.
    parted = float((np.abs(alone["coffee"] - other["coffee"]) > 2).mean())
    assert parted > 0.5, f"only {parted:.0%} of the coffee crop's pixels differ: update docs/batch.md"

    def scores(folder: Path) -> dict[str, tuple[float, float]]:
        report = json.loads((folder / "report.json").read_text())
        return {Path(f["input"]).stem: (f["score_before"], f["score_after"]) for f in report["files"]}

    ref, alt = scores(tmp_path / "default" / "tiling-1"), scores(tmp_path / "sse41" / "tiling-16")
    for image, (before, after) in ref.items():
        assert alt[image][0] == pytest.approx(before, rel=1e-4), image
        if image == "black":
            assert after == alt[image][1] == 0.0  # silent everywhere: nothing to dream
            continue
        assert alt[image][1] == pytest.approx(after, rel=0.10), (image, after, alt[image][1])
        assert after > 1.5 * before and alt[image][1] > 1.5 * before, image
