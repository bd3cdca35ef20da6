"""The engine's JAX kernel: what the dream engine needs of JAX that ``keras.ops`` does not
give the same way on every backend.

- the gradient of the objective with respect to the views (``jax.value_and_grad``);
- compiling (``jax.jit``, per shape: the number of steps in a piece and the step's place in
  the round are run-time values, so a dream compiles once per canvas shape), the step loop
  (``lax.fori_loop``) and the chunk loop over views (``lax.map``, the last chunk padded and
  its padding's gradient dropped);
- waiting for a result (JAX dispatches asynchronously, also on a CPU), device placement;
- resizing with TensorFlow's kernels (``jax.image.resize`` evaluates the bicubic kernel
  exactly, TensorFlow from a table: the table is used here, so both backends agree);
- max pooling with TensorFlow's gradient (:mod:`.jax_pooling`).

A step split into several calls equals the unsplit step to float rounding, not bit for bit
as on TensorFlow: XLA fuses the update of a separate call differently from the loop's body
(measured: 6e-8 on the tests' Adam dream).
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from dreamfx.config.device import parse_device
from dreamfx.errors import DreamfxError, SettingsError

NAME = "jax"
WHOLE_DREAMS = False
#: Environment variables that quieten the backend's native start-up lines (set only when unset).
QUIET_ENV: dict[str, str] = {}
#: Modules whose Python warnings a user never needs to see (``--debug`` shows them).
NOISY_MODULES: tuple[str, ...] = ("keras",)
PADS_CHUNKS = True
#: The resize methods of the JAX backend (``jax.image.resize``'s kernels are TensorFlow's
#: ``ScaleAndTranslate`` kernels; "area", "mitchellcubic" and "gaussian" have none).
RESIZE_METHODS: tuple[str, ...] = ("bicubic", "bilinear", "lanczos3", "lanczos5")
MATMUL_MAX_SIDE = 64


def compile_step(fn: Callable[..., Any], static: Sequence[str] = ()) -> Callable[..., Any]:
    import jax

    return jax.jit(fn, static_argnames=tuple(static))


def compile_function(fn: Callable[..., Any], *, retrace_less: bool = False) -> Callable[..., Any]:
    import jax

    return jax.jit(fn)


def value_and_grad(score: Callable[[Any], Any], views: Any) -> tuple[Any, Any]:
    import jax
    import jax.numpy as jnp

    def total(v: Any) -> tuple[Any, Any]:
        per_view = score(v)
        return jnp.sum(per_view), per_view

    (_, per_view), grad = jax.value_and_grad(total, has_aux=True)(views)
    return per_view, grad


def chunked(view_gradient: Callable[[Any, Any], tuple[Any, Any]], views: Any, choices: Any,
            chunk: int) -> tuple[Any, Any]:
    import jax
    import jax.numpy as jnp

    count = views.shape[0]
    if count <= chunk:
        return view_gradient(views, choices)
    pieces = -(-count // chunk)
    pad = pieces * chunk - count
    padded = jnp.reshape(jnp.pad(views, [(0, pad)] + [(0, 0)] * (views.ndim - 1)), (pieces, chunk) + views.shape[1:])
    if choices is None:
        grads, scores = jax.lax.map(lambda v: view_gradient(v, None), padded)
    else:
        per = jnp.reshape(jnp.pad(choices, [(0, pad)]), (pieces, chunk))
        grads, scores = jax.lax.map(lambda a: view_gradient(a[0], a[1]), (padded, per))
    return jnp.reshape(grads, (pieces * chunk,) + views.shape[1:])[:count], jnp.reshape(scores, [-1])[:count]


def fori(steps: Any, body: Callable[[Any, tuple[Any, ...]], tuple[Any, ...]], carry: tuple[Any, ...]) -> tuple[Any, ...]:
    import jax

    return tuple(jax.lax.fori_loop(0, steps, lambda i, c: tuple(body(i, c)), tuple(carry)))


def roll(x: Any, shift: Any) -> Any:
    import jax.numpy as jnp

    return jnp.roll(x, (shift[0], shift[1]), axis=(1, 2))


def like(new: Any, old: Any) -> Any:
    import jax.numpy as jnp

    return jnp.asarray(new, getattr(old, "dtype", None))


def wait(x: Any) -> None:
    x.block_until_ready()


def tensor(value: Any, dtype: str = "float32") -> Any:
    import jax.numpy as jnp

    return jnp.asarray(value, dtype)


def tree_map(fn: Callable[..., Any], *trees: Any) -> Any:
    import jax

    return jax.tree_util.tree_map(fn, *trees)


# -- devices ----------------------------------------------------------------------------------------


def gpus() -> list[Any]:
    """The GPUs JAX sees (none when its CUDA plugin is missing)."""
    import jax

    try:
        return list(jax.devices("gpu"))
    except RuntimeError:  # no GPU platform in this JAX
        return []


def resolve_device(spec: str = "auto") -> str:
    """``auto|cpu|gpu|gpu:N`` as ``cpu:0`` or ``cuda:N``."""
    kind, index = parse_device(spec)
    found_gpus = gpus()
    if kind == "cpu" or (kind == "auto" and not found_gpus):
        return "cpu:0"
    if index >= len(found_gpus):
        found = f"{len(found_gpus)} GPU(s)" if found_gpus else "no GPU"
        raise DreamfxError(f"--device {spec.strip().lower()}: JAX sees {found}; install JAX's CUDA build "
                           '(pip install "jax[cuda13]") or use --device cpu')
    return f"cuda:{index}"


@contextlib.contextmanager
def on_device(name: str) -> Iterator[None]:
    import jax

    kind, _, index = name.partition(":")
    device = gpus()[int(index)] if kind == "cuda" else jax.devices("cpu")[int(index or 0)]
    with jax.default_device(device):
        yield


def set_threads(threads: int) -> None:
    """XLA's CPU thread pool is sized when JAX starts: nothing to do later."""


def start(hide_native: Callable[[], Any]) -> None:
    import keras  # noqa: F401


def quiet_loggers() -> None:
    """JAX writes no start-up chatter to quieten."""


# -- resizing ---------------------------------------------------------------------------------------


def check_resize_method(method: str) -> None:
    if method not in RESIZE_METHODS:
        raise SettingsError(f"resize method {method!r} has no JAX kernel; on the jax backend choose one of "
                            f"{', '.join(RESIZE_METHODS)} (or use --backend tensorflow)")


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
def axis_filter(n_in: int, n_out: int, method: str, antialias: bool) -> np.ndarray:
    """The ``(n_out, n_in)`` matrix of a resize along one axis: ``jax.image.resize`` of each
    unit vector (TensorFlow's table-driven bicubic kernel when enlarging without antialiasing)."""
    import jax

    check_resize_method(method)
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


def resize(images: Any, size: tuple[int, int], method: str, shrinking: bool) -> Any:
    """Two batched matrix products for small images (as on TensorFlow), TensorFlow's bicubic
    kernel one axis at a time for enlarging larger ones, ``jax.image.resize`` otherwise."""
    import jax
    import jax.numpy as jnp

    check_resize_method(method)
    images = jnp.asarray(images, jnp.float32)
    batch, height, width, channels = (int(d) for d in images.shape)
    if height > MATMUL_MAX_SIDE or width > MATMUL_MAX_SIDE:
        if method == "bicubic" and not shrinking:
            for axis, (n_in, n_out) in ((1, (height, size[0])), (2, (width, size[1]))):
                if n_in != n_out:
                    index, weight = keys_cubic_weights(n_in, n_out)
                    parts = [jnp.take(images, jnp.asarray(index[:, k]), axis=axis) for k in range(4)]
                    shape = [1, 1, 1, 1]
                    shape[axis] = n_out
                    images = sum(p * jnp.asarray(weight[:, k]).reshape(shape) for k, p in enumerate(parts))
            return images
        return jax.image.resize(images, (batch, size[0], size[1], channels), method=method, antialias=shrinking)
    rows = jnp.asarray(axis_filter(height, size[0], method, shrinking))
    cols = jnp.asarray(axis_filter(width, size[1], method, shrinking))
    planes = batch * channels
    x = jnp.reshape(jnp.transpose(images, (0, 3, 1, 2)), (planes, height, width))
    row_filter = jnp.broadcast_to(rows, (planes, size[0], height))
    col_filter = jnp.broadcast_to(cols, (planes, size[1], width))
    if size[0] * width * (height + size[1]) <= size[1] * height * (width + size[0]):
        x = jnp.matmul(jnp.matmul(row_filter, x), jnp.swapaxes(col_filter, 1, 2))
    else:
        x = jnp.matmul(row_filter, jnp.matmul(x, jnp.swapaxes(col_filter, 1, 2)))
    return jnp.transpose(jnp.reshape(x, (batch, channels, size[0], size[1])), (0, 2, 3, 1))


def feature_model(model: Any, layers: tuple[str, ...], any_size: bool) -> Any:
    """The feature model with TensorFlow's max-pooling gradient at its speed
    (:func:`.jax_pooling.chain_features`), or None when the model is not a chain of layers."""
    from dreamfx.engine.backends.jax_pooling import chain_features

    return chain_features(model, layers, any_size)
