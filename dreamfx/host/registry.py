"""Registries: the named components plugins provide, with the plugin that provided each.

Plugin API v1: every component is registered as ``register(name, factory, *, description="")``
and built as ``factory(ctx, **params)``. The host reads the parameters (names, types,
defaults, one-line descriptions) from the factory's signature; ``ctx`` is a
:class:`BuildContext`. A built component is checked against its kind's protocol
(each kind's ``problem``, declared with its protocol in :mod:`dreamfx.kinds`), and a mismatch is a :class:`PluginError` naming the plugin.
"""

from __future__ import annotations

import copy
import inspect
import re
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from dreamfx.errors import PluginError, SettingsError
from dreamfx.kinds import KINDS as ALL_KINDS, kind_of, short
from dreamfx.host.values import AUTO, validate_params

if TYPE_CHECKING:
    from dreamfx.kinds.objectives import ModelInfo, Objective

#: The kinds of component, each filled by one registration hook ``dreamfx_register_<kind>``
#: (declared once, in :data:`dreamfx.kinds.KINDS`).
KINDS: tuple[str, ...] = tuple(kind.name for kind in ALL_KINDS)

#: Parameter types the host validates (settings are TOML-like data); anything else is
#: checked against the default's type, and a default of None accepts any value.
PARAM_TYPES: tuple[type, ...] = (bool, int, float, str, list, dict)

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Auto:
    """Marks an objective's map parameter that may also be ``"auto"``:
    ``map: Annotated[int, "The map index.", Auto()] = 0``. The host then dreams each image
    with the map of the objective's layer that responds most to it (the strongest mean
    activation on the scaler's finest views), fed at run time as the objective's
    ``selectable`` parameter; the output's stored settings hold the map it chose. Only the
    ``selectable`` parameter of an objective over one layer with feature maps can be
    ``auto`` (the built-in ``single-map``'s ``map``)."""


@dataclass(frozen=True)
class Param:
    """One parameter of a component, read from its factory's signature."""

    name: str
    type: type | None  # None: any value
    default: Any
    description: str = ""
    #: Whether the value may also be ``"auto"`` (annotated with :class:`Auto`).
    auto: bool = False

    @property
    def type_name(self) -> str:
        return self.type.__name__ if self.type is not None else "any"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type_name, "default": self.default, "description": self.description}


@dataclass(frozen=True)
class BuildContext:
    """What a factory receives first: ``factory(ctx, **params)``.

    ``kind``, ``name`` and ``plugin`` say what is being built. ``model`` is the
    :class:`~dreamfx.kinds.objectives.ModelInfo` of the dream's model (None while a model or a
    preset is built), and ``view_size`` the model's input size ``(height, width)`` (None
    likewise). Objectives can build other registered objectives with :meth:`objective`.
    """

    kind: str
    name: str
    plugin: str
    model: ModelInfo | None = None
    view_size: tuple[int, int] | None = None
    _objectives: Registry | None = field(default=None, repr=False, compare=False)

    def objective(self, name: Any, params: Mapping[str, Any], where: str) -> Objective:
        """Validate ``params`` against the registered objective ``name`` and build it for
        the same model: how a composite (the built-in ``sum``) combines other objectives.
        ``where`` is the settings path of the term, for error messages
        (``"objective.terms[0]"``)."""
        if self._objectives is None or self.model is None:
            raise PluginError(f"{self.kind[:-1]} {self.name!r} (plugin {self.plugin!r}) asked for an objective, "
                              "which only objectives can build")
        if not isinstance(name, str):
            raise SettingsError(f"{where} needs a name, for example name = \"single-map\"")
        if not isinstance(params, Mapping):
            raise SettingsError(f"{where} must be a table of parameters")
        component = self._objectives.get(name)
        validated = validate_params(component, params, where)
        chosen = next((key for key, value in validated.items() if value == AUTO and component.param(key).auto), None)
        if chosen is not None:
            raise SettingsError(f"{where}.{chosen} cannot be \"auto\": a {chosen} is chosen per photo only for the "
                                f"objective itself (objective = \"{name}\"); give a term a {chosen} number")
        return component.build(component.context(model=self.model, objectives=self._objectives), **validated)


@dataclass(frozen=True)
class Component:
    """One registered thing: how to build it, what it accepts, and who provided it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    parameters: tuple[Param, ...]
    description: str
    plugin: str

    @property
    def params(self) -> dict[str, Any]:
        """``{parameter: default}`` (a fresh copy: defaults may be lists or tables)."""
        return {p.name: copy.deepcopy(p.default) for p in self.parameters}

    def param(self, name: str) -> Param:
        return next(p for p in self.parameters if p.name == name)

    def context(self, *, model: ModelInfo | None = None, objectives: Registry | None = None,
                view_size: tuple[int, int] | None = None) -> BuildContext:
        """The :class:`BuildContext` for building this component for ``model`` (whose input
        size is the ``view_size``; give ``view_size`` alone to build a scaler without a model)."""
        if model is not None:
            view_size = model.input_size
        return BuildContext(self.kind, self.name, self.plugin, model, view_size,
                            objectives if self.kind == "objectives" else None)

    def build(self, ctx: BuildContext | None = None, /, **params: Any) -> Any:
        """Call ``factory(ctx, **params)`` with defaults overlaid by ``params`` (already
        validated), then check the result against the kind's protocol."""
        merged = {**self.params, **params}
        built = self.factory(ctx if ctx is not None else self.context(), **merged)
        check_component(self, built)
        return built


def check_component(component: Component, built: Any) -> None:
    """A :class:`PluginError` naming the plugin if ``built`` does not meet its kind's contract
    (the kind's ``problem`` in :mod:`dreamfx.kinds`)."""
    problem = kind_of(component.kind).problem(built)
    if problem is not None:
        raise PluginError(f"{component.kind[:-1]} {component.name!r} (plugin {component.plugin!r}) does not meet "
                          f"the {component.kind[:-1]} protocol: {problem}")


# -- parameters from a factory's signature ---------------------------------------------------


def _annotation(annotation: Any, factory: Callable[..., Any]) -> Any:
    """An annotation, evaluated if it is a string (``from __future__ import annotations``);
    ``inspect.Parameter.empty`` if it cannot be."""
    if not isinstance(annotation, str):
        return annotation
    target = inspect.unwrap(factory.__init__ if inspect.isclass(factory) else factory)
    namespace = dict(vars(typing))
    namespace.update(getattr(target, "__globals__", {}))
    try:
        return eval(annotation, namespace)  # noqa: S307 - the plugin's own annotation, in its own module
    except Exception:
        return inspect.Parameter.empty


def _split(annotation: Any) -> tuple[Any, str, bool]:
    """``(base type, description, auto)`` of ``Annotated[T, "description", Auto()]`` (the
    description and the :class:`Auto` marker optional), or ``(annotation, "", False)``."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        text = next((e for e in extras if isinstance(e, str)), "")
        return base, " ".join(text.split()), any(isinstance(e, Auto) for e in extras)
    return annotation, "", False


def signature_params(factory: Callable[..., Any], where: str) -> tuple[Param, ...]:
    """The parameters of ``factory(ctx, **params)``, from its signature.

    Every parameter after the first (the build context) must be keyword-able and have a
    default; ``*args``/``**kwargs`` are refused, so the host knows every parameter a preset
    may set. ``where`` names the registration in errors."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError) as exc:
        raise PluginError(f"{where}: cannot read the factory's signature ({exc})") from None
    values = list(signature.parameters.values())
    if not values or values[0].kind not in (inspect.Parameter.POSITIONAL_ONLY,
                                            inspect.Parameter.POSITIONAL_OR_KEYWORD):
        raise PluginError(f"{where}: plugin API v1: the factory must take the build context first, "
                          "as factory(ctx, **params)")
    first = values[0]
    if first.default is not inspect.Parameter.empty:
        raise PluginError(f"{where}: plugin API v1: the factory's first parameter, {first.name!r}, has a default, "
                          "but the host passes the build context there: write factory(ctx, "
                          f"{first.name}=..., ...)")
    params = []
    for p in values[1:]:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise PluginError(f"{where}: plugin API v1: the factory takes {'**' if p.kind == p.VAR_KEYWORD else '*'}"
                              f"{p.name}; declare every parameter by name with a default")
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise PluginError(f"{where}: parameter {p.name!r} of the factory is positional-only; "
                              "parameters are passed by name")
        if p.default is inspect.Parameter.empty:
            raise PluginError(f"{where}: parameter {p.name!r} of the factory has no default; "
                              "every parameter needs one (the value a preset that leaves it out gets)")
        base, description, auto = _split(_annotation(p.annotation, factory))
        default = p.default
        if base in PARAM_TYPES:
            kind: type | None = base
        else:
            kind = None if default is None else type(default)
        if kind is float and isinstance(default, int) and not isinstance(default, bool):
            default = float(default)
        if kind is not None and default is not None and not isinstance(default, kind):
            raise PluginError(f"{where}: the default of parameter {p.name!r} is {short(default)}, "
                              f"which is not of type {kind.__name__} as annotated")
        if auto and kind is not int:
            raise PluginError(f"{where}: parameter {p.name!r} is marked Auto() but is not an int (a map index)")
        params.append(Param(p.name, kind, default, description, auto))
    return tuple(params)


@dataclass
class Registry:
    """The components of one kind, keyed by kebab-case name."""

    kind: str
    _items: dict[str, Component] = field(default_factory=dict)

    def add(self, component: Component) -> None:
        """Add ``component``; a bad or duplicate name is a :class:`PluginError` naming both plugins."""
        if not _NAME.match(component.name):
            raise PluginError(
                f"plugin {component.plugin!r} registered {self.kind[:-1]} {component.name!r}: "
                "names must be kebab-case (lowercase letters, digits and '-')"
            )
        if not callable(component.factory):
            raise PluginError(
                f"plugin {component.plugin!r} registered {self.kind[:-1]} {component.name!r} "
                f"with a factory that is not callable ({type(component.factory).__name__})"
            )
        existing = self._items.get(component.name)
        if existing is not None:
            raise PluginError(
                f"{self.kind[:-1]} {component.name!r} is registered twice: by plugin "
                f"{existing.plugin!r} and by plugin {component.plugin!r}; disable one of them "
                "with DREAMFX_DISABLE_PLUGINS or rename the registration"
            )
        self._items[component.name] = component

    def get(self, name: str) -> Component:
        """The component called ``name``, or a :class:`SettingsError` listing the valid names."""
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(sorted(self._items)) or "(none registered)"
            raise SettingsError(f"unknown {self.kind[:-1]} {name!r}; valid: {valid}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Component]:
        return iter(sorted(self._items.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._items)
