"""Plugin wiring: built-ins, registry conflicts, entry-point discovery, broken plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from dreamfx.plugin import hookimpl
from dreamfx.errors import PluginError, SettingsError
from dreamfx.host.manager import PluginHost, create_host


def test_builtins_register_the_recipe_components(host):
    assert "mnist-cnn" in host.registry("models")
    assert "single-map" in host.registry("objectives")
    assert "downscale" in host.registry("scalers")
    assert "oip" in host.registry("optimizers")
    assert "reinject" in host.registry("loops")
    assert "single-map" in host.registry("presets")
    assert host.get("objectives", "single-map").plugin == "objectives"
    assert all(info.status == "ok" for info in host.plugins.values())


def test_unknown_component_lists_valid_names(host):
    with pytest.raises(SettingsError, match=r"unknown objective 'nope'; valid: .*single-map"):
        host.get("objectives", "nope")


class Duplicate:
    @hookimpl
    def dreamfx_register_objectives(self, register):
        register("single-map", lambda info: None, description="clash")


def test_duplicate_name_names_both_plugins_and_skips_the_newcomer(host):
    host.register(Duplicate(), name="dup-plugin", distribution="dup-dist")
    registry = host.registry("objectives")
    assert registry.get("single-map").plugin == "objectives"
    info = host.plugins["dup-plugin"]
    assert info.status == "failed"
    assert "'objectives'" in info.error and "'dup-plugin'" in info.error


def test_duplicate_is_fatal_in_strict_mode():
    strict = create_host(strict=True, entry_points=False, disabled=set())
    strict.register(Duplicate(), name="dup-plugin")
    with pytest.raises(PluginError, match="registered twice: by plugin 'objectives' and by plugin 'dup-plugin'"):
        strict.registries


def test_registration_hook_that_raises_is_isolated(host):
    class Broken:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("half-done", lambda info: None)
            raise RuntimeError("boom")

    host.register(Broken(), name="broken")
    assert "half-done" not in host.registry("objectives")  # nothing of a failed plugin stays
    assert host.plugins["broken"].error == "RuntimeError: boom"
    assert "single-map" in host.registry("objectives")


def test_names_must_be_kebab_case(host):
    class BadName:
        @hookimpl
        def dreamfx_register_scalers(self, register):
            register("My_Scaler", lambda ctx: None)

    host.register(BadName(), name="badname")
    assert "kebab-case" in host.plugins["badname"].error


def test_in_process_plugin_via_pm_register():
    bare = PluginHost(disabled=set())

    class Extra:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("extra", lambda ctx, gain=1.0: None, description="an extra")

    bare.pm.register(Extra(), name="extra-plugin")
    component = bare.get("objectives", "extra")
    assert component.plugin == "extra-plugin"
    assert component.params == {"gain": 1.0}
    assert bare.plugins["extra-plugin"].registered == {"objectives": ["extra"]}


def _fake_distribution(tmp_path: Path, dist: str, module: str, source: str, ep_name: str) -> None:
    info = tmp_path / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[dreamfx]\n{ep_name} = {module}\n")
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def on_sys_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("fake_dreamfx_")]:
        del sys.modules[name]


GOOD_PLUGIN = """
    from dreamfx.plugin import hookimpl

    def _factory(ctx, layer="conv2"):
        return None

    @hookimpl
    def dreamfx_register_objectives(register):
        register("fake-objective", _factory, description="from a dist-info")
"""


def test_entry_point_discovery_through_dist_info(on_sys_path):
    _fake_distribution(on_sys_path, "fake-dist", "fake_dreamfx_good", GOOD_PLUGIN, "fake")
    host = create_host(disabled=set())
    component = host.get("objectives", "fake-objective")
    assert component.plugin == "fake"
    info = host.plugins["fake"]
    assert (info.distribution, info.version, info.status) == ("fake-dist", "0.1", "ok")
    assert info.hooks == ["dreamfx_register_objectives"]


def test_unknown_hook_is_a_failed_plugin(on_sys_path):
    source = "from dreamfx.plugin import hookimpl\n\n@hookimpl\ndef dreamfx_register_objectivs(register):\n    pass\n"
    _fake_distribution(on_sys_path, "typo-dist", "fake_dreamfx_typo", source, "typo")
    host = create_host(disabled=set())
    assert host.plugins["typo"].status == "failed"
    assert "dreamfx_register_objectivs" in host.plugins["typo"].error


def test_environment_variable_disables_named_plugins(on_sys_path, monkeypatch):
    _fake_distribution(on_sys_path, "fake-dist", "fake_dreamfx_good", GOOD_PLUGIN, "fake")
    monkeypatch.setenv("DREAMFX_DISABLE_PLUGINS", "fake-dist, reinject")
    host = create_host()
    assert host.plugins["fake"].status == "disabled"
    assert host.plugins["reinject"].status == "disabled"
    assert "fake-objective" not in host.registry("objectives")
    assert "reinject" not in host.registry("loops")


def test_each_host_is_independent():
    first, second = create_host(entry_points=False), create_host(entry_points=False)
    assert first.pm is not second.pm
    first.register(Duplicate(), name="dup-plugin")
    assert "dup-plugin" not in second.plugins


# -- plugins that raise anything, BaseException included (issue 10, item 10) ------------------------

HOOK_RAISES = """
    from dreamfx.plugin import hookimpl

    @hookimpl
    def dreamfx_register_objectives(register):
        register("never-kept", lambda info: None)
        raise {exc}
"""


@pytest.mark.parametrize(
    "source, error",
    [
        ("import not_a_module_xyz\n", "ModuleNotFoundError: No module named 'not_a_module_xyz'"),
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
        ("raise SystemExit\n", "SystemExit"),
        ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
        ("raise GeneratorExit('odd')\n", "GeneratorExit: odd"),
        (HOOK_RAISES.format(exc="SystemExit(5)"), "SystemExit: 5"),
        (HOOK_RAISES.format(exc="KeyboardInterrupt()"), "KeyboardInterrupt"),
        (HOOK_RAISES.format(exc="GeneratorExit()"), "GeneratorExit"),
    ],
    ids=["ModuleNotFoundError on import", "sys.exit(3) on import", "SystemExit on import", "KeyboardInterrupt on import",
         "GeneratorExit on import", "SystemExit in a hook", "KeyboardInterrupt in a hook", "GeneratorExit in a hook"],
)
def test_any_exception_from_a_plugin_is_isolated(on_sys_path, source, error):
    """A plugin that fails to import, or raises anything (BaseException included) on import
    or in a hook, is reported with its distribution and skipped; the rest still works, and
    --strict makes it fatal."""
    _fake_distribution(on_sys_path, "rude-dist", "fake_dreamfx_rude", source, "rude")
    _fake_distribution(on_sys_path, "fake-dist", "fake_dreamfx_good", GOOD_PLUGIN, "fake")
    host = create_host(disabled=set())
    info = host.plugins["rude"]
    assert (info.status, info.error, info.distribution) == ("failed", error, "rude-dist")
    assert "never-kept" not in host.registry("objectives")
    assert "fake-objective" in host.registry("objectives") and "single-map" in host.registry("objectives")
    with pytest.raises(PluginError, match=rf"plugin 'rude' \(rude-dist\) failed while .*: {error}"):
        create_host(strict=True, disabled=set()).registries


@pytest.mark.process("plugin exits at import")
def test_cli_survives_a_plugin_that_exits_on_import(tmp_path):
    import os
    import subprocess

    site = tmp_path / "site"
    site.mkdir()
    _fake_distribution(site, "exiting-dist", "fake_dreamfx_exiting", "import sys\nsys.exit(3)\n", "exiting")
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "dreamfx", *args], capture_output=True, text=True,  # noqa: E731
                                       env=env, timeout=120)
    listing = run("presets")
    assert listing.returncode == 0 and "single-map" in listing.stdout
    assert listing.stderr.strip() == ("dreamfx: warning: plugin 'exiting' (exiting-dist) failed and was skipped: "
                                      "SystemExit: 3")
    strict = run("--strict", "presets")
    assert strict.returncode == 1
    assert strict.stderr.strip().splitlines() == [
        "dreamfx: error: plugin 'exiting' (exiting-dist) failed while loading entry point exiting = "
        "fake_dreamfx_exiting: SystemExit: 3"]


# -- plugin API v1: one factory shape, parameters from the signature, hooks through pluggy ------


def test_old_dreamfx_hookimpl_is_the_plugin_modules_marker():
    import dreamfx
    import dreamfx.plugin

    assert dreamfx.hookimpl is dreamfx.plugin.hookimpl


def test_parameters_types_defaults_and_descriptions_come_from_the_signature():
    from typing import Annotated, Any

    bare = PluginHost(disabled=set())

    def factory(ctx, gain: Annotated[float, "How much  louder"] = 1, label: str = "x", anything=None,
                table: Annotated[Any, "a table"] = {"a": 1}):  # noqa: B006
        return None

    class Extra:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("extra", factory)

    bare.pm.register(Extra(), name="extra-plugin")
    component = bare.get("objectives", "extra")
    assert [(p.name, p.type, p.default, p.description) for p in component.parameters] == [
        ("gain", float, 1.0, "How much louder"), ("label", str, "x", ""), ("anything", None, None, ""),
        ("table", dict, {"a": 1}, "a table")]
    assert bare.plugins["extra-plugin"].parameters["objectives/extra"][0] == {
        "name": "gain", "type": "float", "default": 1.0, "description": "How much louder"}


def test_builtin_defaults_are_the_registrations_of_before():
    """The defaults moved from ``params=`` into the factories' signatures unchanged (octaves'
    scale is 2.0 as it was registered, not the class's 1.0), so outputs do not change."""
    host = create_host(entry_points=False, disabled=set())
    assert host.get("scalers", "octaves").params == {"factor": 1.4, "octaves": 4, "scale": 2.0, "method": "bicubic"}
    assert host.get("scalers", "hybrid").params == {"factor": 2.0, "max_levels": 4, "tile_scale": 1.0,
                                                     "method": "bicubic"}
    assert host.get("optimizers", "oip").params == {"steps": 20, "step_size": 0.02, "jitter": 1, "blur": 0.0,
                                                    "chunk": 128}
    assert host.get("loops", "reinject").params == {"rounds": 4, "patience": 0, "min_gain": 0.0}  # early stop: off
    assert host.get("objectives", "weighted-maps").params == {"terms": [["conv3", 0, 1.0]]}
    assert host.get("models", "keras-file").params == {"path": ""}
    for kind in ("models", "objectives", "scalers", "optimizers", "loops"):
        for component in host.registry(kind):
            assert all(p.description for p in component.parameters), (kind, component.name)


@pytest.mark.parametrize("registration, message", [
    ("register('old', lambda: None)", "the factory must take the build context first"),
    ("register('old', lambda ctx, gain: None)", "parameter 'gain' of the factory has no default"),
    ("register('old', lambda ctx, **params: None)", "takes **params; declare every parameter by name"),
    ("register('old', lambda ctx, *rest: None)", "takes *rest"),
    ("def f(ctx, n: int = 'x'):\n        pass\n    register('old', f)",
     "the default of parameter 'n' is 'x', which is not of type int as annotated"),
])
def test_malformed_registrations_are_a_clear_plugin_error(registration, message):
    namespace: dict = {}
    exec(f"def hook(register):\n    {registration}\n", {}, namespace)

    class Old:
        dreamfx_register_objectives = staticmethod(hookimpl(namespace["hook"]))

    host = create_host(entry_points=False, disabled=set())
    host.register(Old(), name="old-plugin")
    info = host.plugins["old-plugin"]
    assert info.status == "failed" and "old" not in host.registry("objectives")
    assert info.error.startswith("PluginError: plugin 'old-plugin' registered objective 'old'")
    assert message in info.error


def test_a_component_that_misses_its_protocol_names_its_plugin():
    class NotAnObjective:
        layers = "conv2"  # a string, not a tuple of names

    class Sloppy:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("sloppy", lambda ctx: NotAnObjective())

        @hookimpl
        def dreamfx_register_scalers(self, register):
            register("sloppy", lambda ctx: object())

    from dreamfx.kinds.objectives import ModelInfo, build_objective

    host = create_host(entry_points=False, disabled=set())
    host.register(Sloppy(), name="sloppy-plugin")
    info = ModelInfo("m", (28, 28, 1), {"conv2": (11, 11, 64)})
    with pytest.raises(PluginError, match=r"objective 'sloppy' \(plugin 'sloppy-plugin'\) does not meet the "
                                          r"objective protocol: its layers must be a tuple"):
        build_objective(host.registry("objectives"), info, "sloppy", {})
    scaler = host.get("scalers", "sloppy")
    with pytest.raises(PluginError, match=r"scaler 'sloppy' \(plugin 'sloppy-plugin'\) does not meet the scaler "
                                          r"protocol: it has no levels\(image_size\) method"):
        scaler.build(scaler.context(model=info))


def test_a_composite_objective_builds_others_through_the_context():
    from dreamfx.kinds.objectives import ModelInfo, Objective, build_objective

    class Twice(Objective):
        def __init__(self, inner):
            self.inner, self.layers = inner, inner.layers

        def score(self, activations):
            return 2 * self.inner.score(activations)

    class Composite:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("twice", lambda ctx, of="single-map": Twice(ctx.objective(of, {"map": 7}, "objective.of")))

    host = create_host(entry_points=False, disabled=set())
    host.register(Composite(), name="composite")
    info = ModelInfo("m", (28, 28, 1), {"conv3": (3, 3, 64)})
    built = build_objective(host.registry("objectives"), info, "twice", {"of": "single-map"})
    assert built.inner.describe() == "conv3 map 7"
    with pytest.raises(SettingsError, match=r"map 70 does not exist"):
        build_objective(host.registry("objectives"), info, "sum", {"terms": [{"name": "single-map", "map": 70}]})


def test_wrapper_impls_run_through_pluggy():
    """A ``wrapper=True`` (or old-style ``hookwrapper=True``) implementation is called by
    pluggy around the plugin's own implementations: what it registers counts, and it sees
    the result of the inner call."""
    seen = []

    class Wrapping:
        @hookimpl(wrapper=True)
        def dreamfx_register_objectives(self, register):
            register("from-wrapper", lambda ctx: None)
            result = yield
            seen.append("after")
            return result

        @hookimpl(hookwrapper=True)
        def dreamfx_register_scalers(self, register):
            register("from-old-wrapper", lambda ctx: None)
            yield
            seen.append("old after")

    host = create_host(entry_points=False, disabled=set())
    host.register(Wrapping(), name="wrapping")
    assert host.plugins["wrapping"].status == "ok", host.plugins["wrapping"].error
    assert host.get("objectives", "from-wrapper").plugin == "wrapping"
    assert host.get("scalers", "from-old-wrapper").plugin == "wrapping"
    assert seen == ["after", "old after"]
    assert all(info.status == "ok" for info in host.plugins.values())  # it wrapped no other plugin


def test_a_wrapper_that_raises_fails_only_its_own_plugin():
    class BadWrapper:
        @hookimpl(wrapper=True)
        def dreamfx_register_objectives(self, register):
            yield
            raise RuntimeError("wrapper broke")

    host = create_host(entry_points=False, disabled=set())
    host.register(BadWrapper(), name="bad-wrapper")
    assert host.plugins["bad-wrapper"].error == "RuntimeError: wrapper broke"
    assert "single-map" in host.registry("objectives")
    assert all(info.status == "ok" for name, info in host.plugins.items() if name != "bad-wrapper")


# -- the built-ins are written as a third party would write them ---------------------------------

#: Built-in plugin modules allowed to import host internals, with the reason (none: every
#: built-in is written as a third party would write it).
KNOWN_HOST_IMPORTS: set[str] = set()


def _dreamfx_imports(path: Path) -> list[str]:
    """Every ``dreamfx`` module that ``path`` imports (``from dreamfx import x`` counts as
    ``dreamfx.x``), found by parsing it, imports inside functions included."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "dreamfx"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "dreamfx":
            if node.module == "dreamfx":
                found += [f"dreamfx.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
    return found


def _builtin_plugin_files() -> list[Path]:
    root = Path(__file__).resolve().parents[1]
    files = sorted((root / "plugins").glob("dreamfx_*/**/*.py")) + sorted((root / "presets").glob("*.py"))
    return [f for f in files if f.is_file()]


def test_builtin_plugins_import_only_dreamfx_plugin():
    root = Path(__file__).resolve().parents[1]
    files = _builtin_plugin_files()
    assert len(files) > 10
    problems = {}
    for path in files:
        relative = path.relative_to(root).as_posix()
        wrong = [name for name in _dreamfx_imports(path) if name != "dreamfx.plugin"]
        if wrong and relative not in KNOWN_HOST_IMPORTS:
            problems[relative] = wrong
        if not wrong and relative in KNOWN_HOST_IMPORTS:
            problems[relative] = "listed in KNOWN_HOST_IMPORTS but imports only dreamfx.plugin: remove it"
    assert not problems, problems


@pytest.mark.process("start-up imports")
def test_dreamfx_plugin_exports_what_it_lists_without_importing_tensorflow():
    import subprocess

    code = ("import sys, dreamfx.plugin as p; missing = [n for n in p.__all__ if not hasattr(p, n)]; "
            "print(missing, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["[]", "False", "False"], done.stderr[-2000:]


def test_dreamfx_plugins_shows_each_parameter_with_its_description(host):
    from dreamfx.host.manager import describe_parameters

    text = describe_parameters(host.get("scalers", "octaves"))
    assert text.splitlines()[0].startswith("Classic DeepDream octaves")
    assert "scale (float, default 2.0): Image pixels per model pixel at the largest octave." in text
    assert 'method (str, default "bicubic"): As for `downscale`.' in text
    assert describe_parameters(host.get("models", "mnist-cnn")).count("\n") == 0


def test_builtins_declare_each_parameter_default_once():
    """Issue 23: a built-in's parameters (default, type, description) are declared in its
    factory's signature only; the classes the factories build take them without defaults,
    so the two cannot drift apart."""
    import ast

    from dreamfx.host.manager import builtin_plugins

    host = create_host()
    builtins = {name for name, _ in builtin_plugins()}
    declared: dict[str, set[str]] = {}
    for kind in ("models", "objectives", "scalers", "optimizers", "loops", "executors"):
        for component in host.registry(kind):
            if component.plugin in builtins:
                declared.setdefault(component.plugin, set()).update(p.name for p in component.parameters)
    assert declared["oip"] >= {"steps", "step_size", "jitter"} and declared["reinject"] >= {"rounds"}
    root = Path(__file__).resolve().parents[1]
    twice = []
    for path in _builtin_plugin_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                args = node.args
                positional = args.posonlyargs + args.args
                defaulted = [a.arg for a in positional[len(positional) - len(args.defaults):]] if args.defaults else []
                defaulted += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
                names = set().union(*declared.values())
                twice += [f"{path.relative_to(root)}:{node.lineno} {name}" for name in defaulted if name in names]
    assert not twice, twice


# -- a user's Ctrl-C while plugins load, and a plugin that hangs (issue 24, rows 10 and 11) ------

SIGNALS_ITSELF = ("import os, signal, time\n"
                  "os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does while this plugin loads\n"
                  "time.sleep(5)\n")


@pytest.mark.parametrize("where", ["import", "hook"])
def test_ctrl_c_while_a_plugin_loads_stops_instead_of_skipping_it(on_sys_path, where):
    """A plugin's own ``raise KeyboardInterrupt`` is isolated (above); the user's Ctrl-C while
    it imports or registers is a stop: it reaches the caller at once, the plugin is not
    skipped and the run not started."""
    import textwrap
    import time

    source = SIGNALS_ITSELF if where == "import" else (
        "from dreamfx.plugin import hookimpl\n\n@hookimpl\ndef dreamfx_register_objectives(register):\n"
        + textwrap.indent(SIGNALS_ITSELF, "    "))
    _fake_distribution(on_sys_path, "slow-dist", "fake_dreamfx_slow", source, "slow")
    began = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        create_host(disabled=set()).registries
    assert time.perf_counter() - began < 4  # stopped at the signal, not after the plugin's sleep


def test_a_plugin_that_takes_long_to_register_is_named(on_sys_path, monkeypatch, capfd):
    import dreamfx.host.manager as manager

    source = ("import time\nfrom dreamfx.plugin import hookimpl\n\n@hookimpl\n"
              "def dreamfx_register_objectives(register):\n    time.sleep(0.8)\n")
    _fake_distribution(on_sys_path, "slow-dist", "fake_dreamfx_sleepy", source, "sleepy")
    monkeypatch.setattr(manager, "SLOW_LOAD_SECONDS", 0.2)
    host = create_host(disabled=set())
    assert host.plugins["sleepy"].status == "ok" or "sleepy" in host.plugins
    host.registries
    err = capfd.readouterr().err
    assert "dreamfx: still running the registration hooks of plugin 'sleepy' after 0.2 s" in err, err
    assert err.count("dreamfx: still") == 1  # named once, not once per built-in


def test_plugins_load_in_a_thread_too():
    """Off the main thread no signal handler can be set: loading must not try to restore one
    (the explorer and notebooks build hosts in threads)."""
    import threading

    from dreamfx import interrupts

    found: list = []

    def load() -> None:
        try:
            found.append("single-map" in create_host(entry_points=False).registry("objectives"))
            with interrupts.shielded() as arrived:
                found.append(arrived)
        except BaseException as exc:  # noqa: BLE001 - reported below
            found.append(exc)

    worker = threading.Thread(target=load)
    worker.start()
    worker.join(60)
    assert found == [True, []], found
