"""OIP's update rule: normalised-gradient ascent on the input ("optimal input patterns").

Per step, from the gradient the host computed (shifts, views, chunks, evening out and the
tie-break pattern are the host's, see ``dreamfx/engine/ascent.py``): optionally blur it with a
Gaussian of ``blur`` pixels; divide it per image by its standard deviation, so the step
size means "change per pixel per step" whatever the layer's scale; step. The host clips to
[0, 1]. Written with ``keras.ops`` only, so it runs under any Keras backend.
"""

from __future__ import annotations

from typing import Any

import keras

from dreamfx.plugin import OptimizerBase, SettingsError

#: Upper bounds of the settings, and why.
LIMITS = {"steps": 100_000, "step_size": 1.0, "jitter": 64, "blur": 16.0, "chunk": 65_536}
WHY = {"steps": "per round", "step_size": "the whole pixel range", "jitter": "pixels",
       "blur": "sigma in pixels", "chunk": "views per network call"}


class OIPOptimizer(OptimizerBase):
    """Normalised-gradient ascent on the model input ("optimal input patterns")."""

    def __init__(self, *, steps: int, step_size: float, jitter: int, blur: float, chunk: int) -> None:
        # the parameters' defaults and descriptions are declared once, in the factory's signature
        if steps < 0:
            raise SettingsError(f"optimizer.steps must be 0 or more, got {steps}")
        if not 0 < step_size:  # also NaN
            raise SettingsError(f"optimizer.step_size must be positive, got {step_size}")
        if jitter < 0:
            raise SettingsError(f"optimizer.jitter must be 0 or more pixels, got {jitter}")
        if not 0 <= blur:
            raise SettingsError(f"optimizer.blur must be 0 (off) or a positive sigma, got {blur}")
        if chunk < 1:
            raise SettingsError(f"optimizer.chunk must be at least 1 view, got {chunk}")
        for key, value in (("steps", steps), ("step_size", step_size), ("jitter", jitter), ("blur", blur),
                           ("chunk", chunk)):
            if value > LIMITS[key]:
                raise SettingsError(f"optimizer.{key} must be at most {LIMITS[key]:,g} ({WHY[key]}), got {value}")
        self.steps, self.step_size, self.jitter, self.blur, self.chunk = steps, step_size, jitter, blur, chunk
        self.kernel = gaussian_kernel(blur) if blur > 0 else None

    def update(self, canvas: Any, gradient: Any, state: Any, step: Any) -> tuple[Any, Any]:
        g = gradient
        if self.kernel is not None:
            channels = g.shape[-1]
            g = keras.ops.depthwise_conv(g, keras.ops.tile(self.kernel, [1, 1, channels, 1]), 1, "same")
        g = g / (keras.ops.std(g, axis=[1, 2, 3], keepdims=True) + 1e-8)
        return canvas + self.step_size * g, state

    def describe(self) -> str:
        """The summary's detail beside "rounds x steps" (the host shows ``steps`` itself)."""
        return f"step size {self.step_size}" + (f", gradient blur {self.blur:g} px" if self.blur else "")


def gaussian_kernel(sigma: float) -> Any:
    """A normalised 2-D Gaussian of ``sigma`` pixels, ``(2r+1, 2r+1, 1, 1)`` for depthwise_conv."""
    ops = keras.ops
    radius = max(1, int(round(3 * sigma)))
    x = ops.arange(-radius, radius + 1, dtype="float32")
    k = ops.exp(-0.5 * (x / sigma) ** 2)
    k = k / ops.sum(k)
    return ops.reshape(k[:, None] * k[None, :], [2 * radius + 1, 2 * radius + 1, 1, 1])
