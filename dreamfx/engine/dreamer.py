"""Wiring a dream: settings -> model, objective, scaler, optimizer, loop -> result.

A :class:`Dreamer` resolves and builds the components once (model load, feature model,
compiled optimizer loop) and can then dream many images of any size; everything between
the decoded input and the encoded output runs as TensorFlow ops on one device.

Components come from plugins, so whatever one of them raises while it is built or run
becomes a one-line :class:`~dreamfx.errors.PluginError` naming the kind, the component and
its plugin (the original exception is chained, for ``--debug``). A dream whose score or
image is not finite (NaN, inf) is not an error for the whole batch: that image's result
carries a ``problem`` and callers write nothing for it.

Channels: a model with one input channel dreams the gray (luma) image; a model with three
dreams the RGB image (gray inputs are repeated into three channels) and its results are
``(H, W, 3)``. Other channel counts are fed the gray image repeated, and channel 0 is kept.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from dreamfx.engine import backend
from dreamfx.errors import DreamfxError, ImageError, PluginError, SettingsError
from dreamfx.engine.ascent import Ascent, FunctionCache, HostRun
from dreamfx.engine.features import feature_model
from dreamfx.engine.scoring import in_chunks, objective_per_view
from dreamfx.engine.steps import per_image
from dreamfx.engine.views import views_at
from dreamfx.engine.whole import TracedRun, WholeDreams
from dreamfx.io.images import LUMA
from dreamfx.kinds.models import cached_model
from dreamfx.kinds.objectives import ModelInfo, build_objective
from dreamfx.host.manager import PluginHost
from dreamfx.host.registry import Component
from dreamfx.kinds.scalers import LevelCache, level_key, worth_compiling
from dreamfx.config.settings import COMPONENT_SECTIONS, MAX_STRING, Settings
from dreamfx.config.values import AUTO

#: Where the host says which faster route it left, and why (``--debug`` shows it on stderr;
#: in Python: ``logging.getLogger("dreamfx").setLevel(logging.DEBUG)`` with a handler).
log = logging.getLogger("dreamfx")

#: What a component may raise that is turned into a PluginError. KeyboardInterrupt is not
#: among them: Ctrl-C during a dream must stop the run, not fail one group.
_CAUGHT = (Exception, SystemExit, GeneratorExit)


class _CallbackError(Exception):
    """Carries an exception raised by the host's own ``on_round`` callback through a plugin's
    loop, so it is re-raised as it was instead of being blamed on the loop."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _first_line(exc: BaseException) -> str:
    """``Type: first line of the message``; for an error TensorFlow re-raised from inside a
    compiled function ("in user code: <traceback>"), the original message, its last line."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if line.startswith("in user code:") and len(lines) > 1:
        line = lines[-1].removeprefix(f"{type(exc).__name__}: ")
    line = line if len(line) <= 300 else line[:297] + "..."
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


class _GuardedScaler:
    """A scaler whose ``levels`` (called by the host, the batch runner and loops) names its
    plugin when it raises; everything else is the scaler's own."""

    def __init__(self, scaler: Any, component: Component) -> None:
        self._scaler, self._component = scaler, component

    def levels(self, image_size: tuple[int, int]) -> Any:
        with plugin_call(self._component, f"planning the levels of a {image_size[1]}x{image_size[0]} image"):
            return self._scaler.levels(image_size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scaler, name)


def describe_component(component: Component) -> str:
    """``objective 'single-map' (plugin 'objectives')``."""
    return f"{component.kind[:-1]} {component.name!r} (plugin {component.plugin!r})"


@contextmanager
def plugin_call(component: Component, what: str) -> Iterator[None]:
    """Turn anything but a :class:`DreamfxError` (or Ctrl-C) raised inside ``component``
    into a one-line :class:`PluginError` naming it and its plugin, the cause chained."""
    try:
        yield
    except _CallbackError as exc:
        raise exc.original from None
    except DreamfxError:
        raise
    except _CAUGHT as exc:
        raise PluginError(f"{describe_component(component)} failed while {what}: {_first_line(exc)}") from exc


class _NotFused(Exception):
    """A level whose views do not fit the fused scoring call."""


@dataclass
class DreamResult:
    """A dream's result and the intermediates of the article's figure, as float arrays in [0, 1]."""

    image: np.ndarray  # (H, W), or (H, W, 3) for a 3-channel model: the result, detail re-added (output.contrast applied)
    pattern: np.ndarray  # (h, w) or (h, w, 3): the first optimised model-sized view of the last round
    dream: np.ndarray  # (H, W) or (H, W, 3): the blurry upscaled dream, before the detail is re-added
    detail: np.ndarray  # (H, W) or (H, W, 3): the detail the scaling lost, centred on 0
    score_before: float  # objective on the scaler's views of the input
    score_after: float  # objective on the scaler's views of the output
    settings: Settings
    objective: str
    device: str
    seconds: float
    #: Why this image must not be written (a non-finite score or image, naming the plugin), or None.
    problem: str | None = None
    #: The Keras backend that dreamed it.
    backend: str = "tensorflow"
    #: Why nothing changed, when the objective was zero on the input and on the result (a
    #: :class:`dreamfx.runs.hints.Silence`: what was silent and a map that responds), or None.
    silence: Any = None

    @property
    def contrast(self) -> np.ndarray:
        """The result with ``output.panel_contrast`` applied (the panel's last view), shaped as ``image``."""
        image = self.image if self.image.ndim == 3 else self.image[..., None]
        widened = np.asarray(widen(image[None], self.settings.output["panel_contrast"]))[0]
        return widened if self.image.ndim == 3 else widened[..., 0]

    @property
    def gain(self) -> float:
        """score_after / score_before (inf when the feature was silent before)."""
        return self.score_after / self.score_before if self.score_before > 0 else float("inf")


@dataclass(frozen=True)
class Piece:
    """Where a dream stands, for progress displays (``dream_batch(..., on_piece=...)``):
    reported after each bounded call of a round's step loop that the host already waits for
    (pieces of steps, groups of views of a split step: see :mod:`dreamfx.engine.ascent`) and at
    each round's end."""

    round_index: int  # the round under way (from 0)
    rounds: int  # rounds the dream makes (at most: a loop may stop early)
    steps_done: int  # whole steps of this round done
    steps: int  # steps per round
    views_done: int = 0  # of a split step under way (a huge canvas): views whose gradient is done
    views: int = 0  # that step's views (0: no split step under way)
    #: The share of the whole dream done, 0 to 1: rounds weighted by their level's pixels
    #: (see :meth:`Dreamer.round_weights`), steps and views within a round counted evenly.
    fraction: float = 0.0

    @property
    def round_end(self) -> bool:
        return self.steps_done >= self.steps and not self.views


def widen(images: Any, factor: float) -> Any:
    """Scale the width of each image's value distribution around its mean by ``factor``."""
    from keras import ops

    images = ops.convert_to_tensor(images, "float32")
    if factor == 1.0:
        return images
    mean = ops.mean(images, axis=[1, 2, 3], keepdims=True)
    return ops.clip(mean + (images - mean) * factor, 0.0, 1.0)


class Dreamer:
    """Components built once for one :class:`Settings`, ready to dream images."""

    def __init__(self, host: PluginHost, settings: Settings, device: str = "auto") -> None:
        self.settings = settings
        #: The Keras backend the dreams run on (``tensorflow`` or ``jax``).
        self.backend = backend.active()
        #: The engine's kernel for that backend (:mod:`dreamfx.engine.backends`).
        self.kernel = backend.kernel()
        method = settings.scaler.params.get("method")
        if isinstance(method, str):  # a method this backend has no kernel for: a usage error, before any work
            self.kernel.check_resize_method(method)
        self.device = backend.resolve_device(device)
        #: The registered component behind each section (for naming the plugin in errors).
        self.components: dict[str, Component] = {
            section: host.get(kind, settings.component(section).name) for section, kind in COMPONENT_SECTIONS.items()
        }
        parts = self.components
        with backend.on_device(self.device):
            model_choice = settings.model
            with plugin_call(parts["model"], "loading the model"):
                self.model = cached_model(model_choice.name, model_choice.params,
                                          lambda: parts["model"].build(**model_choice.params))
                self.model_info = ModelInfo.from_model(self.model, model_choice.name)
                self.channels = int(self.model_info.input_shape[2])
            params = dict(settings.objective.params)
            #: The objective's parameter that is ``"auto"`` in the settings (``map``): each
            #: image is dreamed with the map that responds most to it; None otherwise.
            self.auto = next((key for key, value in params.items() if value == AUTO
                              and any(p.name == key and p.auto for p in parts["objective"].parameters)), None)
            if self.auto is not None:
                params[self.auto] = 0  # a placeholder: each image's map is fed at run time
            with plugin_call(parts["objective"], "being built"):
                self.objective = build_objective(host.registry("objectives"), self.model_info,
                                                 settings.objective.name, params)
                self.objective_layers = tuple(self.objective.layers)
            missing = [layer for layer in self.objective_layers if layer not in self.model_info.layers]
            if missing or not self.objective_layers:
                raise PluginError(f"{describe_component(parts['objective'])} reads "
                                  f"{'layer ' + repr(missing[0]) if missing else 'no layers'}; model "
                                  f"{model_choice.name!r} has: {', '.join(self.model_info.layers)}")
            #: The objective's parameter that may be ``"auto"`` (``map``), whatever the settings
            #: hold, or None; and the layer whose maps it chooses from.
            self.auto_parameter, self.auto_layer = self._auto_choice(parts["objective"])
            with plugin_call(parts["objective"], "being described"):
                described = str(self.objective.describe())
                if self.auto is not None:
                    described = f"{self.auto_layer} {self.auto} {AUTO}"
                # copied into every output's metadata: bounded like a setting
                if len(described) > MAX_STRING:
                    described = described[: MAX_STRING - 3] + "..."
                self.objective_description = described
            with plugin_call(parts["scaler"], "being built"):
                self.scaler = _GuardedScaler(parts["scaler"].build(parts["scaler"].context(model=self.model_info),
                                                                   **settings.scaler.params), parts["scaler"])
                any_size = bool(getattr(self.scaler, "fully_convolutional", False))
            with plugin_call(parts["model"], f"building its feature model for layers {', '.join(self.objective_layers)}"):
                self.features = feature_model(self.model, self.objective_layers, any_size=any_size)
            with plugin_call(parts["optimizer"], "being built"):
                self.optimizer = parts["optimizer"].build(parts["optimizer"].context(model=self.model_info),
                                                          **settings.optimizer.params)
            with plugin_call(parts["loop"], "being built"):
                self.loop = parts["loop"].build(parts["loop"].context(model=self.model_info), **settings.loop.params)
            with plugin_call(parts["optimizer"], "being prepared for the model and objective"):
                #: The host's gradient ascent with this optimizer's update rule.
                self.ascent = Ascent(self.kernel, self.features, self.objective, self.optimizer, settings.seed)
            #: Functions loops hand to ``run.compile``, compiled once per key.
            self.compiled = FunctionCache(self.kernel)
            self._score_views = backend.compile_function(
                lambda views: self.objective(self.features(views, training=False)), retrace_less=True)
            self._score_each = backend.compile_function(
                lambda views, choices: self.objective.score_each(self.features(views, training=False), choices),
                retrace_less=True)
        self._objectives = host.registry("objectives")
        self._views_of = LevelCache()  # compiled "images -> the level's views", per level
        self._fused_of = LevelCache()  # compiled "images -> scores", per level and shape
        #: Small dreams run as one compiled call once their shape has shown it pays.
        self._whole = WholeDreams(self.loop, self.kernel)
        self._unfused: set[Any] = set()  # (level, shape) that the fused scoring does not take
        self._dreams = 0

    def _auto_choice(self, component: Component) -> tuple[str | None, str | None]:
        """``(parameter, layer)``: the objective's parameter marked :class:`~dreamfx.host.registry.Auto`
        and the layer with maps it chooses among; ``(None, None)`` when it has none. A
        parameter marked so that the objective cannot choose per image is the plugin's error."""
        marked = [p.name for p in component.parameters if p.auto]
        if not marked:
            return None, None
        layers = [name for name in self.objective_layers if name in self.model_info.map_layers()]
        selectable = getattr(self.objective, "selectable", None)
        if selectable not in marked or len(self.objective_layers) != 1 or not layers:
            raise PluginError(f"{describe_component(component)} marks {marked[0]!r} Auto(), but the objective it "
                              f"builds does not choose its {marked[0]} per image among the maps of one layer (its "
                              f"selectable parameter is {selectable!r}, its layers {', '.join(self.objective_layers)})")
        return selectable, layers[-1]

    def responses(self, batch: Any) -> np.ndarray:
        """Each map's mean response to each image of the model-input ``batch`` (B, H, W,
        channels) on the layer an ``"auto"`` map is chosen from, seen through the scaler's
        finest level (:func:`dreamfx.runs.hints.map_responses`): (B, maps)."""
        from dreamfx.runs.hints import map_responses

        with backend.on_device(self.device):
            with plugin_call(self.components["model"], f"measuring the maps of {self.auto_layer}"):
                return map_responses(self.model, self.model_info, self.scaler, str(self.auto_layer), batch)

    def _resolve_auto(self, batch: np.ndarray, choices: Sequence[Any]) -> tuple[list[int], np.ndarray]:
        """``choices`` with each ``"auto"`` replaced by the map that responds most to its
        image, and the responses that chose them."""
        if self.auto_parameter is None:
            raise SettingsError(f"objective {self.settings.objective.name!r} cannot choose its map per image "
                                "(\"auto\"); use single-map")
        responses = self.responses(batch)
        return [int(np.argmax(responses[i])) if isinstance(c, str) else int(c) for i, c in enumerate(choices)], responses

    def choices(self, values: Sequence[int]) -> list[str]:
        """Check that the objective can take ``values`` of its ``selectable`` parameter per
        batch element (``dream_batch(..., choices=values)``); returns each value's
        objective description. A :class:`SettingsError` when it cannot or a value is out of
        range (the objective built with that value says why)."""
        name, params = self.settings.objective.name, self.settings.objective.params
        selectable = getattr(self.objective, "selectable", None)
        if not selectable or selectable not in params:
            raise SettingsError(f"objective {name!r} cannot be dreamed for several maps or units in one batch; "
                                "use single-map (objective.map) or class (objective.unit)")
        described = {}
        for value in dict.fromkeys(int(v) for v in values):
            with plugin_call(self.components["objective"], "being built"):
                objective = build_objective(self._objectives, self.model_info, name, {**params, selectable: value})
                described[value] = str(objective.describe())[:MAX_STRING]
        return [described[int(v)] for v in values]

    def score(self, images: Any, chunk: int = 512, choices: Any = None) -> np.ndarray:
        """The objective per image: the mean over the views of the scaler's finest level,
        computed ``chunk`` views at a time so a huge image's thousands of tiles never hold
        all their activations at once. ``choices``: the objective's ``selectable``
        parameter per image (None: its own)."""
        from keras import ops

        with backend.on_device(self.device):
            with plugin_call(self.components["scaler"], "cutting images into views for scoring"):
                level = self.scaler.levels((int(images.shape[1]), int(images.shape[2])))[-1]
            if worth_compiling(self._dreams, int(images.shape[0])):
                fused = self._fused_score(level, images, chunk, choices)
                if fused is not None:
                    return fused
            with plugin_call(self.components["scaler"], "cutting images into views for scoring"):
                if worth_compiling(self._dreams, int(images.shape[0])):
                    # traced per image size (resizing needs static sizes); no autograph: straight-line
                    views = self._views_of.get(level, None, lambda: backend.compile_function(
                        lambda batch: views_at(level, batch)))(images)
                else:
                    views = views_at(level, images)
            with plugin_call(self.components["objective"], "scoring"):
                if choices is not None:
                    per_view = ops.repeat(backend.tensor(np.asarray(choices, np.int32), "int32"),
                                          int(views.shape[0]) // int(images.shape[0]))

                def score(part_views: Any, part: slice) -> Any:
                    if choices is None:
                        return self._score_views(part_views)
                    return self._score_each(part_views, per_view[part])

                def check(part: Any, count: int) -> None:
                    if tuple(part.shape) != (count,):  # before the optimizer is blamed for it
                        raise PluginError(f"{describe_component(self.components['objective'])} returned scores of "
                                          f"shape {tuple(part.shape)} for {count} views: score(activations) must "
                                          f"return one value per batch element, shape ({count},); reduce over "
                                          "every axis but the first")

                return np.asarray(in_chunks(score, views, int(images.shape[0]), chunk, check))

    def _whole_dream(self, batch: Any, choices: Any, on_round: Callable[[int], None] | None) -> Any:
        """The dream as one compiled call, when that is sure to pay and to agree (see
        :class:`dreamfx.engine.whole.WholeDreams`): ``(LoopResult, before, after)``, or None for
        the round-by-round way."""
        if not self._whole.wanted(batch.shape, choices is None):
            return None
        def dream(images: Any, choices: Any) -> Any:
            level = self.scaler.levels((int(images.shape[1]), int(images.shape[2])))[-1]

            def scores(images: Any) -> Any:
                return self._scores_in_one(level, images, choices, self.ascent.chunk)

            before = scores(images)
            out = self.loop(images, self.scaler, TracedRun(self.ascent, choices))
            return out.image, out.pattern, out.dream, out.detail, before, scores(out.image)

        try:
            fn = self._whole.function(batch.shape, choices is None, lambda: backend.compile_function(dream))
            image, pattern, dream_, detail, before, after = fn(batch, choices)
            before, after = np.asarray(before), np.asarray(after)
        except Exception as exc:  # noqa: BLE001 - the round-by-round way runs, and names the plugin at fault
            log.debug("the dream of a batch of shape %s as one compiled call failed (%s: %s); this shape is "
                      "dreamed round by round from now on", tuple(batch.shape), type(exc).__name__, exc)
            self._whole.refuse(batch.shape, choices is None)
            return None
        if on_round is not None:
            for index in range(self.rounds_for((int(batch.shape[1]), int(batch.shape[2])))):
                try:
                    on_round(index)
                except _CAUGHT as exc:
                    raise _CallbackError(exc) from exc
        from dreamfx.kinds.loops import LoopResult

        return LoopResult(image=image, pattern=pattern, dream=dream_, detail=detail), before, after

    def _scores_in_one(self, level: Any, images: Any, choices: Any, chunk: int) -> Any:
        """What :meth:`score` computes, written to be traced as one call: views, network,
        objective (``choices``: a tensor of the selectable parameter per image, or None) and
        the mean per image. Raises _NotFused when the views do not fit in one ``chunk`` or
        the objective's scores have the wrong shape (the separate calls say what is wrong)."""
        batch = int(images.shape[0])
        views = views_at(level, images)
        count = views.shape[0]
        if count is None or int(count) > chunk:
            raise _NotFused
        per_view = objective_per_view(self.features, self.objective, views, batch, choices)
        if tuple(per_view.shape) != (int(count),):
            raise _NotFused
        return per_image(per_view, batch)

    def _fused_score(self, level: Any, images: Any, chunk: int, choices: Any) -> np.ndarray | None:
        """The scores of :meth:`score` from one compiled call (views, network, objective and
        the mean per image), when the views fit in one chunk: for small dreams the separate
        calls cost more than their work (about 5 ms against 2 ms for a 600x400 photo at
        28x28). None when this level and shape do not fuse (more views than ``chunk``, or a
        call that failed: the separate calls then run, and name the plugin at fault)."""
        key = (tuple(int(v) for v in images.shape), choices is None, chunk)
        if (level_key(level), key) in self._unfused:
            return None
        def build() -> Any:
            return backend.compile_function(lambda images, choices: self._scores_in_one(level, images, choices, chunk))

        fused = self._fused_of.get(level, key, build)
        try:
            chosen = None if choices is None else backend.tensor(np.asarray(choices, np.int32), "int32")
            return np.asarray(fused(images, chosen))
        except Exception as exc:  # noqa: BLE001 - the separate calls run and report it
            log.debug("scoring a batch of shape %s in one compiled call failed (%s: %s); it is scored in "
                      "separate calls from now on", key[0], type(exc).__name__, exc)
            if len(self._unfused) > 256:  # bounded, like the compiled functions
                self._unfused.clear()
            self._unfused.add((level_key(level), key))
            return None

    def ascend(self, canvas: Any, round_index: int, level: Any, choices: Any = None, on_piece: Any = None) -> Any:
        """One round of the optimizer's steps (a :class:`dreamfx.kinds.loops.Round`); a failure
        names the optimizer's plugin. ``choices``: as for :meth:`dream_batch`;
        ``on_piece``: as for :meth:`dreamfx.engine.ascent.Ascent.__call__`."""
        with plugin_call(self.components["optimizer"], f"running round {round_index + 1}"):
            if on_piece is None:
                return self.ascent(canvas, round_index, level, choices)
            return self.ascent(canvas, round_index, level, choices, on_piece)

    def rounds_for(self, image_size: tuple[int, int]) -> int:
        """How many rounds (``on_round`` calls, at most) a dream of ``image_size`` makes."""
        from dreamfx.kinds.loops import units_of

        levels = self.scaler.levels(image_size)
        with plugin_call(self.components["loop"], "counting its rounds"):
            return units_of(self.loop, levels)

    def round_weights(self, image_size: tuple[int, int]) -> list[float]:
        """Each round's share of a dream of ``image_size`` (summing to 1), for progress
        displays: proportional to its level's pixels (``work_size``, which the built-in
        levels have) when the rounds split evenly over the levels (round ``i`` on level
        ``i // rounds_per_level``, as the built-in loop runs them); otherwise equal."""
        levels = self.scaler.levels(image_size)
        rounds = max(1, self.rounds_for(image_size))
        sizes = [getattr(level, "work_size", None) for level in levels]
        if len(levels) > 1 and rounds % len(levels) == 0 and all(
                isinstance(s, tuple) and len(s) == 2 and all(isinstance(v, int) and v > 0 for v in s) for s in sizes):
            each = [float(h * w) for h, w in sizes for _ in range(rounds // len(levels))]  # type: ignore[misc]
        else:
            each = [1.0] * rounds
        total = sum(each)
        return [w / total for w in each]

    def __call__(self, image: np.ndarray, on_round: Callable[[int], None] | None = None) -> DreamResult:
        """Dream one (H, W) or (H, W, C) float image in [0, 1]."""
        return self.dream_batch([image], on_round)[0]

    def model_input(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Same-sized (H, W) or (H, W, C) images as one (B, H, W, channels) float32 batch:
        gray repeated for a colour model, RGB(A) reduced to luma for a gray one."""
        arrays = [self._channels_of(np.asarray(image, np.float32)) for image in images]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"dream_batch needs images of one size, got {sorted(shapes)}")
        batch = np.stack(arrays)
        if not np.isfinite(batch).all():
            raise ImageError("an input image holds non-finite values (NaN or infinity)")
        return batch

    def _channels_of(self, image: np.ndarray) -> np.ndarray:
        """One (H, W) or (H, W, C) image as (H, W, channels) for this model."""
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3:
            raise ValueError(f"dream_batch needs (height, width) or (height, width, channels) arrays, got {image.shape}")
        have, want = image.shape[-1], self.channels
        if have == want:
            return image
        if have == 4 and want == 3:
            return image[..., :3]
        if have in (3, 4):
            image = (image[..., :3] @ LUMA)[..., None]
        elif have != 1:
            raise ValueError(f"cannot feed {have}-channel images to model {self.settings.model.name!r}, "
                             f"which takes {want} channels")
        return image if want == 1 else np.repeat(image, want, axis=-1)

    def dream_batch(
        self, images: Sequence[np.ndarray], on_round: Callable[[int], None] | None = None,
        choices: Sequence[int] | None = None, on_piece: Callable[[Piece], None] | None = None,
    ) -> list[DreamResult]:
        """Dream same-sized (H, W) or (H, W, C) images together: one batch through every round.

        Each image's result equals what dreaming it alone gives: gradients and their
        normalisation are per image, and the random shifts depend only on the seed.
        ``on_round(round_index)`` is called after each round (for progress displays).
        Results are (H, W) for a 1-channel model and (H, W, 3) for a 3-channel one. An image
        whose score or result is not finite gets a result with ``problem`` set.

        ``choices`` (one int per image, or None): the value of the objective's
        ``selectable`` parameter (``map`` of ``single-map``) for each image, fed at run
        time, so one batch dreams one photo under many maps and a new map reuses the
        compiled step. Each result equals the dream with that value in the settings; its
        ``settings`` and ``objective`` say so. A choice ``"auto"`` (and every image, when
        the settings' map is ``"auto"``) is the map of the objective's layer that responds
        most to that image (:meth:`responses`).

        A result whose objective is zero on the input and on the result (nothing changed)
        carries a ``silence`` saying so, with a map that responds to that image.

        ``on_piece(piece)`` (a :class:`Piece`, for progress displays) is called within each
        round at the boundaries the host already waits at (so on a terminal a dream whose
        rounds take minutes shows its steps, and a huge canvas the groups of views of each
        step) and at each round's end; it adds no wait to the dream.
        """
        batch_array = self.model_input(images)
        described = responses = None
        if choices is None and self.auto is not None:
            choices = [AUTO] * len(images)
        if choices is not None and len(choices) == len(images) and any(isinstance(c, str) for c in choices):
            choices, responses = self._resolve_auto(batch_array, choices)
        if choices is not None:
            if len(choices) != len(images):
                raise ValueError(f"dream_batch got {len(choices)} choices for {len(images)} images")
            described = self.choices(choices)
            choice_tensor = backend.tensor(np.asarray(choices, np.int32), "int32")
        started = time.perf_counter()
        self._dreams += 1

        def ascend(canvas: Any, round_index: int, level: Any) -> Any:
            if choices is None:  # as before: self.ascend(canvas, round_index, level)
                return self.ascend(canvas, round_index, level)
            return self.ascend(canvas, round_index, level, choice_tensor)

        if on_piece is not None:
            on_round = self._pieces(batch_array.shape[1:3], on_round, on_piece)
            report = on_round.piece  # type: ignore[attr-defined]

            def ascend(canvas: Any, round_index: int, level: Any) -> Any:
                def piece(steps_done: int, steps: int, views_done: int, views: int) -> None:
                    try:
                        report(round_index, steps_done, steps, views_done, views)
                    except _CAUGHT as exc:
                        raise _CallbackError(exc) from exc

                return self.ascend(canvas, round_index, level, None if choices is None else choice_tensor, piece)

        if on_round is not None:
            chosen = ascend

            def ascend(canvas: Any, round_index: int, level: Any) -> Any:
                out = chosen(canvas, round_index, level)
                try:
                    on_round(round_index)
                except _CAUGHT as exc:
                    raise _CallbackError(exc) from exc
                return out

        run = HostRun(ascend, self.compiled, worth_compiling(self._dreams, len(images)))
        keep = slice(0, 3) if self.channels == 3 else slice(0, 1)
        squeeze = (lambda a: a) if self.channels == 3 else (lambda a: a[..., 0])  # noqa: E731
        with backend.on_device(self.device):
            batch = backend.tensor(batch_array)
            whole = self._whole_dream(batch, None if choices is None else choice_tensor, on_round)
            if whole is not None:
                out, before, after = whole
            else:
                compiled_started = time.perf_counter()
                before = self.score(batch, choices=choices)
                with plugin_call(self.components["loop"], "dreaming"):
                    out = self.loop(batch, self.scaler, run)
                after = self.score(out.image, choices=choices)
                if run.compiled:
                    self._whole.timed(batch.shape, choices is None, time.perf_counter() - compiled_started)
            result_images = out.image
            output = squeeze(np.asarray(widen(result_images[..., keep], self.settings.output["contrast"])))
            dream = np.clip(squeeze(np.asarray(out.dream)[..., keep]), 0.0, 1.0)
            detail = squeeze(np.asarray(out.detail)[..., keep])
            pattern = squeeze(np.asarray(out.pattern)[..., keep])
        seconds = (time.perf_counter() - started) / len(images)
        problems = [self._problem(float(before[i]), float(after[i]), output[i]) for i in range(len(images))]
        objectives = [self.objective_description if described is None else described[i] for i in range(len(images))]
        silent = [i for i in range(len(images)) if problems[i] is None and before[i] == 0 and after[i] == 0]
        from dreamfx.runs.hints import silences

        found = silences(self, batch_array, silent, objectives, responses)
        return [
            DreamResult(
                image=output[i], pattern=pattern[i], dream=dream[i], detail=detail[i],
                score_before=float(before[i]), score_after=float(after[i]),
                settings=self.settings if choices is None else self.settings_with(int(choices[i])),
                objective=objectives[i], device=self.device, seconds=seconds,
                problem=problems[i], backend=self.backend, silence=found.get(i),
            )
            for i in range(len(images))
        ]

    def _pieces(self, size: Any, on_round: Callable[[int], None] | None,
                on_piece: Callable[[Piece], None]) -> Callable[[int], None]:
        """An ``on_round`` that also reports each round's end to ``on_piece`` (then calls
        ``on_round``), with a ``piece(round, steps_done, steps, views_done, views)``
        attribute that reports a piece within a round: both as :class:`Piece`."""
        weights = self.round_weights((int(size[0]), int(size[1])))
        starts = [sum(weights[:i]) for i in range(len(weights) + 1)]
        steps = self.ascent.steps

        def piece(round_index: int, steps_done: int, total: int, views_done: int = 0, views: int = 0) -> None:
            r = min(round_index, len(weights) - 1)
            within = (steps_done + (views_done / views if views else 0.0)) / total if total else 1.0
            fraction = min(1.0, starts[r] + weights[r] * min(1.0, within))
            on_piece(Piece(round_index, len(weights), steps_done, total, views_done, views, fraction))

        def round_done(round_index: int) -> None:
            piece(round_index, steps, steps)
            if on_round is not None:
                on_round(round_index)

        round_done.piece = piece  # type: ignore[attr-defined]
        return round_done

    def settings_with(self, choice: int) -> Settings:
        """This dreamer's settings with the objective's ``selectable`` parameter set to ``choice``."""
        from dataclasses import replace

        objective = self.settings.objective
        return replace(self.settings, objective=replace(objective, params={**objective.params,
                                                                           self.objective.selectable: choice}))

    def _problem(self, before: float, after: float, image: np.ndarray) -> str | None:
        """Why one image's dream must not be written, naming the plugin to blame, or None."""
        objective = describe_component(self.components["objective"])
        if not math.isfinite(before):
            return f"{objective} returned a non-finite score ({before}) on the input"
        finite = np.isfinite(image)
        if not finite.all():
            bad = image[~finite].flat[0]
            return (f"the dream produced a non-finite image ({bad}): {describe_component(self.components['optimizer'])} "
                    f"with {describe_component(self.components['loop'])} on the gradient of {objective}")
        if not math.isfinite(after):
            return f"{objective} returned a non-finite score ({after}) on the dreamed image"
        return None

    def summary(self) -> list[tuple[str, str]]:
        """One ``(label, text)`` line per component (model, objective, scaler, optimizer,
        loop), for a run's summary: ``name: <its describe()>`` when the component describes
        itself, else its name and the parameters that differ from their defaults."""
        built = {"model": self.model, "objective": self.objective, "scaler": self.scaler,
                 "optimizer": self.optimizer, "loop": self.loop}
        lines = []
        for section, component in self.components.items():
            choice = self.settings.component(section)
            describe = getattr(built[section], "describe", None)
            if section == "objective" and self.auto is not None:  # the placeholder's map is not the one dreamed
                text = f"{choice.name}: {self.objective_description}"
            elif callable(describe):
                with plugin_call(component, "being described"):
                    text = f"{choice.name}: {describe()}"
            else:
                defaults = getattr(component, "params", {})
                changed = [f"{key} {value}" for key, value in choice.params.items() if defaults.get(key) != value]
                text = choice.name + (f" ({', '.join(changed)})" if changed else "")
            lines.append((section, text if len(text) <= MAX_STRING else text[: MAX_STRING - 3] + "..."))
        return lines
