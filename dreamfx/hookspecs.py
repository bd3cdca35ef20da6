"""The hooks a dreamfx plugin can implement.

Every hook is a *registration* hook: it receives a ``register`` callback and calls it once
per thing it provides. The host owns validation, attribution (which plugin registered
what) and conflict messages, so a plugin never touches a registry directly. Hooks are
called once, when the plugin manager is built, in load order: built-ins first, then
third-party entry points of the ``dreamfx`` group.

``register`` has the signature ``register(name, factory, *, params=None, description="")``:

- ``name``: kebab-case, unique within its kind (a duplicate is an error naming both plugins).
- ``factory``: a callable building the component; its keyword arguments are the names of
  ``params`` (what each kind's factory receives is written under its hook).
- ``params``: ``{param_name: default}``; the default's type is the parameter's type
  (``None`` accepts any value). Presets and ``--set`` are validated against it.
- ``description``: one line, shown by ``dreamfx plugins`` and ``dreamfx presets``.

Plugin authors import the marker as ``from dreamfx import hookimpl``.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import pluggy

hookspec = pluggy.HookspecMarker("dreamfx")


class Register(Protocol):
    """The callback each registration hook receives."""

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        params: dict[str, Any] | None = None,
        description: str = "",
    ) -> None: ...


@hookspec
def dreamfx_register_models(register: Register) -> None:
    """Register model loaders (the *model loading* seam).

    Called once when the plugin manager is built. ``factory(**params)`` must return a
    Keras model whose input is ``(None, height, width, channels)`` with values in [0, 1]
    and whose layers have unique names (objectives address them by name). A model is
    loaded only when a dream needs it, and then cached for the process.

    Example::

        @hookimpl
        def dreamfx_register_models(register):
            register("my-cnn", load_my_cnn, params={"path": "my.keras"},
                     description="My CNN trained on Fashion-MNIST")
    """


@hookspec
def dreamfx_register_objectives(register: Register) -> None:
    """Register objectives (the *objective selection* seam).

    Called once when the plugin manager is built. ``factory(model_info, **params)``
    receives a :class:`dreamfx.objectives.ModelInfo` (layer names, output shapes) so it
    can validate its parameters with a clear :class:`dreamfx.errors.SettingsError`, and
    must return a :class:`dreamfx.objectives.Objective`: it declares the layers it reads
    and maps ``{layer_name: activations}`` to one score per batch element.

    Activations can be any size: ``model_info`` describes one model-sized view, but with a
    tiled scaler every tile is a batch element, and with ``octaves`` the maps are as big as
    the photo (and their height and width may be unknown while the step is traced). Size
    anything spatial from ``tf.shape(activations)`` inside ``score``.

    Example::

        @hookimpl
        def dreamfx_register_objectives(register):
            register("centre-map", CentreMap, params={"layer": "conv2", "map": 50},
                     description="One feature map, weighted towards the image centre")
    """


@hookspec
def dreamfx_register_scalers(register: Register) -> None:
    """Register scaling strategies (the *scaling strategy* seam).

    Called once when the plugin manager is built. ``factory(view_size, **params)``
    receives the model's input size ``(height, width)`` and returns a
    :class:`dreamfx.scaling.Scaler`: ``levels(image_size)`` gives the levels, coarse to fine;
    each level has ``to_canvas(images)`` (a batch ``(B, H, W, C)`` to a canvas whose sides
    are whole multiples of ``view_size``), ``from_canvas(canvas, image_size)``, ``view_size``
    (None: the canvas is seen whole, for a scaler with ``fully_convolutional = True``) and
    ``roll`` (how far the optimizer may shift the canvas per step). It knows geometry only,
    not the model.

    Example::

        @hookimpl
        def dreamfx_register_scalers(register):
            register("downscale", DownscaleScaler, params={"method": "bicubic"},
                     description="The whole image shrunk to the model's input size")
    """


@hookspec
def dreamfx_register_optimizers(register: Register) -> None:
    """Register input optimizers (gradient ascent on the model's input).

    Called once when the plugin manager is built. ``factory(**params)`` returns a
    :class:`dreamfx.optimize.Optimizer`: an update rule. Loops call
    ``run.ascend(canvas, round_index, level)`` and the host runs the round's ``steps`` steps
    in its compiled loop: per step it computes the gradient of the objective with respect to
    the canvas (views, shifts, chunks done) and calls
    ``update(canvas, gradient, state, step)`` (``keras.ops``), with ``state`` from
    ``start(canvas)`` once per round; then it clips the canvas to [0, 1].

    Example::

        @hookimpl
        def dreamfx_register_optimizers(register):
            register("oip", OIPOptimizer, params={"steps": 20, "step_size": 0.02},
                     description="Normalised-gradient ascent")
    """


@hookspec
def dreamfx_register_loops(register: Register) -> None:
    """Register dream loops (how rounds of optimisation and rescaling are combined).

    Called once when the plugin manager is built. ``factory(**params)`` returns a
    :class:`dreamfx.loop.DreamLoop`: ``loop(images, scaler, run)`` dreams a batch
    ``(B, H, W, C)``, running its rounds at each of ``scaler.levels((H, W))``, where
    ``run.ascend(canvas, round_index, level)`` runs one round of optimizer steps and returns
    a :class:`dreamfx.loop.Round` (canvas, score per image) and ``run.compile(fn, *key)``
    compiles the loop's own tensor work; it returns a :class:`dreamfx.loop.LoopResult` with
    the result and its intermediates.

    Example::

        @hookimpl
        def dreamfx_register_loops(register):
            register("reinject", ReinjectLoop, params={"rounds": 4},
                     description="Optimise, upscale, re-add lost detail, repeat")
    """


@hookspec
def dreamfx_register_presets(register: Register) -> None:
    """Register presets (named, validated bundles of settings).

    Called once when the plugin manager is built. ``factory()`` takes no arguments and
    returns the preset as a mapping with the structure of a preset TOML file (see
    ``docs/presets.md``); pass ``params=None``. The description is shown by
    ``dreamfx presets``.

    Example::

        @hookimpl
        def dreamfx_register_presets(register):
            register("my-preset", lambda: {"objective": {"name": "whole-layer"}},
                     description="Whole conv2 layer, 8 rounds")
    """
