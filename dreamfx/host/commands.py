"""Commands that plugins add to the ``dreamfx`` program (the ``dreamfx_register_commands`` hook),
and the helpers such a command needs.

Commands are collected per plugin, through pluggy (so a plugin's hook wrappers run), and
isolated like the registration hooks: a plugin whose commands hook raises, registers a bad
command, a name another plugin took or one of dreamfx's own command names, or whose
``arguments`` function fails, is recorded as *failed* (``dreamfx plugins`` shows why), its
components are dropped with it, and the program goes on without it (``--strict``: the
failure is fatal). Collecting commands imports nothing heavy: a command's module should
import TensorFlow only inside ``run``.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from typing import Any, Callable

from dreamfx.errors import PluginError

HOOK = "dreamfx_register_commands"

#: The commands of dreamfx itself; a plugin cannot take these names.
BUILTIN_COMMANDS = ("run", "demo", "zoom", "video", "oip", "atlas", "layers", "presets", "plugins", "info", "explore")

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Command:
    """A command a plugin added: ``dreamfx NAME ...`` calls ``run(args)`` (the exit status)."""

    name: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None
    description: str
    plugin: str


def _registrar(plugin: str, taken: dict[str, Command], staged: list[Command]) -> Callable[..., None]:
    def register(name: str, run: Callable[[argparse.Namespace], int], *,
                 arguments: Callable[[argparse.ArgumentParser], None] | None = None, description: str = "") -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(f"plugin {plugin!r} registered command {name!r}: names must be kebab-case "
                              "(lowercase letters, digits and '-')")
        if name in BUILTIN_COMMANDS:
            raise PluginError(f"plugin {plugin!r} registered command {name!r}, which is one of dreamfx's own "
                              "commands; rename it")
        other = taken.get(name) or next((c for c in staged if c.name == name), None)
        if other is not None:
            raise PluginError(f"command {name!r} is registered twice: by plugin {other.plugin!r} and by plugin "
                              f"{plugin!r}; disable one of them with DREAMFX_DISABLE_PLUGINS")
        if not callable(run) or (arguments is not None and not callable(arguments)):
            raise PluginError(f"plugin {plugin!r} registered command {name!r} with a run or arguments that is "
                              "not callable")
        if not isinstance(description, str):
            raise PluginError(f"plugin {plugin!r} registered command {name!r} with a description that is not a string")
        staged.append(Command(name, run, arguments, description.strip(), plugin))

    return register


def collect_commands(host: Any) -> dict[str, Command]:
    """Run every plugin's ``dreamfx_register_commands`` hook, each isolated; return the
    commands by name. A plugin that fails here is failed as a whole (its components are
    dropped from the registries, which are collected again without it)."""
    commands: dict[str, Command] = {}
    infos = host.plugins  # the registration hooks first: a plugin they failed is gone from here on
    for name, plugin in list(host.pm.list_name_plugin()):
        caller = host.hook_caller(HOOK, plugin)
        if caller is None:
            continue
        staged: list[Command] = []
        try:
            caller(register=_registrar(name, commands, staged))
            for command in staged:
                if command.arguments is not None:  # its options must build; the real parser gets them later
                    command.arguments(argparse.ArgumentParser(prog=f"dreamfx {command.name}", add_help=False))
        except BaseException as exc:  # noqa: B036 - as for the registration hooks: isolate whatever a hook raises
            info = infos[name]
            host.fail(info, exc, "running its commands hook")
            info.registered, info.descriptions = {}, {}
            host.forget_registries()  # collected again without the failed plugin
            continue
        commands.update((c.name, c) for c in staged)
    infos = host.plugins  # collected again if a plugin failed here (that resets what each registered)
    for info in infos.values():
        info.registered.pop("commands", None)
    for command in commands.values():
        info = infos[command.plugin]
        info.registered.setdefault("commands", []).append(command.name)
        info.descriptions[f"commands/{command.name}"] = command.description
    return commands


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run a plugin's command: a :class:`~dreamfx.errors.DreamfxError` or Ctrl-C passes as it
    is; anything else becomes a one-line :class:`PluginError` naming the plugin (``--debug``:
    the original, with its traceback)."""
    from dreamfx.errors import DreamfxError

    try:
        return int(command.run(args) or 0)
    except (DreamfxError, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise PluginError(f"command {command.name!r} (plugin {command.plugin!r}) failed: {type(exc).__name__}"
                          f"{': ' + text if text else ''}") from exc


# -- helpers for commands ------------------------------------------------------------------------

def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null after its reader went away, so later writes (and
    the interpreter's final flush) neither fail nor print a broken-pipe error."""
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def console(stderr: bool = False) -> Any:
    """A rich console that, when its reader goes away, falls silent instead of exiting: rich's
    default is ``SystemExit(1)``, which would stop a run whose real output is its files."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            silence_stdout()
            self.quiet = True

    return _Console(stderr=stderr, highlight=False)


__all__ = ["BUILTIN_COMMANDS", "Command", "collect_commands", "console", "run_command", "silence_stdout"]
