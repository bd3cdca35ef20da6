"""Plugin wiring: built-ins, registry conflicts, entry-point discovery, broken plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from dreamfx import hookimpl
from dreamfx.errors import PluginError, SettingsError
from dreamfx.plugins import PluginHost, create_host


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
            register("My_Scaler", lambda view_size: None)

    host.register(BadName(), name="badname")
    assert "kebab-case" in host.plugins["badname"].error


def test_in_process_plugin_via_pm_register():
    bare = PluginHost(disabled=set())

    class Extra:
        @hookimpl
        def dreamfx_register_objectives(self, register):
            register("extra", lambda info, gain: None, params={"gain": 1.0}, description="an extra")

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
    from dreamfx import hookimpl

    def _factory(model_info, layer):
        return None

    @hookimpl
    def dreamfx_register_objectives(register):
        register("fake-objective", _factory, params={"layer": "conv2"}, description="from a dist-info")
"""


def test_entry_point_discovery_through_dist_info(on_sys_path):
    _fake_distribution(on_sys_path, "fake-dist", "fake_dreamfx_good", GOOD_PLUGIN, "fake")
    host = create_host(disabled=set())
    component = host.get("objectives", "fake-objective")
    assert component.plugin == "fake"
    info = host.plugins["fake"]
    assert (info.distribution, info.version, info.status) == ("fake-dist", "0.1", "ok")
    assert info.hooks == ["dreamfx_register_objectives"]


def test_plugin_that_fails_to_import_is_reported_and_skipped(on_sys_path):
    _fake_distribution(on_sys_path, "broken-dist", "fake_dreamfx_broken", "import not_a_module_xyz\n", "broken")
    host = create_host(disabled=set())
    info = host.plugins["broken"]
    assert info.status == "failed"
    assert info.distribution == "broken-dist"
    assert "ModuleNotFoundError" in info.error and "not_a_module_xyz" in info.error
    assert "single-map" in host.registry("objectives")  # the rest still works
    with pytest.raises(PluginError, match="broken-dist"):
        create_host(strict=True, disabled=set())


def test_unknown_hook_is_a_failed_plugin(on_sys_path):
    source = "from dreamfx import hookimpl\n\n@hookimpl\ndef dreamfx_register_objectivs(register):\n    pass\n"
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
    from dreamfx import hookimpl

    @hookimpl
    def dreamfx_register_objectives(register):
        register("never-kept", lambda info: None)
        raise {exc}
"""


@pytest.mark.parametrize(
    "source, error",
    [
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
        ("raise SystemExit\n", "SystemExit"),
        ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
        ("raise GeneratorExit('odd')\n", "GeneratorExit: odd"),
        (HOOK_RAISES.format(exc="SystemExit(5)"), "SystemExit: 5"),
        (HOOK_RAISES.format(exc="KeyboardInterrupt()"), "KeyboardInterrupt"),
        (HOOK_RAISES.format(exc="GeneratorExit()"), "GeneratorExit"),
    ],
    ids=["sys.exit(3) on import", "SystemExit on import", "KeyboardInterrupt on import", "GeneratorExit on import",
         "SystemExit in a hook", "KeyboardInterrupt in a hook", "GeneratorExit in a hook"],
)
def test_any_exception_from_a_plugin_is_isolated(on_sys_path, source, error):
    _fake_distribution(on_sys_path, "rude-dist", "fake_dreamfx_rude", source, "rude")
    _fake_distribution(on_sys_path, "fake-dist", "fake_dreamfx_good", GOOD_PLUGIN, "fake")
    host = create_host(disabled=set())
    info = host.plugins["rude"]
    assert (info.status, info.error, info.distribution) == ("failed", error, "rude-dist")
    assert "never-kept" not in host.registry("objectives")
    assert "fake-objective" in host.registry("objectives") and "single-map" in host.registry("objectives")
    with pytest.raises(PluginError, match=rf"plugin 'rude' \(rude-dist\) failed while .*: {error}"):
        create_host(strict=True, disabled=set()).registries


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
