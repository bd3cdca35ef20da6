"""Every hook is documented, in the hookspec docstring and in docs/plugin-hooks.md."""

from __future__ import annotations

import inspect

from dreamfx import hookspecs

from .conftest import ROOT


def _hooks() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("dreamfx_")]


def test_every_hookspec_has_a_docstring_with_an_example():
    assert len(_hooks()) == 6
    for name in _hooks():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc and "Example" in doc, name


def test_every_hookspec_has_a_heading_in_plugin_hooks_md():
    text = (ROOT / "docs" / "plugin-hooks.md").read_text()
    headings = {line[3:].strip() for line in text.splitlines() if line.startswith("## ")}
    missing = set(_hooks()) - headings
    assert not missing, f"undocumented hooks: {missing}"
    stale = {h for h in headings if h.startswith("dreamfx_")} - set(_hooks())
    assert not stale, f"documented hooks that do not exist: {stale}"
