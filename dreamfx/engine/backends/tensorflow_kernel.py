"""The engine's TensorFlow kernel: what the dream engine needs of TensorFlow that
``keras.ops`` does not give the same way on every backend.

- the gradient of the objective with respect to the views (``tf.GradientTape``);
- compiling (``tf.function`` with ``reduce_retracing``: Python values such as the view size
  are part of the signature), the step loop (``tf.while_loop``, shapes kept put from step to
  step) and the chunk loop over views (a ``TensorArray``; a batch that fits in one chunk
  skips it);
- shifting a canvas (two gathers for small canvases, where ``tf.roll`` costs more);
- waiting for a result, placing work on a device, converting arrays;
- resizing (``tf.image.resize``, small images by two matrix products);
- starting TensorFlow without its native chatter, and its thread count.

TensorFlow is imported when first used: on the JAX backend it is never imported.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from dreamfx.config.device import parse_device
from dreamfx.errors import DreamfxError

NAME = "tensorflow"
#: Whether small dreams may be traced as one compiled call (:mod:`dreamfx.engine.whole`):
#: per call TensorFlow pays more than JAX, which dispatches asynchronously.
WHOLE_DREAMS = True
#: Whether a step split into several calls pads its views to whole chunks (JAX's chunk
#: loop pads; TensorFlow's runs a shorter last chunk).
#: Environment variables that quieten the backend's native start-up lines (set only when unset).
QUIET_ENV: dict[str, str] = {"TF_CPP_MIN_LOG_LEVEL": "3"}
#: Modules whose Python warnings a user never needs to see (``--debug`` shows them).
NOISY_MODULES: tuple[str, ...] = ("tensorflow", "keras", "absl", "tf_keras", "h5py")
PADS_CHUNKS = False
#: The resize methods this backend has.
RESIZE_METHODS: tuple[str, ...] = ("bicubic", "bilinear", "lanczos3", "lanczos5", "area", "mitchellcubic", "gaussian")
#: Canvases of at most this many values are shifted by gathers rather than ``tf.roll``:
#: TensorFlow's roll costs about 60 us on a 28x28 canvas (its kernel is sharded over the
#: thread pool), two gathers about 25 us; from a batch of 16 such canvases on, roll wins.
SMALL_ROLL = 4096
#: Images at most this many pixels on each side are enlarged with two matrix products.
MATMUL_MAX_SIDE = 64


class _TensorFlow:
    """``tensorflow``, imported when first used."""

    def __getattr__(self, name: str) -> Any:
        import tensorflow

        return getattr(tensorflow, name)


tf: Any = _TensorFlow()


# -- the step loop's kernel -----------------------------------------------------------------------


def compile_step(fn: Callable[..., Any], static: Sequence[str] = ()) -> Callable[..., Any]:
    """A step-loop function compiled, traced once per canvas shape (``static`` arguments are
    Python values, part of TensorFlow's signature anyway)."""
    return tf.function(fn, reduce_retracing=True)


def compile_function(fn: Callable[..., Any], *, retrace_less: bool = False) -> Callable[..., Any]:
    """``fn`` compiled: ``tf.function`` without autograph (straight-line code), or with
    ``reduce_retracing`` for batch-size changes (``retrace_less``)."""
    if retrace_less:
        return tf.function(fn, reduce_retracing=True)
    return tf.function(fn, autograph=False)


def value_and_grad(score: Callable[[Any], Any], views: Any) -> tuple[Any, Any]:
    """``(score(views), d sum(score(views)) / d views)``."""
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(views)
        per_view = score(views)
        total = tf.reduce_sum(per_view)
    return per_view, tape.gradient(total, views)


def _never_one(view_gradient: Callable[[Any, Any], tuple[Any, Any]]) -> Callable[[Any, Any], tuple[Any, Any]]:
    """``view_gradient`` that never sends the network a single view: a lone view goes with
    a copy of itself, dropped after. oneDNN convolves one sample in another order than
    several on some CPUs (AVX-512, measured: conv1 1 ulp apart for a lone view, the same bits
    for 2 to 33), and a dream amplifies that through max pooling's near ties (a single image
    came out 0.3/255 apart from the same image in a batch). Views are independent, so the
    copy changes nothing else; where the count is known to be 2 or more, nothing is added."""

    def gradient(views: Any, choices: Any) -> tuple[Any, Any]:
        count = views.shape[0]
        if count is not None and count >= 2:
            return view_gradient(views, choices)
        n = tf.shape(views)[0]
        grad, score = view_gradient(tf.concat([views, views[:1]], 0),
                                    None if choices is None else tf.concat([choices, choices[:1]], 0))
        return grad[:n], score[:n]

    return gradient


def chunked(view_gradient: Callable[[Any, Any], tuple[Any, Any]], views: Any, choices: Any,
            chunk: int) -> tuple[Any, Any]:
    """``view_gradient`` of all views, at most ``chunk`` through the network at once, never
    one alone (:func:`_never_one`). A batch that fits in one chunk skips the chunk loop (its
    per-step cost matters for small dreams); when the count is only known at run time, a
    cond picks the path."""
    view_gradient = _never_one(view_gradient)

    def looped() -> tuple[Any, Any]:
        count = tf.shape(views)[0]
        chunks = (count + chunk - 1) // chunk
        parts = tf.TensorArray(tf.float32, size=chunks, infer_shape=False)
        scores = tf.TensorArray(tf.float32, size=chunks, infer_shape=False)

        def body(i: Any, parts: Any, scores: Any) -> tuple[Any, ...]:
            end = tf.minimum((i + 1) * chunk, count)
            part, score = view_gradient(views[i * chunk : end], None if choices is None else choices[i * chunk : end])
            return i + 1, parts.write(i, part), scores.write(i, score)

        _, parts, scores = tf.while_loop(lambda i, *_: i < chunks, body, (tf.constant(0), parts, scores))
        return tf.reshape(parts.concat(), tf.shape(views)), scores.concat()

    count = views.shape[0]
    if count is not None:
        return view_gradient(views, choices) if count <= chunk else looped()
    return tf.cond(tf.shape(views)[0] <= chunk, lambda: view_gradient(views, choices), looped)


def fori(steps: Any, body: Callable[[Any, tuple[Any, ...]], tuple[Any, ...]], carry: tuple[Any, ...]) -> tuple[Any, ...]:
    """``carry = body(i, carry)`` for ``i`` in ``0 .. steps - 1`` (a run-time count), each
    part of the carry keeping its static shape."""

    def step(i: Any, *carry: Any) -> tuple[Any, ...]:
        out = body(i, carry)
        return (i + 1, *tf.nest.map_structure(like, out, carry))

    return tuple(tf.while_loop(lambda i, *_: i < steps, step, (tf.constant(0), *carry))[1:])


def roll(x: Any, shift: Any) -> Any:
    """``x`` rolled by ``shift`` (dy, dx) along its height and width, the cheaper way for its size."""
    if not x.shape.is_fully_defined() or x.shape.num_elements() > SMALL_ROLL:
        return tf.roll(x, shift, axis=[1, 2])
    for axis in (1, 2):
        n = int(x.shape[axis])
        x = tf.gather(x, tf.math.floormod(tf.range(n) - shift[axis - 1], n), axis=axis)
    return x


def like(new: Any, old: Any) -> Any:
    """``new`` as a tensor with ``old``'s dtype and (static) shape, as a compiled loop needs
    its carried values to stay put from step to step."""
    new = tf.convert_to_tensor(new, getattr(old, "dtype", None))
    if hasattr(old, "shape"):
        new.set_shape(old.shape)
    return new


def wait(x: Any) -> None:
    """Block until ``x`` is computed: eager ops on a CPU are synchronous, on a GPU they are not."""
    if "GPU" in getattr(x, "device", ""):
        x.numpy()


def tensor(value: Any, dtype: str = "float32") -> Any:
    return tf.convert_to_tensor(value, getattr(tf, dtype))


def tree_map(fn: Callable[..., Any], *trees: Any) -> Any:
    return tf.nest.map_structure(fn, *trees)


# -- devices ----------------------------------------------------------------------------------------


def resolve_device(spec: str = "auto") -> str:
    """``auto|cpu|gpu|gpu:N`` as a TensorFlow device name such as ``/GPU:0``: ``auto`` is
    the first GPU when TensorFlow sees one, else the CPU; asking for a GPU that is not
    there is an error that says how to get one."""
    kind, index = parse_device(spec)
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "cpu" or (kind == "auto" and not gpus):
        return "/CPU:0"
    if kind == "auto":
        return gpus[0].name
    if index >= len(gpus):
        found = f"{len(gpus)} GPU(s)" if gpus else "no GPU"
        raise DreamfxError(f"--device {spec.strip().lower()}: TensorFlow sees {found}; install the CUDA build with "
                           "pip install 'dreamfx[cuda]' or use --device cpu")
    return gpus[index].name


@contextlib.contextmanager
def on_device(name: str) -> Iterator[None]:
    with tf.device(name):
        yield


def set_threads(threads: int) -> None:
    """Run TensorFlow's kernels on ``threads`` threads (a cluster worker's share of the CPUs)."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised by someone else in this process
        pass


# -- starting without chatter -----------------------------------------------------------------------


def start(hide_native: Callable[[], Any]) -> None:
    """Import Keras and TensorFlow and start the runtime (and its CUDA probe) inside
    ``hide_native()``, a context in which file descriptor 2 may point to the null device."""
    with hide_native():
        import keras  # noqa: F401
        import tensorflow

        tensorflow.config.list_logical_devices()


def quiet_loggers() -> None:
    """TensorFlow's and absl's Python loggers and autograph's notes to errors only."""
    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass


# -- resizing ---------------------------------------------------------------------------------------


def check_resize_method(method: str) -> None:
    """Every method of :data:`RESIZE_METHODS` has a TensorFlow kernel: nothing to refuse."""


def resize(images: Any, size: tuple[int, int], method: str, shrinking: bool) -> Any:
    """Resize a batch, antialiased when shrinking. Every ``tf.image.resize`` method is
    separable: a small image (a 28x28 canvas going back to photo size) is resized as two
    matrix products with those filters written out as matrices, about 2x faster on a CPU
    for a batch of photos (docs/performance.md) and the same values to float32 rounding
    (the matrices are made by the same ``tf.image.resize`` call, applied to unit vectors).
    Shrinking a photo keeps TensorFlow's kernel: its matrix would take longer to build (a
    resize per input pixel) than a whole dream of one image."""
    height, width = int(images.shape[1]), int(images.shape[2])
    if height <= MATMUL_MAX_SIDE and width <= MATMUL_MAX_SIDE:
        return _resize_by_matmul(tf.convert_to_tensor(images, tf.float32), size, method, shrinking)
    return tf.image.resize(images, size, method=method, antialias=shrinking)


@functools.lru_cache(maxsize=64)
def axis_filter(n_in: int, n_out: int, method: str, antialias: bool) -> np.ndarray:
    """The ``(n_out, n_in)`` matrix that ``tf.image.resize`` applies along one axis: the
    resize of each unit vector (a block of them at a time, so memory stays bounded)."""
    matrix = np.empty((n_out, n_in), np.float32)
    block = max(1, (1 << 22) // max(n_in, n_out))  # about 16 MB of float32 per block
    with tf.init_scope(), tf.device("/CPU:0"):  # eager, also when called while tracing
        for first in range(0, n_in, block):
            stop = min(n_in, first + block)
            basis = tf.one_hot(tf.range(first, stop), n_in, dtype=tf.float32)[:, :, None, None]
            out = tf.image.resize(basis, (n_out, 1), method=method, antialias=antialias).numpy()
            matrix[:, first:stop] = out[:, :, 0, 0].T
    return matrix


def _resize_by_matmul(images: Any, size: tuple[int, int], method: str, antialias: bool) -> Any:
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


def feature_model(model: Any, layers: tuple[str, ...], any_size: bool) -> Any:
    """A backend's own feature model, or None for Keras's (TensorFlow needs none)."""
    return None
