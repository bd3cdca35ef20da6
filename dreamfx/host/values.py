"""Setting values: the bounds on what settings may hold, and the checks and coercion of one
value against a component's declared parameter. Knows nothing of presets, registries or
backends, so both :mod:`dreamfx.config.settings` (whole settings) and :mod:`dreamfx.host.registry` (a
composite objective validating its terms) use it without importing each other."""

from __future__ import annotations

import math
from typing import Any, Mapping

from dreamfx.errors import PluginError, SettingsError

#: The value of a parameter declared ``Auto[...]`` that the host chooses per image.
AUTO = "auto"
#: ``--color`` choices: gray (the article's) or luma (dream the brightness, keep the colours).
COLORS = ("gray", "luma")

#: Bounds on what settings may hold (they are copied into every output's metadata).
MAX_DEPTH = 16  # nesting of tables and arrays inside one setting
MAX_VALUES = 10_000  # values in all the settings together
MAX_STRING = 1_000  # characters in one string (descriptions, names, paths)
MAX_SETTINGS_BYTES = 64 * 1024  # the validated settings as JSON
MAX_PRESET_BYTES = 1024 * 1024  # a preset TOML file
#: Seeds are int64 in TensorFlow's stateless random ops; negative ones are refused.
SEED_MAX = 2**63 - 1
_INT_LIMIT = 2**63  # integers must fit int64 (TOML's own range)


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (error messages stay one short line)."""
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__; settings values are plain data, but be safe
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_value(value: Any, where: str, *, _depth: int = 0, _count: list[int] | None = None) -> None:
    """Refuse anything a preset could not hold: only strings, booleans, finite numbers that
    fit 64 bits, arrays and tables with string keys, at most :data:`MAX_DEPTH` deep,
    :data:`MAX_VALUES` values and :data:`MAX_STRING` characters per string."""
    count = [0] if _count is None else _count
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise SettingsError(f"settings hold more than {MAX_VALUES:,} values (at {where}); presets are small")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if where == "seed" and not 0 <= value <= SEED_MAX:
            check_seed(value)  # the seed's own range, named as such
        if not -_INT_LIMIT <= value < _INT_LIMIT:
            raise SettingsError(f"{where} must fit in 64 bits, got {_short(value)}")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SettingsError(f"{where} must be a finite number, got {value}")
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise SettingsError(f"{where} is {len(value):,} characters long; at most {MAX_STRING:,} are allowed")
        return
    if isinstance(value, (list, tuple, Mapping)):
        if _depth >= MAX_DEPTH:
            raise SettingsError(f"{where} nests arrays or tables too deeply (at most {MAX_DEPTH} levels)")
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str) or len(key) > MAX_STRING:
                    raise SettingsError(f"{where} has a key that is not a string of at most {MAX_STRING:,} "
                                        f"characters: {_short(key)}")
                check_value(item, f"{where}.{key}" if where else key, _depth=_depth + 1, _count=count)
        else:
            for i, item in enumerate(value):
                check_value(item, f"{where}[{i}]", _depth=_depth + 1, _count=count)
        return
    raise SettingsError(f"{where} must be a string, number, boolean, array or table, got {_short(value)} "
                        f"({type(value).__name__})")


def check_seed(seed: Any, where: str = "seed") -> int:
    """A seed as an int in 0..2**63-1 (TensorFlow's stateless random ops take int64 seeds)."""
    value = seed if isinstance(seed, int) and not isinstance(seed, bool) else coerce(seed, 0, where)
    if not 0 <= value <= SEED_MAX:
        raise SettingsError(f"{where} must be between 0 and {SEED_MAX} (2**63-1), got {_short(value)}")
    return value


def coerce(value: Any, default: Any, where: str) -> Any:
    """Check ``value`` against the type of ``default`` (ints widen to floats; numbers must be
    finite and fit 64 bits, strings bounded)."""
    return coerce_to(value, None if default is None else type(default), where)


def coerce_to(value: Any, expected: type | None, where: str) -> Any:
    """Check ``value`` against ``expected`` (None: any value); ints widen to floats."""
    check_value(value, where)
    if expected is None:
        return value
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(value, expected):
        return value
    raise SettingsError(f"{where} must be {expected.__name__}, got {_short(value)} ({type(value).__name__})")


def validate_params(component: Any, table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``component``'s parameters (a :class:`dreamfx.host.registry.Component`, from its factory's
    signature): its defaults overlaid by ``table``, each checked against the parameter's type."""
    declared = {p.name: p for p in component.parameters}
    params: dict[str, Any] = component.params
    for key, value in table.items():
        if key not in declared:
            valid = ", ".join(f"{where}.{k}" for k in declared) or "none"
            raise SettingsError(
                f"unknown key {where}.{key!r} for {component.kind[:-1]} {component.name!r} "
                f"(plugin {component.plugin}); valid keys: {valid}"
            )
        if value == AUTO and declared[key].auto:
            params[key] = AUTO  # chosen per image by the host (dreamfx.engine.dreamer.Dreamer)
            continue
        if value == AUTO and declared[key].type not in (str, None):
            raise SettingsError(f"{where}.{key} cannot be \"auto\": only a map chosen per photo can (objective.map "
                                f"of single-map); {component.kind[:-1]} {component.name!r} takes "
                                f"{'an' if declared[key].type_name[0] in 'aeiou' else 'a'} "
                                f"{declared[key].type_name} there")
        try:
            params[key] = coerce_to(value, declared[key].type, f"{where}.{key}")
        except SettingsError as exc:
            if not declared[key].auto or not str(exc).startswith(f"{where}.{key} must be "):
                raise
            raise SettingsError(f"{where}.{key} must be {declared[key].type_name} or \"auto\" (the {key} that "
                                f"responds most to each photo), got {_short(value)} ({type(value).__name__})") from None
    for key in declared.keys() - table.keys():
        if not _finite(declared[key].default):
            raise PluginError(f"{component.kind[:-1]} {component.name!r} (plugin {component.plugin!r}) declares a "
                              f"non-finite default for {where}.{key}: {_short(declared[key].default)}")
    return params


def _finite(value: Any, depth: int = 0) -> bool:
    """False if ``value`` holds a NaN or infinite float (a plugin's declared default)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if depth < MAX_DEPTH and isinstance(value, Mapping):
        return all(_finite(v, depth + 1) for v in value.values())
    if depth < MAX_DEPTH and isinstance(value, (list, tuple)):
        return all(_finite(v, depth + 1) for v in value)
    return True
