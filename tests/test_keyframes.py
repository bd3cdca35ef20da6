"""Map keyframes (issue 28, item 4): ``dreamfx zoom --maps ... --every N`` moves the objective
from map to map, crossfading between keys; the ``keyframes`` objective's weights."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dreamfx.errors import SettingsError
from dreamfx.io.provenance import read_metadata
from dreamfx.runs.keys import keyframe_settings

from .test_masks import _photo

QUICK = ("--set", "optimizer.steps=3", "--set", "loop.rounds=1")


def test_the_weights_crossfade_between_keys():
    from dreamfx_objectives.keyframes import key_weights

    keys = [(5, 2), (9, 6), (1, 8)]
    assert key_weights(keys, 10, 0)[5] == 1.0 and key_weights(keys, 10, 2)[5] == 1.0  # held before the first key
    middle = key_weights(keys, 10, 4)
    assert middle[5] == middle[9] == 0.5 and middle.sum() == 1.0
    quarter = key_weights(keys, 10, 7)
    assert (quarter[9], quarter[1]) == (0.5, 0.5)
    assert key_weights(keys, 10, 50)[1] == 1.0  # held after the last
    for frame in range(12):
        assert abs(key_weights(keys, 10, frame).sum() - 1.0) < 1e-6


@pytest.mark.parametrize("maps, every, expected", [
    ("56,33,28", 24, [[56, 0], [33, 24], [28, 48]]),
    ("56@0, 33@10", None, [[56, 0], [33, 10]]),
])
def test_maps_and_every_are_the_keyframes_settings(maps, every, expected):
    assert keyframe_settings(maps, every) == [("objective", "keyframes"), ("objective.keys", expected)]


@pytest.mark.parametrize("maps, every, words", [
    (None, 4, "--every needs --maps"),
    ("56,33", None, "needs --every N"),
    ("56@0,33", None, "every map a frame"),
    ("56@0,33@9", 3, "leave out --every"),
    ("a,b", 2, "give map numbers"),
])
def test_bad_keyframes_are_named(maps, every, words):
    with pytest.raises(SettingsError, match=words):
        keyframe_settings(maps, every)


def test_a_zoom_tours_the_maps(cli, tmp_path):
    _photo(tmp_path / "p.png", 911, size=(48, 36))
    out = tmp_path / "tour"
    run = cli("zoom", tmp_path / "p.png", "--frames", 7, "--maps", "19,56", "--every", 4, "-o", f"{out}/", *QUICK)
    assert run.returncode == 0, run.stderr
    shown = [read_metadata(out / f"frame_{i:05d}.png")["objective"] for i in range(7)]
    assert shown[0] == "conv3 map 19" and shown[2] == "conv3 maps 19 (50%) + 56 (50%)"
    assert shown[4] == shown[6] == "conv3 map 56"
    # at a key, the dream is the single map's own (the same bits: a one-hot weighting)
    single = tmp_path / "single"
    cli("zoom", tmp_path / "p.png", "--frames", 1, "--set", "objective.map=19", "-o", f"{single}/", *QUICK)
    first = [np.asarray(Image.open(p / "frame_00000.png"), np.float32) for p in (out, single)]
    assert np.array_equal(*first)


def test_set_tunes_the_keyframes_objective(cli, tmp_path):
    """--maps chooses the objective first, so --set objective.layer applies to it."""
    _photo(tmp_path / "p.png", 912, size=(32, 24))
    run = cli("zoom", tmp_path / "p.png", "--frames", 2, "--maps", "3@0,7@1", "--set", "objective.layer=conv2",
              "-o", f"{tmp_path / 'o'}/", *QUICK)
    assert run.returncode == 0, run.stderr
    assert read_metadata(tmp_path / "o" / "frame_00001.png")["objective"] == "conv2 map 7"
    cli("zoom", tmp_path / "p.png", "--frames", 2, "--maps", "300@0", "-o", f"{tmp_path / 'x'}/").one_line_error(
        2, "map 300")


def test_a_video_tours_the_maps(cli, tmp_path):
    """``dreamfx video --maps``: each frame of every shot dreams its own frame's crossfade,
    side by side in one batch."""
    folder = tmp_path / "clip"
    folder.mkdir()
    base = _photo(tmp_path / "base.png", 913, size=(56, 36))
    for i in range(5):  # a slow pan over the photo
        Image.fromarray((base[:, i:i + 48] * 255).round().astype(np.uint8)).save(folder / f"f{i}.png")
    run = cli("video", folder, "--maps", "19@0,56@4", "-o", f"{tmp_path / 'out'}/", *QUICK)
    assert run.returncode == 0, run.stderr
    shown = [read_metadata(tmp_path / "out" / f"frame_{i:05d}.png")["objective"] for i in range(5)]
    assert shown == ["conv3 map 19", "conv3 maps 19 (75%) + 56 (25%)", "conv3 maps 19 (50%) + 56 (50%)",
                     "conv3 maps 19 (25%) + 56 (75%)", "conv3 map 56"]
