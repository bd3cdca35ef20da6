"""Built-in objectives: validation, composition, and that each one rises when dreamed."""

from __future__ import annotations

import numpy as np
import pytest

from dreamfx.api import as_gray_array, make_dreamer
from dreamfx.errors import SettingsError
from dreamfx.kinds.objectives import Scaled, Sum

from .conftest import CHELSEA, warm_dreamer


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    return as_gray_array(CHELSEA)


OBJECTIVES = {
    "single-map": ("single-map", {}),
    "whole-layer": ("whole-layer", {}),
    "weighted-layers": ("weighted-layers", {}),
    "weighted-maps": ("single-map", {"objective": "weighted-maps",
                                     "objective__terms": [["conv3", 1, 1.0], ["conv2", 3, 0.5]]}),
    "class": ("single-map", {"objective": "class", "objective__unit": 6}),  # a logit positive on chelsea (0.55)
    "sum": ("single-map", {"objective": "sum", "objective__terms": [
        {"name": "whole-layer", "layer": "conv2", "weight": 0.5}, {"name": "class", "unit": 8}]}),
}


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_each_objective_rises_at_least_threefold(chelsea, name):
    preset, overrides = OBJECTIVES[name]
    dreamer = make_dreamer(preset, overrides) if overrides else warm_dreamer(preset)  # a preset as it is: shared
    result = dreamer(chelsea)
    assert result.score_before > 0
    assert result.score_after >= 3 * result.score_before, (result.score_before, result.score_after)


def test_class_objective_also_raises_a_negative_logit(chelsea):
    result = make_dreamer("single-map", {"objective": "class", "objective__unit": 3})(chelsea)
    assert result.score_before < 0 < result.score_after  # "dream a 3": from -0.8 to clearly positive


def test_negative_weight_suppresses_its_feature(chelsea):
    dreamer = make_dreamer("single-map", {"objective": "weighted-maps",
                                          "objective__terms": [["conv3", 1, 1.0], ["conv2", 4, -1.0]]})
    from keras import ops

    result = dreamer(chelsea)
    suppressed = dreamer.objective.terms[1]
    assert isinstance(suppressed, Scaled) and suppressed.factor == -1.0

    def value(image):
        (level,) = dreamer.scaler.levels(image.shape)
        views = level.to_canvas(ops.convert_to_tensor(image[None, :, :, None]))
        return float(suppressed.inner(dreamer.features(views))[0])

    assert value(result.image) < value(chelsea)


def test_composition_algebra():
    dreamer = warm_dreamer("single-map", map=1)
    a = dreamer.objective
    combined = 0.5 * a - a + (-a)
    assert isinstance(combined, Sum) and len(combined.terms) == 3
    from dreamfx.engine.stateless import uniform_float32

    acts = dreamer.features(uniform_float32([2, 28, 28, 1], (1, 2), 0.0, 1.0))
    assert np.allclose(np.asarray(combined(acts)), -1.5 * np.asarray(a(acts)), atol=1e-6)
    assert 1 * a is a


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"objective": "whole-layer", "objective__layer": "convx"}, "unknown layer 'convx'"),
        ({"objective": "whole-layer", "objective__mode": "max"}, "is not one of mean-square, mean"),
        ({"objective": "class", "objective__unit": 10}, "choose unit 0 to 9"),
        ({"objective": "class", "objective__layer": "conv3"}, "dense layers: flatten"),
        ({"objective": "weighted-maps", "objective__terms": [["conv3", 130, 1.0]]}, "choose map 0 to 127"),
        ({"objective": "weighted-maps", "objective__terms": [["conv3"]]}, r"must be \[layer, map, weight\]"),
        ({"objective": "weighted-layers", "objective__weights": {}}, "objective.weights is empty"),
        ({"objective": "sum", "objective__terms": [{"name": "nope"}]}, "unknown objective 'nope'"),
        ({"objective": "sum", "objective__terms": [{"name": "single-map", "mapp": 1}]}, r"unknown key objective.terms\[0\].'mapp'"),
    ],
)
def test_objective_mistakes_are_clear(overrides, message):
    with pytest.raises(SettingsError, match=message):
        make_dreamer("single-map", overrides)


# -- objective.map = "auto": the map that responds most to each photo (issue 25, item 1) ------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"objective": "class", "objective__unit": "auto"}, r'objective.unit cannot be "auto"'),
        ({"steps": "auto"}, r'optimizer.steps cannot be "auto"'),
        ({"objective": "sum", "objective__terms": [{"name": "single-map", "map": "auto"}]},
         r'objective.terms\[0\].map cannot be "auto": a map is chosen per photo only for the objective itself'),
        ({"map": "automatic"}, r'objective.map must be int or "auto" \(the map that responds most to each photo\), '
                               r"got 'automatic'"),
        ({"map": 1.5}, r'objective.map must be int or "auto"'),
    ],
)
def test_auto_is_refused_where_no_map_is_chosen_per_photo(overrides, message):
    with pytest.raises(SettingsError, match=message):
        make_dreamer("single-map", overrides)


def test_auto_errors_are_one_line_on_the_command_line(cli, tmp_path):
    from .conftest import photo

    src = photo(tmp_path / "p.png")
    cli("run", src, "-o", tmp_path / "x.png", "--set", "objective=class", "--set", "objective.unit=auto").one_line_error(
        2, 'objective.unit cannot be "auto"')
    cli("oip", "--set", "objective.map=auto", "-o", tmp_path / "oip.png").one_line_error(
        2, "oip grows patterns from noise: give a map number")
    cli("run", src, "-o", tmp_path / "x.png", "--set", "objective=sum", "--set",
        'objective.terms=[{name="single-map", map="auto"}]').one_line_error(2, 'objective.terms[0].map cannot be "auto"')
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "oip.png").exists()


def test_map_auto_dreams_each_image_with_the_map_that_responds_most(chelsea):
    """In one batch each image gets the map of conv3 that responds most to it (the layers
    hint's measure, hints.strongest_map), and its result equals the dream with that map set;
    the result's settings hold the map (what an output stores), not "auto"."""
    from dreamfx.engine.responses import strongest_map

    small = chelsea[::4, ::4].copy()
    images = [small, np.zeros_like(small), small[:, ::-1].copy() * 0.5]
    auto = make_dreamer("single-map", {"map": "auto", "steps": 2, "rounds": 1})
    assert auto.summary()[1] == ("objective", "single-map: conv3 map auto")
    results = auto.dream_batch(images)
    for image, result in zip(images, results):
        best = strongest_map(auto.model, auto.model_info, auto.scaler, "conv3", image)
        assert result.settings.objective.params == {"layer": "conv3", "map": best}
        assert result.objective == f"conv3 map {best}" and result.silence is None
        own = warm_dreamer("single-map", steps=2, rounds=1, map=best)(image)
        assert np.abs(result.image - own.image).max() <= 1e-5
        assert result.score_after == pytest.approx(own.score_after, rel=1e-4)
    assert len({r.settings.objective.params["map"] for r in results}) > 1


def test_dream_takes_map_auto_and_saves_the_map_it_chose(tmp_path):
    import dreamfx
    from dreamfx.engine.responses import strongest_map
    from dreamfx.io.provenance import read_metadata

    dark = np.zeros((36, 48), np.float32)  # conv3 map 56 is zero on it: silent
    silent = dreamfx.dream(dark, steps=2, rounds=1)
    assert silent.silence is not None and silent.silence.best is not None
    chosen = dreamfx.dream(dark, map="auto", steps=2, rounds=1)
    d = warm_dreamer("single-map", steps=2, rounds=1)
    assert chosen.settings.objective.params["map"] == silent.silence.best == strongest_map(
        d.model, d.model_info, d.scaler, "conv3", dark)
    assert chosen.score_before > 0 and chosen.silence is None
    saved = chosen.save(tmp_path / "auto.png")
    assert read_metadata(saved)["settings"]["objective"]["map"] == silent.silence.best

