"""Calling a plugin's code: anything but a :class:`~dreamfx.errors.DreamfxError` (or Ctrl-C)
raised inside a component becomes a one-line :class:`~dreamfx.errors.PluginError` naming
it and its plugin, with the cause chained; a progress callback's own error passes through
unchanged.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator


from dreamfx.errors import DreamfxError, PluginError
from dreamfx.host.registry import Component


#: What a component may raise that is turned into a PluginError. KeyboardInterrupt is not
#: among them: Ctrl-C during a dream must stop the run, not fail one group.
CAUGHT = (Exception, SystemExit, GeneratorExit)


class CallbackError(Exception):
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


class GuardedScaler:
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
    except CallbackError as exc:
        raise exc.original from None
    except DreamfxError:
        raise
    except CAUGHT as exc:
        raise PluginError(f"{describe_component(component)} failed while {what}: {_first_line(exc)}") from exc
