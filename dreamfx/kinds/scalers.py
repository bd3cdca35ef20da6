"""What a scaling strategy is: the levels at which a model-sized network sees an image.

A scaler knows geometry, not the model. For an image size it returns its *levels*, coarse
to fine. At each level the image becomes a *canvas*: a batch ``(B, Hc, Wc, C)`` whose
height and width are whole multiples of the model's input size, so the canvas is cut into
model-sized views by a pure reshape (:func:`dreamfx.engine.views.split_views`) inside the optimizer's compiled
step. ``from_canvas`` puts a (changed) canvas back at the image size; whatever
``from_canvas(to_canvas(x))`` loses is the *detail* the reinjection loop adds back.

``roll`` is how far the optimizer may shift the canvas before cutting it, per step: a
random shift of up to one tile moves the tile borders every step, so no seams form.
``view_size`` is the size of the views the canvas is cut into; ``None`` means the whole
canvas is one view, for scalers whose model runs at any size (``fully_convolutional``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from dreamfx.cache import LRUCache


#: The resize methods a scaler may use (``tf.image.resize``'s, and ``keras.ops.image.resize``'s names).
RESIZE_METHODS: tuple[str, ...] = ("bicubic", "bilinear", "lanczos3", "lanczos5", "area", "mitchellcubic", "gaussian")


def check_resize_method(method: str, key: str = "scaler.method") -> None:
    """A :class:`~dreamfx.errors.SettingsError` naming the valid methods if ``method`` is not one."""
    from dreamfx.errors import SettingsError

    if method not in RESIZE_METHODS:
        raise SettingsError(f"{key} {method!r} is not a resize method; choose one of {', '.join(RESIZE_METHODS)}")


@dataclass(frozen=True)
class Geometry:
    """How the optimizer cuts and shifts a canvas: what a bound step needs of a level."""

    view_size: tuple[int, int] | None
    roll: int = 0


class Level(Protocol):
    """One scale at which the image is dreamed: how it becomes a canvas and back.

    ``view_size``: the size of the views the canvas is cut into, or None when the network
    sees the canvas whole (only for a scaler with ``fully_convolutional = True``).
    ``roll``: how far (pixels) the optimizer may shift the canvas per step: one tile for a
    tiled level, so tile borders move and leave no seams; 0 for a single view.
    """

    view_size: tuple[int, int] | None
    roll: int

    def to_canvas(self, images: Any) -> Any:
        """Images ``(B, H, W, C)`` in [0, 1] -> canvas ``(B, a*h, b*w, C)`` in [0, 1]."""

    def from_canvas(self, canvas: Any, image_size: tuple[int, int]) -> Any:
        """A canvas from :meth:`to_canvas` -> images ``(B, H, W, C)`` of ``image_size``."""


class Scaler(Protocol):
    """A scaling strategy: the levels at which a model-sized network sees an image.

    Checked when built: a callable ``levels``; ``fully_convolutional`` (a bool) defaults
    to False when absent. ``view_size`` (the model's input size, ``ctx.view_size``) is
    informative: the host reads each level's own. A scaler knows geometry, never the
    model; write it with ``keras.ops`` and the host's :func:`dreamfx.plugin.resize`, :func:`reflect_pad`
    and :func:`tile_grid`.
    """

    view_size: tuple[int, int]
    #: True when levels hand the optimizer whole canvases of any size (view_size None);
    #: the host then builds a feature model that accepts any input size.
    fully_convolutional: bool

    def levels(self, image_size: tuple[int, int]) -> Sequence[Level]:
        """The levels for an image of ``image_size``, coarse to fine (at least one)."""


def level_key(level: Any) -> Any:
    """A cache key for compiled functions of a level: levels of the same type with equal
    attributes behave the same, so they can share them (scalers may build new, equal level
    objects for every image). Levels with unhashable attributes are keyed by identity."""
    try:
        key = (type(level), tuple(sorted(vars(level).items())))
        hash(key)
        return key
    except TypeError:
        return (type(level), id(level))


def worth_compiling(dreams: int, batch: int) -> bool:
    """Whether to run a level's between-round work as compiled functions: for batches and
    from a dreamer's second dream on. A single image dreamed once runs it eagerly, because
    tracing would cost it more (about 90 ms) than it saves."""
    return dreams > 1 or batch > 1


class LevelCache(LRUCache):
    """Functions built once per level (by :func:`level_key`) and extra key, least recently
    used dropped beyond ``size``."""

    def get(self, level: Any, extra: Any, build: Callable[[], Any]) -> Any:
        return self.get_or_build((level_key(level), extra), build)


def reflect_pad(images: Any, pads: Sequence[Sequence[int]]) -> Any:
    """Mirror-pad a batch ``(B, H, W, C)`` by ``((top, bottom), (left, right))`` pixels, also
    when a pad is wider than the image (the mirror is repeated); a 1-pixel side, which
    cannot be mirrored, is repeated instead. Written with ``keras.ops``."""
    from keras import ops

    (top, bottom), (left, right) = (int(pads[0][0]), int(pads[0][1])), (int(pads[1][0]), int(pads[1][1]))
    while top or bottom or left or right:
        h, w = int(images.shape[1]), int(images.shape[2])
        if h == 1 and (top or bottom):  # a 1-pixel side cannot be mirrored: repeat it
            images, top, bottom = ops.repeat(images, 1 + top + bottom, axis=1), 0, 0
            continue
        if w == 1 and (left or right):
            images, left, right = ops.repeat(images, 1 + left + right, axis=2), 0, 0
            continue
        step = [[0, 0], [min(top, h - 1), min(bottom, h - 1)], [min(left, w - 1), min(right, w - 1)], [0, 0]]
        images = ops.pad(images, step, mode="reflect")
        top, bottom, left, right = top - step[1][0], bottom - step[1][1], left - step[2][0], right - step[2][1]
    return images


def tile_grid(size: Sequence[int], view_size: Sequence[int]) -> tuple[int, int]:
    """How many views down and across cover ``size`` (the last row and column included)."""
    return math.ceil(size[0] / view_size[0]), math.ceil(size[1] / view_size[1])


def periodicity(image: Any, period: int = 28) -> tuple[float, float]:
    """How strongly an image's strokes lock to a grid of ``period`` pixels, per axis.

    Along x: the mean absolute difference between horizontal neighbours,
    ``|x[:, i+1] - x[:, i]|``, grouped by ``i mod period`` (``i`` the column in the image as
    given: pass the working-size image, where the tiles are ``period`` pixels), then the
    largest group mean over the median group mean. Along y the same with rows. 1.0 means no
    preferred phase; a dream whose tile grid shows scores well above 1. Returns ``(y, x)``.
    """
    image = np.asarray(image, np.float64)
    if image.ndim == 3:
        image = image.mean(axis=2)
    ratios = []
    for axis in (0, 1):
        diffs = np.abs(np.diff(image, axis=axis))
        per_position = diffs.mean(axis=1 - axis)  # mean over the other axis: one value per i
        phase = np.arange(per_position.size) % period
        groups = np.array([per_position[phase == p].mean() for p in range(min(period, per_position.size))])
        median = float(np.median(groups))
        ratios.append(float(groups.max() / median) if median > 0 else float("inf"))
    return ratios[0], ratios[1]


# -- the contract, checked when a component is built ------------------------------------------


def problem(obj: Any) -> str | None:
    """Why a built scaler does not meet this contract (checked when it is built), or None."""
    # view_size is not required: the host never reads it (levels carry their own)
    if not callable(getattr(obj, "levels", None)):
        return "it has no levels(image_size) method"
    if not isinstance(getattr(obj, "fully_convolutional", False), bool):
        return "its fully_convolutional attribute must be True or False"
    return None
