"""The objective per image: how every part of dreamfx scores (before and after a dream,
the silent-map hints, the ``"auto"`` map, the atlas).

What the network sees of an image at a level (:func:`.views.views_at`) goes through the
network ``chunk`` views at a time, so a huge image's thousands of tiles never hold all
their activations at once; a value per view (the objective, or a map's mean response) is
averaged per image (:func:`.steps.per_image`, as the step loop averages its score).
"""

from __future__ import annotations

from typing import Any, Callable

from dreamfx.engine.steps import per_image


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
