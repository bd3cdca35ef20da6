"""Optimal input patterns: what an objective "wants to see", grown from random noise.

This is the article's OIP experiment ("four patterns to which map 56 reacts strongly"):
no photo, only the optimizer, starting from different noise images in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dreamfx.config.request import CommonOptions
from dreamfx.engine.dreamer import Dreamer
from dreamfx.errors import SettingsError
from dreamfx.io.metadata import provenance_of
from dreamfx.kinds.scalers import Geometry
from dreamfx.runs.writes import check_outputs


#: The most patterns one sheet holds (as many as an atlas holds maps) and optimizer calls one
#: run makes: the batch, the sheet and the time stay bounded.
MAX_PATTERNS = 1024
MAX_ROUNDS = 1000


@dataclass(frozen=True, kw_only=True)
class PatternRequest(CommonOptions):
    """The options of ``dreamfx oip``: ``count`` patterns grown over ``rounds`` optimizer
    calls, or one per map of the layer (``all_maps``), written to ``output`` (a file dreamfx
    did not write there is replaced only with ``force``); ``map`` and ``layer`` stand for
    ``objective.map`` and ``objective.layer``."""

    output: str
    count: int = 4
    rounds: int = 4
    all_maps: bool = False
    map: int | None = None
    layer: str | None = None

    def shortcuts(self) -> list[tuple[str, Any]]:
        return [(key, value) for key, value in (("objective.layer", self.layer), ("objective.map", self.map))
                if value is not None]

    def resolve(self, host: Any) -> Any:
        """The options checked and the settings: a usage error before any work."""
        self.check_common()
        if self.count < 1 or self.rounds < 1:
            raise SettingsError("--count and --rounds must be at least 1")
        if self.count > MAX_PATTERNS:
            raise SettingsError(f"--count {self.count}: at most {MAX_PATTERNS} patterns in one sheet "
                                "(run oip again with another --seed for more)")
        if self.rounds > MAX_ROUNDS:
            raise SettingsError(f"--rounds {self.rounds}: at most {MAX_ROUNDS} optimizer calls (each of "
                                "optimizer.steps steps; raise --set optimizer.steps=N for longer ascents)")
        if self.all_maps and self.map is not None:
            raise SettingsError("--all grows every map's pattern: leave out --map")
        settings = self.settings(host)
        check_outputs([], [("output", Path(self.output), None)], self.force)
        chosen = next((k for k, v in settings.objective.params.items() if v == "auto"), None)
        if chosen is not None and not self.all_maps:
            raise SettingsError(f"objective.{chosen}=auto chooses the {chosen} that responds most to a photo, and oip "
                                f"grows patterns from noise: give a {chosen} number (dreamfx atlas PHOTO shows which "
                                "respond)")
        return settings


@dataclass
class PatternResult:
    patterns: np.ndarray  # (n, h, w) in [0, 1]
    before: np.ndarray  # (n,): objective on the noise
    after: np.ndarray  # (n,): objective on the pattern
    choices: list[int] | None = None  # the map (or unit) of each pattern, when they differ


def grow_patterns(dreamer: Dreamer, count: int, rounds: int, noise: float = 0.2,
                  choices: list[int] | None = None) -> PatternResult:
    """Run ``rounds`` optimizer calls on ``count`` noise images (grey 0.5 +- ``noise``).
    ``choices``: the objective's map (or unit) per pattern, all grown in one batch
    (``dreamfx oip --all``); None: the objective's own for all."""
    from dreamfx.engine import backend
    from dreamfx.engine import stateless

    h, w = dreamer.model_info.input_size
    # TensorFlow's stateless_uniform, computed the same on every backend (dreamfx.engine.stateless)
    noise_images = stateless.uniform_float32([count, h, w, dreamer.channels], (dreamer.settings.seed, 7919),
                                             0.5 - noise, 0.5 + noise)
    with backend.on_device(dreamer.device):
        start = backend.tensor(noise_images)
        views = start
        chosen = None
        if choices is not None:
            dreamer.choices(choices)
            chosen = backend.tensor(np.asarray(choices, np.int32), "int32")
        for round_index in range(rounds):
            views = dreamer.ascend(views, round_index, Geometry((h, w)), chosen).canvas

        def score(v: Any) -> np.ndarray:
            acts = dreamer.features(v, training=False)
            return np.asarray(dreamer.objective(acts) if chosen is None else dreamer.objective.score_each(acts, chosen))

        return PatternResult(np.asarray(views)[..., 0], score(start), score(views), choices)


def write_grid(dreamer: Dreamer, result: PatternResult, rounds: int, path: Path) -> tuple[str, list[str]]:
    """Write the patterns as one labelled grid image with its provenance (``dreamfx oip``);
    return its title and the label of each pattern."""
    from dreamfx.io.writing import write_image_atomic
    from dreamfx.io.panel import render_grid

    settings = dreamer.settings
    steps = f"{rounds} x {getattr(dreamer.optimizer, 'steps', '?')} steps from noise, seed {settings.seed}"
    if result.choices is None:
        labels = [f"#{i + 1}: {after:.3g} (noise {before:.2g})"
                  for i, (before, after) in enumerate(zip(result.before, result.after))]
        title = f"{dreamer.objective.describe()}: {steps}"
        image = render_grid(result.patterns, labels, title)
    else:
        what = dreamer.objective.selectable
        # "no pattern": gradient ascent grows nothing from the noise for that map ("silent" is
        # kept for a map that does not respond to a photo: dreamfx run, atlas)
        labels = [f"{what} {k}: {after:.3g}" if after > 0 else f"{what} {k}: no pattern"
                  for k, after in zip(result.choices, result.after)]
        layer = settings.objective.params.get("layer", "")
        title = f"every {what} of {layer}: {steps}"
        image = render_grid(result.patterns, labels, title, size=96, columns=8)
    metadata = provenance_of(settings, command="oip", scores=[float(a) for a in result.after])
    if result.choices is not None:
        metadata["maps"] = [int(k) for k in result.choices]
    write_image_atomic(path, image, metadata)
    return title, labels
