"""The OIP optimizer: gradient ascent on the input ("optimal input pattern")."""

from __future__ import annotations

from typing import Any

from dreamfx.plugin import hookimpl


def _oip(**params: Any) -> Any:
    from .optimizer import OIPOptimizer

    return OIPOptimizer(**params)


@hookimpl
def dreamfx_register_optimizers(register: Any) -> None:
    register(
        "oip",
        _oip,
        params={"steps": 20, "step_size": 0.02, "jitter": 1, "blur": 0.0, "chunk": 128},
        description="Gradient ascent on the input with per-example normalised gradients; "
        "the step loop is one compiled TensorFlow graph",
    )
