"""`dreamfx train` writes to the user's data folder, never the shipped model; `dreamfx layers`
suggests a layer and map that exist in the model it lists (and, for the built-in model, one
that responds to the bundled photo)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

from .conftest import CHELSEA, DIGITS, CliResult, photo, run_cli

#: Wide enough that rich prints each hint on one line.
WIDE = {"COLUMNS": "200"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, CliResult]:
    """One short training run (2 epochs on the 200 repository digits) with XDG_DATA_HOME in a tmp
    folder, in this process (6-10 s on a 2-core CPU: the tests that use it are slow)."""
    from dreamfx_mnist import MODEL_FILE

    data_home = tmp_path_factory.mktemp("xdg")
    shipped = _sha(MODEL_FILE)
    out = run_cli("train", "--data", DIGITS, "--epochs", "2", "--holdout", "5",
                  env={**WIDE, "XDG_DATA_HOME": str(data_home)})
    assert out.returncode == 0, out.stderr
    assert _sha(MODEL_FILE) == shipped, "dreamfx train changed the shipped model"
    return data_home / "dreamfx" / "mnist_cnn.keras", out


@pytest.mark.slow  # the training run (its fixture) takes 6-10 s
def test_train_writes_to_the_user_data_folder(trained):
    path, out = trained
    assert path.is_file()
    text = " ".join(out.stdout.split())
    assert f"wrote {path}" in text
    assert "on 50 digits (trained on 150, 2 epochs, seed 0)" in text
    assert f"--set model=keras-file --set model.path={path}" in text


def test_train_default_follows_xdg_and_home(monkeypatch, tmp_path):
    from dreamfx_mnist import MODEL_FILE, user_model_file

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert user_model_file() == tmp_path / "dreamfx" / "mnist_cnn.keras"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if sys.platform.startswith("linux"):
        assert user_model_file() == tmp_path / "home" / ".local" / "share" / "dreamfx" / "mnist_cnn.keras"
    assert user_model_file() != MODEL_FILE


@pytest.mark.slow  # needs the training run
def test_retrained_model_dreams_as_the_model_card_says(trained, tmp_path, cli):
    path, _ = trained
    layers = cli("layers", "--model", "keras-file", "--set", f"model.path={path}", env=WIDE)
    assert layers.returncode == 0, layers.stderr
    hint = re.search(r"dreamfx run photo\.jpg (.*?--set objective\.map=(\d+))", " ".join(layers.stdout.split()))
    assert hint and "--set objective.layer=conv3" in hint.group(1), layers.stdout
    source = photo(tmp_path / "photo.png", size=(90, 60))
    run = cli("run", source, *hint.group(1).split(), "-o", tmp_path / "d.png")
    assert run.returncode == 0, run.stderr
    model = json.loads(cli("info", tmp_path / "d.png").stdout)["settings"]["model"]
    assert model == {"name": "keras-file", "path": str(path)}


def test_layers_suggests_a_map_that_responds_on_the_bundled_photo(cli):
    out = cli("layers", env=WIDE)
    assert out.returncode == 0, out.stderr
    hint = re.search(r"--set objective\.layer=(\w+) --set objective\.map=(\d+)", out.stdout)
    assert hint and hint.group(1) == "conv3", out.stdout
    from dreamfx.api import as_gray_array, make_dreamer
    from dreamfx.cli import SAMPLE_IMAGE

    result = make_dreamer("single-map", {"objective__map": int(hint.group(2)), "steps": 5, "rounds": 1})(
        as_gray_array(SAMPLE_IMAGE))
    assert result.score_before > 0 and result.score_after > result.score_before


def test_layers_suggests_a_layer_the_user_model_has(tmp_path, cli):
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="first")(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="edges")(x)
    x = keras.layers.Flatten(name="flat")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
    path = tmp_path / "mine.keras"
    model.save(path)
    out = cli("layers", "--model", "keras-file", "--set", f"model.path={path}", env=WIDE)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert f"--set model=keras-file --set model.path={path} --set objective.layer=edges" in text
    assert "conv2" not in text and "conv3" not in text


def test_a_silent_dream_says_so_and_names_a_map_that_responds(tmp_path, cli):
    """conv3 map 12 is zero on every sample photo: the summary says nothing changed, in one
    note, and names a map that does respond to this photo (which then dreams)."""
    from PIL import Image

    cat = tmp_path / "cat.png"
    with Image.open(CHELSEA) as img:
        img.resize((150, 100)).save(cat)
    out = cli("run", cat, "--set", "objective.map=12", "-o", tmp_path / "silent.png", env=WIDE)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "0 -> 0" in text and text.count("note ") == 1 and "is silent on this image" in text
    hint = re.search(r"try --set objective\.map=auto, or (--set objective\.map=(\d+)) \(the map of conv3 that "
                     r"responds most to it\)", text)
    assert hint and hint.group(2) != "12", text
    again = cli("run", cat, *hint.group(1).split(), "-o", tmp_path / "loud.png", env=WIDE)
    assert again.returncode == 0, again.stderr
    before, after = (float(x) for x in re.search(r"objective value\s+(\S+) -> (\S+)", again.stdout).groups())
    assert 0 < before < after
