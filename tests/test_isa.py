"""What holds across CPUs, and what holds on one.

The same dreams run in fresh processes, side by side (oneDNN reads its environment at start-up),
with the default instruction set (AVX2 on the 2-core CI machine, AVX-512 elsewhere), with
oneDNN limited to SSE4.1 (``ONEDNN_MAX_CPU_ISA``: its convolutions and matrix products then
sum in another order) and with TensorFlow's oneDNN rewrites off (Eigen's convolutions). Each
writes 8-bit PNGs and a report through the command line, alone (``--batch-size 1``) and as one
batch. Inputs: two photo crops, a flat gray, a black image, ramps along both axes (60x84).

The promises, each from the arithmetic (docs/batch.md, "The same results on another machine?"):

- **One machine: bits.** A batch equals each image dreamed alone, bit for bit, for every run:
  gradients and their normalisation are per image, the shifts depend only on the seed, and the
  code keeps every sum's order independent of the batch (matrix resize per image plane, per-
  image reductions, and never one view alone through the network: oneDNN on an AVX-512 CPU
  convolves a lone sample in another order than two or more).
- **Across instruction sets, one forward pass: bounded.** The objective before the dream (views,
  network, mean) differs by at most twice the float32 forward error bound of
  ``tests/numerics.py``: the 28x28 views are shrunk by TensorFlow's own resize kernel (compiled
  once in the wheel, each output summed in a fixed order: the same bits on any x86-64 CPU), and
  only the network's sums are reordered.
- **Across instruction sets, a dream: the objective and the look, not pixels.** Gradient ascent
  through ReLUs and max pooling amplifies a last-bit difference (a near tie in a pooling window
  flips), so no pixel bound follows from the arithmetic, however short the dream: measured here,
  short tiling dreams 3/255 apart on AVX-512, full-length tiling 178/255 on a ramp. What holds is
  what a user sees: the objective after the dream within 25% per image and the dream as strong
  (mean change from the input within 25%), with the same mean brightness (within 3/255).
- **A silent image is exact everywhere:** where the map is zero on every view the gradient is
  exactly zero on any CPU, and nothing moves. (The black image is checked that way when the
  map stays silent on it; the presets' map 19 can wake on it through the tie-break pattern,
  and then it is dreamed like any photo.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import CHELSEA, SAMPLE

pytestmark = [pytest.mark.slow, pytest.mark.process("instruction set")]

H, W = 60, 84
#: (name, preset, steps, rounds, batch sizes run in every environment)
RUNS = [("single-map", "single-map", 10, 2), ("tiling", "tiling", 4, 2), ("tiling-full", "tiling", 20, 4)]
CHILD = """
import json, sys
from dreamfx.cli import main
src, out, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
for name, preset, steps, rounds, batches in runs:
    for batch in batches:
        code = main(["run", src, "-o", f"{out}/{name}-{batch}", "--preset", preset, "--batch-size", str(batch),
                     "--seed", "0", "--set", f"optimizer.steps={steps}", "--set", f"loop.rounds={rounds}", "-q"])
        assert code == 0, code
"""
ENVIRONMENTS = {
    "default": {},
    "sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ONEDNN_VERBOSE": "1"},
    "onednn-off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}


def _batches(env: str, run: str) -> list[int]:
    if run == "tiling-full":  # the longest: both batch sizes on the default, one batch elsewhere
        return [1, 16] if env == "default" else ([16] if env == "sse41" else [])
    return [1, 16]


def _inputs(folder: Path) -> None:
    folder.mkdir()

    def crop(path: Path, width: int = 100) -> np.ndarray:
        with Image.open(path) as img:
            img = img.convert("L")
            img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
            return np.asarray(img)[:H, :W]

    images = {
        "coffee": crop(SAMPLE),
        "chelsea": crop(CHELSEA),
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


def _scores(folder: Path) -> dict[str, tuple[float, float]]:
    report = json.loads((folder / "report.json").read_text())
    return {Path(f["input"]).stem: (f["score_before"], f["score_after"]) for f in report["files"]}


@pytest.fixture(scope="module")
def dreams(tmp_path_factory) -> Path:
    """Every run, in every environment, computed once (three processes side by side)."""
    tmp = tmp_path_factory.mktemp("isa")
    src = tmp / "in"
    _inputs(src)
    procs = {}
    for name, extra in ENVIRONMENTS.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ONEDNN_", "TF_ENABLE_ONEDNN"))}
        env.update(extra)
        runs = [(run, preset, steps, rounds, _batches(name, run)) for run, preset, steps, rounds in RUNS]
        procs[name] = subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(tmp / name), json.dumps(runs)],
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, (name, stderr[-3000:])
        (tmp / f"{name}.stdout").write_text(stdout)
    return tmp


def test_onednn_really_used_the_older_instruction_set(dreams):
    isa = [line for line in (dreams / "sse41.stdout").read_text().splitlines() if ",isa:" in line]
    assert isa and "isa:Intel SSE4.1" in isa[0], isa


_DREAMERS: dict[str, object] = {}


def _bound(preset: str, array: np.ndarray) -> tuple[float, float]:
    """The exact objective of an 8-bit image under ``preset`` and the float32 error bound of
    any computation of it (tests/numerics.py)."""
    from dreamfx.api import make_dreamer
    from dreamfx.engine.views import views_at

    from .numerics import score_bound

    if preset not in _DREAMERS:
        _DREAMERS[preset] = make_dreamer(preset, {"steps": 1, "rounds": 1})
    dreamer = _DREAMERS[preset]
    params = dreamer.settings.objective.params
    batch = (array.astype(np.float32) / 255.0)[None, :, :, None]
    level = dreamer.scaler.levels(array.shape)[-1]
    views = np.clip(np.asarray(views_at(level, batch)), 0.0, 1.0)
    exact, error = score_bound(dreamer.model, views, params["layer"], params["map"], views_per_image=len(views))
    return float(exact[0]), float(error[0])


def test_on_one_machine_a_batch_is_each_image_alone_bit_for_bit(dreams):
    """The pixels, bit for bit. The scores are one forward pass of the network on a batch of
    another size, whose kernels may sum in another order: within twice the float32 bound."""
    presets = {run: preset for run, preset, *_ in RUNS}
    inputs = _read(dreams / "in")
    checked = 0
    for env in ENVIRONMENTS:
        for run, *_ in RUNS:
            if _batches(env, run) != [1, 16]:
                continue
            alone, batched = _read(dreams / env / f"{run}-1"), _read(dreams / env / f"{run}-16")
            assert set(alone) == set(batched) and len(alone) == 6
            one, many = _scores(dreams / env / f"{run}-1"), _scores(dreams / env / f"{run}-16")
            for image in alone:
                assert np.array_equal(alone[image], batched[image]), (env, run, image)
                # before: the input's bound; after: the bound at the dream's 8-bit copy (the bound scales
                # with the activations, which rounding to 8 bits moves by a fraction of a percent)
                for k, array in ((0, inputs[image]), (1, alone[image])):
                    error = _bound(presets[run], array)[1]
                    assert abs(one[image][k] - many[image][k]) <= 2 * error, (env, run, image, k, one[image],
                                                                                many[image], error)
            checked += 1
    assert checked == 7


def _pairs() -> list[tuple[str, str, str]]:
    """(environment, run, folder) compared with the default's batch-of-16 folder."""
    return [(env, run, f"{run}-16") for env in ENVIRONMENTS if env != "default"
            for run, *_ in RUNS if 16 in _batches(env, run)]


def test_the_objective_before_a_dream_agrees_within_the_float32_bound(dreams):
    """One forward pass: the views are the same bits on any CPU, the network's sums are
    reordered: within twice the forward error bound (tests/numerics.py)."""
    presets = {run: preset for run, preset, *_ in RUNS}
    inputs = _read(dreams / "in")
    for env, run, folder in _pairs():
        ref, other = _scores(dreams / "default" / folder), _scores(dreams / env / folder)
        for image, array in inputs.items():
            exact, error = _bound(presets[run], array)
            assert abs(ref[image][0] - exact) <= error, (env, run, image, ref[image][0], exact, error)
            assert abs(other[image][0] - ref[image][0]) <= 2 * error, (env, run, image, other[image], ref[image], error)


def test_a_dream_on_another_instruction_set_is_the_same_dream_not_the_same_pixels(dreams):
    inputs = _read(dreams / "in")
    parted = {}
    for env, run, folder in _pairs():
        ref, other = _read(dreams / "default" / folder), _read(dreams / env / folder)
        ref_scores, other_scores = _scores(dreams / "default" / folder), _scores(dreams / env / folder)
        for image, source in inputs.items():
            a, b = ref[image], other[image]
            where = (env, run, image)
            if image == "black" and ref_scores[image] == (0.0, 0.0):
                # exact by arithmetic when the map stays silent: zero gradient, nothing moves
                assert np.array_equal(a, source) and np.array_equal(b, source), where
                assert other_scores[image] == (0.0, 0.0), where
                continue
            # (a map that wakes on black, through the tie-break pattern, dreams it like any photo)
            before, after = ref_scores[image]
            assert other_scores[image][1] == pytest.approx(after, rel=0.25), (where, after, other_scores[image])
            change_a, change_b = np.abs(a - source).mean(), np.abs(b - source).mean()
            assert change_b == pytest.approx(change_a, rel=0.25), (where, change_a, change_b)
            assert abs(a.mean() - b.mean()) <= 3, (where, a.mean(), b.mean())
            if run != "tiling":  # a few tiling steps need not raise it yet; the longer dreams do, on both
                assert after > 1.5 * before and other_scores[image][1] > 1.5 * before, where
            parted[where] = float((np.abs(a - b) > 2).mean())
    print("share of pixels more than 2/255 apart:", {"/".join(k): round(v, 3) for k, v in parted.items()})
    # docs/batch.md quotes this: at the tiling preset's full length many pixels of an image can part
    # (54% of the ramp measured). If this ever fails, long tiling dreams became CPU-independent: say
    # so in docs/batch.md.
    assert max(v for (env, run, _), v in parted.items() if (env, run) == ("sse41", "tiling-full")) > 0.2, parted
