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
import time
from typing import Any, Callable, Sequence

import numpy as np

from dreamfx.engine import backend
from dreamfx.errors import PluginError, SettingsError
from dreamfx.engine.ascent import Ascent, FunctionCache, HostRun
from dreamfx.engine.features import feature_model
from dreamfx.engine.scoring import Scoring
from dreamfx.engine.whole import WholeDreams
from dreamfx.kinds.models import cached_model
from dreamfx.kinds.objectives import ModelInfo, build_objective
from dreamfx.host.manager import PluginHost
from dreamfx.host.registry import Component
from dreamfx.kinds.scalers import worth_compiling
from dreamfx.config.settings import COMPONENT_SECTIONS, MAX_STRING, Settings
from dreamfx.host.values import AUTO
from dreamfx.host.calls import GuardedScaler, describe_component, plugin_call
from dreamfx.engine.masks import MaskFile, apply_mask, with_masks
from dreamfx.engine.pull import Pull, pull_arrays, Toward
from dreamfx.engine.rounds import round_runner
from dreamfx.engine.results import DreamResult, Piece, model_batch, problem_of, widen

#: Where the host says which faster route it left, and why (``--debug`` shows it on stderr;
#: in Python: ``logging.getLogger("dreamfx").setLevel(logging.DEBUG)`` with a handler).
log = logging.getLogger("dreamfx")


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
                self.scaler = GuardedScaler(parts["scaler"].build(parts["scaler"].context(model=self.model_info),
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
            #: The objective per image, the one way this dreamer scores (before, after, the atlas).
            self.scoring = Scoring(self.kernel, self.features, self.objective, self.scaler, self.components)
        self._objectives = host.registry("objectives")
        #: Small dreams run as one compiled call once their shape has shown it pays.
        self._whole = WholeDreams(self.loop, self.kernel)
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
        finest level (:func:`dreamfx.engine.responses.map_responses`): (B, maps)."""
        from dreamfx.engine.responses import map_responses

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
        """The objective per image (:meth:`dreamfx.engine.scoring.Scoring.__call__`), compiled
        from a dreamer's second dream on or for a batch."""
        with backend.on_device(self.device):
            return self.scoring(images, chunk, choices, worth_compiling(self._dreams, int(images.shape[0])))

    def ascend(self, canvas: Any, round_index: int, level: Any, choices: Any = None, on_piece: Any = None,
               pull: Any = None) -> Any:
        """One round of the optimizer's steps (a :class:`dreamfx.kinds.loops.Round`); a failure
        names the optimizer's plugin. ``choices``: as for :meth:`dream_batch`;
        ``on_piece``, ``pull``: as for :meth:`dreamfx.engine.ascent.Ascent.__call__`."""
        with plugin_call(self.components["optimizer"], f"running round {round_index + 1}"):
            if on_piece is None and pull is None:
                return self.ascent(canvas, round_index, level, choices)
            return self.ascent(canvas, round_index, level, choices, on_piece, pull)

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
        """Same-sized images as this model's (B, H, W, channels) batch (:func:`.results.model_batch`)."""
        return model_batch(images, self.channels, self.settings.model.name)

    def dream_batch(
        self, images: Sequence[np.ndarray], on_round: Callable[[int], None] | None = None,
        choices: Sequence[int] | None = None, on_piece: Callable[[Piece], None] | None = None,
        stream: bool = False, toward: Sequence[Toward | None] | None = None,
        masks: Sequence[MaskFile | None] | None = None,
        on_canvas: Callable[[Any, int, Any, Any], None] | None = None,
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

        ``stream=True`` dreams round by round even where the whole dream would run as one
        compiled call (:class:`~dreamfx.engine.whole.WholeDreams`), so every callback comes
        as its round ends (a live view of the rounds); the result is the same bits.

        ``toward`` (one :class:`~dreamfx.engine.pull.Toward` or None per image): a term added
        to the objective that pulls each image's dream toward a target (``dreamfx video``'s
        temporal coherence: :mod:`dreamfx.engine.pull`).

        ``on_canvas(canvas, round_index, level, round)``: each round's canvas before it and
        its :class:`~dreamfx.kinds.loops.Round` after (a live view of the rounds, as
        ``dreamfx explore`` shows them); implies ``stream``.

        ``masks`` (one :class:`~dreamfx.engine.masks.MaskFile` or None per image): each image's
        own mask instead of the settings' (:func:`~dreamfx.engine.masks.apply_mask`); its result's settings name it.
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

        pull = self._pull(toward, batch_array)
        ascend, on_round = round_runner(self, batch_array.shape[1:3], None if choices is None else choice_tensor,
                                        pull, on_round, on_piece, on_canvas)
        stream = stream or on_canvas is not None
        run = HostRun(ascend, self.compiled, worth_compiling(self._dreams, len(images)))
        keep = slice(0, 3) if self.channels == 3 else slice(0, 1)
        squeeze = (lambda a: a) if self.channels == 3 else (lambda a: a[..., 0])  # noqa: E731
        with backend.on_device(self.device):
            batch = backend.tensor(batch_array)
            whole = self._whole.dream(self, batch, None if choices is None else choice_tensor, on_round, stream, pull)
            if whole is not None:
                out, before, after = whole  # a pull's finish was part of the call
                result_images = out.image
            else:
                compiled_started = time.perf_counter()
                before = self.score(batch, choices=choices)
                with plugin_call(self.components["loop"], "dreaming"):
                    out = self.loop(batch, self.scaler, run)
                after = self.score(out.image, choices=choices)
                if run.compiled:
                    self._whole.timed(batch.shape, (choices is None, pull is None), time.perf_counter() - compiled_started)
                level = self.scaler.levels(batch_array.shape[1:3])[-1]
                result_images = out.image if pull is None else pull.finish(out.image, level)
            output = squeeze(np.asarray(widen(result_images[..., keep], self.settings.output["contrast"])))
            output = apply_mask(self.settings, output, squeeze(np.asarray(batch_array)[..., keep]), masks)
            dream = np.clip(squeeze(np.asarray(out.dream)[..., keep]), 0.0, 1.0)
            detail = squeeze(np.asarray(out.detail)[..., keep])
            pattern = squeeze(np.asarray(out.pattern)[..., keep])
        seconds = (time.perf_counter() - started) / len(images)
        problems = [problem_of(self.components, float(before[i]), float(after[i]), output[i]) for i in range(len(images))]
        objectives = [self.objective_description if described is None else described[i] for i in range(len(images))]
        silent = [i for i in range(len(images)) if problems[i] is None and before[i] == 0 and after[i] == 0]
        from dreamfx.engine.responses import silences

        found = silences(self, batch_array, silent, objectives, responses)
        return with_masks(masks, [
            DreamResult(
                image=output[i], pattern=pattern[i], dream=dream[i], detail=detail[i],
                score_before=float(before[i]), score_after=float(after[i]),
                settings=self.settings if choices is None else self.settings_with(int(choices[i])),
                objective=objectives[i], device=self.device, seconds=seconds,
                problem=problems[i], backend=self.backend, silence=found.get(i),
            )
            for i in range(len(images))
        ])

    def _pull(self, toward: Sequence[Toward | None] | None, batch: np.ndarray) -> Pull | None:
        """The dream's :class:`~dreamfx.engine.pull.Pull`, or None (no image has a target)."""
        arrays = pull_arrays(toward, batch)
        if arrays is None:
            return None
        steps = self.rounds_for((int(batch.shape[1]), int(batch.shape[2]))) * self.ascent.steps
        return Pull(backend.tensor(arrays[0]), backend.tensor(arrays[1]), steps)

    def settings_with(self, choice: int) -> Settings:
        """This dreamer's settings with the objective's ``selectable`` parameter set to ``choice``."""
        from dataclasses import replace

        objective = self.settings.objective
        return replace(self.settings, objective=replace(objective, params={**objective.params,
                                                                           self.objective.selectable: choice}))


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
