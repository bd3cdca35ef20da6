"""Map keyframes: the objective moves from map to map over an animation's frames.

``keys`` are ``[map, frame]`` pairs: at a key's frame the objective is that map alone (the
same score as ``single-map``); between two keys the two maps are weighted by how far the
frame lies between them (a crossfade), before the first key the first map, after the last
the last. The objective's ``frame`` is fed per image at run time (its ``selectable``), so one
compiled dreamer serves every frame: ``dreamfx zoom --maps 56,33,28 --every 24``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from keras import ops

from dreamfx.plugin import ModelInfo, Objective, SettingsError

#: The most keys one animation takes.
MAX_KEYS = 64


def check_keys(keys: Any) -> list[tuple[int, int]]:
    """``keys`` as ``(map, frame)`` pairs in frame order, or a :class:`SettingsError`."""
    if not isinstance(keys, (list, tuple)) or not keys:
        raise SettingsError("objective.keys must be a list of [map, frame] pairs, e.g. [[56, 0], [33, 24]]")
    if len(keys) > MAX_KEYS:
        raise SettingsError(f"objective.keys: at most {MAX_KEYS} keys, got {len(keys)}")
    pairs = []
    for i, key in enumerate(keys):
        if (not isinstance(key, (list, tuple)) or len(key) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in key)):
            raise SettingsError(f"objective.keys[{i}] must be [map, frame] (two whole numbers), got {key!r}")
        pairs.append((int(key[0]), int(key[1])))
    frames = [frame for _, frame in pairs]
    if frames[0] < 0 or any(b <= a for a, b in zip(frames, frames[1:])):
        raise SettingsError(f"objective.keys: the frames must start at 0 or later and rise, got {frames}")
    return pairs


def key_weights(keys: Sequence[tuple[int, int]], maps: int, frame: int) -> np.ndarray:
    """The weight of each of ``maps`` maps at ``frame`` (they sum to 1)."""
    weights = np.zeros(maps, np.float32)
    if frame <= keys[0][1]:
        weights[keys[0][0]] = 1.0
        return weights
    for (map_a, frame_a), (map_b, frame_b) in zip(keys, keys[1:]):
        if frame_a <= frame <= frame_b:
            t = (frame - frame_a) / (frame_b - frame_a)
            weights[map_a] += 1.0 - t
            weights[map_b] += t
            return weights
    weights[keys[-1][0]] = 1.0
    return weights


class Keyframes(Objective):
    """A crossfade between single maps of one layer, keyed to frames."""

    def __init__(self, model_info: ModelInfo, layer: str, keys: Any, frame: int) -> None:
        self.keys = check_keys(keys)
        for map_index, _ in self.keys:
            model_info.check_unit(layer, map_index, what="map", spatial=True)
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise SettingsError(f"objective.frame must be a frame number, 0 or more, got {frame!r}")
        self.layer, self.frame = layer, frame
        self.layers = (layer,)
        self.selectable = "frame"
        maps = int(model_info.check_layer(layer, spatial=True)[-1])
        last = self.keys[-1][1]
        self.table = np.stack([key_weights(self.keys, maps, f) for f in range(last + 1)])  # (frames, maps)

    def _weighted(self, acts: Any, weights: Any) -> Any:
        return ops.mean(ops.sum(acts * weights[:, None, None, :], axis=-1), axis=(1, 2))

    def score(self, activations: Mapping[str, Any]) -> Any:
        acts = activations[self.layer]
        row = self.table[min(self.frame, len(self.table) - 1)]
        weights = ops.convert_to_tensor(row[None], dtype=acts.dtype)
        return self._weighted(acts, ops.repeat(weights, ops.shape(acts)[0], axis=0))

    def score_each(self, activations: Mapping[str, Any], choices: Any) -> Any:
        acts = activations[self.layer]
        table = ops.convert_to_tensor(self.table, dtype=acts.dtype)
        rows = ops.minimum(choices, len(self.table) - 1)
        return self._weighted(acts, ops.take(table, rows, axis=0))

    def describe(self) -> str:
        weights = key_weights(self.keys, len(self.table[0]), self.frame)
        shown = [f"{index} ({weight:.0%})" for index, weight in enumerate(weights) if weight > 0]
        return f"{self.layer} map {shown[0].split()[0]}" if len(shown) == 1 else f"{self.layer} maps {' + '.join(shown)}"
