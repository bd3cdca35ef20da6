"""Max pooling on the JAX backend with TensorFlow's gradient, at TensorFlow's speed.

Keras's JAX max pooling is ``lax.reduce_window``, whose gradient XLA computes on a CPU with
``select_and_scatter``: on the shipped model that made a gradient of 96 views 2.5x slower
than TensorFlow's (202 ms against 79 ms; a tiled dream is mostly such gradients). For the
common case, windows that do not overlap (``pool_size == strides``, ``"valid"`` padding,
channels last), the feature models dreamfx builds on JAX use :class:`FirstMaxPooling2D`
instead: the windows as an extra axis, their max forward, and backward the whole gradient
to the *first* maximum of each window in row-major order, which is what TensorFlow's
``MaxPoolGrad`` does (``jnp.max``'s own gradient would split it between tied values).
Measured: 58 ms for the same gradient. The model itself is not changed: the feature model
is rebuilt from the model's layers (sharing them, weights included) with these pooling
layers in place of Keras's, when the model is a chain of layers (the shipped model is).
"""

from __future__ import annotations

from typing import Any


def _pool_windows() -> Any:
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def first_max(windows: Any) -> Any:
        return jnp.max(windows, axis=-1)

    def forward(windows: Any) -> tuple[Any, Any]:
        return jnp.max(windows, axis=-1), (jnp.argmax(windows, axis=-1), windows.shape[-1])

    def backward(saved: Any, grad: Any) -> tuple[Any]:
        index, size = saved
        return (jax.nn.one_hot(index, size, dtype=grad.dtype) * grad[..., None],)

    first_max.defvjp(forward, backward)
    return first_max


_FIRST_MAX: Any = None


def first_max_pool(inputs: Any, pool_size: tuple[int, int]) -> Any:
    """Non-overlapping max pooling (``strides == pool_size``, ``"valid"``, channels last)."""
    import jax.numpy as jnp

    global _FIRST_MAX
    if _FIRST_MAX is None:
        _FIRST_MAX = _pool_windows()
    b, h, w, c = inputs.shape
    ph, pw = pool_size
    x = inputs[:, : h // ph * ph, : w // pw * pw, :]
    x = jnp.reshape(x, (b, h // ph, ph, w // pw, pw, c))
    x = jnp.reshape(jnp.transpose(x, (0, 1, 3, 5, 2, 4)), (b, h // ph, w // pw, c, ph * pw))
    return _FIRST_MAX(x)


def _eligible(layer: Any) -> bool:
    import keras

    if type(layer) is not keras.layers.MaxPooling2D:
        return False
    # the attributes, not get_config(): serialising a layer makes Keras try to import TensorFlow
    pool, strides = tuple(layer.pool_size), tuple(layer.strides or layer.pool_size)
    return pool == strides and layer.padding == "valid" and layer.data_format == "channels_last"


def _replacement(cls: Any, layer: Any) -> Any:
    return cls(pool_size=tuple(layer.pool_size), strides=tuple(layer.strides or layer.pool_size), padding="valid",
               data_format="channels_last", name=layer.name)


def _layer_class() -> Any:
    import keras

    class FirstMaxPooling2D(keras.layers.MaxPooling2D):
        """MaxPooling2D with TensorFlow's gradient (:func:`first_max_pool`)."""

        def call(self, inputs: Any) -> Any:
            return first_max_pool(inputs, tuple(self.pool_size))

    return FirstMaxPooling2D


def _chain(model: Any) -> list[Any] | None:
    """The model's layers after its input when each feeds the next (None otherwise)."""
    import keras

    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if isinstance(model, keras.Sequential):
        return layers
    try:
        previous = model.inputs[0]
        for layer in layers:
            if layer.input is not previous:
                return None
            previous = layer.output
    except (AttributeError, ValueError):  # a layer used twice, or with several inputs
        return None
    return layers


def chain_features(model: Any, layers: tuple[str, ...], any_size: bool) -> Any:
    """A feature model ``input -> {layer: activations}`` for ``layers`` of a chain model,
    with :class:`FirstMaxPooling2D` in place of its non-overlapping max pooling layers and
    every other layer shared (weights included); on an input of any height and width when
    ``any_size``. None when the model is not a chain or has no such pooling layer (then
    Keras's own pooling is kept)."""
    chain = _chain(model)
    if chain is None or not any(_eligible(layer) for layer in chain):
        return None
    import keras

    cls = _layer_class()
    shape = tuple(model.inputs[0].shape[1:])
    inputs = keras.Input(shape=(None, None, shape[-1]) if any_size else shape, name=f"{model.name}_jax_input")
    x, outputs = inputs, {}
    for layer in chain:
        x = (_replacement(cls, layer) if _eligible(layer) else layer)(x)
        if layer.name in layers:
            outputs[layer.name] = x
        if len(outputs) == len(layers):
            break
    return keras.Model(inputs=inputs, outputs=outputs, name=f"{model.name}_jax_features")
