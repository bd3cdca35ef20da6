"""Scaling strategies: geometry invariants, coverage, seams, and memory on a huge image."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dreamfx.api import make_dreamer
from dreamfx.engine.views import merge_views, split_views
from dreamfx.kinds.scalers import tile_grid

from .conftest import SAMPLE, dream_once, gray_photo, warm_dreamer



def test_split_and_merge_are_inverse():
    import tensorflow as tf

    canvas = tf.random.stateless_uniform([2, 56, 84, 1], seed=[0, 1])
    views = split_views(canvas, (28, 28))
    assert views.shape == (2 * 2 * 3, 28, 28, 1)
    assert np.array_equal(views[1].numpy(), canvas[0, :28, 28:56].numpy())  # image-major, row-major tiles
    assert np.array_equal(merge_views(views, tf.shape(canvas), (28, 28)).numpy(), canvas.numpy())


def _build(host, name, **params):
    component = host.get("scalers", name)
    return component.build(component.context(view_size=(28, 28)), **params)


@pytest.mark.parametrize("size", [(28, 28), (29, 57), (75, 100), (300, 31), (5, 7)])
def test_tile_level_covers_every_pixel_and_round_trips(host, size):
    import tensorflow as tf

    scaler = _build(host, "tiling")
    (level,) = scaler.levels(size)
    image = tf.random.stateless_uniform([1, *size, 1], seed=[2, 3])
    canvas = level.to_canvas(image)
    rows, cols = tile_grid(size, (28, 28))
    assert canvas.shape == (1, rows * 28, cols * 28, 1)
    assert rows * 28 >= size[0] and cols * 28 >= size[1]
    assert np.allclose(level.from_canvas(canvas, size).numpy(), image.numpy(), atol=1e-6)


def test_hybrid_levels_go_from_the_article_view_to_full_size(host):
    scaler = _build(host, "hybrid", factor=2.0, max_levels=4)
    levels = scaler.levels((400, 600))
    assert type(levels[0]).__name__ == "DownscaleLevel"
    sizes = [level.work_size for level in levels[1:]]
    assert sizes == [(100, 150), (200, 300), (400, 600)]  # 50x75 would be under two tiles across
    assert [lvl.roll for lvl in levels] == [0, 28, 28, 28]


def test_tiling_changes_every_pixel_of_a_100x75_image():
    """With an objective that has a gradient everywhere (all of conv2), no pixel is left out:
    the last, partial row and column of tiles are dreamed too. The photo is squeezed into
    [0.1, 0.9], so no pixel starts at a clipping bound (where a push outwards changes nothing)."""
    image = gray_photo((100, 75), squeeze=True)
    result = make_dreamer("tiling", {"rounds": 1, "steps": 4, "objective": "whole-layer",
                                     "objective__layer": "conv2"})(image)
    assert result.image.shape == image.shape
    assert (np.abs(result.image - image) > 0).all()


def seam_ratio(image: np.ndarray, left: int, top: int, tile: int = 28) -> float:
    """Mean |difference| between neighbours across tile borders / the same inside tiles."""
    dx, dy = np.abs(np.diff(image, axis=1)), np.abs(np.diff(image, axis=0))
    cols = np.arange(dx.shape[1])
    rows = np.arange(dy.shape[0])
    border_x = (cols + 1 + left) % tile == 0  # between column c and c+1
    border_y = (rows + 1 + top) % tile == 0
    across = np.concatenate([dx[:, border_x].ravel(), dy[border_y, :].ravel()]).mean()
    inside = np.concatenate([dx[:, ~border_x].ravel(), dy[~border_y, :].ravel()]).mean()
    return float(across / inside)


def _coffee_dream(preset: str, coffee: np.ndarray):
    """The preset at its full length on the whole 600x400 photo, dreamed once per session."""
    return dream_once(("coffee", preset), lambda: warm_dreamer(preset)(coffee))


@pytest.mark.slow
def test_no_visible_seams_on_the_coffee_photo(coffee):
    image = coffee
    result = _coffee_dream("tiling", coffee)
    (level,) = warm_dreamer("tiling").scaler.levels(image.shape)
    (top, _), (left, _) = level.pads
    ratio = seam_ratio(result.image, left, top)
    print("seam ratio", ratio)
    assert ratio <= 1.25, ratio
    assert np.abs(result.image - image).mean() > 0.05  # and it is a real dream, not a no-op


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["single-map", "tiling", "hybrid", "octaves"])
def test_each_strategy_raises_its_objective_threefold(preset, coffee):
    """Each preset at its full length: single-map and tiling on the whole photo (the dreams
    test_dream.py's five-fold figure and the seams test above check, computed once), the
    pyramids on a 300x200 copy."""
    if preset in ("single-map", "tiling"):
        result = _coffee_dream(preset, coffee)
    else:
        from PIL import Image

        image = np.asarray(Image.fromarray(coffee).resize((300, 200), Image.Resampling.LANCZOS))
        result = warm_dreamer(preset)(image)
    assert result.score_after >= 3 * result.score_before, (result.score_before, result.score_after)


PEAK = """
import json, resource, sys, time
import numpy as np
from dreamfx.api import make_dreamer
image = np.random.default_rng(0).random((3000, 4000), dtype=np.float32) * 0.8 + 0.1
dreamer = make_dreamer(sys.argv[1], {"rounds": 1, "steps": 1})
start = time.perf_counter()
result = dreamer(image)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "shape": list(result.image.shape), "seconds": time.perf_counter() - start}))
"""


@pytest.mark.slow
@pytest.mark.process("peak memory")
def test_4000x3000_dreams_in_under_3_gb():
    """Peak resident memory of the whole process (TensorFlow included), from getrusage: a
    process per preset, both at once (2 x 3 GB at most)."""
    children = {preset: subprocess.Popen([sys.executable, "-c", PEAK, preset], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True) for preset in ("tiling", "hybrid")}
    try:
        done = {preset: child.communicate(timeout=600) for preset, child in children.items()}
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()
    for preset, (stdout, stderr) in done.items():
        assert children[preset].returncode == 0, (preset, stderr[-3000:])
        report = json.loads(stdout.strip().splitlines()[-1])
        assert report["shape"] == [3000, 4000], preset
        assert report["peak_rss_mb"] < 3 * 1024, (preset, report)


def test_octaves_refuse_objectives_after_flatten():
    from dreamfx.errors import SettingsError

    with pytest.raises(SettingsError, match=r"layer 'logits' needs the model's fixed \(28, 28\) input.*conv1, pool1, conv2, pool2, conv3"):
        make_dreamer("octaves", {"objective": "class"})


def test_octave_levels_grow_by_factor_to_the_scaled_size(host):
    scaler = _build(host, "octaves", factor=2.0, octaves=5, scale=2.0)
    sizes = [level.work_size for level in scaler.levels((400, 600))]
    assert sizes == [(50, 75), (100, 150), (200, 300)]  # 25x38 would be smaller than the model's 28x28
    assert all(level.view_size is None for level in scaler.levels((400, 600)))


def test_octaves_dream_a_small_photo_at_least_at_the_model_s_view_size(host):
    """Under 36 px the finest octave (the photo over scale 2) would be smaller than conv3's
    input needs (18 px): each side is dreamed at 28 px at least, once."""
    scaler = _build(host, "octaves", factor=1.4, octaves=4, scale=2.0)
    assert [level.work_size for level in scaler.levels((1, 1))] == [(28, 28)]
    # (the next octave, 7x143, is under the view on both counts: one level)
    assert [level.work_size for level in scaler.levels((20, 400))] == [(28, 200)]
    assert [level.work_size for level in scaler.levels((34, 34))] == [(28, 28)]


@pytest.mark.parametrize("preset", ["single-map", "whole-layer", "weighted-layers", "tiling", "hybrid", "octaves"])
def test_every_preset_dreams_every_size_from_1x1_up(preset):
    """1x1, a thin strip, a photo just under and just over 35 px: the dream has the photo's
    shape, stays in [0, 1] and raises the objective where the objective responds at all (a
    silent map, zero on the whole view, has no gradient to climb). A 1x1 photo is one gray
    value: the ascent climbs on its upsampled view, but what comes back is that view's
    change averaged to one value, which can move the objective either way, so it has no
    score bound: it only has to be a valid pixel."""
    dreamer = warm_dreamer(preset, steps=3, rounds=1)
    rng = np.random.default_rng(7)
    for shape in [(1, 1), (3, 120), (34, 34), (36, 50)]:
        image = rng.random(shape, dtype=np.float32)
        result = dreamer(image)
        assert result.image.shape == shape, (preset, shape)
        assert np.isfinite(result.image).all() and 0 <= result.image.min() and result.image.max() <= 1
        if shape == (1, 1):
            continue
        if result.score_before > 0:
            assert result.score_after > result.score_before, (preset, shape)
        else:
            assert result.score_after >= result.score_before, (preset, shape)


METHODS = ["bilinear", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic", "nearest"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape, size", [((2, 28, 28, 1), (90, 120)), ((1, 30, 50, 3), (400, 600)),
                                         ((3, 28, 28, 2), (17, 90)), ((2, 64, 48, 1), (300, 200))])
def test_matrix_resize_equals_tensorflow_resize(method, shape, size):
    """resize() enlarges small images with two matrix products; they must be the same
    linear map as tf.image.resize (antialiased when an axis shrinks), for every method."""
    import tensorflow as tf

    from dreamfx.engine.backends.tensorflow_kernel import MATMUL_MAX_SIDE
    from dreamfx.engine.views import resize

    assert max(shape[1], shape[2]) <= MATMUL_MAX_SIDE  # the matrix path is the one tested
    x = tf.random.stateless_uniform(shape, seed=[4, 2])
    shrinking = size[0] < shape[1] or size[1] < shape[2]
    expected = tf.image.resize(x, size, method=method, antialias=shrinking)
    got = resize(x, size, method)
    assert got.shape == expected.shape
    assert float(tf.reduce_max(tf.abs(got - expected))) <= 1e-5


@pytest.mark.parametrize("shape, size", [((8, 28, 28, 1), (400, 600)), ((8, 28, 28, 1), (384, 512)),
                                         ((5, 56, 37, 1), (1000, 1500)), ((4, 28, 28, 3), (300, 200)),
                                         ((6, 60, 40, 1), (30, 20))])
def test_matrix_resize_of_an_image_is_the_same_bits_in_any_batch(shape, size):
    """A batch must equal its images dreamed one by one, so resizing an image must not
    depend on what else is in its batch: the same bits alone, in a batch of 3 and of all
    (a single 2-D product over the batch's rows differed in the last bit at 28x28 -> 400x600)."""
    import tensorflow as tf

    from dreamfx.engine.views import resize

    x = tf.random.stateless_uniform(shape, seed=[7, 3])
    whole = resize(x, size).numpy()
    for count in (1, 3):
        part = resize(x[:count], size).numpy()
        assert np.array_equal(part, whole[:count]), count
    assert np.array_equal(resize(x[-1:], size).numpy()[0], whole[-1])


def test_matrix_resize_works_inside_a_compiled_function_with_unknown_batch():
    import tensorflow as tf

    from dreamfx.engine.views import resize

    f = tf.function(lambda x: resize(x, (96, 80)), input_signature=[tf.TensorSpec([None, 28, 28, 1])])
    x = tf.random.stateless_uniform([3, 28, 28, 1], seed=[1, 1])
    expected = tf.image.resize(x, (96, 80), method="bicubic")
    assert float(tf.reduce_max(tf.abs(f(x) - expected))) <= 1e-5


def test_equal_levels_share_compiled_rounds():
    """Tiling builds new level objects for every image; equal ones must reuse the compiled
    between-round functions instead of tracing them again per image."""
    from dreamfx.api import as_gray_array

    dreamer = make_dreamer("tiling", {"rounds": 2, "steps": 1})
    base = as_gray_array(SAMPLE)[:60, :80]
    for image in (base, base[::-1].copy(), base[:, ::-1].copy()):
        dreamer(image)
    assert len(dreamer.compiled) == 2  # the loop's enter and reinject, once each
    enter, reinject = dreamer.compiled.values()
    assert enter.experimental_get_tracing_count() == 1 and reinject.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("shape", [(1, 28, 28, 1), (1, 28, 28, 3), (2, 9, 13, 1), (16, 28, 28, 1), (1, 96, 130, 1)])
def test_shifting_a_canvas_gives_tf_roll_s_values(shape):
    """Small canvases are shifted by gathers, larger ones by tf.roll: the same values, for
    shifts of either sign and beyond the canvas's size."""
    import tensorflow as tf

    from dreamfx.engine.backends.tensorflow_kernel import SMALL_ROLL, roll

    x = tf.random.uniform(shape, seed=1)
    small = int(np.prod(shape)) <= SMALL_ROLL
    for dy, dx in [(0, 0), (1, -1), (-3, 2), (5, 5), (-40, 31), (shape[1], -shape[2])]:
        shift = tf.constant([dy, dx], tf.int32)
        fn = tf.function(roll, autograph=False)
        assert np.array_equal(fn(x, shift).numpy(), tf.roll(x, shift, axis=[1, 2]).numpy()), (shape, dy, dx, small)


@pytest.mark.parametrize("shape, pads", [((1, 5, 7, 1), ((2, 3), (1, 0))), ((1, 3, 4, 1), ((9, 13), (10, 4))),
                                         ((2, 1, 1, 1), ((13, 14), (13, 14))), ((1, 1, 6, 1), ((13, 14), (8, 2))),
                                         ((1, 6, 1, 3), ((0, 0), (27, 0)))])
def test_reflect_pad_mirrors_like_numpy_and_repeats_a_1_pixel_side(shape, pads):
    """numpy's "reflect" (repeated for pads wider than the image); a 1-pixel side repeated
    ("edge"), as tiling needs for a 1x1 photo."""
    from keras import ops

    from dreamfx.kinds.scalers import reflect_pad

    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    want = np.pad(image, [(0, 0), pads[0], (0, 0), (0, 0)], mode="reflect" if shape[1] > 1 else "edge")
    want = np.pad(want, [(0, 0), (0, 0), pads[1], (0, 0)], mode="reflect" if shape[2] > 1 else "edge")
    got = ops.convert_to_numpy(reflect_pad(ops.convert_to_tensor(image), pads))
    assert np.array_equal(got, want)
