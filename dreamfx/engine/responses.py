"""How strongly each map of a layer responds to images, and why a dream was silent: the
measure behind ``objective.map = "auto"`` (:meth:`dreamfx.engine.dreamer.Dreamer.responses`),
the advice a silent dream's summary gives (:class:`Silence`) and ``dreamfx layers``' hint.
Every measure goes through the scaler's finest level, chunked as every score is
(:mod:`dreamfx.engine.scoring`); nothing imports a backend at import time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


def map_responses(model: Any, info: Any, scaler: Any, layer: str, images: Any, chunk: int = 512) -> Any:
    """The mean response of each map of ``layer`` to each of the same-sized ``images``
    (B, H, W, channels), seen through ``scaler``'s finest level, as a (B, maps) array; the
    views are computed ``chunk`` at a time, as every score is (:mod:`dreamfx.engine.scoring`)."""
    import numpy as np
    from keras import ops

    from dreamfx.engine.features import feature_model
    from dreamfx.engine.scoring import in_chunks
    from dreamfx.engine.views import views_at

    batch = ops.convert_to_tensor(np.asarray(images, np.float32))
    level = scaler.levels((int(batch.shape[1]), int(batch.shape[2])))[-1]
    features = feature_model(model, (layer,), any_size=bool(getattr(scaler, "fully_convolutional", False)))

    def responses(views: Any, part: slice) -> Any:
        return ops.mean(features(views, training=False)[layer], axis=[1, 2])

    return np.asarray(in_chunks(responses, views_at(level, batch), int(batch.shape[0]), chunk))


def strongest_map(model: Any, info: Any, scaler: Any, layer: str, image: Any) -> int | None:
    """The map of ``layer`` whose mean response to the (H, W) ``image``, seen through
    ``scaler``'s finest level, is largest; None when every map is zero."""
    import numpy as np

    gray = np.asarray(image, np.float32)
    batch = np.repeat(gray[None, :, :, None], int(info.input_shape[2]), axis=-1)
    means = map_responses(model, info, scaler, layer, batch)[0]
    return int(np.argmax(means)) if means.max() > 0 else None


@dataclass(frozen=True)
class Silence:
    """Why a dream changed nothing: its objective (``objective``, as it describes itself) is
    zero on the image, so its gradient is zero. ``best``: the map of ``layer`` (the
    objective's deepest layer with maps) that responds most to the image, None when every
    map of it is zero or it has none; ``auto``: the objective's parameter that may be
    ``"auto"`` (``map`` of ``single-map``), None when it has none."""

    objective: str
    layer: str | None = None
    best: int | None = None
    auto: str | None = None

    def advice(self, subject: str = "it") -> str:
        """What to try instead: a map of the same layer that responds to ``subject``."""
        if self.layer is None:
            return "try another map or layer ('dreamfx oip' shows what a map responds to)"
        if self.best is None:
            return f"every map of {self.layer} is zero on {subject}; try an earlier layer"
        why = f"the map of {self.layer} that responds most to {subject}"
        if self.auto is not None:
            return f"try --set objective.{self.auto}=auto, or --set objective.{self.auto}={self.best} ({why})"
        return (f"try --set objective=single-map --set objective.layer={self.layer} --set objective.map={self.best}, "
                f"{why}")

    def reason(self) -> str:
        """One image's status line: what was silent and what to try."""
        return (f"{self.objective} does not respond to it (zero activation, so zero gradient): nothing changed; "
                f"{self.advice()}")


def silences(dreamer: Any, batch: Any, indices: Sequence[int], objectives: Sequence[str],
             responses: Any = None) -> dict[int, Silence]:
    """A :class:`Silence` for each of ``indices``, the images of the model-input ``batch``
    (B, H, W, channels) whose dream was silent under the objective described by
    ``objectives[i]``. ``responses``: :func:`map_responses` of the whole batch on the
    objective's deepest map layer, when already computed (``objective.map = "auto"``)."""
    import numpy as np

    auto = dreamer.auto_parameter
    layers = [name for name in dreamer.objective.layers if name in dreamer.model_info.map_layers()]
    if not indices:
        return {}
    if not layers:
        return {i: Silence(objectives[i]) for i in indices}
    layer = layers[-1]
    own = auto is not None and getattr(dreamer.objective, "layer", layer) == layer
    try:
        if responses is None:
            from dreamfx.engine.backend import on_device

            picked = np.asarray(batch)[list(indices)]
            with on_device(dreamer.device):
                measured = map_responses(dreamer.model, dreamer.model_info, dreamer.scaler, layer, picked)
            means = dict(zip(indices, measured))
        else:
            means = {i: np.asarray(responses)[i] for i in indices}
    except (Exception, SystemExit):  # noqa: BLE001 - advice must never turn a finished dream into an error
        return {i: Silence(objectives[i]) for i in indices}
    return {i: Silence(objectives[i], layer, int(np.argmax(means[i])) if means[i].max() > 0 else None,
                       auto if own else None) for i in indices}
