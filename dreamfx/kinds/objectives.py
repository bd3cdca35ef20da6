"""What an objective is: a score per batch element computed from named layer activations.

Objectives declare the layers they read (the host builds one multi-output feature model
per set of layers and caches it) and compose: ``a + b``, ``a - b``, ``0.5 * a``, ``-a``.
Keras is imported only when a score is computed, so registering objectives is free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from dreamfx.errors import SettingsError
from dreamfx.kinds import short


@dataclass(frozen=True)
class ModelInfo:
    """The geometry of a model, which objectives use to validate their parameters."""

    name: str
    input_shape: tuple[int, int, int]  # (height, width, channels)
    layers: dict[str, tuple[int | None, ...]]  # layer name -> output shape without batch
    model: Any = field(default=None, repr=False, compare=False)  # the network, when made from one

    @classmethod
    def from_model(cls, model: Any, name: str | None = None) -> "ModelInfo":
        shape = tuple(model.inputs[0].shape[1:])
        layers: dict[str, tuple[int | None, ...]] = {}
        for layer in model.layers:
            if type(layer).__name__ == "InputLayer":
                continue
            out = layer.output
            layers[layer.name] = tuple(out.shape[1:])
        return cls(name or model.name, shape, layers, model)  # type: ignore[arg-type]

    def activations(self, images: Any, layers: Sequence[str]) -> dict[str, Any]:
        """The network's activations at ``layers`` for ``images`` (B, height, width, channels)
        of the model's input size, floats in [0, 1], as NumPy arrays: what an objective with
        an image parameter (a guide) computes once, when it is built (``ctx.model``)."""
        import keras
        import numpy as np

        if self.model is None:
            raise SettingsError(f"model {self.name!r} is described without its network here; activations need it")
        for layer in layers:
            self.check_layer(layer)
        batch = np.asarray(images, np.float32)
        if batch.shape[1:] != tuple(int(v) for v in self.input_shape):
            raise SettingsError(f"activations need images of the model's input shape {tuple(self.input_shape)}, "
                                f"got {batch.shape[1:]}")
        probe = keras.Model(inputs=self.model.inputs, outputs={name: self.model.get_layer(name).output for name in layers})
        return {name: np.asarray(value) for name, value in probe(batch, training=False).items()}

    @property
    def input_size(self) -> tuple[int, int]:
        return int(self.input_shape[0]), int(self.input_shape[1])

    def map_layers(self) -> list[str]:
        """Layers with spatial feature maps (outputs of rank 3: height, width, maps)."""
        return [n for n, s in self.layers.items() if len(s) == 3]

    def check_layer(self, layer: str, *, spatial: bool | None = None) -> tuple[int | None, ...]:
        """The output shape of ``layer``; a clear error listing valid layers if it is not one."""
        valid = self.map_layers() if spatial else (
            [n for n, s in self.layers.items() if len(s) == 1] if spatial is False else list(self.layers)
        )
        if layer not in valid:
            kind = "layers with feature maps" if spatial else ("dense layers" if spatial is False else "layers")
            raise SettingsError(
                f"unknown layer {layer!r} in model {self.name!r}; {kind}: {', '.join(valid)}"
            )
        return self.layers[layer]

    def check_unit(self, layer: str, index: int, *, what: str = "map", spatial: bool | None = True) -> None:
        """Check ``index`` is a valid map (channel) or unit of ``layer``, naming the range if not."""
        count = self.check_layer(layer, spatial=spatial)[-1]
        if count is not None and not 0 <= index < count:
            raise SettingsError(
                f"{what} {index} does not exist in layer {layer!r}, which has {count} {what}s: "
                f"choose {what} 0 to {count - 1}"
            )


class Objective:
    """Base class: subclasses set ``layers`` and implement :meth:`score`.

    The protocol the host checks when an objective is built: ``layers``, a tuple of the
    layer names it reads (the host builds a feature model with those outputs), and a
    callable ``score(activations)``. ``describe()`` (optional) is the text the summary
    shows. Write ``score`` with ``keras.ops``: the host differentiates it inside its
    compiled step, on whatever backend Keras runs.
    """

    layers: tuple[str, ...] = ()
    #: The parameter a batch may choose per element at run time (``"map"`` for
    #: ``single-map``, ``"unit"`` for ``class``), or None; see :meth:`score_each`.
    selectable: str | None = None

    def score(self, activations: Mapping[str, Any]) -> Any:
        """Return a float32 tensor of shape ``(batch,)``: higher means more of the feature.

        ``activations`` maps each name in ``layers`` to a tensor ``(batch, height, width,
        maps)`` or ``(batch, units)``; height and width can be any size (a tile, or the whole
        photo with a fully convolutional scaler) and unknown while the step is traced."""
        raise NotImplementedError  # abstract

    def __call__(self, activations: Mapping[str, Any]) -> Any:
        return self.score(activations)

    def score_each(self, activations: Mapping[str, Any], choices: Any) -> Any:
        """Optional, with ``selectable``: the score of batch element ``i`` with the
        ``selectable`` parameter set to ``choices[i]`` (an int32 tensor ``(batch,)``, a
        run-time value: one compiled step serves every choice). Must equal :meth:`score`
        of the objective built with that value. The atlas (``dreamfx atlas``) dreams one
        photo under many maps in one batch this way, and a warm ``dreamfx.dream()`` reuses
        its compiled step for another map."""
        raise NotImplementedError(f"{type(self).__name__} cannot choose its {self.selectable or 'parameter'} per element")

    def describe(self) -> str:
        return type(self).__name__

    def __add__(self, other: "Objective") -> "Objective":
        return Sum((self, other))

    def __sub__(self, other: "Objective") -> "Objective":
        return Sum((self, Scaled(other, -1.0)))

    def __mul__(self, factor: float) -> "Objective":
        return self if factor == 1 else Scaled(self, float(factor))

    __rmul__ = __mul__

    def __neg__(self) -> "Objective":
        return Scaled(self, -1.0)


class Sum(Objective):
    """The sum of several objectives' scores."""

    def __init__(self, terms: Sequence[Objective]) -> None:
        flat: list[Objective] = []
        for term in terms:
            flat.extend(term.terms if isinstance(term, Sum) else [term])
        self.terms = tuple(flat)
        self.layers = tuple(dict.fromkeys(layer for t in self.terms for layer in t.layers))

    def score(self, activations: Mapping[str, Any]) -> Any:
        total = self.terms[0].score(activations)
        for term in self.terms[1:]:
            total = total + term.score(activations)
        return total

    def describe(self) -> str:
        text = self.terms[0].describe()
        for term in self.terms[1:]:
            if isinstance(term, Scaled) and term.factor < 0:
                text += f" - {Scaled(term.inner, -term.factor).describe()}"
            else:
                text += f" + {term.describe()}"
        return text


class Scaled(Objective):
    """An objective's score times a constant (a negative weight suppresses the feature)."""

    def __init__(self, inner: Objective, factor: float) -> None:
        self.inner, self.factor = inner, factor
        self.layers = inner.layers

    def score(self, activations: Mapping[str, Any]) -> Any:
        return self.factor * self.inner.score(activations)

    def describe(self) -> str:
        inner = self.inner.describe()
        return f"{self.factor:g} * ({inner})" if isinstance(self.inner, Sum) else f"{self.factor:g} * {inner}"


def build_objective(registry: Any, model_info: ModelInfo, name: str, params: Mapping[str, Any]) -> Objective:
    """Build the objective ``name`` with validated ``params`` for ``model_info``.

    Its factory receives a :class:`~dreamfx.host.registry.BuildContext` whose
    ``objective(name, params, where)`` validates and builds another registered objective:
    that is how ``sum`` combines terms, and how a third-party objective can wrap others.
    """
    component = registry.get(name)
    return component.build(component.context(model=model_info, objectives=registry), **params)


# -- the contract, checked when a component is built ------------------------------------------


def problem(obj: Any) -> str | None:
    """Why a built objective does not meet this contract (checked when it is built), or None."""
    layers = getattr(obj, "layers", None)
    if not isinstance(layers, (tuple, list)) or not all(isinstance(layer, str) for layer in layers):
        return f"its layers must be a tuple of layer names, got {short(layers)}"
    if not callable(getattr(obj, "score", None)):
        return "it has no score(activations) method"
    return None
