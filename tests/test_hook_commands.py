"""The contract of ``dreamfx_register_commands``: a plugin adds a command that ``dreamfx.cli.main``
parses and runs; a broken commands hook, or a name that clashes, fails that plugin alone."""

from __future__ import annotations

import json

import pytest

from dreamfx import hookimpl
from dreamfx.host.manager import create_host as _REAL_CREATE_HOST

from .conftest import run_cli


def _cli_with(monkeypatch, *plugins: tuple[object, str], disabled: frozenset[str] = frozenset()):
    """``dreamfx ARGV...`` in this process (:func:`tests.conftest.run_cli`) on a host without
    third-party entry points plus ``plugins``."""
    import dreamfx.host.manager as plugins_module

    real = _REAL_CREATE_HOST

    def create_host(**kwargs):
        host = real(entry_points=False, disabled=set(disabled), strict=kwargs.get("strict", False))
        for plugin, name in plugins:
            host.register(plugin, name)
        return host

    monkeypatch.setattr(plugins_module, "create_host", create_host)
    return run_cli


class Greeter:
    """A throwaway in-process plugin with one command and one preset."""

    @hookimpl
    def dreamfx_register_commands(self, register):
        def arguments(parser):
            parser.add_argument("who")
            parser.add_argument("--shout", action="store_true")

        def run(args):
            text = f"hello {args.who}"
            print(text.upper() if args.shout else text)
            return 3 if args.who == "three" else 0

        register("greet", run, arguments=arguments, description="say hello")

    @hookimpl
    def dreamfx_register_presets(self, register):
        register("greeter-preset", lambda ctx: {"seed": 1}, description="a preset of the greeter")


def test_hook_dreamfx_register_commands(monkeypatch):
    cli = _cli_with(monkeypatch, (Greeter(), "greeter"))
    shout = cli("greet", "world", "--shout")
    assert (shout.returncode, shout.stdout) == (0, "HELLO WORLD\n")
    assert cli("greet", "three").returncode == 3
    listing = cli("plugins", "--json")
    assert listing.returncode == 0
    greeter = {p["name"]: p for p in json.loads(listing.stdout)}["greeter"]
    assert greeter["status"] == "ok" and greeter["registered"]["commands"] == ["greet"]
    assert "dreamfx_register_commands" in greeter["hooks"]


def test_help_lists_plugin_commands(monkeypatch):
    helped = _cli_with(monkeypatch, (Greeter(), "greeter"))("--help")
    assert helped.returncode == 0
    assert "greet" in helped.stdout and "say hello" in helped.stdout and "train" in helped.stdout


class Broken:
    @hookimpl
    def dreamfx_register_commands(self, register):
        raise RuntimeError("commands hook broken on purpose")

    @hookimpl
    def dreamfx_register_presets(self, register):
        register("broken-preset", lambda ctx: {}, description="never seen")


class Clash:
    @hookimpl
    def dreamfx_register_commands(self, register):
        register("run", lambda args: 0)


class Duplicate:
    @hookimpl
    def dreamfx_register_commands(self, register):
        register("greet", lambda args: 0)


class Failing:
    @hookimpl
    def dreamfx_register_commands(self, register):
        register("explode", lambda args: 1 / 0, description="raises")


def test_a_broken_commands_hook_fails_its_plugin_and_the_cli_goes_on(monkeypatch):
    cli = _cli_with(monkeypatch, (Broken(), "broken"), (Clash(), "clash"), (Greeter(), "greeter"),
                    (Duplicate(), "duplicate"))
    captured = cli("plugins", "--json")
    assert captured.returncode == 0
    infos = {p["name"]: p for p in json.loads(captured.stdout)}
    assert infos["broken"]["status"] == "failed" and "commands hook broken on purpose" in infos["broken"]["error"]
    assert infos["broken"]["registered"] == {}  # its preset went with it
    assert infos["clash"]["status"] == "failed"
    assert "'clash'" in infos["clash"]["error"] and "'run'" in infos["clash"]["error"]
    assert "one of dreamfx's own commands" in infos["clash"]["error"]
    assert infos["greeter"]["status"] == "ok"
    assert infos["duplicate"]["status"] == "failed"
    assert "'greet' is registered twice: by plugin 'greeter' and by plugin 'duplicate'" in infos["duplicate"]["error"]
    assert "plugin 'broken'" in captured.stderr and "plugin 'clash'" in captured.stderr  # warned, not fatal
    greeted = cli("greet", "you")
    assert greeted.returncode == 0 and "hello you" in greeted.stdout
    presets = cli("presets")
    assert presets.returncode == 0
    assert "greeter-preset" in presets.stdout and "broken-preset" not in presets.stdout
    # --strict makes it fatal, as for the other hooks
    strict = cli("--strict", "presets")
    assert strict.returncode == 1
    assert "commands hook broken on purpose" in strict.stderr


def test_a_command_that_raises_is_one_line_naming_its_plugin(monkeypatch):
    cli = _cli_with(monkeypatch, (Failing(), "failing"))
    exploded = cli("explode")
    assert exploded.returncode == 1
    assert exploded.stderr.strip().splitlines() == [
        "dreamfx: error: command 'explode' (plugin 'failing') failed: ZeroDivisionError: division by zero"]
    with pytest.raises(ZeroDivisionError):
        cli("--debug", "explode")


def test_train_is_the_mnist_plugins_command(monkeypatch):
    """`train` comes from the MNIST plugin: disabled with it, and its options are unchanged."""
    cli = _cli_with(monkeypatch)
    helped = cli("train", "--help")
    assert helped.returncode == 0
    for option in ("--data", "--epochs", "--seed", "--holdout", "--output"):
        assert option in helped.stdout
    refused = cli("train", "--holdout", "0")
    assert refused.returncode == 2
    assert "--holdout must be at least 1" in refused.stderr
    missing = _cli_with(monkeypatch, disabled=frozenset({"mnist"}))("train", "--help")
    assert missing.returncode == 2
    assert "invalid choice: 'train'" in missing.stderr


class LongNames:
    """A plugin whose names take much of an 80-column terminal."""

    @hookimpl
    def dreamfx_register_presets(self, register):
        register("a-preset-with-a-rather-long-name", lambda ctx: {"seed": 1},
                 description="a preset whose name takes much of an 80-column terminal, and a description long "
                 "enough to wrap more than once in the presets table")

    @hookimpl
    def dreamfx_register_loops(self, register):
        class Loop:
            def __init__(self, ctx, rounds: int = 1):
                self.rounds = rounds

        register("a-loop-with-a-rather-long-name-too", Loop, description="a loop that is only listed")


def test_long_plugin_and_component_names_stay_whole_at_80_columns(monkeypatch):
    """Issue 25, item 5: names are never cut (``dreamfx-gradien…``); descriptions wrap instead."""
    cli = _cli_with(monkeypatch, (LongNames(), "dreamfx-gradient-tools"))
    for command in ("plugins", "presets"):
        proc = cli(command, env={"COLUMNS": "80"})
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert "…" not in proc.stdout and all(len(line) <= 80 for line in lines), proc.stdout
        assert any("a-preset-with-a-rather-long-name" in line for line in lines), proc.stdout
        if command == "plugins":
            for name in ("dreamfx-gradient-tools", "register_presets", "loop a-loop-with-a-rather-long-name-too"):
                assert any(name in line for line in lines), (name, proc.stdout)


def test_the_builtin_command_list_is_one_list():
    """The names a plugin command may not take are the CLI's own commands, and the hook's
    documentation lists each of them (it listed 7 of 10 once)."""
    import inspect
    import re

    from dreamfx.host import hookspecs
    from dreamfx.cli import COMMANDS
    from dreamfx.host.commands import BUILTIN_COMMANDS

    assert set(BUILTIN_COMMANDS) == set(COMMANDS)
    doc = " ".join(inspect.getdoc(hookspecs.dreamfx_register_commands).split())
    listed = re.search(r"dreamfx's own commands \(([^:]+):", doc)[1]
    assert [name.strip() for name in listed.split(",")] == list(BUILTIN_COMMANDS)
