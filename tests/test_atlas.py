"""Issue #15: the map atlas (one batch, a map per copy of the photo), `oip --all`, and warm
`dreamfx.dream()` calls that reuse their Dreamer with the map fed at run time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamfx.errors import SettingsError
from dreamfx.runs.atlas import AtlasEntry, groups, parse_maps

from .conftest import ROOT, SAMPLE, warm_dreamer
from .conftest import photo as write_photo


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """An 84x56 gray photo."""
    return write_photo(tmp_path / "photo.png", (84, 56), mode="L")


def gray(path: Path) -> np.ndarray:
    from dreamfx.api import as_gray_array

    return as_gray_array(path)


# -- fast: parsing, grouping, entries -----------------------------------------------------------


def test_parse_maps_ranges_lists_and_all():
    assert parse_maps("0-3,7,2", 64) == [0, 1, 2, 3, 7]
    assert parse_maps(None, 4) == [0, 1, 2, 3]
    assert parse_maps("all", 3) == [0, 1, 2]
    assert parse_maps([5, 5, 1], 10) == [5, 1]


@pytest.mark.parametrize("text, why", [("64", "does not exist"), ("3-1", "indices and ranges"), ("a", "indices"),
                                       ("", "indices"), ("-1", "indices"), ("0-5000", "at most")])
def test_parse_maps_refuses_what_is_not_a_map(text, why):
    with pytest.raises(SettingsError, match=why):
        parse_maps(text, 64)


def test_groups_fit_the_budget_and_cover_every_copy():
    assert groups(64, 240_000, 24_000_000) == [range(0, 64)]
    parts = groups(10, 12_000_000, 24_000_000)
    assert [len(p) for p in parts] == [2] * 5
    assert groups(3, 10**9, 24_000_000) == [range(0, 1), range(1, 2), range(2, 3)]  # one copy always fits


def test_entries_silent_woken_and_gain():
    image = np.zeros((2, 2), np.float32)
    assert AtlasEntry(1, 0.0, 0.0, image).silent and AtlasEntry(1, 0.0, 0.0, image).gain is None
    woke = AtlasEntry(2, 0.0, 3.0, image)
    assert not woke.silent and woke.gain is None and woke.as_dict()["gain"] is None
    assert AtlasEntry(3, 0.5, 2.0, image).gain == 4.0
    assert not AtlasEntry(4, -2.0, 1.0, image).silent  # a logit below zero is not a silent map


def test_score_each_equals_score_bit_for_bit():
    """The one-hot choice gives the same values as the objective built with that map/unit."""
    import keras

    from dreamfx.kinds.objectives import ModelInfo
    from dreamfx_objectives.dense import ClassUnit
    from dreamfx_objectives.maps import SingleMap

    info = ModelInfo("m", (28, 28, 1), {"conv3": (3, 3, 8), "logits": (10,)})
    rng = np.random.default_rng(0)
    acts = {"conv3": keras.ops.convert_to_tensor(np.maximum(rng.normal(size=(5, 3, 3, 8)), 0).astype(np.float32)),
            "logits": keras.ops.convert_to_tensor(rng.normal(size=(5, 10)).astype(np.float32))}
    choices = np.array([0, 7, 3, 3, 5], np.int32)
    each = np.asarray(SingleMap(info, "conv3", 0).score_each(acts, keras.ops.convert_to_tensor(choices)))
    alone = [np.asarray(SingleMap(info, "conv3", int(k)).score(acts))[i] for i, k in enumerate(choices)]
    assert each.tolist() == alone
    each = np.asarray(ClassUnit(info, 0, "logits").score_each(acts, keras.ops.convert_to_tensor(choices)))
    alone = [np.asarray(ClassUnit(info, int(k), "logits").score(acts))[i] for i, k in enumerate(choices)]
    assert each.tolist() == alone


def test_an_objective_without_a_choice_is_refused_clearly(photo):
    dreamer = warm_dreamer("single-map", objective="whole-layer")
    with pytest.raises(SettingsError, match="cannot be dreamed for several maps"):
        dreamer.dream_batch([gray(photo)], choices=[3])
    from dreamfx.runs.atlas import make_atlas

    with pytest.raises(SettingsError, match="atlas needs single-map"):
        make_atlas(dreamer, gray(photo))


# -- a batch of maps equals the single dreams -----------------------------------------------------


@pytest.mark.parametrize("preset", ["single-map", "tiling", "hybrid"])
def test_choices_in_one_batch_equal_dreams_built_with_each_map(photo, preset):
    """Every copy of the batch, with its own map, is the dream of the settings with that map
    (fed at run time instead of traced in: the same bits alone, and batched within 2/255;
    batches of one image are compared bit for bit)."""
    image = gray(photo)
    maps = [33, 28, 12]
    shared = warm_dreamer(preset, map=56, steps=5, rounds=2)
    batch = shared.dream_batch([image] * 3, choices=maps)
    for k, result in zip(maps, batch):
        own = warm_dreamer(preset, map=k, steps=5, rounds=2)
        alone = own(image)
        assert np.abs(result.image - alone.image).max() <= 2 / 255, (preset, k)
        assert result.score_before == pytest.approx(alone.score_before, rel=1e-6, abs=1e-7)
        assert result.settings == own.settings and result.objective == f"conv3 map {k}"
        single = shared.dream_batch([image], choices=[k])[0]
        assert np.array_equal(single.image, alone.image), (preset, k)


def test_atlas_tile_equals_dreamfx_run_of_that_map(photo, tmp_path, cli):
    """The lead's invariant: the atlas tile of map k is `dreamfx run --set objective.map=k`."""
    import dreamfx
    from dreamfx.io.images import to_uint8

    atlas = dreamfx.atlas(photo, maps="33,28,56")
    assert [e.map for e in atlas.entries] == [33, 28, 56]
    for entry in atlas.entries:
        out = tmp_path / f"run-{entry.map}.png"
        assert cli("run", photo, "--set", f"objective.map={entry.map}", "-o", out, "-q").returncode == 0
        with Image.open(out) as img:
            written = np.asarray(img.convert("L"), np.int16)
        assert np.abs(to_uint8(entry.image).astype(np.int16) - written).max() <= 2, entry.map
    assert atlas.scores[0]["map"] == 33 and atlas.scores[0]["score_after"] > atlas.scores[0]["score_before"] > 0
    sheet = atlas.sheet(sort="gain")
    assert sheet.mode == "RGB" and sheet.width >= 480


def test_atlas_of_dense_units(photo):
    """Units of the logits layer, through the class objective."""
    import dreamfx

    atlas = dreamfx.atlas(photo, objective="class", layer="logits", maps="0-2", steps=3, rounds=1)
    assert atlas.layer == "logits" and atlas.selectable == "unit"
    assert [e.map for e in atlas.entries] == [0, 1, 2]
    assert all(e.score_after > e.score_before for e in atlas.entries)


# -- warm dreams ----------------------------------------------------------------------------------


def test_warm_dreams_reuse_the_dreamer_and_its_compiled_step(photo):
    import dreamfx
    from dreamfx import api

    api.forget_warm()
    first = dreamfx.dream(photo, "single-map", map=19, steps=4, rounds=2)
    assert len(api._WARM) == 1
    dreamer = api._WARM.values()[0]
    models = (dreamer.model, dreamer.features, dreamer.ascent)
    second = dreamfx.dream(photo, "single-map", map=29, steps=4, rounds=2)
    third = dreamfx.dream(photo, "single-map", map=100, steps=4, rounds=2)
    fourth = dreamfx.dream(photo, "single-map", map=10, steps=4, rounds=2)
    assert len(api._WARM) == 1 and api._WARM.values()[0] is dreamer
    assert (dreamer.model, dreamer.features, dreamer.ascent) == models
    fresh = warm_dreamer("single-map", map=29, steps=4, rounds=2)(gray(photo))  # a dreamer built with map 29
    assert np.array_equal(second.image, fresh.image)
    assert second.settings.objective.params["map"] == 29 and second.objective == "conv3 map 29"
    assert first.settings.objective.params["map"] == 19 and third.objective == "conv3 map 100"
    assert fourth.score_after > 0
    dreamfx.dream(photo, "single-map", map=29, steps=5, rounds=2)  # other settings: another dreamer
    assert len(api._WARM) == 2


def test_warm_dreams_do_not_retrace_for_another_map(photo):
    import dreamfx
    from dreamfx import api

    api.forget_warm()
    dreamfx.dream(photo, "single-map", map=56, steps=3, rounds=1)
    dreamfx.dream(photo, "single-map", map=33, steps=3, rounds=1)  # first run-time choice: traces once
    dreamer = api._WARM.values()[0]
    traces = dreamer.ascent.traces()
    for k in (28, 60, 7):
        dreamfx.dream(photo, "single-map", map=k, steps=3, rounds=1)
    assert dreamer.ascent.traces() == traces


def test_warm_dreams_decode_a_photo_once_and_a_changed_file_again(photo, tmp_path):
    """dream(path) keeps the last decoded photos by the SHA-256 of the file's bytes: the same
    bytes are decoded once (read-only arrays, so nothing a caller does changes a later
    call), new bytes under the same name are decoded again."""
    import shutil

    import dreamfx
    from dreamfx import api
    from dreamfx.io.images import load_picture

    api.forget_warm()
    path = tmp_path / "explored.png"
    shutil.copyfile(photo, path)
    first = dreamfx.dream(path, "single-map", map=56, steps=2, rounds=1)
    kept = api.decoded(path)
    assert kept.luma is first.picture.luma and not kept.luma.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        first.picture.luma[0, 0] = 0.0
    assert np.array_equal(kept.luma, load_picture(path).luma) and kept.digest == load_picture(path).digest
    Image.fromarray(np.full((40, 60), 200, np.uint8)).save(path)  # another photo, the same name
    second = dreamfx.dream(path, "single-map", map=56, steps=2, rounds=1)
    assert second.picture.luma.shape == (40, 60) and second.picture.digest == load_picture(path).digest
    assert len(api._DECODED) == 2
    api.forget_warm()
    assert len(api._DECODED) == 0
    api.DECODED_MAX_PIXELS, limit = 100, api.DECODED_MAX_PIXELS  # a larger photo is decoded, not kept
    try:
        assert api.decoded(path).luma.shape == (40, 60) and len(api._DECODED) == 0
    finally:
        api.DECODED_MAX_PIXELS = limit


# -- the commands ---------------------------------------------------------------------------------


def test_cli_atlas_writes_the_sheet_and_the_scores(photo, tmp_path, cli):
    from dreamfx.io.provenance import read_metadata

    out, scores = tmp_path / "atlas.png", tmp_path / "atlas.json"
    run = cli("atlas", photo, "--maps", "0-3,33", "--sort", "gain", "-o", out, "--json", scores,
              "--set", "optimizer.steps=4", "--set", "loop.rounds=2")
    assert run.returncode == 0, run.stderr
    printed = run.stdout
    assert "of 5 maps respond" in printed and "atlas.png" in printed
    data = json.loads(scores.read_text())
    assert sorted(m["map"] for m in data["maps"]) == [0, 1, 2, 3, 33]
    assert "map" not in data["settings"]["objective"] and data["layer"] == "conv3"
    assert all(set(m) == {"map", "score_before", "score_after", "gain", "silent"} for m in data["maps"])
    meta = read_metadata(out)
    assert meta["command"] == "atlas" and len(meta["maps"]) == 5
    with Image.open(out) as sheet:
        assert sheet.width > 400 and sheet.height > 100
    # a rerun replaces its own outputs
    assert cli("atlas", photo, "--maps", "33", "-o", out, "--json", scores, "-q",
               "--set", "optimizer.steps=1", "--set", "loop.rounds=1").returncode == 0
    assert [m["map"] for m in json.loads(scores.read_text())["maps"]] == [33]


def test_cli_atlas_refuses_before_any_work(photo, tmp_path, cli):
    before = photo.read_bytes()

    def refused(code: int, message: str, *argv) -> None:
        run = cli("atlas", *argv)
        assert run.returncode == code and message in run.stderr, (argv, run.returncode, run.stderr)

    refused(2, "would overwrite the input", photo, "-o", photo)  # its own input
    theirs = tmp_path / "theirs.png"
    Image.new("L", (8, 8)).save(theirs)
    refused(2, "was not written by dreamfx", photo, "-o", theirs)
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    refused(2, "", photo, "-o", tmp_path / "a.png", "--json", notes)
    assert notes.read_text() == '{"mine": 1}'
    refused(2, "does not exist", photo, "-o", tmp_path / "a.png", "--maps", "200")
    refused(2, "atlas needs single-map", photo, "-o", tmp_path / "a.png", "--set", "objective=whole-layer")
    refused(1, "", tmp_path / "missing.png", "-o", tmp_path / "a.png")
    assert photo.read_bytes() == before and not (tmp_path / "a.png").exists()


def test_cli_atlas_interrupted_writes_nothing(photo, tmp_path, monkeypatch, cli):
    import dreamfx.runs.atlas

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dreamfx.runs.atlas, "make_atlas", stop)
    assert cli("atlas", photo, "-o", tmp_path / "a.png", "--json", tmp_path / "a.json").returncode == 130
    assert not list(tmp_path.glob("a.*"))


def test_cli_oip_all_grows_every_map_in_one_sheet(tmp_path, cli):
    from dreamfx.io.provenance import read_metadata

    out = tmp_path / "sheet.png"
    run = cli("oip", "--layer", "conv2", "--all", "--rounds", "1", "--set", "optimizer.steps=3", "-o", out)
    assert run.returncode == 0 and "patterns rose above zero" in run.stdout
    meta = read_metadata(out)
    count = warm_dreamer("single-map").model_info.layers["conv2"][-1]
    assert meta["maps"] == list(range(count)) and len(meta["scores"]) == count
    assert cli("oip", "--all", "--map", "3", "-o", out).returncode == 2


def test_oip_all_patterns_equal_each_maps_own_pattern_from_the_same_noise():
    """One batch with a map per pattern grows what each map's own dreamer grows from that noise."""
    import tensorflow as tf

    from dreamfx.runs.patterns import grow_patterns
    from dreamfx.kinds.scalers import Geometry

    shared = warm_dreamer("single-map", steps=5)
    result = grow_patterns(shared, 3, 2, choices=[33, 28, 56])
    start = tf.random.stateless_uniform([3, 28, 28, 1], seed=[0, 7919], minval=0.3, maxval=0.7)
    for i, k in enumerate([33, 28, 56]):
        own = warm_dreamer("single-map", steps=5, map=k)
        views = start[i : i + 1]
        for r in range(2):
            views = own.ascend(views, r, Geometry((28, 28))).canvas
        assert np.abs(views.numpy()[0, ..., 0] - result.patterns[i]).max() <= 2 / 255


@pytest.mark.slow
def test_the_docs_atlas_figures(tmp_path):
    """docs/exploring-maps.md quotes how many conv3 maps respond to the bundled photo."""
    import re

    import dreamfx

    atlas = dreamfx.atlas(SAMPLE)
    text = (ROOT / "docs" / "exploring-maps.md").read_text()
    readme = (ROOT / "README.md").read_text()
    zero = sum(e.score_before == 0 for e in atlas.entries)
    silent = sum(e.silent for e in atlas.entries)
    quoted = re.search(r"(\d+) of the (\d+) maps are zero on the photo; (\d+) of them stay silent", text)
    assert quoted and (int(quoted[1]), int(quoted[2]), int(quoted[3])) == (zero, len(atlas.entries), silent)
    maps = re.search(r"README's examples use maps ([\d, and]+)", text)[1].replace("and", ",").split(",")
    for k in (int(k) for k in maps if k.strip()):
        entry = next(e for e in atlas.entries if e.map == k)
        assert entry.score_before > 0 and entry.score_after > 3 * entry.score_before, k
        assert f"--set objective.map={k}" in readme or f"--map {k}" in readme, k
    from dreamfx.runs.patterns import grow_patterns

    grown = grow_patterns(warm_dreamer("single-map"), 128, 10, choices=list(range(128)))
    quoted = re.search(r"Of conv3's maps, (\d+) rise above zero from the default noise", text)
    assert quoted and int(quoted[1]) == int((grown.after > 0).sum())


def test_oip_calls_a_map_that_grows_nothing_no_pattern_not_silent(tmp_path, cli):
    """One meaning of "silent" (issue 25): a map that does not respond to a photo. A map from
    which gradient ascent grows nothing from noise is "no pattern" in oip's grid and lines."""
    from dreamfx.runs.patterns import grow_patterns, write_grid

    dreamer = warm_dreamer("single-map", steps=3)
    result = grow_patterns(dreamer, 128, 1, choices=list(range(128)))
    none = [k for k, after in zip(result.choices, result.after) if not after > 0]
    assert none and len(none) < 128
    _, labels = write_grid(dreamer, result, 1, tmp_path / "grid.png")
    assert [label for label in labels if label.endswith(": no pattern")] == [f"map {k}: no pattern" for k in none]
    assert not any("silent" in label for label in labels)
    run = cli("oip", "--all", "--rounds", "1", "--set", "optimizer.steps=3", "-o", tmp_path / "sheet.png")
    assert run.returncode == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert f"no pattern (gradient ascent grows nothing from the noise): {', '.join(map(str, none))}" in text
    assert "silent" not in text.replace(str(tmp_path), "")

