"""Built-in objectives: validation, composition, and that each one rises when dreamed."""

from __future__ import annotations

import numpy as np
import pytest

from dreamfx.api import as_gray_array, make_dreamer
from dreamfx.errors import SettingsError
from dreamfx.objectives import Scaled, Sum

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
    "class": ("single-map", {"objective": "class", "objective__unit": 2}),  # a logit positive on chelsea
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
                                          "objective__terms": [["conv3", 1, 1.0], ["conv2", 3, -1.0]]})
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
    from dreamfx.stateless import uniform_float32

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
        ({"objective": "weighted-maps", "objective__terms": [["conv3", 70, 1.0]]}, "choose map 0 to 63"),
        ({"objective": "weighted-maps", "objective__terms": [["conv3"]]}, r"must be \[layer, map, weight\]"),
        ({"objective": "weighted-layers", "objective__weights": {}}, "objective.weights is empty"),
        ({"objective": "sum", "objective__terms": [{"name": "nope"}]}, "unknown objective 'nope'"),
        ({"objective": "sum", "objective__terms": [{"name": "single-map", "mapp": 1}]}, r"unknown key objective.terms\[0\].'mapp'"),
    ],
)
def test_objective_mistakes_are_clear(overrides, message):
    with pytest.raises(SettingsError, match=message):
        make_dreamer("single-map", overrides)
