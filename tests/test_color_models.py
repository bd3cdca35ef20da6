"""Models with three input channels dream the photo's colours and write colour images
(issue 11, item 5)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dreamfx.io.images import Picture, compose, load_picture

from .conftest import CHELSEA, FAST_OVERRIDES, warm_dreamer


@pytest.fixture(scope="module")
def colour_model(tmp_path_factory):
    """A tiny 32x32x3 convolutional model with random weights, saved as .keras."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 3), name="rgb")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c2")(x)
    path = tmp_path_factory.mktemp("model") / "tiny_rgb.keras"
    keras.Model(inputs, x, name="tiny_rgb").save(path)
    return path


def _colour_dreamer(model_path, steps=4):
    """The session's dreamer of the colour model's c2 (``steps`` steps, 2 rounds)."""
    return warm_dreamer("single-map", model="keras-file", model__path=str(model_path), objective="whole-layer",
                        objective__layer="c2", steps=steps, rounds=2)


@pytest.fixture(scope="module")
def photo_rgb():
    with Image.open(CHELSEA) as img:
        return np.asarray(img.convert("RGB").resize((64, 48)), np.float32) / 255.0


def _channels_differ(image):
    return float(np.abs(image[..., 0] - image[..., 1]).max() + np.abs(image[..., 1] - image[..., 2]).max())


def test_colour_model_dreams_rgb_and_the_objective_rises(colour_model, photo_rgb):
    dreamer = _colour_dreamer(colour_model)
    assert dreamer.channels == 3
    result = dreamer(photo_rgb)
    assert result.problem is None
    assert result.image.shape == (48, 64, 3) and result.dream.shape == (48, 64, 3) and result.detail.shape == (48, 64, 3)
    assert result.pattern.shape == (32, 32, 3) and result.contrast.shape == (48, 64, 3)
    assert result.score_after > 1.2 * result.score_before > 0
    changed = result.image - photo_rgb
    assert np.abs(changed).mean() > 0.005  # it dreamed
    # each channel is dreamed on its own: the changes differ between channels
    assert _channels_differ(changed) > 0.05
    # the photo's colours are what is dreamed: with zero steps the dream is the RGB photo itself
    still = _colour_dreamer(colour_model, steps=0)(photo_rgb)
    np.testing.assert_allclose(still.image, photo_rgb, atol=1e-5)


def test_gray_input_to_a_colour_model_is_repeated_and_comes_back_in_colour(colour_model, small_photo):
    dreamer = _colour_dreamer(colour_model)
    gray = small_photo[:48, :64]
    result = dreamer(gray)
    assert result.image.shape == (48, 64, 3)
    assert _channels_differ(result.image) > 0.05
    same = dreamer(np.repeat(gray[..., None], 3, axis=-1))
    np.testing.assert_array_equal(result.image, same.image)


def test_gray_model_takes_rgb_as_luma(photo_rgb):
    dreamer = warm_dreamer("single-map", **FAST_OVERRIDES)
    luma = photo_rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    from_rgb, from_luma = dreamer(photo_rgb), dreamer(luma)
    assert from_rgb.image.shape == (48, 64)
    np.testing.assert_allclose(from_rgb.image, from_luma.image, atol=1e-6)
    with pytest.raises(ValueError, match="cannot feed 2-channel images"):
        dreamer(np.zeros((48, 64, 2), np.float32))


def test_compose_writes_rgb_for_a_colour_dream_and_keeps_alpha():
    rgb = np.random.default_rng(0).random((10, 12, 3)).astype(np.float32)
    alpha = np.linspace(0, 1, 120, dtype=np.float32).reshape(10, 12)
    picture = Picture(rgb.mean(axis=-1), rgb, alpha)
    out = compose(picture, rgb, color="gray")
    assert out.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(out), (rgb * 255 + 0.5).astype(np.uint8))
    assert compose(picture, rgb, color="luma").tobytes() == out.tobytes()  # --color is for 1-channel models
    with_alpha = compose(picture, rgb, keep_alpha=True)
    assert with_alpha.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(with_alpha)[..., 3], (alpha * 255 + 0.5).astype(np.uint8))
    assert compose(picture, rgb[..., 0]).mode == "L"  # a gray dream stays gray


def _model_args(model_path):
    return ["--set", "model=keras-file", "--set", f"model.path={model_path}", "--set", "objective=whole-layer",
            "--set", "objective.layer=c2", "--set", "optimizer.steps=4", "--set", "loop.rounds=2"]


def test_cli_single_colour_run_with_alpha_and_panel(colour_model, photo_rgb, tmp_path, cli):
    source = tmp_path / "in.png"
    alpha = np.full(photo_rgb.shape[:2], 200, np.uint8)
    Image.fromarray(np.dstack([(photo_rgb * 255).astype(np.uint8), alpha]), "RGBA").save(source)
    out, panel = tmp_path / "out.png", tmp_path / "panel.png"
    run = cli("run", source, "-o", out, "--keep-alpha", "--panel", panel, "-q", *_model_args(colour_model))
    assert run.returncode == 0, run.stderr
    assert run.written == [out, panel]
    with Image.open(out) as img:
        assert img.mode == "RGBA" and img.size == (64, 48)
        pixels = np.asarray(img)
    assert (pixels[..., 3] == 200).all()
    assert _channels_differ(pixels[..., :3].astype(np.float32) / 255) > 0.05
    with Image.open(panel) as img:
        assert img.mode == "RGB" and img.width > 3 * img.height


def test_cli_folder_with_gray_and_colour_images_of_one_size(colour_model, photo_rgb, small_photo, tmp_path, cli):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    Image.fromarray((photo_rgb * 255).astype(np.uint8), "RGB").save(folder / "colour.png")
    Image.fromarray((small_photo[:48, :64] * 255).astype(np.uint8), "L").save(folder / "gray.png")
    run = cli("run", folder, "-o", out, "-q", *_model_args(colour_model))
    assert run.returncode == 0, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["done"] == 2
    for name in ("colour.png", "gray.png"):
        picture = load_picture(out / name)
        assert picture.rgb is not None and _channels_differ(picture.rgb) > 0.05


def test_api_dream_with_a_colour_model(colour_model, photo_rgb):
    import dreamfx

    result = dreamfx.dream(photo_rgb, "single-map", model="keras-file", model__path=str(colour_model),
                           objective="whole-layer", objective__layer="c2", steps=3, rounds=1)
    assert result.image.shape == (48, 64, 3)
    assert result.to_pil().mode == "RGB" and result.to_pil("pattern").size == (32, 32)
    assert result.panel(64).mode == "RGB"
