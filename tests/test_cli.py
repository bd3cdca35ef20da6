"""The command line as a user meets it: start-up cost, one-line errors, an end-to-end run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from dreamfx.errors import DreamfxError
from dreamfx.io.provenance import read_metadata

from .conftest import FAST, photo

LIGHT_COMMANDS = [["--help"], ["presets"], ["plugins"], ["plugins", "--json"], ["run", "--help"]]


@pytest.mark.process("start-up imports")
def test_light_commands_do_not_import_tensorflow():
    """One fresh interpreter runs every light command in turn; after each, neither
    TensorFlow nor Keras has been imported."""
    code = (
        "import sys\nfrom dreamfx.cli import main\n"
        f"for argv in {LIGHT_COMMANDS!r}:\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "    heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "    print('HEAVY', argv, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for argv in LIGHT_COMMANDS:
        assert f"HEAVY {argv!r} []" in out.stdout, (argv, out.stdout[-2000:])


def test_presets_lists_descriptions(cli):
    out = cli("presets")
    assert out.returncode == 0
    assert "single-map" in out.stdout and "article" in out.stdout


def test_plugins_json_lists_builtins(cli):
    out = cli("plugins", "--json")
    assert out.returncode == 0, out.stderr
    data = {p["name"]: p for p in json.loads(out.stdout)}
    assert data["oip"]["status"] == "ok"
    assert data["oip"]["registered"] == {"optimizers": ["oip"]}
    assert data["mnist"]["hooks"] == ["dreamfx_register_commands", "dreamfx_register_models"]
    assert data["mnist"]["registered"]["commands"] == ["train"]


@pytest.fixture(scope="module")
def small_input(tmp_path_factory) -> Path:
    return photo(tmp_path_factory.mktemp("in") / "small.jpg", size=(90, 60))


def test_run_end_to_end(cli, small_input, tmp_path):
    """(That a run's process prints nothing from TensorFlow, cuInit included, is
    test_a_folder_of_many_sizes_prints_nothing_from_tensorflow's.)"""
    before = small_input.read_bytes()
    out, panel = tmp_path / "o" / "dream.png", tmp_path / "panel.png"
    proc = cli("run", "--preset", "single-map", small_input, "-o", out, "--panel", panel,
               "--set", "optimizer.steps=5", "--seed", "2")
    assert proc.returncode == 0, proc.stderr
    assert "objective value" in proc.stdout and "rounds x steps" in proc.stdout
    assert "cuInit" not in proc.stderr and "Traceback" not in proc.stderr
    with Image.open(out) as img:
        assert img.size == (90, 60) and img.mode == "L"
    with Image.open(panel) as img:
        assert img.width > 5 * img.height // 2
    meta = read_metadata(out)
    assert meta["preset"] == "single-map" and meta["seed"] == 2
    assert meta["settings"]["optimizer"]["steps"] == 5
    assert meta["score_after"] > meta["score_before"]
    assert small_input.read_bytes() == before  # the input is never touched
    assert sorted(p.name for p in out.parent.iterdir()) == ["dream.png"]  # no temporary files left
    assert sorted(proc.written) == sorted([out, panel])

    info = cli("info", out)
    assert info.returncode == 0 and json.loads(info.stdout)["settings_hash"] == meta["settings_hash"]


def test_unreadable_image_is_one_line_and_exit_1(cli, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    proc = cli("run", bad, "-o", tmp_path / "x.png")
    line = proc.one_line_error(1, "not a readable image")
    assert line.startswith("dreamfx: error: input image")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "objective.mapp=3"], "valid keys: objective.layer, objective.map"),
        (["--set", "objective.map=200"], "choose map 0 to 127"),
        (["--set", "objective.layer=conv7"], "layers with feature maps: conv1"),
        (["--preset", "nope"], "unknown preset 'nope'"),
    ],
)
def test_settings_mistakes_are_one_line_and_exit_2(cli, small_input, tmp_path, args, message):
    proc = cli("run", small_input, "-o", tmp_path / "x.png", *args)
    proc.one_line_error(2, message)
    assert proc.written == []


def test_refuses_to_overwrite_the_input(cli, tmp_path):
    target = tmp_path / "in.png"
    Image.new("L", (40, 40), 100).save(target)
    before = target.read_bytes()
    proc = cli("run", target, "-o", target)
    proc.one_line_error(2, "would overwrite the input", "never writes its inputs")
    assert target.read_bytes() == before and proc.written == []


def test_debug_shows_a_traceback(cli, tmp_path):
    """--debug lets the error out of main (the interpreter prints its traceback) instead of
    the one-line message; without --debug the same mistake is one line."""
    with pytest.raises(DreamfxError, match="missing.png"):
        cli("--debug", "run", tmp_path / "missing.png", cwd=tmp_path)
    cli("run", tmp_path / "missing.png", cwd=tmp_path).one_line_error(1, "missing.png")


def test_broken_plugin_is_listed_as_failed_and_run_still_works(cli, small_input, tmp_path, monkeypatch):
    site = tmp_path / "site"
    info = site / "broken_dreamfx_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dreamfx-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dreamfx]\nbroken = broken_dreamfx_plugin\n")
    (site / "broken_dreamfx_plugin.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    # what PYTHONPATH does for a new process: every create_host reads the entry points anew
    monkeypatch.syspath_prepend(str(site))  # (this also invalidates importlib's caches)

    listing = cli("plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    broken = {p["name"]: p for p in json.loads(listing.stdout)}["broken"]
    assert broken["status"] == "failed" and broken["distribution"] == "broken-dreamfx-plugin"
    assert "this plugin is broken on purpose" in broken["error"]
    assert "broken_dreamfx_plugin" not in sys.modules

    out = tmp_path / "o.png"
    proc = cli("run", small_input, "-o", out, "--set", "optimizer.steps=1", "--set", "loop.rounds=1")
    assert proc.returncode == 0, proc.stderr
    assert "plugin 'broken' (broken-dreamfx-plugin) failed and was skipped" in proc.stderr
    assert out.is_file()

    strict = cli("--strict", "presets")
    assert strict.returncode == 1 and "broken-dreamfx-plugin" in strict.stderr


def test_oip_grows_patterns_far_above_their_noise(cli, tmp_path):
    grid = tmp_path / "oip.png"
    proc = cli("oip", "--layer", "conv3", "--map", "56", "-n", "4", "-o", grid, "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    scores = read_metadata(grid)["scores"]
    noise = [float(line.split("(noise ")[1].split(")")[0]) for line in proc.stdout.splitlines() if "(noise" in line]
    assert len(scores) == len(noise) == 4
    assert all(after >= 10 * max(before, 1e-9) for after, before in zip(scores, noise)), (scores, noise)
    with Image.open(grid) as img:
        assert img.width >= 4 * 196 and img.mode == "RGB"


def test_oip_never_replaces_a_file_dreamfx_did_not_write(cli, tmp_path):
    """The one output plan (issue 23, and issue 24's first data-loss item): a user's file
    at -o is refused before any work and left as it was; --force replaces it; a grid
    dreamfx wrote is replaced by the next run."""
    mine = tmp_path / "mine.png"
    Image.new("L", (8, 8), 77).save(mine)
    before = mine.read_bytes()
    quick = ("-n", "1", "--rounds", "1", "--set", "optimizer.steps=1")
    out = cli("oip", *quick, "-o", mine)
    out.one_line_error(2, "exists and was not written by dreamfx", "--force")
    assert mine.read_bytes() == before
    assert cli("oip", *quick, "-o", mine, "--force").returncode == 0
    assert read_metadata(mine)["command"] == "oip"
    assert cli("oip", *quick, "-o", mine).returncode == 0  # its own grid: replaced without --force


def test_layers_lists_shapes_and_map_counts(cli):
    proc = cli("layers")
    assert proc.returncode == 0, proc.stderr
    for expected in ("conv1", "(26, 26, 32)", "32 maps", "conv3", "(3, 3, 128)", "128 maps", "logits", "10 units"):
        assert expected in proc.stdout


def test_layers_needs_no_dream_components(cli):
    """layers resolves the model alone: it works with the loop's (or the scalers') plugin disabled."""
    for disabled in ("reinject", "reinject,oip,scaling"):
        proc = cli("layers", env={"DREAMFX_DISABLE_PLUGINS": disabled})
        assert proc.returncode == 0, proc.stderr
        assert "128 maps" in proc.stdout and "Dream its deepest layer with" in proc.stdout
    cli("layers", "--set", "objective.map=3").one_line_error(2, "only takes model.* settings")


def test_png_level_changes_size_not_pixels(cli, small_input, tmp_path):
    sizes, pixels = {}, {}
    for level in (0, 9):
        out = tmp_path / f"level{level}.png"
        proc = cli("run", small_input, "-o", out, "--png-level", str(level), "--set", "optimizer.steps=2")
        assert proc.returncode == 0, proc.stderr
        sizes[level] = out.stat().st_size
        with Image.open(out) as img:
            pixels[level] = img.tobytes()
        assert read_metadata(out)["preset"] == "single-map"
    assert pixels[0] == pixels[9] and sizes[9] < sizes[0]
    bad = cli("run", small_input, "-o", tmp_path / "x.png", "--png-level", "12")
    bad.one_line_error(2, "--png-level must be 0-9")
    assert not (tmp_path / "x.png").exists()


def test_oip_shows_a_gain_only_between_positive_scores(cli, tmp_path):
    # logit 7 starts negative on gray noise with seed 0: a ratio would be meaningless
    proc = cli("oip", "--set", "objective=class", "--set", "objective.unit=7", "-n", "2", "--rounds", "1",
               "--set", "optimizer.steps=3", "-o", tmp_path / "oip.png")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if "(noise" in line]
    assert len(rows) == 2
    for row in rows:
        before = float(row.split("(noise ")[1].split(")")[0])
        assert (" x" in row) == (before > 0), row


@pytest.mark.process("native log lines")
def test_a_folder_of_many_sizes_prints_nothing_from_tensorflow(tmp_path):
    """A real ``dreamfx run`` process on photos of six sizes (six traces): standard error
    stays empty: no retracing warnings, no absl or C++ log lines written to file
    descriptor 2 by TensorFlow's native code, no cuInit message on a machine without a GPU."""
    src = tmp_path / "in"
    for i, size in enumerate([(40, 30), (52, 36), (64, 40), (30, 44), (70, 50), (44, 44)]):
        photo(src / f"p{i}.png", size=size, shift=10 * i)
    proc = subprocess.run([sys.executable, "-m", "dreamfx", "run", str(src), "-o", str(tmp_path / "out"), *FAST],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "cuInit" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr == ""  # no retracing warnings, no absl or C++ log lines
    assert "[6/6]" in proc.stdout


@pytest.mark.process("native log lines")
def test_the_python_api_prints_nothing_from_tensorflow(tmp_path):
    """``import dreamfx; dreamfx.dream(photo)`` in a fresh interpreter, as in a notebook:
    TensorFlow's native start-up lines (cudart_stub, failed call to cuInit, oneDNN's notice,
    absl's "All log messages before absl::InitializeLog()") are hidden as the command line
    hides them. A TF_CPP_MIN_LOG_LEVEL the user set is theirs: it is kept, and below 3 the
    start-up lines are not hidden."""
    small = photo(tmp_path / "small.png", size=(40, 30))
    code = ("import os, dreamfx\n"
            f"result = dreamfx.dream({str(small)!r}, steps=2, rounds=1)\n"
            "print('LEVEL', os.environ['TF_CPP_MIN_LOG_LEVEL'], result.image.shape)\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "LEVEL 3 (30, 40)" in proc.stdout
    assert proc.stderr == "", proc.stderr  # no cuInit, cudart_stub, oneDNN or absl lines
    mine = subprocess.run([sys.executable, "-c", "import os, dreamfx.engine.backend as b; b.start_quietly(); "
                           "print('LEVEL', os.environ['TF_CPP_MIN_LOG_LEVEL'])"],
                          capture_output=True, text=True, timeout=300, env={**env, "TF_CPP_MIN_LOG_LEVEL": "1"})
    assert mine.returncode == 0 and "LEVEL 1" in mine.stdout, mine.stderr


def _words(text: str) -> set[str]:
    """The words of a printed table: what lies between spaces, box lines and list commas."""
    import re

    return set(re.split(r"[\s│┃|,;]+", text)) - {""}


def _plain(text: str) -> str:
    """A terminal's output without its colours and cursor movements."""
    import re

    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_listings_fit_80_columns_with_every_name_whole(cli):
    """``dreamfx plugins``, ``presets`` and ``layers`` on an 80-column terminal: no line
    wider, nothing cut with an ellipsis, and every plugin, distribution, hook and component
    name whole (issue 25, item 5)."""
    shown = {}
    for command in ("plugins", "presets", "layers"):
        proc = cli(command, env={"COLUMNS": "80"})
        assert proc.returncode == 0, proc.stderr
        assert "…" not in proc.stdout
        assert all(len(line) <= 80 for line in proc.stdout.splitlines() if line[:1] in "┏┃┡│└"), proc.stdout
        shown[command] = _words(proc.stdout)
    for info in json.loads(cli("plugins", "--json").stdout):
        names = [info["name"], info["distribution"], *(h.removeprefix("dreamfx_") for h in info["hooks"])]
        names += [name for registered in info["registered"].values() for name in registered]
        assert set(names) <= shown["plugins"], set(names) - shown["plugins"]
        presets = info["registered"].get("presets", [])
        assert set(presets) <= shown["presets"]
    assert {"conv1", "pool2", "dense1", "logits", "softmax", "MaxPooling2D", "Conv2D"} <= shown["layers"]


def test_a_single_run_shows_its_dream_on_a_terminal_only(cli, small_input, tmp_path):
    """On a terminal a one-file run shows a bar over its dream (share done, elapsed time,
    ETA, round) that goes away before the summary; piped, the summary alone, its paths broken
    between names at 80 columns (issue 25, items 3 and 5)."""
    out = tmp_path / "a-folder-with-a-rather-long-name" / "another-folder-for-the-outputs" / "dreamed-with-a-long-name.png"
    args = ("run", small_input, "-o", out, "--set", "optimizer.steps=2", "--set", "loop.rounds=2", "--force")
    piped = cli(*args, env={"COLUMNS": "80", "FORCE_COLOR": None, "TTY_COMPATIBLE": None})
    assert piped.returncode == 0, piped.stderr
    assert "ETA" not in piped.stdout and "\x1b" not in piped.stdout and "objective value" in piped.stdout
    lines = piped.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert all(any(part in _words(line.replace("/", " ")) for line in lines) for part in out.parts[1:]), lines
    terminal = cli(*args, env={"COLUMNS": "80", "FORCE_COLOR": "1"})
    assert terminal.returncode == 0, terminal.stderr
    shown = _plain(terminal.stdout)
    assert "dreaming" in shown and "100%" in shown and "ETA 0:00:0" in shown and "round 2/2" in shown
    assert shown.index("ETA") < shown.index("objective value")  # the summary comes after the bar
