"""The command line as a user meets it: start-up cost, one-line errors, an end-to-end run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from dreamfx.imageio import read_metadata

from .conftest import SAMPLE


def dreamfx(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dreamfx", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("argv", [["--help"], ["presets"], ["plugins"], ["plugins", "--json"], ["run", "--help"]])
def test_light_commands_do_not_import_tensorflow(argv):
    code = (
        "import sys\nfrom dreamfx.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout


def test_presets_lists_descriptions():
    out = dreamfx("presets")
    assert out.returncode == 0
    assert "single-map" in out.stdout and "article" in out.stdout


def test_plugins_json_lists_builtins():
    out = dreamfx("plugins", "--json")
    data = {p["name"]: p for p in json.loads(out.stdout)}
    assert data["oip"]["status"] == "ok"
    assert data["oip"]["registered"] == {"optimizers": ["oip"]}
    assert data["mnist"]["hooks"] == ["dreamfx_register_commands", "dreamfx_register_models"]
    assert data["mnist"]["registered"]["commands"] == ["train"]


@pytest.fixture(scope="module")
def small_input(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("in") / "small.jpg"
    with Image.open(SAMPLE) as img:
        img.resize((90, 60)).convert("RGB").save(path, quality=95)
    return path


def test_run_end_to_end(small_input, tmp_path):
    before = small_input.read_bytes()
    out, panel = tmp_path / "o" / "dream.png", tmp_path / "panel.png"
    proc = dreamfx("run", "--preset", "single-map", str(small_input), "-o", str(out), "--panel", str(panel),
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

    info = dreamfx("info", str(out))
    assert info.returncode == 0 and json.loads(info.stdout)["settings_hash"] == meta["settings_hash"]


def test_unreadable_image_is_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    proc = dreamfx("run", str(bad), "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dreamfx: error: input image") and "not a readable image" in lines[0]
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "objective.mapp=3"], "valid keys: objective.layer, objective.map"),
        (["--set", "objective.map=99"], "choose map 0 to 63"),
        (["--set", "objective.layer=conv7"], "layers with feature maps: conv1"),
        (["--preset", "nope"], "unknown preset 'nope'"),
    ],
)
def test_settings_mistakes_are_one_line_and_exit_2(small_input, tmp_path, args, message):
    proc = dreamfx("run", str(small_input), "-o", str(tmp_path / "x.png"), *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_refuses_to_overwrite_the_input(tmp_path):
    target = tmp_path / "in.png"
    Image.new("L", (40, 40), 100).save(target)
    before = target.read_bytes()
    proc = dreamfx("run", str(target), "-o", str(target))
    assert proc.returncode == 2 and "would overwrite the input" in proc.stderr and "never writes its inputs" in proc.stderr
    assert target.read_bytes() == before


def test_debug_shows_a_traceback(tmp_path):
    proc = dreamfx("--debug", "run", str(tmp_path / "missing.png"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_broken_plugin_is_listed_as_failed_and_run_still_works(small_input, tmp_path):
    site = tmp_path / "site"
    info = site / "broken_dreamfx_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dreamfx-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dreamfx]\nbroken = broken_dreamfx_plugin\n")
    (site / "broken_dreamfx_plugin.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    env = {**os.environ, "PYTHONPATH": str(site)}

    listing = subprocess.run([sys.executable, "-m", "dreamfx", "plugins", "--json"], capture_output=True, text=True, env=env)
    broken = {p["name"]: p for p in json.loads(listing.stdout)}["broken"]
    assert broken["status"] == "failed" and broken["distribution"] == "broken-dreamfx-plugin"
    assert "this plugin is broken on purpose" in broken["error"]

    out = tmp_path / "o.png"
    proc = subprocess.run([sys.executable, "-m", "dreamfx", "run", str(small_input), "-o", str(out), "--set",
                           "optimizer.steps=1", "--set", "loop.rounds=1"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "plugin 'broken' (broken-dreamfx-plugin) failed and was skipped" in proc.stderr
    assert out.is_file()

    strict = subprocess.run([sys.executable, "-m", "dreamfx", "--strict", "presets"], capture_output=True, text=True, env=env)
    assert strict.returncode == 1 and "broken-dreamfx-plugin" in strict.stderr


def test_oip_grows_patterns_far_above_their_noise(tmp_path):
    grid = tmp_path / "oip.png"
    proc = dreamfx("oip", "--layer", "conv3", "--map", "56", "-n", "4", "-o", str(grid), "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    scores = read_metadata(grid)["scores"]
    noise = [float(line.split("(noise ")[1].split(")")[0]) for line in proc.stdout.splitlines() if "(noise" in line]
    assert len(scores) == len(noise) == 4
    assert all(after >= 10 * max(before, 1e-9) for after, before in zip(scores, noise)), (scores, noise)
    with Image.open(grid) as img:
        assert img.width >= 4 * 196 and img.mode == "RGB"


def test_layers_lists_shapes_and_map_counts():
    proc = dreamfx("layers")
    assert proc.returncode == 0, proc.stderr
    for expected in ("conv1", "(26, 26, 32)", "32 maps", "conv3", "(3, 3, 64)", "64 maps", "logits", "10 units"):
        assert expected in proc.stdout


def test_layers_needs_no_dream_components():
    """layers resolves the model alone: it works with the loop's (or the scalers') plugin disabled."""
    for disabled in ("reinject", "reinject,oip,scaling"):
        proc = subprocess.run([sys.executable, "-m", "dreamfx", "layers"], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "DREAMFX_DISABLE_PLUGINS": disabled})
        assert proc.returncode == 0, proc.stderr
        assert "64 maps" in proc.stdout and "Dream its deepest layer with" in proc.stdout
    bad = dreamfx("layers", "--set", "objective.map=3")
    assert bad.returncode == 2 and "only takes model.* settings" in bad.stderr


def test_png_level_changes_size_not_pixels(small_input, tmp_path):
    sizes, pixels = {}, {}
    for level in (0, 9):
        out = tmp_path / f"level{level}.png"
        proc = dreamfx("run", str(small_input), "-o", str(out), "--png-level", str(level), "--set", "optimizer.steps=2")
        assert proc.returncode == 0, proc.stderr
        sizes[level] = out.stat().st_size
        with Image.open(out) as img:
            pixels[level] = img.tobytes()
        assert read_metadata(out)["preset"] == "single-map"
    assert pixels[0] == pixels[9] and sizes[9] < sizes[0]
    bad = dreamfx("run", str(small_input), "-o", str(tmp_path / "x.png"), "--png-level", "12")
    assert bad.returncode == 2 and "--png-level must be 0-9" in bad.stderr


def test_oip_shows_a_gain_only_between_positive_scores(tmp_path):
    # logit 7 starts negative on gray noise with seed 0: a ratio would be meaningless
    proc = dreamfx("oip", "--set", "objective=class", "--set", "objective.unit=7", "-n", "2", "--rounds", "1",
                   "--set", "optimizer.steps=3", "-o", str(tmp_path / "oip.png"))
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if "(noise" in line]
    assert len(rows) == 2
    for row in rows:
        before = float(row.split("(noise ")[1].split(")")[0])
        assert (" x" in row) == (before > 0), row


def test_a_folder_of_many_sizes_prints_nothing_from_tensorflow(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    with Image.open(SAMPLE) as img:
        for i, size in enumerate([(40, 30), (52, 36), (64, 40), (30, 44), (70, 50), (44, 44)]):
            img.convert("RGB").resize(size).save(src / f"p{i}.png")
    proc = dreamfx("run", str(src), "-o", str(tmp_path / "out"), "--set", "optimizer.steps=2", "--set", "loop.rounds=1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no retracing warnings, no absl or C++ log lines
    assert "[6/6]" in proc.stdout
