"""The host's pull term (dreamfx.engine.pull): a dream pulled toward a target, inside the ascent.

Exactness claims are bit-for-bit only where the arithmetic guarantees it: a weight of 0 adds
``0 * (t - x)``, which is exactly 0, so on TensorFlow (each op as written) an image without a
target is the plain dream's bits. JAX's compiler fuses the step with the pull's extra inputs
into another program and rounds the update differently: the same dream to the last bit or so
(measured 7e-8 after 24 steps; allowed 1e-6, as for a split step in test_optimizers_and_loops).
"""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import gray_photo, warm_dreamer
from dreamfx.engine.pull import Toward

FAST = {"optimizer__steps": 6}


def _photos() -> tuple[np.ndarray, np.ndarray]:
    """A photo, and a target unlike it: the photo flipped and darkened (generated, untuned)."""
    photo = gray_photo((64, 48), squeeze=True)
    rng = np.random.default_rng(31)
    target = np.clip(photo[::-1, ::-1] * 0.6 + rng.uniform(0, 0.2, photo.shape), 0, 1).astype(np.float32)
    return photo, target


@pytest.mark.parametrize("preset", ["single-map", "tiling"])
def test_an_image_without_a_target_is_the_plain_dream_bit_for_bit(preset):
    dreamer = warm_dreamer(preset, **FAST)
    photo, target = _photos()
    plain = dreamer.dream_batch([photo, target])

    def same(a: np.ndarray, b: np.ndarray) -> bool:
        return np.array_equal(a, b) if dreamer.backend == "tensorflow" else np.abs(a - b).max() <= 1e-6

    for _ in range(3):  # the third call of a shape may run as one compiled call: same bits
        pulled = dreamer.dream_batch([photo, target], toward=[None, Toward(photo, np.full(photo.shape, 0.8))])
        assert same(pulled[0].image, plain[0].image)
        zero = dreamer.dream_batch([photo], toward=[Toward(target, np.zeros(photo.shape))])
        assert same(zero[0].image, plain[0].image)


@pytest.mark.parametrize("preset", ["single-map", "tiling"])
def test_the_pull_draws_the_dream_toward_its_target_where_the_weight_is(preset):
    dreamer = warm_dreamer(preset, **FAST)
    photo, target = _photos()
    weight = np.zeros(photo.shape, np.float32)
    weight[:, :32] = 0.9  # the left half only
    plain = dreamer.dream_batch([photo])[0].image
    pulled = dreamer.dream_batch([photo], toward=[Toward(target, weight)])[0].image
    before = np.abs(plain - target)
    after = np.abs(pulled - target)
    # the left half: most of the way to the target (the objective pushes back at every step)
    assert after[:, :28].mean() < 0.5 * before[:, :28].mean()
    # the right half, away from the edge, is not drawn toward it (its dream differs, as any
    # change to a chaotic ascent makes it differ, but no nearer the target: measured 1.00-1.03x)
    assert after[:, 40:].mean() > 0.9 * before[:, 40:].mean()
    assert np.isfinite(pulled).all() and pulled.min() >= 0 and pulled.max() <= 1


def test_zero_steps_return_the_input_whatever_the_pull():
    dreamer = warm_dreamer("single-map", optimizer__steps=0)
    photo, target = _photos()
    out = dreamer.dream_batch([photo], toward=[Toward(target, np.full(photo.shape, 0.9))])[0].image
    assert np.abs(out - photo).max() < 1e-5  # the loop's resize round trip, in float32


def test_a_pull_target_of_the_wrong_size_is_named():
    dreamer = warm_dreamer("single-map", **FAST)
    photo, _ = _photos()
    with pytest.raises(ValueError, match="image 0: a pull target of"):
        dreamer.dream_batch([photo], toward=[Toward(photo[:10], np.ones(photo.shape))])


def test_on_canvas_sees_every_round_and_changes_no_pixel():
    """The engine's public per-round hook (what dreamfx explore streams): each round's canvas
    and result, in order; the dream is the same (bits on TensorFlow, as ``stream``)."""
    dreamer = warm_dreamer("single-map", **FAST)
    photo, _ = _photos()
    seen = []
    watched = dreamer.dream_batch([photo], on_canvas=lambda canvas, r, level, out: seen.append(
        (r, tuple(canvas.shape), tuple(out.canvas.shape))))
    plain = dreamer.dream_batch([photo])
    assert [r for r, _, _ in seen] == list(range(dreamer.rounds_for(photo.shape)))
    assert all(before == after == (1, 28, 28, 1) for _, before, after in seen)
    difference = np.abs(watched[0].image - plain[0].image).max()
    assert difference == 0 if dreamer.backend == "tensorflow" else difference <= 1e-6


@pytest.mark.parametrize("preset", ["single-map", "tiling"])
def test_a_pulled_dream_as_one_compiled_call_gives_the_same_bits(preset, monkeypatch):
    """The pull's full-resolution finish is part of the whole dream's compiled call (no eager
    ops after it); round by round (``stream``) it runs on the host: the same bits on
    TensorFlow, where a shape's later dreams run as one call."""
    from dreamfx.api import make_dreamer
    from dreamfx.engine import ascent

    monkeypatch.setattr(ascent, "PIECE_SECONDS", 30.0)  # "short" whatever the machine's load
    dreamer = make_dreamer(preset, {"steps": 3, "rounds": 2})
    photo, target = _photos()
    weight = np.linspace(0.0, 0.9, photo.size, dtype=np.float32).reshape(photo.shape)
    toward = [Toward(target, weight), Toward(photo[::-1], weight[::-1])]
    dreams = [dreamer.dream_batch([photo, target], toward=toward) for _ in range(4)]
    streamed = dreamer.dream_batch([photo, target], toward=toward, stream=True)
    assert len(dreamer._whole) == (1 if dreamer.backend == "tensorflow" and dreamer._whole.enabled else 0)
    for whole, rounds in zip(dreams[-1], streamed):
        assert np.array_equal(whole.image, rounds.image) if dreamer.backend == "tensorflow" \
            else np.abs(whole.image - rounds.image).max() <= 1e-6
