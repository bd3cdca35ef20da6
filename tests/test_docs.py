"""The docs say what the code does: every hook is documented, every command example in
README.md and docs/*.md runs (and a dream visibly changes its photo), every figure the docs
quote agrees with a fresh computation, and the plugin code the docs show works when
registered as a plugin, with the octaves preset too. See tests/docs_examples.py for how the
examples are found and run."""

from __future__ import annotations

import inspect
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from dreamfx.host import hookspecs

from . import docs_examples as ex
from .conftest import ROOT

DOCS = ROOT / "docs"


def _hooks() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("dreamfx_")]


def test_every_hookspec_has_a_docstring_with_an_example():
    assert len(_hooks()) == 8
    for name in _hooks():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc and "Example" in doc, name


def test_every_hookspec_has_a_heading_in_plugin_hooks_md():
    text = (DOCS / "plugin-hooks.md").read_text()
    headings = {line[3:].strip() for line in text.splitlines() if line.startswith("## ")}
    missing = set(_hooks()) - headings
    assert not missing, f"undocumented hooks: {missing}"
    stale = {h for h in headings if h.startswith("dreamfx_")} - set(_hooks())
    assert not stale, f"documented hooks that do not exist: {stale}"


def test_optimizer_calls_are_documented_as_the_code_makes_them():
    """The host calls update(canvas, gradient, state, step) and loops call run.ascend(canvas,
    round_index, level): the protocols and the built-ins' signatures say so, and so must the
    docs (test_plugin_hooks_examples_dream runs the documented optimizer through the real host)."""
    from dreamfx.kinds.loops import LoopRun
    from dreamfx.kinds.optimizers import Optimizer
    from dreamfx_oip.optimizer import OIPOptimizer

    for method in (Optimizer.update, OIPOptimizer.update):
        assert list(inspect.signature(method).parameters) == ["self", "canvas", "gradient", "state", "step"]
    assert list(inspect.signature(LoopRun.ascend).parameters) == ["self", "canvas", "round_index", "level"]
    texts = {path: path.read_text() for path in (DOCS / "plugin-hooks.md", DOCS / "optimizers-and-loops.md",
                                                  ROOT / "dreamfx" / "host" / "hookspecs" / "components.py")}
    for path, text in texts.items():
        assert "update(canvas, gradient, state, step)" in text, path
        assert "run.ascend(canvas, round_index, level)" in text, path
        for stale in ("bind(features, objective, seed)", "step(canvas, round_index, geometry)",
                      "step(canvas, round_index, roll)", "step(views, round_index)", "optimizer(views, feature_model"):
            assert stale not in text, f"{path.relative_to(ROOT)} still documents {stale!r}"


# -- the example plugin as the tutorial shows it ------------------------------------------------

TUTORIAL = DOCS / "writing-plugins.md"
SHOWN_FILES = {  # the tutorial's sections and the example plugin's files they reproduce
    "## 2.": "pyproject.toml",
    "## 3.": "src/dreamfx_objective_example/__init__.py",
    "## 4.": "src/dreamfx_objective_example/spotlight.py",
    "## 9.": "tests/test_spotlight.py",
}


def tutorial_files() -> dict[str, str]:
    """The files the tutorial shows, by their path in the plugin, and the extra discovery test."""
    text = TUTORIAL.read_text()
    files = {}
    for heading, path in SHOWN_FILES.items():
        section = text[text.index(heading):]
        fence = re.search(r"```(?:python|toml)\n(.*?)```\n", section, re.S)
        files[path] = fence.group(1)
    section = text[text.index("## 9."):text.index("## 10.")]
    files["tests/test_discovery.py"] = re.findall(r"```python\n(.*?)```\n", section, re.S)[1]
    return files


def test_tutorial_code_is_the_example_plugin():
    for path, shown in tutorial_files().items():
        if path in SHOWN_FILES.values():
            assert shown == (ex.EXAMPLE / path).read_text(), f"docs/writing-plugins.md shows {path} differently"


def test_the_guide_example_is_the_built_in_guide():
    """docs/writing-plugins.md#12 shows plugins/dreamfx_objectives/guide.py as it is."""
    text = TUTORIAL.read_text()
    section = text[text.index("## 12."):]
    shown = re.search(r"```python\n(.*?)```\n", section, re.S).group(1)
    assert shown == (ex.ROOT / "plugins" / "dreamfx_objectives" / "guide.py").read_text()


def _plugin_from_source(tmp_path: Path, monkeypatch, module: str, source: str) -> object:
    import importlib

    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(module)


def _host_with(plugin: object, name: str):
    from dreamfx.host.manager import create_host

    host = create_host(entry_points=False, disabled=set())
    host.register(plugin, name)
    assert host.plugins[name].status == "ok", host.plugins[name].error
    return host


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    from PIL import Image

    from dreamfx.io.images import to_gray

    with Image.open(ex.TEST_DATA / "chelsea.png") as img:
        return to_gray(img.resize((120, 80), Image.Resampling.LANCZOS))


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["single-map", "tiling", "octaves"])
def test_tutorial_objective_dreams_with_every_kind_of_activation(tmp_path, monkeypatch, photo, preset):
    """The tutorial's objective, taken from the docs and registered as a plugin, raises its
    score whether the map is 11x11 (downscale) or photo-sized (octaves), and dreams per tile
    (tiling)."""
    from dreamfx.api import make_dreamer

    package = tmp_path / "docs_spotlight"
    package.mkdir()
    files = tutorial_files()
    (package / "__init__.py").write_text(files["src/dreamfx_objective_example/__init__.py"])
    (package / "spotlight.py").write_text(files["src/dreamfx_objective_example/spotlight.py"])
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    plugin = importlib.import_module("docs_spotlight")
    try:
        host = _host_with(plugin, "docs-spotlight")
        dreamer = make_dreamer(preset, {"objective": "spotlight-map", "objective__map": 50, "steps": 5,
                                        "rounds": 1}, host=host)
        result = dreamer(photo)
    finally:
        for name in [m for m in __import__("sys").modules if m.startswith("docs_spotlight")]:
            del __import__("sys").modules[name]
    if preset != "tiling":
        assert result.score_after > result.score_before, (preset, result.score_before, result.score_after)
        return
    # Tiling moves the tile grid by a new offset every step, so a position within a tile is no
    # fixed place in the photo: a per-tile spotlight drifts over the whole photo, and neither
    # its score on the unshifted grid nor the map's mean is what the ascent raised (the docs
    # say so). The objective must still run on tiles of any batch size and change the photo.
    import numpy as np

    assert np.isfinite(result.score_after) and result.problem is None
    assert np.abs(result.image - photo).mean() > 1 / 255


def _runnable_hook_examples() -> str:
    """The plugin-hooks.md examples complete enough to run: blocks that define a class or
    register a self-contained preset, with the imports they assume."""
    text = (DOCS / "plugin-hooks.md").read_text()
    chosen = [block for block in re.findall(r"```python\n(.*?)```\n", text, re.S)
              if re.search(r"^\s+register\(", block, re.M) and ("class " in block or "register_presets" in block)]
    return "from dreamfx import hookimpl\n\n" + "\n\n".join(chosen)


@pytest.mark.slow
def test_plugin_hooks_examples_dream(tmp_path, monkeypatch, photo):
    """The objective, optimizer, loop and preset that docs/plugin-hooks.md shows, registered as
    a plugin: the host runs them exactly as it runs the built-ins (a wrong signature is an
    error here), and each dream raises its objective."""
    from dreamfx.api import make_dreamer

    plugin = _plugin_from_source(tmp_path, monkeypatch, "docs_hook_examples", _runnable_hook_examples())
    host = _host_with(plugin, "docs-hook-examples")
    assert host.get("objectives", "centre-map").plugin == host.get("optimizers", "sign-ascent").plugin
    runs = {
        "centre-map, downscale": ("single-map", {"objective": "centre-map", "rounds": 1, "steps": 5}),
        "centre-map, octaves": ("octaves", {"objective": "centre-map", "steps": 5}),
        "sign-ascent, downscale": ("single-map", {"optimizer": "sign-ascent", "rounds": 1}),
        "sign-ascent, tiling": ("tiling", {"optimizer": "sign-ascent", "rounds": 1, "optimizer__steps": 10}),
        "sign-ascent, octaves": ("octaves", {"optimizer": "sign-ascent", "optimizer__steps": 3}),
        "finest-only, downscale": ("single-map", {"loop": "finest-only", "steps": 5}),
        "finest-only, tiling": ("tiling", {"loop": "finest-only", "steps": 10}),
        "deep-conv2 preset": ("deep-conv2", {"steps": 3, "rounds": 1}),
    }
    for what, (preset, overrides) in runs.items():
        result = make_dreamer(preset, overrides, host=host)(photo)
        assert result.score_after > result.score_before, (what, result.score_before, result.score_after)


# -- every command example, and the figures it quotes --------------------------------------------

COMMAND_DOCS = [doc for doc in ex.DOC_FILES if any(c.text not in ex.SKIPPED for c in ex.commands(doc))]


def _doc_param(doc: Path):
    """The document as a parameter, marked with why its examples start real processes (if
    they do: bash running dreamfx or python, a --cluster run's workers)."""
    reasons = sorted({r for c in ex.commands(doc) if c.text not in ex.SKIPPED and (r := ex.real_process(c))})
    return pytest.param(doc, id=str(doc.relative_to(ROOT)), marks=[pytest.mark.process(r) for r in reasons])


def _prepare(doc: Path, root: Path) -> Path:
    work = ex.make_sandbox(root)
    from PIL import Image

    # the tutorial's photo, made as writing-plugins.md#7 makes it (presets.md uses it too)
    with Image.open(ex.TEST_DATA / "chelsea.png") as img:
        img.resize((200, 150), Image.Resampling.LANCZOS).save(work / "photo.png")
    ex.write_files_shown(doc, work)
    if doc == TUTORIAL:
        for path, text in tutorial_files().items():
            (work / "spotlight" / path).parent.mkdir(parents=True, exist_ok=True)
            (work / "spotlight" / path).write_text(text)
        _tutorial_plugins(root / "tutorial")
    return work


def _tutorial_plugins(base: Path) -> None:
    """The broken and clashing plugins of writing-plugins.md#10, as it describes them."""
    files = tutorial_files()
    broken = base / "broken"
    package = broken / "dreamfx_objective_example"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(files["src/dreamfx_objective_example/__init__.py"].replace(
        "def dreamfx_register_objectives", "def dreamfx_register_objective"))
    (package / "spotlight.py").write_text(files["src/dreamfx_objective_example/spotlight.py"])
    info = broken / "dreamfx_objective_example-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dreamfx-objective-example\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[dreamfx]\nspotlight = dreamfx_objective_example\n")
    clash = base / "clash"
    clash.mkdir(parents=True)
    (clash / "dreamfx_zoom.py").write_text(
        "from dreamfx.plugin import hookimpl\n\n@hookimpl\ndef dreamfx_register_objectives(register):\n"
        "    register('spotlight-map', lambda ctx: None, description='a clash')\n")
    info = clash / "dreamfx_zoom-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dreamfx-zoom\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dreamfx]\nzoom = dreamfx_zoom\n")


#: A dream must change its photo by at least this mean gray level (0-255): with a silent
#: objective nothing changes at all (0.0); a working dream on these small photos changes
#: them by several gray levels.
MIN_CHANGE = 1.0


@pytest.mark.slow
@pytest.mark.parametrize("doc", [_doc_param(doc) for doc in COMMAND_DOCS])
def test_command_examples_run_and_print_what_the_docs_say(doc, tmp_path, monkeypatch):
    root = tmp_path
    work = _prepare(doc, root)
    monkeypatch.setattr(ex, "REWRITES", [*ex.REWRITES, ("/tmp/tutorial/", f"{root}/tutorial/")])
    problems, ran, started = [], 0, time.perf_counter()
    for command in ex.commands(doc):
        if command.text in ex.SKIPPED:
            continue
        outcome = ex.run(command, work, root)
        ran += 1
        problems += ex.check_output(command, outcome)
        if not command.expected and outcome.code != 0:
            problems.append(f"{command.where}: '{command.text}' failed ({outcome.code}):\n{outcome.stderr[-1500:]}")
        if "is silent on this image" in outcome.stdout or re.search(
                r"\b\d+ (?:silent|of \d+ frames dreamed are silent): ", " ".join(outcome.stdout.split())):
            problems.append(f"{command.where}: '{command.text}' dreams a silent objective (0 -> 0)")
        for source, output in ex.dreamed_pairs(command, outcome, work):
            change = ex.visibly_changed(source, output)
            if change < MIN_CHANGE:
                problems.append(f"{command.where}: '{command.text}' changed {source.name} by only {change:.2f} gray levels")
    assert not problems, "\n\n".join(problems)
    print(f"{doc.name}: {ran} commands in {time.perf_counter() - started:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize("doc, index", [("README.md", 0), ("docs/model-card.md", 0)])
def test_python_examples_run(doc, index, tmp_path):
    """The Python examples of README and the model card, as scripts in the sandbox (in this
    process: see docs_examples.run_script)."""
    work = _prepare(ROOT / doc, tmp_path)
    block = [b for b in ex.blocks(ROOT / doc) if b.lang == "python"][index]
    script = ex.rewrite("\n".join(block.lines))
    done = ex.run_script(script, f"{doc}:{block.line}", work, tmp_path)
    assert done.code == 0, f"{doc}:{block.line}: {done.stderr[-2000:]}"
    if "dream.png" in script:
        assert ex.visibly_changed(work / "photo.jpg", work / "dream.png") >= MIN_CHANGE
        before, after = (float(x) for x in done.stdout.split()[-3::2])
        assert after > before > 0, done.stdout


SCALING = DOCS / "scaling.md"
TABLE_ROW = re.compile(r"^\| `([\w-]+)` \| `[\w-]+` \|.*\| (" + ex.NUMBER + r") -> (" + ex.NUMBER + r") \|")


#: Rows of docs/scaling.md known to be stale on this branch, with the reason. Their mismatch is
#: an expected failure (xfail) that names the figures; every other row must match. Delete an
#: entry once the page is regenerated (python docs/make_figures.py): the test warns when a
#: listed row matches again.
KNOWN_STALE: dict[str, str] = {}


@pytest.mark.slow
def test_scaling_figures_match_a_fresh_run(tmp_path):
    """docs/scaling.md's table quotes each preset's objective before -> after on the bundled
    photo; run each preset as docs/make_figures.py does and compare (times are machine-bound
    and not checked)."""
    rows = [(n, m) for n, line in enumerate(SCALING.read_text().splitlines(), 1) if (m := TABLE_ROW.match(line))]
    assert len(rows) >= 4
    problems, stale = [], []
    for number, match in rows:
        preset, before, after = match.groups()
        command = ex.Command(SCALING, number, f"dreamfx run --preset {preset} {ex.SAMPLE} -o {tmp_path / preset}.png")
        outcome = ex.run(command, tmp_path, tmp_path)
        got = ex.summary_rows(outcome.stdout).get("objective value", "")
        numbers = [float(x) for x in re.findall(ex.NUMBER, got)[:2]]
        scale = max(abs(float(before)), abs(float(after)))
        matches = len(numbers) == 2 and ex.close(before, numbers[0], scale) and ex.close(after, numbers[1], scale)
        message = (f"docs/scaling.md:{number}: `{preset}` quotes {before} -> {after}, "
                   f"the code gives {got or outcome.stderr[-500:]}")
        if not matches:
            (stale if preset in KNOWN_STALE else problems).append(message)
        elif preset in KNOWN_STALE:
            warnings.warn(f"docs/scaling.md:{number}: `{preset}` matches again; remove it from KNOWN_STALE")
    assert not problems, "\n".join(problems)
    if stale:
        pytest.xfail("; ".join(stale) + " (" + "; ".join(sorted(set(KNOWN_STALE.values()))) + ")")
