"""The hooks that register a dream's components: models, objectives, scalers, optimizers,
loops and presets (see :mod:`dreamfx.host.hookspecs` for what every hook shares)."""

from __future__ import annotations

from typing import Any, Callable, Protocol

import pluggy

hookspec = pluggy.HookspecMarker("dreamfx")


class Register(Protocol):
    """The callback each registration hook receives:
    `register(name, factory, *, description="")`.

    - `name`: kebab-case (`a-z`, `0-9`, `-`), unique within its kind. A second
      registration of the same name is an error naming both plugins; the later plugin is
      reported as failed and skipped.
    - `factory`: builds the component, called as `factory(ctx, **params)` with a
      `BuildContext` first and the validated parameters as keyword arguments. A class
      whose `__init__(self, ctx, ...)` has that shape is a factory too.
    - `description`: one line, shown by `dreamfx plugins` and `dreamfx presets`.

    **Parameters come from the factory's signature.** Every parameter after `ctx` has a
    default and may be annotated `Annotated[T, "one-line description"]`
    (`typing.Annotated`): the name is the setting's key (`objective.map`), `T` its type
    (`int`, `float`, `str`, `bool`, `list` or `dict`; otherwise the default's type, and a
    default of `None` accepts anything; ints are accepted for floats), the default what a
    preset that leaves it out gets, and the description what `dreamfx plugins` and
    docs/presets.md show. Presets and `--set` are checked against them; an unknown key is
    refused with the list of valid ones. A parameter without a default, `*args` or
    `**kwargs` is a `PluginError` at registration. An objective's map index annotated
    `Annotated[int, "description", Auto()]` may also be `"auto"`: the host then dreams
    each photo with the map of the objective's layer that responds most to it (the objective's `selectable` parameter over one layer with maps,
    as the built-in `single-map`'s `map`).
    """

    def __call__(self, name: str, factory: Callable[..., Any], *, description: str = "") -> None: ...


@hookspec
def dreamfx_register_models(register: Register) -> None:
    """Registers model loaders (the *model loading* seam).

    Called once when the plugin host is built. `factory(ctx, **params)` returns a Keras
    model with one image input `(batch, height, width, channels)` taking values in [0, 1]
    and uniquely named layers (objectives address them by name); the host checks that it
    has `inputs` and `layers`. `ctx.model` and `ctx.view_size` are None here. A model is
    loaded only when a dream needs it and cached for the process. Load files with
    `load_keras_file(path)`: it uses Keras' safe mode.

    Example:

    ```python
    from typing import Annotated

    from dreamfx.plugin import BuildContext, hookimpl, load_keras_file


    def fashion_cnn(ctx: BuildContext, path: Annotated[str, "The .keras file"] = "fashion.keras"):
        return load_keras_file(path)


    @hookimpl
    def dreamfx_register_models(register):
        register("fashion-cnn", fashion_cnn, description="A CNN trained on Fashion-MNIST")
    ```

    Built-ins: `mnist-cnn` (the shipped, trained article network), `keras-file`
    (`--set model=keras-file --set model.path=my.keras`).
    """


@hookspec
def dreamfx_register_objectives(register: Register) -> None:
    """Registers objectives (the *objective selection* seam).

    Called once when the plugin host is built. `factory(ctx, **params)` receives the
    model's `ModelInfo` as `ctx.model` (input shape, layer names and output shapes) to
    validate its parameters, raising `SettingsError` with a clear message
    (`ctx.model.check_layer` and `ctx.model.check_unit` do the common cases). It returns an
    `Objective`: `layers` is the tuple of layer names it reads, and `score(activations)`
    maps `{layer: tensor}` to a float32 tensor of shape `(batch,)`, written with
    `keras.ops`. Objectives compose: `a + b`, `a - b`, `0.5 * a`, `-a`; a composite builds
    other registered objectives with `ctx.objective(name, params, where)` (the built-in
    `sum` does).

    **Activations can be any size.** `ctx.model.layers` gives each layer's shape for one
    model-sized view, but `score` receives whatever the scaler makes: with `tiling` and
    `hybrid` each tile is a batch element (hundreds per photo); with `octaves` the network
    runs on the whole photo, so a conv layer's maps are as big as the photo allows, differ
    from octave to octave, and may have unknown (`None`) height and width while the step is
    traced. Reduce over all axes but the batch axis, and size anything spatial from
    `ops.shape(activations)` at each call, never from `ctx.model`.

    Example:

    ```python
    from typing import Annotated

    from keras import ops

    from dreamfx.plugin import BuildContext, Objective, hookimpl


    class CentreMap(Objective):
        def __init__(self, ctx: BuildContext, layer: Annotated[str, "A layer with feature maps"] = "conv2",
                     map: Annotated[int, "The map's index"] = 50):
            ctx.model.check_unit(layer, map)
            self.layer, self.map, self.layers = layer, map, (layer,)

        def score(self, acts):
            a = acts[self.layer][..., self.map]          # (batch, height, width), any size
            h, w = ops.shape(a)[1], ops.shape(a)[2]
            return ops.mean(a[:, h // 4: h - h // 4, w // 4: w - w // 4], axis=(1, 2))


    @hookimpl
    def dreamfx_register_objectives(register):
        register("centre-map", CentreMap, description="One feature map, counted only in the image centre")
    ```

    Built-ins: `single-map`, `whole-layer`, `weighted-layers`, `weighted-maps`, `class`, `sum`.
    """


@hookspec
def dreamfx_register_scalers(register: Register) -> None:
    """Registers scaling strategies (the *scaling strategy* seam).

    Called once when the plugin host is built. `factory(ctx, **params)` receives the
    model's input size as `ctx.view_size` `(height, width)` and returns a `Scaler`: an
    object with `levels(image_size) -> [level, ...]`, the scales at which the image is
    dreamed, coarse to fine (the loop runs its rounds at each), and an optional
    `fully_convolutional` attribute (default False). A `Level` has

    - `to_canvas(images) -> canvas`: a batch `(B, H, W, C)` in [0, 1] to a canvas whose
      height and width are whole multiples of `view_size` (the optimizer cuts it into views);
    - `from_canvas(canvas, image_size) -> images`: back to the image size; what the round
      trip loses is the detail the loop adds back;
    - `view_size`: `(height, width)` of the views, or `None` for a canvas the network sees
      whole (only for a scaler with `fully_convolutional = True`: the host then builds a
      feature model that accepts any input size, as `octaves` does);
    - `roll`: how far (pixels) the optimizer may shift the canvas per step: one tile for
      tiled levels, so tile borders move and leave no seams; 0 for a single view.

    Write levels with `keras.ops` and the host's `resize(images, size, method)`,
    `reflect_pad(images, pads)` and `tile_grid(size, view_size)`, so the loop stays on the
    device. A scaler knows geometry, never the model.

    Example:

    ```python
    from typing import Annotated

    from keras import ops

    from dreamfx.plugin import BuildContext, check_resize_method, hookimpl, resize


    class WholeView:
        \"\"\"The whole image shrunk to the model's input size: one view, never shifted.\"\"\"

        roll = 0

        def __init__(self, view_size, method):
            self.view_size, self.method = view_size, method

        def to_canvas(self, images):
            return ops.clip(resize(images, self.view_size, self.method), 0.0, 1.0)

        def from_canvas(self, canvas, image_size):
            return resize(canvas, image_size, self.method)


    class Shrink:
        fully_convolutional = False

        def __init__(self, ctx: BuildContext, method: Annotated[str, "The resize method"] = "bilinear"):
            check_resize_method(method)
            self.view_size = ctx.view_size
            self.level = WholeView(ctx.view_size, method)

        def levels(self, image_size):
            return [self.level]


    @hookimpl
    def dreamfx_register_scalers(register):
        register("shrink", Shrink, description="The whole image shrunk to the model's input size")
    ```

    Built-ins: `downscale`, `tiling`, `hybrid`, `octaves`.
    """


@hookspec
def dreamfx_register_optimizers(register: Register) -> None:
    """Registers input optimizers: the update rule of gradient ascent on the model's input.

    Called once when the plugin host is built. `factory(ctx, **params)` returns an
    `Optimizer`, an object with

    ```python
    steps: int                                            # steps per round
    start(canvas) -> state                                # once per round
    update(canvas, gradient, state, step) -> (canvas, state)
    ```

    and optionally `jitter` (pixels of random shift per step on levels without a tile
    grid) and `chunk` (views per network call). The host owns the plumbing: loops call
    `run.ascend(canvas, round_index, level)`, and the host runs the round's `steps` steps
    in its compiled loop. Per step it computes the gradient of the objective with respect
    to the canvas, per image (shifts, views, chunks and the tile grid all handled), calls
    `update(canvas, gradient, state, step)` and clips the canvas to [0, 1]. `canvas` and
    `gradient` are float32 `(B, H, W, C)`; `state` is whatever `start` returned (tensors,
    or `()`), the same structure every step; `step` is the step's index in the round.
    `update` is traced inside the host's compiled loop: write it with `keras.ops`, work
    per image (reduce over axes 1-3, never over the batch), and keep Python `if`s off
    tensor values. `OptimizerBase` gives `steps`, `jitter`, `chunk`, a stateless `start`
    and `describe`.

    Example:

    ```python
    from typing import Annotated

    from keras import ops

    from dreamfx.plugin import BuildContext, OptimizerBase, hookimpl


    class SignAscent(OptimizerBase):
        \"\"\"Move every pixel by the same amount, up or down as the gradient's sign says.\"\"\"

        def __init__(self, ctx: BuildContext, steps: Annotated[int, "Steps per round"] = 10,
                     step_size: Annotated[float, "The change per pixel per step"] = 0.005):
            self.steps, self.step_size = steps, step_size

        def update(self, canvas, gradient, state, step):
            return canvas + self.step_size * ops.sign(gradient), state


    @hookimpl
    def dreamfx_register_optimizers(register):
        register("sign-ascent", SignAscent, description="Sign-of-gradient ascent (an example)")
    ```

    Built-ins: `oip` (`plugins/dreamfx_oip/optimizer.py`: blur, per-image normalisation,
    step; the host's loop is `dreamfx/engine/ascent.py`). More examples (Adam, with state) in
    docs/optimizers-and-loops.md.
    """


@hookspec
def dreamfx_register_loops(register: Register) -> None:
    """Registers dream loops: how rounds of optimisation and rescaling combine.

    Called once when the plugin host is built. `factory(ctx, **params)` returns a
    `DreamLoop`, a callable `loop(images, scaler, run) -> LoopResult` that dreams a batch
    `(B, H, W, C)` in [0, 1]: `scaler` is the built scaler (call `scaler.levels((H, W))`),
    and `run` is the host's `LoopRun`: `run.ascend(canvas, round_index, level)` runs one
    round of optimizer steps on a level's canvas and returns a `Round` (`canvas, score =
    round`, the score per image as numpy, so a loop can stop early); `run.compile(fn, *key)`
    hands the loop's own tensor work to the host, which compiles it once per key when that
    pays. Write the loop's arithmetic with `keras.ops`. `LoopResult(image, pattern, dream,
    detail)` carries the result and the intermediates shown in the panel: `image` the result
    `(B, H, W, C)`, `pattern` the last optimised canvas, `dream` that canvas back at image
    size, `detail` what the last level's round trip lost. Optional: `units(levels)`, how
    many `run.ascend` calls a dream makes (progress bars count them; default `rounds` per
    level), and `describe()`.

    Example:

    ```python
    from typing import Annotated

    from keras import ops

    from dreamfx.plugin import BuildContext, LoopResult, hookimpl


    class FinestOnly:
        \"\"\"Rounds at the finest level only; the lost detail is added back once, at the end.\"\"\"

        def __init__(self, ctx: BuildContext, rounds: Annotated[int, "Rounds of optimisation"] = 2):
            self.rounds = rounds

        def units(self, levels):
            return self.rounds

        def __call__(self, images, scaler, run):
            size = (int(images.shape[1]), int(images.shape[2]))
            level = scaler.levels(size)[-1]
            canvas = level.to_canvas(images)
            detail = images - level.from_canvas(canvas, size)
            for round_index in range(self.rounds):
                canvas, score = run.ascend(canvas, round_index, level)
            dream = level.from_canvas(canvas, size)
            return LoopResult(image=ops.clip(dream + detail, 0.0, 1.0), pattern=canvas, dream=dream, detail=detail)


    @hookimpl
    def dreamfx_register_loops(register):
        register("finest-only", FinestOnly, description="Rounds at the finest level, detail re-added once")
    ```

    Built-ins: `reinject` (with an optional early stop: `patience`, `min_gain`).
    """


@hookspec
def dreamfx_register_presets(register: Register) -> None:
    """Registers presets (named, validated bundles of settings).

    Called once when the plugin host is built. `factory(ctx)` takes no parameters and
    returns a mapping shaped like a preset TOML file (`description`, `seed`, and the tables
    `model`, `objective`, `scaler`, `optimizer`, `loop`, `output`, each component table
    holding `name` plus its parameters; see docs/presets.md). The description is what
    `dreamfx presets` shows.

    Example:

    ```python
    from dreamfx.plugin import hookimpl


    @hookimpl
    def dreamfx_register_presets(register):
        register("deep-conv2", lambda ctx: {"objective": {"name": "single-map", "layer": "conv2", "map": 50},
                                            "loop": {"rounds": 8}},
                 description="A conv2 map, eight rounds")
    ```

    Built-ins: every `presets/*.toml` (`dreamfx presets` lists them).
    """
