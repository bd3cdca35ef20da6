"""Wiring a dream: settings -> model, objective, scaler, optimizer, loop -> result.

A :class:`Dreamer` resolves and builds the components once (model load, feature model,
compiled optimizer loop) and can then dream many images of any size; everything between
the decoded input and the encoded output runs as TensorFlow ops on one device.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .device import resolve_device
from .features import feature_model
from .models import cached_model
from .objectives import ModelInfo, build_objective
from .plugins import PluginHost
from .scaling import LevelCache, split_views, worth_compiling
from .settings import Settings


@dataclass
class DreamResult:
    """A dream's result and the intermediates of the article's figure, as float arrays in [0, 1]."""

    image: np.ndarray  # (H, W): the result, detail re-added (output.contrast applied)
    pattern: np.ndarray  # (h, w): the first optimised model-sized view of the last round
    dream: np.ndarray  # (H, W): the blurry upscaled dream, before the detail is re-added
    detail: np.ndarray  # (H, W): the detail the scaling lost, centred on 0
    score_before: float  # objective on the scaler's views of the input
    score_after: float  # objective on the scaler's views of the output
    settings: Settings
    objective: str
    device: str
    seconds: float

    @property
    def contrast(self) -> np.ndarray:
        """(H, W): the result with ``output.panel_contrast`` applied (the panel's last view)."""
        return widen(self.image[None, :, :, None], self.settings.output["panel_contrast"]).numpy()[0, :, :, 0]

    @property
    def gain(self) -> float:
        """score_after / score_before (inf when the feature was silent before)."""
        return self.score_after / self.score_before if self.score_before > 0 else float("inf")


def widen(images: Any, factor: float) -> Any:
    """Scale the width of each image's value distribution around its mean by ``factor``."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    if factor == 1.0:
        return images
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return tf.clip_by_value(mean + (images - mean) * factor, 0.0, 1.0)


class Dreamer:
    """Components built once for one :class:`Settings`, ready to dream images."""

    def __init__(self, host: PluginHost, settings: Settings, device: str = "auto") -> None:
        import tensorflow as tf

        self.settings = settings
        self.device = resolve_device(device)
        with tf.device(self.device):
            model_choice = settings.model
            component = host.get("models", model_choice.name)
            self.model = cached_model(model_choice.name, model_choice.params, lambda: component.build(**model_choice.params))
            self.model_info = ModelInfo.from_model(self.model, model_choice.name)
            self.objective = build_objective(
                host.registry("objectives"), self.model_info, settings.objective.name, settings.objective.params
            )
            self.scaler = host.get("scalers", settings.scaler.name).build(
                self.model_info.input_size, **settings.scaler.params
            )
            any_size = bool(getattr(self.scaler, "fully_convolutional", False))
            self.features = feature_model(self.model, self.objective.layers, any_size=any_size)
            self.optimizer = host.get("optimizers", settings.optimizer.name).build(**settings.optimizer.params)
            self.loop = host.get("loops", settings.loop.name).build(**settings.loop.params)
            self.step = self.optimizer.bind(self.features, self.objective, settings.seed)
            self._score_views = tf.function(lambda views: self.objective(self.features(views, training=False)),
                                            reduce_retracing=True)
        self._views_of = LevelCache()  # compiled "images -> the level's views", per level
        self._dreams = 0
        self.channels = int(self.model_info.input_shape[2])

    def score(self, images: Any, chunk: int = 512) -> np.ndarray:
        """The objective per image: the mean over the views of the scaler's finest level,
        computed ``chunk`` views at a time so a huge image's thousands of tiles never hold
        all their activations at once."""
        import tensorflow as tf

        with tf.device(self.device):
            level = self.scaler.levels((int(images.shape[1]), int(images.shape[2])))[-1]
            if worth_compiling(self._dreams, int(images.shape[0])):
                # traced per image size (resizing needs static sizes); no autograph: straight-line
                views = self._views_of.get(level, None, lambda: tf.function(
                    lambda batch: self._views(level, batch), autograph=False))(images)
            else:
                views = self._views(level, images)
            per_view = tf.concat([self._score_views(views[i : i + chunk]) for i in range(0, int(views.shape[0]), chunk)],
                                 axis=0)
            per_image = tf.reduce_mean(tf.reshape(per_view, [images.shape[0], -1]), axis=1)
        return per_image.numpy()

    @staticmethod
    def _views(level: Any, images: Any) -> Any:
        canvas = level.to_canvas(images)
        return canvas if level.view_size is None else split_views(canvas, level.view_size)

    def __call__(self, image: np.ndarray, on_round: Callable[[int], None] | None = None) -> DreamResult:
        """Dream one (H, W) float image in [0, 1]."""
        return self.dream_batch([image], on_round)[0]

    def dream_batch(
        self, images: Sequence[np.ndarray], on_round: Callable[[int], None] | None = None
    ) -> list[DreamResult]:
        """Dream same-sized (H, W) images together: one batch through every round.

        Each image's result equals what dreaming it alone gives: gradients and their
        normalisation are per image, and the random shifts depend only on the seed.
        ``on_round(round_index)`` is called after each round (for progress displays).
        """
        import tensorflow as tf

        shapes = {image.shape for image in images}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ValueError(f"dream_batch needs (height, width) arrays of one size, got {sorted(shapes)}")
        started = time.perf_counter()
        self._dreams += 1
        step = self.step
        if on_round is not None:

            def step(canvas: Any, round_index: int, geometry: Any) -> Any:
                out = self.step(canvas, round_index, geometry)
                on_round(round_index)
                return out

        with tf.device(self.device):
            batch = tf.constant(np.stack(images)[..., None], tf.float32)
            if self.channels != 1:
                batch = tf.tile(batch, [1, 1, 1, self.channels])
            before = self.score(batch)
            out = self.loop(batch, self.scaler, step)
            after = self.score(out.image)
            output = widen(out.image, self.settings.output["contrast"]).numpy()[..., 0]
            dream = np.clip(out.dream.numpy()[..., 0], 0.0, 1.0)
            detail = out.detail.numpy()[..., 0]
            pattern = out.pattern.numpy()[..., 0]
        seconds = (time.perf_counter() - started) / len(images)
        return [
            DreamResult(
                image=output[i], pattern=pattern[i], dream=dream[i], detail=detail[i],
                score_before=float(before[i]), score_after=float(after[i]), settings=self.settings,
                objective=self.objective.describe(), device=self.device, seconds=seconds,
            )
            for i in range(len(images))
        ]
