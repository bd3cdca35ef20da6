"""The optimizer and loop contract (issue 12, item 4): the host owns the plumbing, an
optimizer is an update rule, a loop sees each round's score. The worked examples of
docs/optimizers-and-loops.md are registered as a plugin and dreamed with; the built-in loop's
early stop keeps batches equal to one-by-one dreams."""

from __future__ import annotations

import importlib
import re
import sys

import numpy as np
import pytest

from dreamfx.api import make_dreamer
from dreamfx.errors import SettingsError

from .conftest import ROOT

PAGE = ROOT / "docs" / "optimizers-and-loops.md"


def page_blocks() -> list[str]:
    """The page's plugin code: every python block that registers something, each a plugin."""
    blocks = re.findall(r"```python\n(.*?)```\n", PAGE.read_text(), re.S)
    return [b for b in blocks if "@hookimpl" in b]


@pytest.fixture(scope="module")
def page_host(tmp_path_factory):
    from dreamfx.host.manager import create_host

    folder = tmp_path_factory.mktemp("page")
    host = create_host(entry_points=False, disabled=set())
    for number, source in enumerate(page_blocks()):
        name = f"docs_optimizers_and_loops_{number}"
        (folder / f"{name}.py").write_text(source)
        sys.path.insert(0, str(folder))
        try:
            module = importlib.import_module(name)
        finally:
            sys.path.remove(str(folder))
            sys.modules.pop(name, None)
        host.register(module, f"docs-example-{number}")
        assert host.plugins[f"docs-example-{number}"].status == "ok", host.plugins[f"docs-example-{number}"].error
    return host


def test_the_page_shows_each_kind_and_uses_keras_ops_only():
    source = "\n".join(page_blocks())
    for name in ("sign-ascent", "adam", "until-plateau"):
        assert f'register("{name}"' in source
    assert "tensorflow" not in source and "tf." not in source
    imports = set(re.findall(r"^(?:from|import) ([\w.]+)", source, re.M))
    assert imports <= {"keras", "numpy", "typing", "dreamfx.plugin"}, imports


@pytest.mark.parametrize("optimizer", ["sign-ascent", "adam"])
@pytest.mark.parametrize("preset", ["single-map", "tiling"])
def test_page_optimizers_raise_the_objective(page_host, small_photo, optimizer, preset):
    dreamer = make_dreamer(preset, {"optimizer": optimizer, "optimizer__steps": 8, "rounds": 2}, host=page_host)
    result = dreamer(small_photo)
    assert result.problem is None
    assert result.score_after > result.score_before, (optimizer, preset, result.score_before, result.score_after)
    assert np.abs(result.image - small_photo).mean() > 1 / 255


def test_page_loop_stops_when_the_score_stops_rising(page_host, small_photo):
    # a gain of 1000% per round is never reached: every level stops after its second round
    dreamer = make_dreamer("single-map", {"loop": "until-plateau", "loop__min_gain": 10.0, "steps": 5},
                           host=page_host)
    calls = []
    result = dreamer(small_photo, calls.append)
    assert calls == [0, 1]
    assert dreamer.rounds_for(small_photo.shape) == 20  # the most it could have made
    assert result.score_after > result.score_before
    # with an attainable gain it runs on, and raises the score further
    patient = make_dreamer("single-map", {"loop": "until-plateau", "loop__min_gain": 0.0, "loop__max_rounds": 4,
                                          "steps": 5}, host=page_host)
    more = []
    assert patient(small_photo, more.append).score_after > 0
    assert len(more) > 2


@pytest.mark.parametrize("preset", ["single-map", "tiling"])
def test_stateful_optimizer_pieces_and_split_steps_give_the_unsplit_result(page_host, preset, monkeypatch):
    """Adam's state is carried through the host's pieces and split steps: running one call per
    step, or one step as several calls, gives exactly what one call for all steps gives."""
    import dreamfx.engine.ascent as ascent
    from dreamfx.api import as_gray_array

    from .conftest import SAMPLE

    image = as_gray_array(SAMPLE)[:60, :90]
    results = {}
    for mode in ("whole", "pieces", "split"):
        monkeypatch.setattr(ascent, "PIECE_SECONDS", 1e9 if mode == "whole" else 1e-12)
        dreamer = make_dreamer(preset, {"optimizer": "adam", "optimizer__steps": 4, "rounds": 2, "seed": 3,
                                        "optimizer__jitter": 2}, host=page_host)
        if mode == "split":
            dreamer.ascent.chunk = 2
        if mode != "whole":
            dreamer.ascent.pace.rate = 1.0  # as if a step were slow
            dreamer.ascent.pace.measured = True
            monkeypatch.setattr(ascent.Pace, "update", lambda *args: None)
        results[mode] = dreamer(image).image
    assert np.array_equal(results["pieces"], results["whole"])
    if dreamer.backend == "jax":
        # XLA compiles a split step's three calls apart and fuses (and rounds) the update
        # differently from the loop's body: equal to the last bit or so (measured 6e-8)
        assert np.abs(results["split"] - results["whole"]).max() <= 1e-6
    else:
        assert np.array_equal(results["split"], results["whole"])


@pytest.mark.parametrize("mode", ["pieces", "split"])
def test_progress_reports_the_pieces_within_each_round_without_changing_the_dream(mode, monkeypatch):
    """``on_piece`` (issue 25, item 3): a round that takes several calls (pieces of steps, or
    a huge canvas's step split into groups of views) reports each piece with its counts,
    then the round's end; the share done only grows, ends at 1, and the dream is the same."""
    import dreamfx.engine.ascent as ascent
    from dreamfx.api import as_gray_array

    from .conftest import SAMPLE

    image = as_gray_array(SAMPLE)[:60, :90]
    plain = make_dreamer("tiling", {"steps": 3, "rounds": 2, "seed": 3})(image).image
    monkeypatch.setattr(ascent, "PIECE_SECONDS", 1e-12)  # one step per call
    dreamer = make_dreamer("tiling", {"steps": 3, "rounds": 2, "seed": 3})
    dreamer.ascent.pace.rate, dreamer.ascent.pace.measured = 1.0, True  # as if a step were slow
    monkeypatch.setattr(ascent.Pace, "update", lambda *args: None)
    if mode == "split":
        dreamer.ascent.chunk = 4  # a step's views in groups of 4
    pieces, rounds = [], []
    result = dreamer.dream_batch([image], on_round=rounds.append, on_piece=pieces.append)[0]
    if mode == "split" and dreamer.backend == "jax":  # XLA fuses a split step apart (see above)
        assert np.abs(result.image - plain).max() <= 1e-6
    else:
        assert np.array_equal(result.image, plain)
    assert rounds == [0, 1]
    views = (-(-60 // 28) * 28 // 28) * (-(-90 // 28) * 28 // 28)  # the tiles of the padded canvas
    expected = []
    for r in range(2):
        for step in range(3):
            if mode == "split":
                expected += [(r, step, 3, done, views) for done in range(4, views, 4)]
            expected.append((r, step + 1, 3, 0, 0))  # the last one: the round's end
    assert [(p.round_index, p.steps_done, p.steps, p.views_done, p.views) for p in pieces] == expected
    assert all(p.rounds == 2 for p in pieces)
    fractions = [p.fraction for p in pieces]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 < fractions[0] <= 1 / 6
    assert [p.fraction for p in pieces if p.round_end] == [0.5, 1.0]


def test_progress_weighs_rounds_by_their_level_and_small_dreams_report_round_ends_only(small_photo):
    """A small dream's round is one call: ``on_piece`` hears only the rounds' ends (no wait
    is added). On a pyramid, the rounds of the larger levels count for more."""
    pieces = []
    make_dreamer("single-map", {"steps": 2, "rounds": 3}).dream_batch([small_photo], on_piece=pieces.append)
    assert [(p.round_index, p.steps_done, p.round_end) for p in pieces] == [(0, 2, True), (1, 2, True), (2, 2, True)]
    assert [round(p.fraction, 6) for p in pieces] == [round(1 / 3, 6), round(2 / 3, 6), 1.0]
    dreamer = make_dreamer("octaves", {"steps": 1, "rounds": 1})
    weights = dreamer.round_weights((300, 400))
    assert len(weights) == len(dreamer.scaler.levels((300, 400))) > 1
    assert weights == sorted(weights) and weights[0] < weights[-1] and abs(sum(weights) - 1) < 1e-9


def test_a_round_returns_the_canvas_and_the_score_per_image(small_photo):
    from dreamfx.kinds.scalers import Geometry

    dreamer = make_dreamer("single-map", {"steps": 3})
    canvas = np.stack([np.full((28, 28, 1), 0.5, np.float32), small_photo[:28, :28, None]])
    ascended = dreamer.ascend(canvas, 0, Geometry((28, 28)))
    out, score = ascended
    assert out.shape == (2, 28, 28, 1) and score.shape == (2,) and np.isfinite(score).all()
    # the score is the objective at the last step, before its update: close to the canvas's own
    after = dreamer.ascend(out, 1, Geometry((28, 28))).score
    assert np.all(after >= score * 0.9)
    assert np.isnan(make_dreamer("single-map", {"steps": 0}).ascend(canvas, 0, Geometry((28, 28))).score).all()


def test_reinject_stops_each_image_on_its_own_and_batches_still_equal_single_dreams(small_photo):
    """With patience, each image stops its level when its score stalls; a batch gives what
    each image gives alone, and round indices (the random shifts) do not move."""
    from PIL import Image

    from dreamfx.io.images import to_gray

    from .conftest import CHELSEA

    with Image.open(CHELSEA) as img:
        cat = to_gray(img.resize((120, 90), Image.Resampling.LANCZOS))
    # measured: the photo's score stalls (< 5% gain) at its 7th round, the cat's at its 6th
    settings = {"rounds": 8, "steps": 4, "patience": 1, "min_gain": 0.05}
    dreamer = make_dreamer("single-map", settings)
    alone_calls = []
    alone = [dreamer(image, alone_calls.append) for image in (small_photo, cat)]
    assert [len(run) for run in _split_runs(alone_calls)] == [7, 6]
    batch_calls = []
    batch = dreamer.dream_batch([small_photo, cat], batch_calls.append)
    assert batch_calls == list(range(7))  # as long as its slowest image
    for one, together in zip(alone, batch):  # as close as batches always are (test_batch.py)
        assert np.abs(one.image - together.image).max() <= 1e-5
        assert np.abs(one.pattern - together.pattern).max() <= 1e-5
    # and stopping early changed the result from a full run
    full = make_dreamer("single-map", {"rounds": 8, "steps": 4})(small_photo)
    assert np.abs(full.image - alone[0].image).max() > 0.01


def _split_runs(calls: list[int]) -> list[list[int]]:
    """The on_round indices of consecutive dreams (each starts at 0)."""
    runs: list[list[int]] = []
    for index in calls:
        if index == 0:
            runs.append([])
        runs[-1].append(index)
    return runs


def test_reinject_without_patience_is_the_plain_recipe(small_photo):
    plain = make_dreamer("single-map", {"rounds": 3, "steps": 3})
    explicit = make_dreamer("single-map", {"rounds": 3, "steps": 3, "patience": 0, "min_gain": 0.5})
    calls = []
    assert np.array_equal(plain(small_photo).image, explicit(small_photo, calls.append).image)
    assert calls == [0, 1, 2]


@pytest.mark.parametrize("overrides, message", [
    ({"patience": -1}, r"loop.patience must be 0 \(never stop early\) to 10,000 rounds, got -1"),
    ({"min_gain": float("nan")}, r"loop.min_gain must be a finite number, got nan|loop.min_gain must be 0 to"),
    ({"min_gain": -0.1}, r"loop.min_gain must be 0 to 1,000 \(a fraction of the best score\), got -0.1"),
])
def test_early_stop_settings_are_checked(overrides, message):
    with pytest.raises(SettingsError, match=message):
        make_dreamer("single-map", overrides)


def test_rounds_for_and_summary_come_from_the_components(small_photo):
    dreamer = make_dreamer("tiling", {"rounds": 3, "steps": 7})
    levels = dreamer.scaler.levels(small_photo.shape)
    assert dreamer.rounds_for(small_photo.shape) == 3 * len(levels)
    rows = dict(dreamer.summary())
    assert list(rows) == ["model", "objective", "scaler", "optimizer", "loop"]
    assert rows["optimizer"] == "oip: step size 0.02"  # steps: the summary's "rounds x steps"
    assert rows["loop"] == "reinject: 3 rounds per level"
    assert rows["objective"].startswith("single-map: ")


def test_the_optimizer_and_loop_plugins_import_only_the_public_module():
    """Built-ins are proof that a third party can write each kind: from the host they import
    dreamfx.plugin and nothing else, and they compute with keras.ops, never tf.*."""
    import ast

    for folder in ("dreamfx_oip", "dreamfx_reinject"):
        for path in sorted((ROOT / "plugins" / folder).glob("*.py")):
            tree = ast.parse(path.read_text())
            modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            modules |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level}
            host = {m for m in modules if m.split(".")[0] == "dreamfx"}
            assert host <= {"dreamfx.plugin"}, (path.name, host)
            assert not {m for m in modules if m.split(".")[0] == "tensorflow"}, path.name

