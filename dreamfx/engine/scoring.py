"""The objective per image: how every part of dreamfx scores (before and after a dream,
the silent-map hints, the ``"auto"`` map, the atlas).

What the network sees of an image at a level (:func:`.views.views_at`) goes through the
network ``chunk`` views at a time, so a huge image's thousands of tiles never hold all
their activations at once; a value per view (the objective, or a map's mean response) is
averaged per image (:func:`.steps.per_image`, as the step loop averages its score).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from dreamfx.engine.steps import per_image
from dreamfx.engine.views import views_at
from dreamfx.errors import PluginError
from dreamfx.host.calls import CAUGHT, describe_component, plugin_call
from dreamfx.kinds.scalers import LevelCache, level_key

#: Where the host says which faster route it left, and why (``--debug`` shows it).
log = logging.getLogger("dreamfx")


def in_chunks(score: Callable[[Any, slice], Any], views: Any, batch: int, chunk: int,
              check: Callable[[Any, int], None] | None = None) -> Any:
    """``score(views[part], part)`` for each ``part`` of at most ``chunk`` views, put
    together and averaged per image: ``(batch, ...)``. ``check(result, count)`` sees each
    part's result first (to name a plugin whose scores have the wrong shape)."""
    from keras import ops

    total = int(views.shape[0])
    parts = []
    for first in range(0, total, chunk):
        part = slice(first, min(first + chunk, total))
        result = score(views[part], part)
        if check is not None:
            check(result, part.stop - part.start)
        parts.append(result)
    return per_image(parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=0), batch)


def objective_per_view(features: Any, objective: Any, views: Any, batch: int, choices: Any = None) -> Any:
    """The objective of each of ``views`` (image-major, ``batch`` images); ``choices``: the
    objective's choice per image (a tensor), or None for its own."""
    from keras import ops

    acts = features(views, training=False)
    if choices is None:
        return objective(acts)
    return objective.score_each(acts, ops.repeat(choices, int(views.shape[0]) // batch))


class _NotFused(Exception):
    """The fused scoring does not take this level and shape (more views than a chunk, or
    scores of the wrong shape): the separate calls run, and say what is wrong."""


class Scoring:
    """A dreamer's scoring: the objective per image of a batch, through the scaler's finest
    level, guarded (a failure names the plugin at fault) and compiled where that pays."""

    def __init__(self, kernel: Any, features: Any, objective: Any, scaler: Any, components: dict[str, Any]) -> None:
        self.kernel, self.features, self.objective, self.scaler, self.components = (
            kernel, features, objective, scaler, components)
        self.score_views = kernel.compile_function(
            lambda views: objective(features(views, training=False)), retrace_less=True)
        self.score_each = kernel.compile_function(
            lambda views, choices: objective.score_each(features(views, training=False), choices), retrace_less=True)
        self.views_of = LevelCache()  # compiled "images -> the level's views", per level
        self.fused_of = LevelCache()  # compiled "images -> scores", per level and shape
        self.unfused: set[Any] = set()  # (level, shape) that the fused scoring does not take

    def __call__(self, images: Any, chunk: int = 512, choices: Any = None, compiled: bool = False) -> np.ndarray:
        """The objective per image: the mean over the views of the scaler's finest level,
        computed ``chunk`` views at a time so a huge image's thousands of tiles never hold
        all their activations at once. ``choices``: the objective's ``selectable``
        parameter per image (None: its own); ``compiled``: trace the views and, when they fit
        in one chunk, views, network and mean as one call (:meth:`fused`)."""
        from keras import ops

        with plugin_call(self.components["scaler"], "cutting images into views for scoring"):
            level = self.scaler.levels((int(images.shape[1]), int(images.shape[2])))[-1]
        if compiled:
            fused = self.fused(level, images, chunk, choices)
            if fused is not None:
                return fused
        with plugin_call(self.components["scaler"], "cutting images into views for scoring"):
            if compiled:
                # traced per image size (resizing needs static sizes); no autograph: straight-line
                views = self.views_of.get(level, None, lambda: self.kernel.compile_function(
                    lambda batch: views_at(level, batch)))(images)
            else:
                views = views_at(level, images)
        with plugin_call(self.components["objective"], "scoring"):
            if choices is not None:
                per_view = ops.repeat(self.kernel.tensor(np.asarray(choices, np.int32), "int32"),
                                      int(views.shape[0]) // int(images.shape[0]))

            def score(part_views: Any, part: slice) -> Any:
                if choices is None:
                    return self.score_views(part_views)
                return self.score_each(part_views, per_view[part])

            def check(part: Any, count: int) -> None:
                if tuple(part.shape) != (count,):  # before the optimizer is blamed for it
                    raise PluginError(f"{describe_component(self.components['objective'])} returned scores of "
                                      f"shape {tuple(part.shape)} for {count} views: score(activations) must "
                                      f"return one value per batch element, shape ({count},); reduce over "
                                      "every axis but the first")

            return np.asarray(in_chunks(score, views, int(images.shape[0]), chunk, check))

    def in_one(self, level: Any, images: Any, choices: Any, chunk: int) -> Any:
        """What :meth:`__call__` computes, written to be traced as one call: views, network,
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

    def fused(self, level: Any, images: Any, chunk: int, choices: Any) -> np.ndarray | None:
        """The scores of :meth:`__call__` from one compiled call (views, network, objective and
        the mean per image), when the views fit in one chunk: for small dreams the separate
        calls cost more than their work (about 5 ms against 2 ms for a 600x400 photo at
        28x28). None when this level and shape do not fuse (more views than ``chunk``, or a
        call that failed: the separate calls then run, and name the plugin at fault)."""
        key = (tuple(int(v) for v in images.shape), choices is None, chunk)
        if (level_key(level), key) in self.unfused:
            return None
        def build() -> Any:
            return self.kernel.compile_function(lambda images, choices: self.in_one(level, images, choices, chunk))

        fused = self.fused_of.get(level, key, build)
        try:
            chosen = None if choices is None else self.kernel.tensor(np.asarray(choices, np.int32), "int32")
            return np.asarray(fused(images, chosen))
        except CAUGHT as exc:  # noqa: BLE001 - the separate calls run and report it (SystemExit too)
            log.debug("scoring a batch of shape %s in one compiled call failed (%s: %s); it is scored in "
                      "separate calls from now on", key[0], type(exc).__name__, exc)
            if len(self.unfused) > 256:  # bounded, like the compiled functions
                self.unfused.clear()
            self.unfused.add((level_key(level), key))
            return None
