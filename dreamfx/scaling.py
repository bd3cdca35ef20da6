"""What a scaling strategy is: the levels at which a model-sized network sees an image.

A scaler knows geometry, not the model. For an image size it returns its *levels*, coarse
to fine. At each level the image becomes a *canvas*: a batch ``(B, Hc, Wc, C)`` whose
height and width are whole multiples of the model's input size, so the canvas is cut into
model-sized views by a pure reshape (:func:`split_views`) inside the optimizer's compiled
step. ``from_canvas`` puts a (changed) canvas back at the image size; whatever
``from_canvas(to_canvas(x))`` loses is the *detail* the reinjection loop adds back.

``roll`` is how far the optimizer may shift the canvas before cutting it, per step: a
random shift of up to one tile moves the tile borders every step, so no seams form.
``view_size`` is the size of the views the canvas is cut into; ``None`` means the whole
canvas is one view, for scalers whose model runs at any size (``fully_convolutional``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .cache import LRUCache


#: The resize methods a scaler may use (``tf.image.resize``'s, and ``keras.ops.image.resize``'s names).
RESIZE_METHODS: tuple[str, ...] = ("bicubic", "bilinear", "lanczos3", "lanczos5", "area", "mitchellcubic", "gaussian")


def check_resize_method(method: str, key: str = "scaler.method") -> None:
    """A :class:`~dreamfx.errors.SettingsError` naming the valid methods if ``method`` is not one."""
    from .errors import SettingsError

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
    model; write it with ``keras.ops`` and the host's :func:`resize`, :func:`reflect_pad`
    and :func:`tile_grid`.
    """

    view_size: tuple[int, int]
    #: True when levels hand the optimizer whole canvases of any size (view_size None);
    #: the host then builds a feature model that accepts any input size.
    fully_convolutional: bool

    def levels(self, image_size: tuple[int, int]) -> Sequence[Level]:
        """The levels for an image of ``image_size``, coarse to fine (at least one)."""


#: Images at most this many pixels on each side are enlarged with two matrix products
#: (see :func:`resize`).
MATMUL_MAX_SIDE = 64


def resize(images: Any, size: Sequence[int], method: str = "bicubic") -> Any:
    """Resize a batch with TensorFlow, antialiased when shrinking (no host round trip).

    Every ``tf.image.resize`` method is separable: one 1-D filter per axis. A small image
    (a 28x28 canvas going back to photo size) is resized as two matrix products with those
    filters written out as matrices, which is about 2x faster on a CPU than TensorFlow's
    resize kernels for a batch of photos (``docs/performance.md``) and gives the same values
    to float32 rounding: the matrices are made by the same ``tf.image.resize`` call, applied
    to unit vectors. Shrinking a photo keeps TensorFlow's kernel: its matrix would take
    longer to build (a resize per input pixel) than a whole dream of one image.
    """
    from .backend import is_jax

    size = (int(size[0]), int(size[1]))
    height, width = int(images.shape[1]), int(images.shape[2])
    if (height, width) == size:
        return images
    shrinking = size[0] < height or size[1] < width
    if is_jax():
        return _jax_resize(images, size, method, shrinking)
    import tensorflow as tf

    if height <= MATMUL_MAX_SIDE and width <= MATMUL_MAX_SIDE:
        return _resize_by_matmul(tf.convert_to_tensor(images, tf.float32), size, method, shrinking)
    return tf.image.resize(images, size, method=method, antialias=shrinking)


@functools.lru_cache(maxsize=64)
def axis_filter(n_in: int, n_out: int, method: str, antialias: bool) -> np.ndarray:
    """The ``(n_out, n_in)`` matrix that ``tf.image.resize`` applies along one axis: the
    resize of each unit vector (a block of them at a time, so memory stays bounded)."""
    import tensorflow as tf

    matrix = np.empty((n_out, n_in), np.float32)
    block = max(1, (1 << 22) // max(n_in, n_out))  # about 16 MB of float32 per block
    with tf.init_scope(), tf.device("/CPU:0"):  # eager, also when called while tracing
        for start in range(0, n_in, block):
            stop = min(n_in, start + block)
            basis = tf.one_hot(tf.range(start, stop), n_in, dtype=tf.float32)[:, :, None, None]
            out = tf.image.resize(basis, (n_out, 1), method=method, antialias=antialias).numpy()
            matrix[:, start:stop] = out[:, :, 0, 0].T
    return matrix


def _resize_by_matmul(images: Any, size: tuple[int, int], method: str, antialias: bool) -> Any:
    import tensorflow as tf

    height, width, channels = (int(d) for d in images.shape[1:])
    batch = tf.shape(images)[0]
    rows = tf.constant(axis_filter(height, size[0], method, antialias))  # (H', H)
    cols = tf.constant(axis_filter(width, size[1], method, antialias))  # (W', W)
    x = images if channels == 1 else tf.transpose(images, [0, 3, 1, 2])
    planes = batch * channels
    x = tf.reshape(x, [planes, height, width])
    # Both products are batched, one same-shaped product per image plane: a single 2-D
    # product over every row of the batch let the matrix kernel pick its blocking by the
    # batch's size, so an image enlarged in a batch of 3 differed from the same image alone
    # in the last bit (28x28 -> 400x600), and a long dream amplified it (test_scaling).
    row_filter = tf.broadcast_to(rows, [planes, size[0], height])
    col_filter = tf.broadcast_to(cols, [planes, size[1], width])
    # do first the axis that leaves less work for the second product
    if size[0] * width * (height + size[1]) <= size[1] * height * (width + size[0]):
        x = tf.matmul(row_filter, x)
        x = tf.matmul(x, col_filter, transpose_b=True)
    else:
        x = tf.matmul(x, col_filter, transpose_b=True)
        x = tf.matmul(row_filter, x)
    if channels == 1:
        return tf.reshape(x, [batch, size[0], size[1], 1])
    return tf.transpose(tf.reshape(x, [batch, channels, size[0], size[1]]), [0, 2, 3, 1])


#: The resize methods of the JAX backend (``jax.image.resize``'s kernels are TensorFlow's
#: ``ScaleAndTranslate`` kernels; "area", "mitchellcubic" and "gaussian" have none).
JAX_RESIZE_METHODS: tuple[str, ...] = ("bicubic", "bilinear", "lanczos3", "lanczos5")


def _check_jax_method(method: str) -> None:
    from .errors import SettingsError

    if method not in JAX_RESIZE_METHODS:
        raise SettingsError(f"resize method {method!r} has no JAX kernel; on the jax backend choose one of "
                            f"{', '.join(JAX_RESIZE_METHODS)} (or use --backend tensorflow)")


#: TensorFlow's bicubic kernel without antialiasing (``resize_bicubic`` with half-pixel
#: centres) reads its weights from a table of this many fractional positions per pixel.
_CUBIC_TABLE = 1024


def keys_cubic_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """TensorFlow's ``resize_bicubic`` (half-pixel centres, Keys a=-0.5) along one axis:
    for each output position the 4 input indices and their weights, as TensorFlow computes
    them (fractional positions rounded to 1/1024, samples outside the image weighted 0 and
    the rest renormalised). ``jax.image.resize`` evaluates the kernel exactly instead, which
    differs by up to 7e-4."""
    a = np.float32(-0.5)
    x = np.arange(_CUBIC_TABLE + 1, dtype=np.float32) / np.float32(_CUBIC_TABLE)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
    scale = np.float32(n_in) / np.float32(n_out)
    loc = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(loc).astype(np.int64)
    offset = np.rint((loc - floor) * _CUBIC_TABLE).astype(np.int64)
    index = floor[:, None] + np.arange(-1, 3)[None, :]
    weight = np.stack([far[offset], near[offset], near[_CUBIC_TABLE - offset], far[_CUBIC_TABLE - offset]], axis=1)
    inside = (index >= 0) & (index < n_in)
    weight = np.where(inside, weight, np.float32(0)).astype(np.float32)
    total = weight.sum(axis=1, keepdims=True, dtype=np.float32)
    weight = np.where(np.abs(total) >= 1000 * np.finfo(np.float32).tiny, weight * (np.float32(1) / total), weight)
    return np.clip(index, 0, n_in - 1), weight.astype(np.float32)


@functools.lru_cache(maxsize=64)
def jax_axis_filter(n_in: int, n_out: int, method: str, antialias: bool) -> np.ndarray:
    """:func:`axis_filter` on the JAX backend: ``jax.image.resize`` of each unit vector
    (TensorFlow's table-driven bicubic kernel when enlarging without antialiasing)."""
    import jax

    _check_jax_method(method)
    if method == "bicubic" and not antialias:
        index, weight = keys_cubic_weights(n_in, n_out)
        matrix = np.zeros((n_out, n_in), np.float32)
        for k in range(4):
            np.add.at(matrix, (np.arange(n_out), index[:, k]), weight[:, k])
        return matrix
    with jax.ensure_compile_time_eval(), jax.default_device(jax.devices("cpu")[0]):
        basis = np.eye(n_in, dtype=np.float32)[:, :, None]
        out = np.asarray(jax.image.resize(basis, (n_in, n_out, 1), method=method, antialias=antialias))
    return np.ascontiguousarray(out[:, :, 0].T)


def _jax_resize(images: Any, size: tuple[int, int], method: str, shrinking: bool) -> Any:
    """:func:`resize` on the JAX backend: two batched matrix products for small images (as
    on TensorFlow), ``jax.image.resize`` otherwise."""
    import jax
    import jax.numpy as jnp

    _check_jax_method(method)
    images = jnp.asarray(images, jnp.float32)
    batch, height, width, channels = (int(d) for d in images.shape)
    if height > MATMUL_MAX_SIDE or width > MATMUL_MAX_SIDE:
        if method == "bicubic" and not shrinking:  # TensorFlow's kernel, one axis at a time
            for axis, (n_in, n_out) in ((1, (height, size[0])), (2, (width, size[1]))):
                if n_in != n_out:
                    index, weight = keys_cubic_weights(n_in, n_out)
                    parts = [jnp.take(images, jnp.asarray(index[:, k]), axis=axis) for k in range(4)]
                    shape = [1, 1, 1, 1]
                    shape[axis] = n_out
                    images = sum(p * jnp.asarray(weight[:, k]).reshape(shape) for k, p in enumerate(parts))
            return images
        return jax.image.resize(images, (batch, size[0], size[1], channels), method=method, antialias=shrinking)
    rows = jnp.asarray(jax_axis_filter(height, size[0], method, shrinking))
    cols = jnp.asarray(jax_axis_filter(width, size[1], method, shrinking))
    planes = batch * channels
    x = jnp.reshape(jnp.transpose(images, (0, 3, 1, 2)), (planes, height, width))
    row_filter = jnp.broadcast_to(rows, (planes, size[0], height))
    col_filter = jnp.broadcast_to(cols, (planes, size[1], width))
    if size[0] * width * (height + size[1]) <= size[1] * height * (width + size[0]):
        x = jnp.matmul(jnp.matmul(row_filter, x), jnp.swapaxes(col_filter, 1, 2))
    else:
        x = jnp.matmul(row_filter, jnp.matmul(x, jnp.swapaxes(col_filter, 1, 2)))
    return jnp.transpose(jnp.reshape(x, (batch, channels, size[0], size[1])), (0, 2, 3, 1))


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


def views_at(level: Any, images: Any) -> Any:
    """What the network sees of ``images`` (a batch ``(B, H, W, C)``) at ``level``: the
    level's canvas, cut into model-sized views when the level has a view size. Scoring,
    the silent-map hints and the atlas all see a photo through this one function."""
    canvas = level.to_canvas(images)
    return canvas if level.view_size is None else split_views(canvas, level.view_size)


def split_views(canvas: Any, view_size: Sequence[int]) -> Any:
    """Cut a canvas ``(B, a*h, b*w, C)`` into views ``(B*a*b, h, w, C)``, image-major."""
    from .backend import is_jax

    if is_jax():
        return jax_split_views(canvas, view_size)
    import tensorflow as tf

    h, w = view_size
    shape = tf.shape(canvas)
    a, b = shape[1] // h, shape[2] // w
    x = tf.reshape(canvas, [shape[0], a, h, b, w, shape[3]])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [-1, h, w, shape[3]])


def merge_views(views: Any, canvas_shape: Any, view_size: Sequence[int]) -> Any:
    """The inverse of :func:`split_views` for a canvas of ``canvas_shape``."""
    from .backend import is_jax

    if is_jax():
        return jax_merge_views(views, canvas_shape, view_size)
    import tensorflow as tf

    h, w = view_size
    bsz, a, b, c = canvas_shape[0], canvas_shape[1] // h, canvas_shape[2] // w, canvas_shape[3]
    x = tf.reshape(views, [bsz, a, b, h, w, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [bsz, a * h, b * w, c])


def jax_split_views(canvas: Any, view_size: Sequence[int]) -> Any:
    """:func:`split_views` in ``jax.numpy`` (static shapes)."""
    import jax.numpy as jnp

    h, w = (int(v) for v in view_size)
    bsz, height, width, c = (int(d) for d in canvas.shape)
    x = jnp.reshape(canvas, (bsz, height // h, h, width // w, w, c))
    return jnp.reshape(jnp.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, h, w, c))


def jax_merge_views(views: Any, canvas_shape: Any, view_size: Sequence[int]) -> Any:
    """:func:`merge_views` in ``jax.numpy`` (static shapes)."""
    import jax.numpy as jnp

    h, w = (int(v) for v in view_size)
    bsz, a, b, c = (int(canvas_shape[0]), int(canvas_shape[1]) // h, int(canvas_shape[2]) // w,
                    int(canvas_shape[3]))
    x = jnp.reshape(views, (bsz, a, b, h, w, c))
    return jnp.reshape(jnp.transpose(x, (0, 1, 3, 2, 4, 5)), (bsz, a * h, b * w, c))


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
