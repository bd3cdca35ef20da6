"""The public module for plugin authors: everything a dreamfx plugin needs, in one place.

A plugin imports from here and nowhere else in dreamfx (the built-in plugins do the same,
as proof that each kind can be written from this module alone)::

    from typing import Annotated

    from dreamfx.plugin import BuildContext, Objective, hookimpl

    class Brightest(Objective):
        def __init__(self, ctx: BuildContext, layer: Annotated[str, "a layer with feature maps"] = "conv2"):
            ctx.model.check_layer(layer, spatial=True)
            self.layer, self.layers = layer, (layer,)

        def score(self, activations):
            from keras import ops
            return ops.max(activations[self.layer], axis=(1, 2, 3))

    @hookimpl
    def dreamfx_register_objectives(register):
        register("brightest", Brightest, description="The strongest activation of a layer")

Every factory has one shape, ``factory(ctx, **params)``: ``ctx`` is a :class:`BuildContext`
and the parameters (names, types, defaults, one-line descriptions) are read from the
factory's signature. Importing this module does not import TensorFlow or Keras.

``python -m dreamfx.plugin --reference`` prints the hook reference (docs/plugin-hooks.md),
generated from the hook specifications and the protocols below; ``--parameters`` prints the
built-in components' parameters as docs/presets.md shows them.
"""

from __future__ import annotations

from dreamfx import hookimpl
from dreamfx.engine.backend import quiet_tensorflow
from dreamfx.host.commands import console
from dreamfx.errors import DreamfxError, PluginError, SettingsError
from dreamfx.runs.folderwork import FolderWork
from dreamfx.kinds.executors import Executor, ExecutorError
from dreamfx.host.hookspecs import Register
from dreamfx.kinds.loops import DreamLoop, LoopResult, LoopRun, Round
from dreamfx.kinds.models import load_keras_file, model_file
from dreamfx.kinds.objectives import ModelInfo, Objective, Scaled, Sum
from dreamfx.kinds.optimizers import Optimizer, OptimizerBase
from dreamfx.host.registry import Auto, BuildContext, Param
from dreamfx.kinds.scalers import (
    RESIZE_METHODS,
    Geometry,
    Level,
    Scaler,
    check_resize_method,
    reflect_pad,
    tile_grid,
)
from dreamfx.engine.views import resize
from dreamfx.io.images import load_picture

__all__ = [
    "hookimpl",
    "SettingsError",
    "DreamfxError",
    "PluginError",
    "Register",
    "BuildContext",
    "Param",
    "Auto",
    "ModelInfo",
    "Objective",
    "Sum",
    "Scaled",
    "Scaler",
    "Level",
    "Geometry",
    "resize",
    "tile_grid",
    "reflect_pad",
    "RESIZE_METHODS",
    "check_resize_method",
    "Optimizer",
    "OptimizerBase",
    "DreamLoop",
    "LoopRun",
    "Round",
    "LoopResult",
    "load_keras_file",
    "model_file",
    "load_picture",
    # executors (dreamfx_register_executors)
    "Executor",
    "FolderWork",
    "ExecutorError",
    # for commands (dreamfx_register_commands)
    "console",
    "quiet_tensorflow",
]


def main(argv: list[str] | None = None) -> int:
    import sys

    args = sys.argv[1:] if argv is None else argv
    from dreamfx.tools.reference import parameter_table, render

    if args == ["--reference"]:
        sys.stdout.write(render())
    elif args == ["--parameters"]:
        sys.stdout.write(parameter_table())
    else:
        print("usage: python -m dreamfx.plugin --reference > docs/plugin-hooks.md\n"
              "       python -m dreamfx.plugin --parameters   (the table of docs/presets.md)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
