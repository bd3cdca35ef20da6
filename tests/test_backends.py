"""The JAX backend beside TensorFlow: the same numbers where the backends must agree.

- :mod:`dreamfx.engine.stateless` draws TensorFlow's stateless random numbers bit for bit, so both
  backends shift, jitter and tie-break a dream the same way;
- the JAX kernel's resize (:func:`dreamfx.engine.backends.jax_kernel.resize`) matches ``tf.image.resize``;
- every preset that is not chaotic dreamed on JAX gives the TensorFlow backend's written
  image within 2/255 (short and full-length dreams: see docs/performance.md, "Backends", for
  the measured figures); the chaotic ones (tiling, hybrid, weighted-layers) give the same
  dream (objective within 10%, mean pixel difference a tenth of the dream's change), and the recipe's
  invariants (zero steps return the input, same seed same output, a batch equals its
  images dreamed one by one) hold on JAX, which never imports TensorFlow.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import ROOT

jax = pytest.importorskip("jax", reason="the jax extra is not installed (pip install 'dreamfx[jax]')")

#: Presets whose full-length dreams are not chaotic: backends agree to the bit or nearly.
STABLE = ("single-map", "whole-layer", "octaves")
PRESETS = ("single-map", "whole-layer", "weighted-layers", "tiling", "hybrid", "octaves")


def test_stateless_numbers_are_tensorflows_bit_for_bit():
    import tensorflow as tf

    from dreamfx.engine import stateless

    for shape, seed in (((28, 28, 1), (20_251_125, 11)), ((3, 17, 5), (0, 0)), ((1000,), (2**40 + 7, 2**33))):
        expected = tf.random.stateless_uniform(shape, seed=seed, minval=-2**-5, maxval=2**-5).numpy()
        assert np.array_equal(stateless.uniform_float32(shape, seed, -2**-5, 2**-5), expected)
    for seed in (0, 3, 12_345, 2**62 + 5):
        expected = tf.random.stateless_uniform([2], seed=[seed, 7_919], minval=0, maxval=2**32, dtype=tf.int64)
        assert np.array_equal(stateless.uniform_int([2], (seed, 7_919), 0, 2**32, "int64"), expected.numpy())
        for k in range(5):
            expected = tf.random.stateless_uniform([2], seed=[seed, 1_000_003 + k], minval=-3, maxval=4, dtype=tf.int32)
            assert np.array_equal(stateless.uniform_int([2], (seed, 1_000_003 + k), -3, 4), expected.numpy())


def test_jax_step_shifts_are_tensorflows():
    import tensorflow as tf

    from dreamfx.engine.views import WEYL, round_shifts

    def step_shift(seed: int, round_index: int, k: int, total: int, jitter: int, roll: int) -> np.ndarray:
        """The shifts as the TensorFlow step loop drew them in graph before issue 23."""
        seeds = tf.constant([seed, round_index], tf.int64)
        if roll:
            index = tf.cast(k, tf.int64) + seeds[1] * tf.cast(total, tf.int64)
            start = tf.random.stateless_uniform([2], seed=tf.stack([seeds[0], tf.constant(7_919, tf.int64)]),
                                                minval=0, maxval=2**32, dtype=tf.int64)
            phase = tf.math.floormod(start + index * tf.constant(WEYL, tf.int64), 2**32)
            return tf.cast(phase * tf.cast(roll, tf.int64) // 2**32, tf.int32).numpy()
        rng = tf.stack([seeds[0], seeds[1] * 1_000_003 + tf.cast(k, tf.int64)])
        return tf.random.stateless_uniform([2], seed=rng, minval=-jitter, maxval=jitter + 1, dtype=tf.int32).numpy()

    for roll, jitter in ((28, 1), (0, 1), (0, 3), (14, 0)):
        expected = np.array([step_shift(3, 2, k, 20, jitter, roll) for k in range(20)])
        assert np.array_equal(round_shifts(3, 2, 20, jitter, roll), expected)
    assert round_shifts(3, 2, 20, 0, 0) is None  # never shifted
    assert round_shifts(3, 0, 0, 1, 0).shape == (0, 2)


@pytest.mark.slow  # JAX compiles each of the five shapes: 5-20 s per method on a 2-core CPU
@pytest.mark.parametrize("method", ["bicubic", "bilinear", "lanczos3"])
def test_jax_resize_matches_tensorflow(method):
    import tensorflow as tf

    from dreamfx.engine import views
    from dreamfx.engine.backends import jax_kernel

    rng = np.random.default_rng(0)
    for shape, size in (((2, 28, 28, 1), (90, 120)), ((1, 28, 28, 3), (400, 600)), ((2, 90, 120, 1), (28, 28)),
                        ((1, 100, 130, 3), (150, 200)), ((1, 100, 130, 1), (60, 200))):
        images = rng.random(shape).astype(np.float32)
        shrinking = size[0] < shape[1] or size[1] < shape[2]
        expected = views.resize(tf.constant(images), size, method).numpy()
        got = np.asarray(jax_kernel.resize(images, size, method, shrinking))
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-5, (shape, size)


def test_jax_refuses_resize_methods_it_has_no_kernel_for():
    from dreamfx.engine.backends import jax_kernel
    from dreamfx.errors import SettingsError

    with pytest.raises(SettingsError, match="no JAX kernel.*bicubic"):
        jax_kernel.resize(np.zeros((1, 28, 28, 1), np.float32), (56, 56), "area", False)


def test_unknown_backend_is_a_usage_error(tmp_path, cli):
    """Refused before anything is imported or read (x.png does not exist)."""
    out = cli("run", "--backend", "torch", "x.png", cwd=tmp_path)
    out.one_line_error(2, "unknown backend 'torch'; choose tensorflow or jax")
    assert out.written == []


def test_a_second_backend_in_one_process_is_refused():
    from dreamfx.engine import backend
    from dreamfx.errors import DreamfxError

    import keras  # noqa: F401 - this process runs on TensorFlow

    assert backend.request("tensorflow") == "tensorflow"
    with pytest.raises(DreamfxError, match="already runs on the tensorflow backend.*KERAS_BACKEND=jax"):
        backend.request("jax")


def _probe(name: str, tmp_path) -> dict[str, np.ndarray]:
    out = tmp_path / f"{name}.npz"
    env = {**os.environ, "KERAS_BACKEND": name}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "backend_probe.py"), str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.slow
@pytest.mark.process("backend at start-up")
def test_every_preset_agrees_across_backends(tmp_path):
    jx, tf = _probe("jax", tmp_path), _probe("tensorflow", tmp_path)
    assert str(jx["backend"]) == "jax" and str(tf["backend"]) == "tensorflow"
    assert not bool(jx["tensorflow_imported"])  # the JAX backend runs where TensorFlow is not installed
    for name, result in (("jax", jx), ("tensorflow", tf)):
        assert float(result["zero_steps_error"]) < 1e-6, name
        assert float(result["same_seed_error"]) == 0.0, name
        assert float(result["batch_error"]) <= 1e-5, name
    photo = tf["photo"].astype(int)
    for preset in PRESETS:
        short_j, short_t = jx[f"short/{preset}"].astype(int), tf[f"short/{preset}"].astype(int)
        if preset in STABLE:
            assert np.abs(short_j - short_t).max() <= 2, preset
        else:  # chaotic even when short (a flipped pooling tie grows from step one; 7/255 measured
            # in a few pixels of a 10-step tiling dream): the same dream, not the same pixels
            change = np.abs(short_t - photo).mean()
            assert np.abs(short_j - short_t).mean() <= 0.1 * change, (preset, np.abs(short_j - short_t).mean(), change)
            assert jx[f"short-score/{preset}"][1] == pytest.approx(tf[f"short-score/{preset}"][1], rel=0.1), preset
        before_j, after_j = jx[f"score/{preset}"]
        before_t, after_t = tf[f"score/{preset}"]
        assert before_j == pytest.approx(before_t, rel=1e-4, abs=1e-6)
        if preset in STABLE:
            full = np.abs(jx[f"preset/{preset}"].astype(int) - tf[f"preset/{preset}"].astype(int)).max()
            assert full <= 2, (preset, full)
            assert after_j == pytest.approx(after_t, rel=1e-4)
        else:  # chaotic at full length, as across CPUs (tests/test_isa.py): the same dream statistically
            assert after_j == pytest.approx(after_t, rel=0.1), preset


def test_jax_device_selection_prefers_cuda_and_says_when_there_is_none(monkeypatch):
    from dreamfx.engine import backend
    from dreamfx.errors import DreamfxError

    from dreamfx.engine.backends import jax_kernel

    monkeypatch.setattr(backend, "kernel", lambda name=None: jax_kernel)
    monkeypatch.setattr(jax_kernel, "gpus", lambda: ["gpu0", "gpu1"])
    assert backend.resolve_device("auto") == "cuda:0"
    assert backend.resolve_device("gpu:1") == "cuda:1"
    assert backend.resolve_device("cpu") == "cpu:0"
    monkeypatch.setattr(jax_kernel, "gpus", lambda: [])
    assert backend.resolve_device("auto") == "cpu:0"
    with pytest.raises(DreamfxError, match="JAX sees no GPU.*jax\\[cuda13\\].*--device cpu"):
        backend.resolve_device("gpu")


@pytest.mark.slow  # a fresh process that imports JAX: about 9 s
@pytest.mark.process("tools")
def test_gpu_check_says_clearly_when_there_is_no_gpu():
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr[-2000:]
    assert "no CUDA GPU visible to JAX" in done.stdout
    assert "devices: TFRT_CPU_0" in done.stdout or "devices: cpu" in done.stdout.lower()


def test_the_backend_table_is_the_benchmarks_output():
    """docs/performance.md quotes benchmarks/backends.py's table of the committed run."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("backends_benchmark", ROOT / "benchmarks" / "backends.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = json.loads((ROOT / "benchmarks" / "backends-results.json").read_text())
    assert module.markdown(results) in (ROOT / "docs" / "performance.md").read_text()


def test_jax_max_pooling_gradient_goes_to_the_first_maximum_as_in_tensorflow():
    """dreamfx.engine.backends.jax_pooling: exact ties (integers) get TensorFlow's MaxPoolGrad's answer."""
    import jax
    import jax.numpy as jnp
    import tensorflow as tf

    from dreamfx.engine.backends.jax_pooling import first_max_pool

    images = np.random.default_rng(1).integers(0, 3, (2, 7, 6, 3)).astype(np.float32)  # odd height: cropped
    weights = np.arange(27.0, dtype=np.float32).reshape(1, 3, 3, 3)
    got = jax.grad(lambda v: jnp.sum(first_max_pool(v, (2, 2)) * weights))(jnp.asarray(images))
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(tf.nn.max_pool2d(x, 2, 2, "VALID") * weights)
    assert np.array_equal(np.asarray(got), tape.gradient(total, x).numpy())
    assert np.array_equal(np.asarray(first_max_pool(jnp.asarray(images), (2, 2))),
                          tf.nn.max_pool2d(x, 2, 2, "VALID").numpy())


@pytest.mark.slow  # a fresh process on JAX: about 10 s
@pytest.mark.process("backend at start-up")
def test_a_resize_method_without_a_jax_kernel_is_a_usage_error_before_any_dream(tmp_path):
    """On the JAX backend, which this (TensorFlow) process cannot switch to."""
    from PIL import Image

    Image.new("RGB", (60, 40), (90, 120, 60)).save(tmp_path / "in.png")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-m", "dreamfx", "run", "--preset", "octaves", "--set",
                           "scaler.method=area", "in.png", "-o", "out.png"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "resize method 'area' has no JAX kernel; on the jax backend choose one of bicubic" in done.stderr
    assert not (tmp_path / "out.png").exists()
