"""The recipe's invariants, on real images with the shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from dreamfx.api import make_dreamer
from dreamfx.errors import SettingsError

from .conftest import dream_once, warm_dreamer


PRESETS = ["single-map", "whole-layer", "weighted-layers", "tiling", "hybrid", "octaves"]


@pytest.mark.parametrize("preset", PRESETS)
def test_zero_steps_is_the_identity(preset, small_photo):
    """With no steps every preset gives its input back, through all its levels and rounds
    (the detail re-added, the tiles cut and merged): on the 120x90 photo and on random
    images of odd sizes, within 1/255, at the input's shape."""
    dreamer = warm_dreamer(preset, steps=0)
    rng = np.random.default_rng(1)
    images = [small_photo] + [rng.random(shape, dtype=np.float32) for shape in [(28, 28), (29, 101), (300, 31)]]
    for image in images:
        result = dreamer(image)
        assert result.image.shape == image.shape, (preset, image.shape)
        assert np.abs(result.image - image).max() <= 1 / 255, (preset, image.shape)


def test_same_seed_same_output_and_other_seed_differs(small_photo):
    first = make_dreamer("single-map", {"seed": 3})(small_photo).image
    second = make_dreamer("single-map", {"seed": 3})(small_photo).image
    other = make_dreamer("single-map", {"seed": 4})(small_photo).image
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_single_map_preset_raises_the_map_at_least_five_fold(coffee):
    """The issue's acceptance figure: the map's mean activation on the 28x28 downscale."""
    dreamer = warm_dreamer("single-map")
    result = dream_once(("coffee", "single-map"), lambda: dreamer(coffee))
    from keras import ops

    from dreamfx.engine.views import resize

    layer, index = dreamer.settings.objective.params["layer"], dreamer.settings.objective.params["map"]

    def map_mean(image: np.ndarray) -> float:  # on any backend: the host's resize, keras.ops
        small = resize(ops.convert_to_tensor(image[None, :, :, None].astype(np.float32)), (28, 28), "bicubic")
        acts = dreamer.features(ops.clip(small, 0.0, 1.0))[layer]
        return float(ops.mean(acts[..., index]))

    before, after = map_mean(coffee), map_mean(result.image)
    assert after >= 5 * before, (before, after)
    assert result.score_after == pytest.approx(after, rel=0.05)
    # the detail is back: the result is sharper than the blurry upscaled dream
    assert np.abs(np.diff(result.image, axis=1)).mean() > 2 * np.abs(np.diff(result.dream, axis=1)).mean()


def test_intermediates_have_the_documented_shapes(small_photo):
    result = make_dreamer("single-map", {"rounds": 1, "steps": 3})(small_photo)
    assert result.pattern.shape == (28, 28)
    assert result.dream.shape == result.detail.shape == result.contrast.shape == small_photo.shape
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0


def test_bad_layer_lists_the_layers():
    with pytest.raises(SettingsError, match=r"unknown layer 'conv9' .*layers with feature maps: conv1, pool1, conv2, pool2, conv3"):
        make_dreamer("single-map", {"layer": "conv9"})


def test_bad_map_gives_the_range():
    with pytest.raises(SettingsError, match=r"map 200 does not exist in layer 'conv3', which has 128 maps: choose map 0 to 127"):
        make_dreamer("single-map", {"map": 200})


def test_bad_optimizer_settings_are_refused():
    with pytest.raises(SettingsError, match="step_size must be positive"):
        make_dreamer("single-map", {"step_size": -1.0})
    with pytest.raises(SettingsError, match="rounds must be at least 1"):
        make_dreamer("single-map", {"rounds": 0})


def test_step_loop_is_traced_once_for_many_images(small_photo):
    dreamer = make_dreamer("single-map", {"rounds": 2, "steps": 2})
    dreamer(small_photo)
    dreamer(small_photo[::-1].copy())
    dreamer(np.ones((50, 70), np.float32) * 0.5)
    assert dreamer.ascent.traces() == 1


@pytest.mark.parametrize("preset", ["single-map", "tiling"])
def test_scoring_in_one_compiled_call_equals_the_separate_calls(small_photo, preset):
    """Dreamer.score runs views, network, objective and the mean per image as one compiled
    call when the views fit in one chunk, and as separate calls otherwise (``chunk`` below
    the number of views). The two run the network on batches of other sizes, whose kernels
    may sum in another order (oneDNN picks them per shape and instruction set): the scores
    agree within twice the float32 forward error bound of tests/numerics.py, not bit for bit."""
    from dreamfx.engine.views import views_at

    from .numerics import score_bound

    dreamer = make_dreamer(preset, {"steps": 1, "rounds": 1})
    dreamer(small_photo)
    dreamer(small_photo)  # from the second dream on, scoring is compiled
    images = np.stack([small_photo, small_photo[::-1]])[..., None].astype(np.float32)
    fused = dreamer.score(images)
    assert len(dreamer.scoring.fused_of) == 2 and not dreamer.scoring.unfused  # batches of 1 (the dreams) and 2
    separate = dreamer.score(images, chunk=1)  # 1 view per chunk: more views than that, not fused
    assert len(dreamer.scoring.unfused) == 1

    level = dreamer.scaler.levels(small_photo.shape)[-1]
    views = np.asarray(views_at(level, images))
    params = dreamer.settings.objective.params

    def bound(index: int) -> np.ndarray:
        exact, error = score_bound(dreamer.model, np.clip(views, 0.0, 1.0), params["layer"], index,
                                   views_per_image=len(views) // len(images),
                                   input_error=0.0)  # the views are the same bits in any batch (test_scaling)
        if index == params["map"]:
            assert np.all(np.abs(fused - exact) <= error), (fused, exact, error)
            # a worst case (every rounding error aligned), yet tight enough that a wrong view, map or
            # mean, which moves a score by tens of percent, could not pass
            assert error.max() <= 0.01 * np.abs(exact).max(), (error, exact)
        return 2 * error

    tolerance = bound(params["map"])
    assert np.all(np.abs(separate - fused) <= tolerance), (separate, fused, tolerance)
    if preset == "single-map":  # a map per image, fed at run time
        chosen = dreamer.score(images, choices=[3, 19])
        per_choice = np.array([bound(3)[0], bound(19)[1]])
        assert np.all(np.abs(chosen - dreamer.score(images, chunk=1, choices=[3, 19])) <= per_choice)
        assert abs(chosen[1] - fused[1]) <= tolerance[1]  # map 19 is the preset's


@pytest.mark.parametrize("preset", ["single-map", "whole-layer", "weighted-layers", "tiling", "hybrid", "octaves"])
def test_a_small_dream_as_one_compiled_call_gives_the_same_bits(small_photo, preset, monkeypatch):
    """Once a shape's round-by-round dreams have shown they are short, the dream runs as one
    compiled call (on TensorFlow, for a traceable loop): the same image, intermediates and
    scores, bit for bit, and progress still hears of every round."""
    import keras

    from dreamfx.engine import ascent

    monkeypatch.setattr(ascent, "PIECE_SECONDS", 30.0)  # "short" whatever the machine's load
    dreamer = make_dreamer(preset, {"steps": 3, "rounds": 2})
    rounds = [dreamer(small_photo) for _ in range(3)]  # eager, then compiled round by round
    assert len(dreamer._whole) == 0
    heard: list[int] = []
    whole = dreamer.dream_batch([small_photo], on_round=heard.append)[0]
    on_tensorflow = keras.backend.backend() == "tensorflow"
    assert len(dreamer._whole) == (1 if on_tensorflow else 0) and not dreamer._whole._refused
    assert heard == list(range(dreamer.rounds_for(small_photo.shape)))
    for name in ("image", "pattern", "dream", "detail"):
        assert np.array_equal(getattr(whole, name), getattr(rounds[-1], name)), name
    assert (whole.score_before, whole.score_after) == (rounds[-1].score_before, rounds[-1].score_after)


def test_a_streamed_dream_goes_round_by_round_with_the_same_bits(small_photo, monkeypatch):
    """``dream_batch(..., stream=True)`` (a live view such as dreamfx explore's) runs every
    round from the host even once the shape runs as one compiled call, with the same bits."""
    import keras

    from dreamfx.engine import ascent

    monkeypatch.setattr(ascent, "PIECE_SECONDS", 30.0)
    dreamer = make_dreamer("single-map", {"steps": 3, "rounds": 2})
    dreams = [dreamer(small_photo) for _ in range(4)]  # the fourth as one call (TensorFlow)
    rounds: list[int] = []
    plain = dreamer.ascend
    monkeypatch.setattr(dreamer, "ascend", lambda canvas, index, *rest: rounds.append(index) or plain(canvas, index, *rest))
    streamed = dreamer.dream_batch([small_photo], stream=True)[0]
    assert rounds == list(range(dreamer.rounds_for(small_photo.shape)))
    for name in ("image", "pattern", "dream", "detail"):
        assert np.array_equal(getattr(streamed, name), getattr(dreams[-1], name)), name
    rounds.clear()
    dreamer(small_photo)
    assert rounds == ([] if keras.backend.backend() == "tensorflow" else [0, 1])


def test_a_loop_that_stops_early_is_dreamed_round_by_round(small_photo):
    """Early stop reads scores on the host between rounds: that loop is never traced whole."""
    dreamer = make_dreamer("single-map", {"steps": 2, "rounds": 3, "patience": 1})
    for _ in range(5):
        dreamer(small_photo)
    assert not dreamer.loop.traceable and len(dreamer._whole) == 0 and not dreamer._whole.enabled


def test_a_dream_whose_shape_ran_long_stays_round_by_round(small_photo, monkeypatch):
    """The whole-dream call is only for shapes whose last two dreams were shorter than a
    piece (what Ctrl-C waits for at most)."""
    from dreamfx.engine import ascent

    monkeypatch.setattr(ascent, "PIECE_SECONDS", 1e-6)
    dreamer = make_dreamer("single-map", {"steps": 2, "rounds": 2})
    for _ in range(5):
        dreamer(small_photo)
    assert len(dreamer._whole) == 0


def test_first_dream_eager_and_later_compiled_rounds_agree(small_photo):
    """A single image's first dream runs the between-round work eagerly, later dreams run
    it compiled: both must give the same result."""
    dreamer = make_dreamer("single-map", {"rounds": 3, "steps": 3, "seed": 5})
    first = dreamer(small_photo)
    assert len(dreamer.compiled) == 0  # the first single-image dream traced nothing extra
    second = dreamer(small_photo)
    assert len(dreamer.compiled) == 2  # the loop's enter and reinject
    assert np.abs(first.image - second.image).max() <= 1e-5
    assert first.score_after == pytest.approx(second.score_after, rel=1e-4)


# -- the faster routes fall back by name (issue 23) -------------------------------------------------


def test_a_failed_whole_dream_call_dreams_round_by_round_and_says_why(small_photo, caplog, monkeypatch):
    """The one-call dream is an optimisation: when its call fails, the round-by-round way gives
    the same dream, a debug line names the failure, and that shape is not tried again."""
    import logging

    reference = make_dreamer("single-map", {"steps": 3, "rounds": 2})(small_photo)
    dreamer = make_dreamer("single-map", {"steps": 3, "rounds": 2})
    attempts = []

    def broken(*args):
        attempts.append(args)
        raise RuntimeError("boom")

    monkeypatch.setattr(dreamer._whole, "wanted", lambda shape, plain: not attempts)
    monkeypatch.setattr(dreamer._whole, "function", broken)
    with caplog.at_level(logging.DEBUG, logger="dreamfx"):
        first = dreamer(small_photo)
        second = dreamer(small_photo)
    assert np.array_equal(first.image, reference.image) and np.array_equal(second.image, reference.image)
    assert len(attempts) == 1
    (line,) = [r.getMessage() for r in caplog.records if "one compiled call failed" in r.getMessage()]
    assert "(RuntimeError: boom)" in line and "round by round" in line


def test_a_failed_fused_score_is_scored_in_separate_calls_and_says_why(small_photo, caplog, monkeypatch):
    import logging

    images = np.stack([small_photo, small_photo[::-1]])[..., None].astype(np.float32)
    unfused = make_dreamer("single-map", {"steps": 3, "rounds": 1})
    monkeypatch.setattr(unfused.scoring, "fused", lambda *args: None)  # "does not fuse": the separate calls
    separate = unfused.score(images)
    dreamer = make_dreamer("single-map", {"steps": 3, "rounds": 1})

    def broken(level, key, build):
        def call(*args):
            raise RuntimeError("bang")
        return call

    monkeypatch.setattr(dreamer.scoring.fused_of, "get", broken)
    with caplog.at_level(logging.DEBUG, logger="dreamfx"):
        scores = dreamer.score(images)
    assert np.array_equal(scores, separate)  # the separate calls' very bits
    assert len(dreamer.scoring.unfused) == 1  # not tried again for this level and shape
    assert any("scoring a batch of shape (2," in r.getMessage() and "(RuntimeError: bang)" in r.getMessage()
               and "separate calls" in r.getMessage() for r in caplog.records)


def test_debug_prints_the_host_s_debug_lines_on_stderr_for_that_call_only(capsys):
    import logging

    from dreamfx.cli import _debug_lines

    log = logging.getLogger("dreamfx")
    with _debug_lines(True):
        log.debug("left the fast route (RuntimeError: x)")
    log.debug("not shown")
    with _debug_lines(False):
        log.debug("not shown either")
    err = capsys.readouterr().err
    assert err == "dreamfx: debug: left the fast route (RuntimeError: x)\n"
