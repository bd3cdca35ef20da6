"""What the network sees of a canvas, written once over ``keras.ops``: the views it is cut
into, the fixed tie-break pattern added to them, and the shift of each step.

A level's canvas ``(B, a*h, b*w, C)`` is cut into model-sized views ``(B*a*b, h, w, C)``,
image-major, by a pure reshape (:func:`split_views`); :func:`merge_views` is its inverse.

The tie-break pattern and the shifts are drawn on the host with TensorFlow's stateless
random numbers (:mod:`.stateless`, the same bits without TensorFlow), so every backend
dreams the same dream for the same seed; they are fed to the compiled step loop as values.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from dreamfx.engine import stateless

#: Amplitude of the fixed pattern added to what the network sees (not to the image): breaks
#: exact ties of max pooling on flat regions the same way on every CPU. 2**-10 still let
#: synthetic images diverge across instruction sets within 10 steps; 2**-5 (8 levels of
#: 255) did not, and leaves the objective gains on photos as they were (within 3%).
TIE_BREAK = 2.0**-5
#: Weyl-sequence steps per axis (2**32 times the golden ratio's and sqrt(2)'s fractional parts).
WEYL = (2_654_435_769, 1_779_033_703)


def split_views(canvas: Any, view_size: Sequence[int]) -> Any:
    """Cut a canvas ``(B, a*h, b*w, C)`` into views ``(B*a*b, h, w, C)``, image-major."""
    from keras import ops

    h, w = (int(v) for v in view_size)
    batch, height, width, channels = ops.shape(canvas)
    x = ops.reshape(canvas, [batch, height // h, h, width // w, w, channels])
    return ops.reshape(ops.transpose(x, [0, 1, 3, 2, 4, 5]), [-1, h, w, channels])


def merge_views(views: Any, canvas_shape: Any, view_size: Sequence[int]) -> Any:
    """The inverse of :func:`split_views` for a canvas of ``canvas_shape``."""
    from keras import ops

    h, w = (int(v) for v in view_size)
    batch, a, b, channels = canvas_shape[0], canvas_shape[1] // h, canvas_shape[2] // w, canvas_shape[3]
    x = ops.reshape(views, [batch, a, b, h, w, channels])
    return ops.reshape(ops.transpose(x, [0, 1, 3, 2, 4, 5]), [batch, a * h, b * w, channels])


def views_at(level: Any, images: Any) -> Any:
    """What the network sees of ``images`` (a batch ``(B, H, W, C)``) at ``level``: the
    level's canvas, cut into model-sized views when the level has a view size. Scoring,
    the silent-map hints and the atlas all see a photo through this one function."""
    canvas = level.to_canvas(images)
    return canvas if level.view_size is None else split_views(canvas, level.view_size)


def view_count(shape: Any, view_size: tuple[int, int] | None) -> Any:
    """How many views a canvas of ``shape`` is cut into (ints, or tensors for dimensions
    only known at run time)."""
    if view_size is None:
        return shape[0]
    return shape[0] * (shape[1] // view_size[0]) * (shape[2] // view_size[1])


@functools.lru_cache(maxsize=32)
def tie_break_pattern(shape: tuple[int, ...]) -> np.ndarray:
    """The fixed pattern (``shape`` = canvas height, width, channels) added to what the
    network sees: ``tf.random.stateless_uniform(shape, [20251125, 11], -TIE_BREAK, TIE_BREAK)``."""
    pattern = stateless.uniform_float32(shape, (20_251_125, 11), -TIE_BREAK, TIE_BREAK)
    pattern.flags.writeable = False
    return pattern


@functools.lru_cache(maxsize=64)
def round_shifts(seed: int, round_index: int, total: int, jitter: int, roll: int) -> np.ndarray | None:
    """The ``(dy, dx)`` shift of each of a round's ``total`` steps, ``(total, 2)`` int32;
    None when the canvas is never shifted (no tile grid, no jitter).

    With a tile grid (``roll`` > 0) the offset modulo the tile follows a Weyl sequence over
    the dream's steps counted one after the other: ``floor(roll * frac(a + n * alpha))``,
    ``a`` random per seed and axis. Any run of consecutive steps (a level's, a round's)
    spreads its offsets evenly over the tile, so every pixel spends about as many steps at
    each position within a tile, and the parts of a tile the network sees less (its VALID
    borders) do not imprint the grid. Exact integer arithmetic: the same on every CPU.
    Otherwise a jitter of up to ``jitter`` pixels per step."""
    if roll:
        start = stateless.uniform_int([2], (seed, 7_919), 0, 2**32, "int64").astype(object)
        rows = []
        for k in range(total):
            index = k + round_index * total
            phase = [(int(start[a]) + index * WEYL[a]) % 2**32 for a in range(2)]
            rows.append([p * roll // 2**32 for p in phase])
        shifts = np.array(rows, np.int32).reshape(total, 2)
    elif not jitter:
        return None
    elif not total:
        shifts = np.zeros((0, 2), np.int32)
    else:
        shifts = np.stack([stateless.uniform_int([2], (seed, round_index * 1_000_003 + k), -jitter, jitter + 1)
                           for k in range(total)]).astype(np.int32).reshape(total, 2)
    shifts.flags.writeable = False
    return shifts


def resize(images: Any, size: Sequence[int], method: str = "bicubic") -> Any:
    """Resize a batch on the active backend, antialiased when shrinking (no host round
    trip): TensorFlow's ``tf.image.resize`` kernels on both backends (small images as two
    matrix products with those kernels written out as matrices: the kernels' ``resize``)."""
    from dreamfx.engine.backend import kernel  # the engine's own selector: no backend imported here

    size = (int(size[0]), int(size[1]))
    height, width = int(images.shape[1]), int(images.shape[2])
    if (height, width) == size:
        return images
    return kernel().resize(images, size, method, size[0] < height or size[1] < width)
