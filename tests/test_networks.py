"""The shipped networks: the article's 128-map `mnist-cnn`, the earlier 64-map network kept
as `mnist-cnn-64`, and which network every output records (name and SHA-256), so `--from`
and resume never mix the two."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import FAST

DATA = Path(__file__).parent / "data" / "before-128"
#: an output `dreamfx run` wrote before mnist-cnn had 128 maps (dreamfx at commit 7a3e54b:
#: `dreamfx run chelsea90.png --set optimizer.steps=8 --set loop.rounds=2`), and its input
OLD_OUTPUT = DATA / "chelsea90-dream.png"
OLD_INPUT = DATA / "chelsea90.png"
#: the file the 64-map network shipped in as mnist_cnn.keras (docs/model-card.md, before)
SHA_64 = "058547aeeffa79904985f6a0bcf90d78452cdef444795fa60edab3db9fc4d588"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _meta(cli, path: Path) -> dict:
    info = cli("info", path)
    assert info.returncode == 0, info.stderr
    return json.loads(info.stdout)


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.int16)


def test_mnist_cnn_has_the_articles_128_maps_and_mnist_cnn_64_is_the_earlier_network(host) -> None:
    from dreamfx_mnist import MODEL_64_FILE, MODEL_FILE

    conv3 = {}
    for name in ("mnist-cnn", "mnist-cnn-64"):
        model = host.registries["models"].get(name).build()
        conv3[name] = model.get_layer("conv3").output.shape[-1]
        assert tuple(model.input_shape) == (None, 28, 28, 1) and tuple(model.output_shape) == (None, 10)
    assert conv3 == {"mnist-cnn": 128, "mnist-cnn-64": 64}
    assert _sha(MODEL_64_FILE) == SHA_64  # the very file outputs before the change were dreamed with
    assert _sha(MODEL_FILE) != SHA_64


def test_every_output_records_the_network_that_dreamed_it(tmp_path, cli) -> None:
    """Name and SHA-256 of the model file, for the shipped networks and a user's file alike."""
    from dreamfx_mnist import MODEL_64_FILE, MODEL_FILE

    source = OLD_INPUT
    mine = tmp_path / "mine.keras"
    shutil.copyfile(MODEL_64_FILE, mine)
    cases = {"new.png": ([], {"name": "mnist-cnn", "sha256": _sha(MODEL_FILE)}),
             "old.png": (["--set", "model=mnist-cnn-64"], {"name": "mnist-cnn-64", "sha256": SHA_64}),
             "mine.png": (["--set", "model=keras-file", "--set", f"model.path={mine}"],
                          {"name": "keras-file", "sha256": SHA_64})}
    for name, (extra, expected) in cases.items():
        run = cli("run", source, "-o", tmp_path / name, *FAST, *extra)
        assert run.returncode == 0, run.stderr
        assert _meta(cli, tmp_path / name)["model"] == expected, name
    # the network is part of the settings hash: the same settings with another network differ
    hashes = {_meta(cli, tmp_path / n)["settings_hash"] for n in ("old.png", "mine.png")}
    assert len(hashes) == 2


def test_from_an_output_made_before_the_change_dreams_with_the_64_map_network(tmp_path, cli) -> None:
    """An output naming `mnist-cnn` without a digest was dreamed by the 64-map network:
    `--from` says so, uses `mnist-cnn-64`, and gives that output's dream again."""
    old = _meta(cli, OLD_OUTPUT)
    assert "model" not in old and old["settings"]["model"] == {"name": "mnist-cnn"}  # as written then
    again = cli("run", OLD_INPUT, "--from", OLD_OUTPUT, "-o", tmp_path / "again.png")
    assert again.returncode == 0, again.stderr
    assert "was dreamed with mnist-cnn before that network had 128 maps; using mnist-cnn-64" in \
        " ".join(again.stderr.split())
    assert _meta(cli, tmp_path / "again.png")["model"] == {"name": "mnist-cnn-64", "sha256": SHA_64}
    # the same settings named the long way: the same bits, on any machine (one machine, one run each)
    steps = ("--set", "optimizer.steps=8", "--set", "loop.rounds=2", "--set", "objective.map=56")  # its map then
    named = cli("run", OLD_INPUT, "-o", tmp_path / "named.png", "--set", "model=mnist-cnn-64", *steps)
    assert named.returncode == 0, named.stderr
    assert np.array_equal(_pixels(tmp_path / "again.png"), _pixels(tmp_path / "named.png"))
    # and the dream of the stored output: on the machine that wrote it the same bits; on another
    # CPU sums are reordered, so compare the dream (the change from the input), not the bits
    source, stored, repeated = _pixels(OLD_INPUT), _pixels(OLD_OUTPUT), _pixels(tmp_path / "again.png")
    change_then, change_now = (stored - source).ravel(), (repeated - source).ravel()
    assert np.abs(change_then).mean() > 5  # a real dream, not a copy of the input
    assert np.corrcoef(change_then, change_now)[0, 1] > 0.99
    assert np.abs(repeated - stored).mean() < 0.02 * np.abs(change_then).mean()
    # the 128-map network dreams something else
    new = cli("run", OLD_INPUT, "-o", tmp_path / "new.png", *steps)
    assert new.returncode == 0, new.stderr
    assert np.abs(_pixels(tmp_path / "new.png") - stored).mean() > 0.2 * np.abs(change_then).mean()


def test_an_explicit_model_wins_over_the_old_output_rule(tmp_path, cli) -> None:
    run = cli("run", OLD_INPUT, "--from", OLD_OUTPUT, "--set", "model=mnist-cnn", "-o", tmp_path / "o.png", *FAST)
    assert run.returncode == 0, run.stderr
    assert _meta(cli, tmp_path / "o.png")["model"]["name"] == "mnist-cnn"


def test_a_rerun_dreams_again_what_another_network_dreamed(tmp_path, cli) -> None:
    """A folder rerun skips outputs that are up to date; one dreamed by a model file that has
    changed since (retrained in place) is not up to date: the rerun dreams it again, and
    `--from` on it says the dream will differ."""
    from dreamfx_mnist import MODEL_64_FILE, MODEL_FILE

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(OLD_INPUT, folder / "a.png")
    mine = tmp_path / "mine.keras"
    shutil.copyfile(MODEL_64_FILE, mine)
    argv = ("run", folder, "-o", tmp_path / "out", *FAST, "--set", "model=keras-file",
            "--set", f"model.path={mine}", "--set", "objective=whole-layer")
    first = cli(*argv)
    assert first.returncode == 0, first.stderr
    output = tmp_path / "out" / "a.png"
    assert _meta(cli, output)["model"]["sha256"] == SHA_64
    same = cli(*argv)
    assert json.loads((tmp_path / "out" / "report.json").read_text())["files"][0]["status"] == "skipped", same.stdout
    shutil.copyfile(MODEL_FILE, mine)  # the user retrains into the same file
    second = cli(*argv)
    assert second.returncode == 0, second.stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text())["files"][0]["status"] == "done"
    assert _meta(cli, output)["model"]["sha256"] == _sha(MODEL_FILE)
    shutil.copyfile(MODEL_64_FILE, mine)
    warned = cli("run", folder / "a.png", "--from", output, "-o", tmp_path / "w.png")
    assert warned.returncode == 0, warned.stderr
    assert f"it was dreamed with model keras-file of SHA-256 {_sha(MODEL_FILE)[:12]}..., which is now " \
           f"{SHA_64[:12]}...: the dream will differ" in " ".join(warned.stderr.split())


@pytest.mark.parametrize("name", ["mnist-cnn", "mnist-cnn-64"])
def test_the_shipped_networks_are_listed(cli, name) -> None:
    out = cli("plugins", env={"COLUMNS": "200"})
    assert out.returncode == 0 and name in out.stdout.split(), out.stdout


def test_the_model_card_quotes_the_shipped_files():
    """docs/model-card.md's SHA-256, size and parameter count are the shipped file's, its layer
    table has conv3's 128 maps, and the mnist-cnn-64 section names the kept file's digest."""
    import re

    import keras

    from dreamfx_mnist import MODEL_64_FILE, MODEL_FILE

    from .conftest import ROOT

    card = (ROOT / "docs" / "model-card.md").read_text()
    assert f"| SHA-256 | `{_sha(MODEL_FILE)}` |" in card
    assert f"| Size | {MODEL_FILE.stat().st_size:,} bytes |" in card
    model = keras.saving.load_model(MODEL_FILE, safe_mode=True)
    assert f"| Parameters | {model.count_params():,} |" in card
    assert model.get_layer("conv3").output.shape[-1] == 128
    assert re.search(r"\| `conv3` \| Conv2D 128, 3x3, ReLU \| \(None, 3, 3, 128\) \| 73,856 \|", card)
    assert _sha(MODEL_64_FILE) == SHA_64 and SHA_64 in card.split("## The earlier network")[1]
