"""What float32 arithmetic guarantees, for tolerances that follow from it rather than from what
one CPU happened to give.

A float32 sum of ``n`` terms, in any order, differs from the exact sum by at most
``gamma(n) * sum(|term|)`` (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
eq. 3.5), with ``gamma(n) = n*u / (1 - n*u)`` and ``u = 2**-24`` the unit roundoff. Two
computations of the same sum in different orders (another batch size, a fused call, another
instruction set's kernels) therefore differ by at most twice that. :func:`score_bound` carries
the bound through the network layer by layer, the standard first-order forward error analysis:

- a convolution or dense layer ``y = W x + b`` over ``n = fan_in + 1`` terms:
  ``e_y <= |W| e_x + gamma(n) (|W| |x| + |b|)``;
- ReLU and max pooling are 1-Lipschitz (``|max(a) - max(b)| <= max |a - b|``): the bound passes
  through (max-pooled like the activations);
- the objective's mean of ``m`` values: ``e <= mean(e) + gamma(m) mean(|a|)``.

All of it computed in float64 (whose own error is ~1e-16, negligible here). The bound is a
worst case: typical differences are far smaller, which is why a test that compares two runs
also checks that the bound is small enough to mean something.
"""

from __future__ import annotations

from typing import Any

import numpy as np

U = 2.0 ** -24  # unit roundoff of float32

def gamma(n: int) -> float:
    return n * U / (1 - n * U)


def _conv(x: np.ndarray, w: np.ndarray, strides: tuple[int, int], padding: str) -> np.ndarray:
    import tensorflow as tf

    return tf.nn.conv2d(tf.constant(x, tf.float64), tf.constant(w, tf.float64), strides=[1, *strides, 1],
                        padding=padding.upper()).numpy()


def _pool(x: np.ndarray, size: tuple[int, int], strides: tuple[int, int], padding: str) -> np.ndarray:
    import tensorflow as tf

    return tf.nn.max_pool2d(tf.constant(x, tf.float64), size, strides, padding.upper()).numpy()


def forward_bounds(model: Any, views: np.ndarray, upto: str, input_error: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The activations of layer ``upto`` for ``views`` (float64) and a bound on how far a float32
    computation of them may be from the exact values, given inputs off by ``input_error``."""
    a = np.asarray(views, np.float64)
    e = np.full_like(a, input_error)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind == "Conv2D":
            w, b = (np.asarray(v, np.float64) for v in layer.get_weights())
            n = int(np.prod(w.shape[:3])) + 1
            y = _conv(a, w, layer.strides, layer.padding) + b
            e = _conv(e, np.abs(w), layer.strides, layer.padding) + gamma(n) * (
                _conv(np.abs(a), np.abs(w), layer.strides, layer.padding) + np.abs(b))
            a = y
        elif kind == "MaxPooling2D":
            a = _pool(a, layer.pool_size, layer.strides, layer.padding)
            e = _pool(e, layer.pool_size, layer.strides, layer.padding)
        elif kind == "Flatten":
            a, e = a.reshape(len(a), -1), e.reshape(len(e), -1)
        elif kind == "Dense":
            w, b = (np.asarray(v, np.float64) for v in layer.get_weights())
            n = w.shape[0] + 1
            y = a @ w + b
            e = e @ np.abs(w) + gamma(n) * (np.abs(a) @ np.abs(w) + np.abs(b))
            a = y
        elif kind in ("Dropout",):
            pass
        else:
            raise NotImplementedError(f"no error bound for a {kind} layer")
        activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
        if activation == "relu":
            a = np.maximum(a, 0.0)
        elif activation != "linear":
            raise NotImplementedError(f"no error bound for activation {activation}")
        if layer.name == upto:
            return a, e
    raise KeyError(upto)


def score_bound(model: Any, views: np.ndarray, layer: str, index: int, views_per_image: int = 1,
                input_error: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """For the single-map objective (the mean of map ``index`` of ``layer`` over each view,
    then over the ``views_per_image`` views of each image): the exact scores per image and a
    bound on the error of any float32 computation of them."""
    a, e = forward_bounds(model, views, layer, input_error)
    a, e = a[..., index].reshape(len(a), -1), e[..., index].reshape(len(e), -1)
    m = a.shape[1]
    per_view = a.mean(axis=1)
    per_view_error = e.mean(axis=1) + gamma(m) * np.abs(a).mean(axis=1) + U * np.abs(per_view)
    per_image = per_view.reshape(-1, views_per_image).mean(axis=1)
    error = (per_view_error.reshape(-1, views_per_image).mean(axis=1)
             + gamma(views_per_image) * np.abs(per_view).reshape(-1, views_per_image).mean(axis=1)
             + U * np.abs(per_image))
    return per_image, error
