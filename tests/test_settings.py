"""Presets and overrides become validated, typed settings; mistakes get one clear line."""

from __future__ import annotations

import pytest

from dreamfx.errors import SettingsError
from dreamfx.config.presets import settings_for
from dreamfx.config.settings import parse_override


def test_single_map_preset_resolves_with_defaults(host):
    settings = settings_for(host, "single-map")
    assert settings.objective.name == "single-map"
    assert settings.objective.params["layer"] == "conv3"
    assert settings.optimizer.params["steps"] == 20
    assert settings.loop.params == {"rounds": 4, "patience": 0, "min_gain": 0.0}
    assert settings.scaler.name == "downscale"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("objective.map=12", ("objective.map", 12)),
        ("optimizer.step_size=0.5", ("optimizer.step_size", 0.5)),
        ("objective.layer=conv2", ("objective.layer", "conv2")),
        ("objective.layer='conv2'", ("objective.layer", "conv2")),
        ("optimizer.jitter = 0", ("optimizer.jitter", 0)),
    ],
)
def test_parse_override_reads_toml_values(text, expected):
    assert parse_override(text) == expected


def test_overrides_apply_and_ints_widen_to_floats(host):
    settings = settings_for(host, "single-map", [("objective.map", 7), ("optimizer.step_size", 1)], seed=5)
    assert settings.objective.params["map"] == 7
    assert settings.optimizer.params["step_size"] == 1.0 and isinstance(settings.optimizer.params["step_size"], float)
    assert settings.seed == 5


def test_unknown_component_key_names_the_valid_keys(host):
    with pytest.raises(SettingsError, match=r"unknown key objective\.'mapp'.*valid keys: objective\.layer, objective\.map"):
        settings_for(host, "single-map", [("objective.mapp", 3)])


def test_unknown_section_names_the_valid_sections(host):
    with pytest.raises(SettingsError, match=r"unknown setting 'optimiser.steps'; valid top-level keys: .*optimizer"):
        settings_for(host, "single-map", [("optimiser.steps", 3)])


def test_wrong_type_is_reported(host):
    with pytest.raises(SettingsError, match=r"optimizer.steps must be int, got 'many'"):
        settings_for(host, "single-map", [("optimizer.steps", "many")])


def test_unknown_preset_lists_presets(host):
    with pytest.raises(SettingsError, match=r"unknown preset 'singel-map'; valid: .*single-map"):
        settings_for(host, "singel-map")


def test_unknown_key_in_a_preset_file(host, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[objective]\nname = "single-map"\nlayr = "conv2"\n')
    with pytest.raises(SettingsError, match=r"unknown key objective\.'layr'"):
        settings_for(host, str(path))
    path.write_text('colour = "blue"\n')
    with pytest.raises(SettingsError, match=r"unknown key 'colour' in preset 'mine'; valid keys: description, seed"):
        settings_for(host, str(path))


def test_switching_component_drops_the_old_components_parameters(host):
    settings = settings_for(host, "single-map", [("model", "keras-file"), ("model.path", "x.keras")])
    assert settings.model.name == "keras-file"
    assert settings.model.params == {"path": "x.keras"}


def test_digest_changes_with_settings_and_round_trips(host):
    from dreamfx.config.settings import resolve_settings

    a = settings_for(host, "single-map")
    b = settings_for(host, "single-map", [("objective.map", 3)])
    assert a.digest() != b.digest()
    again = resolve_settings("single-map", a.to_dict(), host.registries)
    assert again == a and again.digest() == a.digest()


def test_typo_after_switching_component_is_still_caught(host):
    with pytest.raises(SettingsError, match=r"unknown key objective.'modee'.*valid keys: objective.layer, objective.mode"):
        settings_for(host, "single-map", [("objective", "whole-layer"), ("objective.modee", "mean")])


def test_switching_works_when_the_preset_table_has_no_name(host, tmp_path):
    path = tmp_path / "noname.toml"
    path.write_text("[objective]\nlayer = 'conv2'\nmap = 3\n")
    settings = settings_for(host, str(path), [("objective", "whole-layer")])
    assert settings.objective.name == "whole-layer" and settings.objective.params["layer"] == "conv3"


def test_a_mistake_in_a_plugin_preset_names_the_preset_and_its_plugin():
    from dreamfx import hookimpl
    from dreamfx.host.manager import create_host

    class Typo:
        @hookimpl
        def dreamfx_register_presets(self, register):
            register("typo", lambda ctx: {"objective": {"name": "single-map", "layr": "conv2"}},
                     description="a preset with a typo")

    host = create_host(entry_points=False, disabled=set())
    host.register(Typo(), "typo-plugin")
    with pytest.raises(SettingsError, match=r"^preset 'typo' \(plugin 'typo-plugin'\): unknown key objective\.'layr'"):
        settings_for(host, "typo")
    # a mistake in the overrides is the user's: no preset named
    with pytest.raises(SettingsError, match=r"^unknown key objective\.'mapp'"):
        settings_for(host, "single-map", [("objective.mapp", 3)])


def test_every_process_wide_cache_is_bounded_and_listed_in_the_architecture_page():
    """One cache facility (issue 23): each process-wide cache has a stated size, and
    docs/architecture.md's table names each with that size."""
    import re

    import dreamfx.api  # noqa: F401 - the modules that make the caches
    import dreamfx.runs.folderwork  # noqa: F401
    import dreamfx.engine.features  # noqa: F401
    import dreamfx.kinds.models  # noqa: F401
    from dreamfx.cache import CACHES

    from .conftest import ROOT

    text = (ROOT / "docs" / "architecture.md").read_text()
    table = dict(re.findall(r"^\| `([a-z_.]+)` \| (\d+) \|", text, re.M))
    assert set(table) == set(CACHES)
    for name, info in CACHES.items():
        assert int(table[name]) == info.size > 0, name


def test_an_lru_cache_keeps_the_most_recently_used_and_builds_each_key_once():
    from dreamfx.cache import LRUCache

    cache = LRUCache(2)
    built = []

    def build(key):
        return lambda: built.append(key) or key * 10

    assert cache.get_or_build(1, build(1)) == 10 and cache.get_or_build(2, build(2)) == 20
    assert cache.get_or_build(1, build(1)) == 10  # kept: 1 is now the most recent
    assert cache.get_or_build(3, build(3)) == 30  # 2, the least recently used, goes
    assert cache.peek(2) is None and cache.peek(1) == 10 and len(cache) == 2
    assert built == [1, 2, 3]
    cache.put(4, 40)
    assert cache.values() == [10, 40]
    with pytest.raises(ValueError):
        LRUCache(0)
