"""Guide images (issue 28, item 2): the ``guide`` objective grows a photo towards a guide's
features. A handwritten digit from the shipped MNIST sample is the guide; the photos are
generated here from seeds no other test uses."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from PIL import Image

from dreamfx.errors import SettingsError

from .conftest import ROOT
from .test_masks import _photo


def _digit(path, label: int, which: int = 0) -> np.ndarray:
    """A real MNIST digit (tests/data/mnist_200.csv.gz: 784 pixels, then the label) as a PNG."""
    rows = gzip.open(ROOT / "tests" / "data" / "mnist_200.csv.gz", "rt").read().split()
    digits = [row.split(",") for row in rows if row.split(",")[-1] == str(label)]
    pixels = np.array(digits[which][:-1], np.uint8).reshape(28, 28)
    Image.fromarray(pixels).save(path)
    return pixels / 255.0


def _network():
    import keras

    model = keras.saving.load_model(ROOT / "plugins" / "dreamfx_mnist" / "mnist_cnn.keras")
    return (keras.Model(model.inputs, model.get_layer("logits").output),
            keras.Model(model.inputs, model.get_layer("conv3").output))


def _seen(image) -> np.ndarray:
    """A photo as the network sees it (the default preset's view: shrunk to 28x28)."""
    small = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).resize((28, 28), Image.Resampling.BOX)
    return (np.asarray(small, np.float32) / 255)[None, :, :, None]


@pytest.mark.parametrize("seed, label", [(21, 3), (22, 7), (23, 2)])
def test_a_digit_guide_pulls_the_dream_towards_that_digit(tmp_path, seed, label):
    import dreamfx

    photo = _photo(tmp_path / "p.png", seed)
    guide = _digit(tmp_path / "guide.png", label, which=seed % 7)
    guided = dreamfx.dream(str(tmp_path / "p.png"), objective="guide", objective__image=str(tmp_path / "guide.png"))
    whole = dreamfx.dream(str(tmp_path / "p.png"), objective="whole-layer", objective__layer="conv3")
    logits, conv3 = _network()

    def rise(result):
        return float(logits(_seen(result.image))[0, label]) - float(logits(_seen(photo))[0, label])

    target = np.asarray(conv3(guide[None, :, :, None].astype(np.float32))).ravel()

    def likeness(result):
        features = np.asarray(conv3(_seen(result.image))).ravel()
        return float(features @ target / (np.linalg.norm(features) * np.linalg.norm(target) + 1e-12))

    assert rise(guided) > rise(whole), (rise(guided), rise(whole))
    assert likeness(guided) > likeness(whole), (likeness(guided), likeness(whole))
    assert guided.objective == "conv3 guided by guide.png"


def test_the_guide_is_read_once_per_run_not_per_image(tmp_path, monkeypatch):
    """Built once with the dreamer: a folder of photos reads the guide one time."""
    import dreamfx_objectives.guide as guide_module  # the module the host's plugin loads

    from dreamfx.api import make_dreamer

    _digit(tmp_path / "g.png", 5)
    calls = []
    real = guide_module.guide_image
    monkeypatch.setattr(guide_module, "guide_image", lambda *a: calls.append(a) or real(*a))
    dreamer = make_dreamer("single-map", {"objective": "guide", "objective__image": str(tmp_path / "g.png"), "steps": 1,
                                          "rounds": 1})
    photos = [np.asarray(_photo(tmp_path / f"{i}.png", 30 + i, size=(40, 30)), np.float32) for i in range(3)]
    dreamer.dream_batch(photos)
    dreamer.dream_batch(photos[:1])
    assert len(calls) == 1


@pytest.mark.parametrize("params, words", [
    ({}, "objective.image is required"),
    ({"objective__image": "missing.png"}, "does not exist"),
    ({"objective__image": "GUIDE", "objective__layer": "logits"}, "unknown layer 'logits'"),
])
def test_a_bad_guide_is_named(tmp_path, params, words):
    from dreamfx.api import make_dreamer

    _digit(tmp_path / "guide.png", 1)
    Image.new("L", (28, 28), 0).save(tmp_path / "black.png")
    params = {k: str(tmp_path / {"GUIDE": "guide.png", "BLACK": "black.png"}.get(v, v)) if k == "objective__image" else v
              for k, v in params.items()}
    with pytest.raises(Exception) as caught:
        make_dreamer("single-map", {"objective": "guide", **params})
    assert words in str(caught.value)
    assert isinstance(caught.value, SettingsError) or "guide" in str(caught.value)


def test_the_cli_dreams_with_a_guide(cli, tmp_path):
    _photo(tmp_path / "p.png", 24, size=(64, 48))
    _digit(tmp_path / "four.png", 4)
    run = cli("run", tmp_path / "p.png", "-o", tmp_path / "o.png", "--set", "objective=guide",
              "--set", f"objective.image={tmp_path / 'four.png'}", "--set", "optimizer.steps=4")
    assert run.returncode == 0, run.stderr
