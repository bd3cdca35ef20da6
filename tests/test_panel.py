"""The article's figure."""

from __future__ import annotations

import numpy as np
import pytest

from dreamfx.io.panel import viridis

from .conftest import FAST_OVERRIDES, warm_dreamer

# matplotlib's viridis at 0, 64, 128, 192 and 255 of 255
REFERENCE = {
    0: [0.267, 0.0049, 0.3294],
    64: [0.2297, 0.3224, 0.5457],
    128: [0.1276, 0.5669, 0.5506],
    192: [0.3692, 0.7889, 0.3829],
    255: [0.9932, 0.9062, 0.1439],
}


@pytest.mark.parametrize("index", sorted(REFERENCE))
def test_viridis_matches_matplotlib(index):
    assert np.allclose(viridis(np.array(index / 255)), REFERENCE[index], atol=0.015)


def test_panel_has_five_labelled_tiles(small_photo):
    from dreamfx.io.panel import render_panel

    result = warm_dreamer("single-map", **FAST_OVERRIDES)(small_photo)
    panel = render_panel(result, height=100, title="t")
    assert panel.height == 30 + 28 + 100 + 12
    assert panel.width > 5 * 100
    arr = np.asarray(panel)
    assert arr[58:158, 12:112].std() > 0  # the viridis tile is not blank
