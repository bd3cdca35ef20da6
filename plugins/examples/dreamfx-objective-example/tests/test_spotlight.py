"""The example plugin's own tests: it is found by dreamfx and its objective does its job."""

from __future__ import annotations

import numpy as np
import pytest


def test_registered_through_the_entry_point():
    from dreamfx.host.manager import create_host

    host = create_host(disabled=set())
    assert host.get("objectives", "spotlight-map").plugin == "spotlight"
    assert host.plugins["spotlight"].distribution == "dreamfx-objective-example"


def test_parameters_come_from_the_factory_signature():
    from dreamfx.host.manager import create_host

    component = create_host(disabled=set()).get("objectives", "spotlight-map")
    assert component.params == {"layer": "conv2", "map": 0, "x": 0.5, "y": 0.5, "radius": 0.25, "outside": -0.5}
    assert component.param("x").type is float
    assert component.param("x").description.startswith("The spotlight's centre across")


def test_dream_grows_the_map_inside_the_spotlight():
    import dreamfx

    rng = np.random.default_rng(0)
    image = rng.random((84, 84), dtype=np.float32) * 0.3
    result = dreamfx.dream(image, objective="spotlight-map", objective__layer="conv2",
                           objective__map=50, objective__x=0.25, objective__y=0.5, steps=10)
    assert result.score_after > result.score_before


def test_bad_position_is_a_clear_error():
    import dreamfx
    from dreamfx.plugin import SettingsError

    with pytest.raises(SettingsError, match=r"objective.x must be in \[0, 1\]"):
        dreamfx.dream(np.zeros((28, 28), np.float32), objective="spotlight-map", objective__x=2.0)


def test_maps_of_any_size_with_the_octaves_preset():
    """With octaves the network sees the whole photo, so conv2's map is far bigger than 11x11."""
    import dreamfx

    rng = np.random.default_rng(1)
    image = rng.random((90, 120), dtype=np.float32) * 0.3
    result = dreamfx.dream(image, "octaves", objective="spotlight-map", objective__map=50, steps=5)
    assert result.score_after > result.score_before
