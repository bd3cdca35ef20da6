"""The Keras backend a dream runs on: TensorFlow (the default) or JAX.

Plugins compute with ``keras.ops`` only, so they run on either. What Keras leaves to the
host is here, per backend: which one is active, device placement, converting arrays,
compiling a function (``tf.function`` or ``jax.jit``) and waiting for a result: each
backend's *kernel* (:mod:`dreamfx.engine.backends`), which :func:`kernel` picks. The dream
engine (:mod:`dreamfx.engine`) is written once over ``keras.ops`` on that kernel.

Keras picks its backend once, when it is first imported, from ``KERAS_BACKEND`` or from
the ``"backend"`` of ``~/.keras/keras.json`` (Keras's own configuration file, independent
of presets). ``dreamfx --backend NAME`` sets ``KERAS_BACKEND`` before anything imports
Keras; in a notebook, set the variable before importing dreamfx. A backend asked for
after Keras has started on another one is an error that says so, never a silent switch.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Callable, Iterator

from dreamfx.errors import DreamfxError, SettingsError

#: The backends dreamfx runs on. Keras's torch backend is not one: see docs/performance.md.
BACKENDS: tuple[str, ...] = ("tensorflow", "jax")
#: What installs each backend beyond dreamfx's own requirements.
INSTALL = {"tensorflow": "pip install dreamfx", "jax": 'pip install "dreamfx[jax]"'}


def check_name(name: str) -> str:
    """A backend name checked (a :class:`SettingsError` naming the choices otherwise)."""
    name = str(name).strip().lower()
    if name not in BACKENDS:
        raise SettingsError(f"unknown backend {name!r}; choose {' or '.join(BACKENDS)}"
                            + (" (Keras's torch backend is not supported: docs/performance.md says why)"
                               if name == "torch" else ""))
    return name


def request(name: str | None) -> str:
    """Ask for backend ``name`` (None: keep what Keras would choose) before Keras starts.
    Returns the backend that will run. Sets ``KERAS_BACKEND`` when Keras has not been
    imported yet; an error when it already runs on another backend."""
    if name is None:
        return planned()
    name = check_name(name)
    if "keras" in sys.modules:
        current = active()
        if current != name:
            raise DreamfxError(f"Keras already runs on the {current} backend in this process; "
                               f"set KERAS_BACKEND={name} before importing dreamfx or keras")
        return name
    os.environ["KERAS_BACKEND"] = name
    return name


def started() -> bool:
    """Whether Keras or a backend's library already runs in this process (then it is too
    late to choose a backend or to hide its start-up lines)."""
    return any(name in sys.modules for name in ("keras", *BACKENDS))


def planned() -> str:
    """The backend Keras will use (or uses), without importing it: ``KERAS_BACKEND``, else
    ``~/.keras/keras.json``, else TensorFlow."""
    if "keras" in sys.modules:
        return active()
    name = os.environ.get("KERAS_BACKEND")
    if not name:
        import json

        config = os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")),
                              "keras.json")
        try:
            with open(config, encoding="utf-8") as f:
                name = json.load(f).get("backend")
        except (OSError, ValueError, AttributeError):
            name = None
    return check_name(name or "tensorflow")


def active() -> str:
    """The backend Keras runs on (imports Keras)."""
    try:
        import keras
    except ImportError as exc:  # e.g. KERAS_BACKEND=jax without JAX installed
        name = os.environ.get("KERAS_BACKEND", "tensorflow")
        raise DreamfxError(f"the {name} backend is not installed ({exc}); {INSTALL.get(name, 'pip install keras')}") \
            from exc
    name = keras.backend.backend()
    if name not in BACKENDS:
        raise DreamfxError(f"Keras runs on the {name} backend, which dreamfx does not support; "
                           f"set KERAS_BACKEND to {' or '.join(BACKENDS)}")
    return name


# -- starting TensorFlow without its chatter ---------------------------------------------------

#: TensorFlow's native log level when the user set none: errors and warnings of its C++ code
#: (CUDA probing on a machine without a GPU, oneDNN's notice) are not shown.
QUIET_NATIVE_LEVEL = "3"


@contextlib.contextmanager
def stderr_hidden() -> Iterator[None]:
    """File descriptor 2 points to the null device inside: TensorFlow's native code writes its
    start-up lines (``cudart_stub``, ``failed call to cuInit``, absl's "All log messages
    before absl::InitializeLog()") there before any log level applies."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def start_quietly() -> None:
    """Start TensorFlow for the Python API (``dreamfx.dream()`` in a notebook or a script)
    with its native log lines hidden, as the ``dreamfx`` program hides them, but what the user
    chose stays: a ``TF_CPP_MIN_LOG_LEVEL`` they set is kept (the start-up lines are hidden
    only at level 3, dreamfx's default), and so is a level they gave the ``tensorflow`` or
    ``absl`` logger (otherwise errors only). Python's warnings filters are left alone. Does
    nothing once Keras or TensorFlow runs, or on JAX."""
    import logging

    if "tensorflow" in sys.modules or "keras" in sys.modules:
        return
    try:
        if planned() != "tensorflow":
            return
    except DreamfxError:  # an unknown backend: building the dreamer says so
        return
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_NATIVE_LEVEL)
    loggers = [name for name in ("tensorflow", "absl") if logging.getLogger(name).level == logging.NOTSET]
    try:  # the runtime (and its CUDA probe) starts now
        kernel("tensorflow").start(stderr_hidden if level.strip() == QUIET_NATIVE_LEVEL else contextlib.nullcontext)
    except ImportError:  # not installed: building the dreamer says what to install
        return
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)


# -- the kernel: what differs between backends ------------------------------------------------------

#: The engine's kernel module of each backend (:mod:`dreamfx.engine.backends`).
KERNELS = {"tensorflow": "dreamfx.engine.backends.tensorflow_kernel", "jax": "dreamfx.engine.backends.jax_kernel"}


def kernel(name: str | None = None) -> Any:
    """The engine's kernel of backend ``name`` (None: the one Keras runs on): the only code
    of dreamfx that imports TensorFlow or JAX, or asks which one runs."""
    import importlib

    return importlib.import_module(KERNELS[check_name(name) if name else active()])


def resolve_device(spec: str = "auto") -> str:
    """``auto|cpu|gpu|gpu:N`` as the backend's device name: ``/CPU:0``, ``/GPU:0`` for
    TensorFlow; ``cpu:0``, ``cuda:0`` for JAX. ``auto`` is the first GPU when the backend
    sees one, else the CPU."""
    return kernel().resolve_device(spec)


def on_device(name: str) -> Any:
    """A context that places the work inside on device ``name`` (from :func:`resolve_device`)."""
    return kernel().on_device(name)


def tensor(value: Any, dtype: str = "float32") -> Any:
    """``value`` as a tensor of the active backend."""
    return kernel().tensor(value, dtype)


def compile_function(fn: Callable[..., Any], *, retrace_less: bool = False) -> Callable[..., Any]:
    """``fn`` compiled: ``jax.jit``, or ``tf.function`` without autograph (straight-line
    code; ``retrace_less``: TensorFlow's ``reduce_retracing``, for batch-size changes)."""
    return kernel().compile_function(fn, retrace_less=retrace_less)


def wait(value: Any) -> None:
    """Block until ``value`` is computed (JAX dispatches asynchronously, also on a CPU;
    TensorFlow's eager ops are synchronous on a CPU but not on a GPU)."""
    kernel().wait(value)


__all__ = ["BACKENDS", "KERNELS", "active", "check_name", "compile_function", "kernel", "on_device", "planned",
           "request", "resolve_device", "started", "start_quietly", "stderr_hidden", "tensor", "wait"]


def quiet_tensorflow(debug: bool = False) -> None:
    """Start the Keras backend (TensorFlow by default) with none of its chatter reaching the
    user unless ``debug``.

    The C++ start-up lines (CUDA probing on CPU machines) are written by native code before
    logging is configured, so file descriptor 2 points elsewhere while TensorFlow loads; the
    native log level hides later C++ warnings; TensorFlow's and absl's Python loggers (the
    retracing warnings of a folder of many sizes) and Python warnings from TensorFlow and
    Keras are raised to errors-only. ``debug`` shows all of it.
    """
    if debug or started():
        return
    import warnings

    chosen = kernel(planned())  # on JAX: no TensorFlow to start or quieten
    for name, value in chosen.QUIET_ENV.items():
        os.environ.setdefault(name, value)
    for module in chosen.NOISY_MODULES:
        warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
    chosen.start(stderr_hidden)  # the runtime (and its CUDA probe) starts now, its native lines hidden
    chosen.quiet_loggers()
