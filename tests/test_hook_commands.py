"""The contract of ``dreamfx_register_commands``: a plugin adds a command that ``dreamfx.cli.main``
parses and runs; a broken commands hook, or a name that clashes, fails that plugin alone."""

from __future__ import annotations

import pytest

from dreamfx import hookimpl
from dreamfx.plugins import create_host as _REAL_CREATE_HOST


def _main_with(monkeypatch, *plugins: tuple[object, str], disabled: frozenset[str] = frozenset()):
    """``dreamfx.cli.main`` on a host without third-party entry points plus ``plugins``."""
    import dreamfx.plugins as plugins_module

    real = _REAL_CREATE_HOST

    def create_host(**kwargs):
        host = real(entry_points=False, disabled=set(disabled), strict=kwargs.get("strict", False))
        for plugin, name in plugins:
            host.register(plugin, name)
        return host

    monkeypatch.setattr(plugins_module, "create_host", create_host)
    from dreamfx.cli import main

    return main


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


def test_hook_dreamfx_register_commands(monkeypatch, capsys):
    main = _main_with(monkeypatch, (Greeter(), "greeter"))
    assert main(["greet", "world", "--shout"]) == 0
    assert capsys.readouterr().out == "HELLO WORLD\n"
    assert main(["greet", "three"]) == 3
    capsys.readouterr()
    assert main(["plugins", "--json"]) == 0
    import json

    greeter = {p["name"]: p for p in json.loads(capsys.readouterr().out)}["greeter"]
    assert greeter["status"] == "ok" and greeter["registered"]["commands"] == ["greet"]
    assert "dreamfx_register_commands" in greeter["hooks"]


def test_help_lists_plugin_commands(monkeypatch, capsys):
    main = _main_with(monkeypatch, (Greeter(), "greeter"))
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "greet" in out and "say hello" in out and "train" in out


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


def test_a_broken_commands_hook_fails_its_plugin_and_the_cli_goes_on(monkeypatch, capsys):
    import json

    main = _main_with(monkeypatch, (Broken(), "broken"), (Clash(), "clash"), (Greeter(), "greeter"),
                      (Duplicate(), "duplicate"))
    assert main(["plugins", "--json"]) == 0
    captured = capsys.readouterr()
    infos = {p["name"]: p for p in json.loads(captured.out)}
    assert infos["broken"]["status"] == "failed" and "commands hook broken on purpose" in infos["broken"]["error"]
    assert infos["broken"]["registered"] == {}  # its preset went with it
    assert infos["clash"]["status"] == "failed"
    assert "'clash'" in infos["clash"]["error"] and "'run'" in infos["clash"]["error"]
    assert "one of dreamfx's own commands" in infos["clash"]["error"]
    assert infos["greeter"]["status"] == "ok"
    assert infos["duplicate"]["status"] == "failed"
    assert "'greet' is registered twice: by plugin 'greeter' and by plugin 'duplicate'" in infos["duplicate"]["error"]
    assert "plugin 'broken'" in captured.err and "plugin 'clash'" in captured.err  # warned, not fatal
    assert main(["greet", "you"]) == 0 and "hello you" in capsys.readouterr().out
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "greeter-preset" in out and "broken-preset" not in out
    # --strict makes it fatal, as for the other hooks
    assert main(["--strict", "presets"]) == 1
    assert "commands hook broken on purpose" in capsys.readouterr().err


def test_a_command_that_raises_is_one_line_naming_its_plugin(monkeypatch, capsys):
    main = _main_with(monkeypatch, (Failing(), "failing"))
    assert main(["explode"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["dreamfx: error: command 'explode' (plugin 'failing') failed: ZeroDivisionError: division by zero"]
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "explode"])


def test_train_is_the_mnist_plugins_command(monkeypatch, capsys):
    """`train` comes from the MNIST plugin: disabled with it, and its options are unchanged."""
    main = _main_with(monkeypatch)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for option in ("--data", "--epochs", "--seed", "--holdout", "--output"):
        assert option in out
    assert main(["train", "--holdout", "0"]) == 2
    assert "--holdout must be at least 1" in capsys.readouterr().err
    main = _main_with(monkeypatch, disabled=frozenset({"mnist"}))
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "invalid choice: 'train'" in capsys.readouterr().err
