"""Hostile presets, overrides and --from metadata: every one a one-line error and exit 2,
refused by the same validation (issue 10, items 4 and 11)."""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image, PngImagePlugin

from dreamfx.errors import SettingsError
from dreamfx.config.presets import MAX_METADATA_BYTES, settings_for, settings_from_output
from dreamfx.config.settings import MAX_DEPTH, MAX_SETTINGS_BYTES, MAX_STRING, SEED_MAX, parse_override, resolve_settings


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "in.png"
    Image.new("RGB", (40, 30), (120, 80, 40)).save(path)
    return path


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def _good_metadata(**changes):
    meta = {"preset": "single-map", "seed": 0, "color": "gray", "keep_alpha": False,
            "settings": {"description": "", "seed": 0, "objective": {"name": "single-map", "layer": "conv3", "map": 5},
                         "optimizer": {"name": "oip", "steps": 3}}}
    meta.update(changes)
    return meta


def _png_with_metadata(path, text: str | bytes):
    info = PngImagePlugin.PngInfo()
    info.add_text("dreamfx", text)
    Image.new("L", (8, 8), 100).save(path, pnginfo=info)
    return path


# (what the case is, the preset file's bytes or None, extra command-line arguments, words the error must hold)
CASES = [
    ("step_size=nan", None, ["--set", "optimizer.step_size=nan"], "optimizer.step_size must be a finite number"),
    ("step_size=inf", None, ["--set", "optimizer.step_size=inf"], "optimizer.step_size must be a finite number, got inf"),
    ("step_size=-inf", None, ["--set", "optimizer.step_size=-inf"], "must be a finite number, got -inf"),
    ("contrast=nan", None, ["--set", "output.contrast=nan"], "output.contrast must be a finite number, got nan"),
    ("panel_contrast=inf", None, ["--set", "output.panel_contrast=inf"], "output.panel_contrast must be a finite"),
    ("int param=inf", None, ["--set", "optimizer.steps=inf"], "optimizer.steps must be a finite number"),
    ("nested nan", None, ["--set", "objective=weighted-layers", "--set", "objective.weights={conv2 = nan}"],
     "objective.weights.conv2 must be a finite number"),
    ("inf in TOML", b"[optimizer]\nstep_size = inf\n", [], "optimizer.step_size must be a finite number, got inf"),
    ("nan in TOML output", b"[output]\ncontrast = nan\n", [], "output.contrast must be a finite number, got nan"),
    ("objective = 5", b"objective = 5\n", [], "[objective] in preset 'p' must be a table"),
    ("output = [1,2]", b"output = [1, 2]\n", [], "[output] in preset 'p' must be a table"),
    ("section as an int", b"loop = 3\n", [], "[loop] in preset 'p' must be a table"),
    ("section as a string", b'scaler = "tiling"\n', [], "[scaler] in preset 'p' must be a table"),
    ("name as an int", b"[model]\nname = 7\n", [], "model.name must be a string, got 7"),
    ("non-UTF-8", b"description = \"caf\xe9\"\n\xff\xfe\n", [], "is not UTF-8 text"),
    ("10,000 nested arrays", b"[objective]\nterms = " + _nested(10_000).encode() + b"\n", [], "nests arrays or tables too deeply"),
    ("nested past the limit", b"[objective]\nterms = " + _nested(MAX_DEPTH + 2).encode() + b"\n", [],
     "nests arrays or tables too deeply"),
    ("--set nested", None, ["--set", "objective.terms=" + _nested(10_000)], "nests arrays or tables too deeply"),
    ("seed=2**70 in TOML", f"seed = {2**70}\n".encode(), [], f"seed must be between 0 and {SEED_MAX}"),
    ("seed=2**70 --set", None, ["--set", f"seed={2**70}"], "seed must be between 0 and"),
    ("seed=2**70 --seed", None, ["--seed", str(2**70)], "seed must be between 0 and"),
    ("negative seed", b"seed = -1\n", [], "seed must be between 0 and"),
    ("seed as a string", b'seed = "zero"\n', [], "seed must be int, got 'zero'"),
    ("int beyond 64 bits", f"[objective]\nmap = {2**70}\n".encode(), [], "objective.map must fit in 64 bits"),
    ("description = 5", b"description = 5\n", [], "description must be a string, got 5"),
    ("long description", f'description = "{"x" * (MAX_STRING + 1)}"\n'.encode(), [],
     f"description is {MAX_STRING + 1:,} characters long"),
    ("huge settings", ("[objective]\nname = \"weighted-layers\"\n[objective.weights]\n"
                       + "".join(f'{"k" * 990}{i:04d} = 1.0\n' for i in range(80))).encode(), [],
     f"at most {MAX_SETTINGS_BYTES // 1024} KiB"),
    ("too many values", ("[objective]\nname = \"weighted-maps\"\nterms = ["
                         + ", ".join('["conv3", 1, 1.0]' for _ in range(3000)) + "]\n").encode(), [], "more than 10,000 values"),
]


@pytest.mark.parametrize("case, preset, args, message", CASES, ids=[c[0] for c in CASES])
def test_hostile_settings_are_one_line_and_exit_2(tmp_path, image, cli, case, preset, args, message):
    argv = ["run", image, "-o", tmp_path / "out.png", *args]
    if preset is not None:
        (tmp_path / "p.toml").write_bytes(preset)
        argv += ["--preset", tmp_path / "p.toml"]
    run = cli(*argv)
    assert len(run.one_line_error(2, message)) < 600
    assert run.written == [] and not (tmp_path / "out.png").exists()


FROM_CASES = [
    ("color = purple", _good_metadata(color="purple"), "color must be one of gray, luma, got 'purple'"),
    ("keep_alpha = yes", _good_metadata(keep_alpha="yes"), "keep_alpha must be true or false, got 'yes'"),
    ("preset as a list", _good_metadata(preset=[1]), "preset must be a name"),
    ("settings as a list", _good_metadata(settings=[1, 2]), "settings must be a table of sections"),
    ("objective = 5", _good_metadata(settings={"objective": 5}), "[objective] in preset 'single-map' must be a table"),
    ("output = [1,2]", _good_metadata(settings={"output": [1, 2]}), "[output] in preset 'single-map' must be a table"),
    ("NaN step size", _good_metadata(settings={"optimizer": {"step_size": float("nan")}}),
     "optimizer.step_size must be a finite number, got nan"),
    ("Infinity contrast", _good_metadata(settings={"output": {"contrast": float("inf")}}),
     "output.contrast must be a finite number, got inf"),
    ("seed 2**70", _good_metadata(settings={"seed": 2**70}), "seed must be between 0 and"),
    ("null key table", _good_metadata(settings={"objective": {"name": None}}), "objective.name must be a string"),
    ("not a mapping", [1, 2, 3], "no dreamfx settings found"),
]


@pytest.mark.parametrize("case, meta, message", FROM_CASES, ids=[c[0] for c in FROM_CASES])
def test_hostile_from_metadata_is_one_line_and_exit_2(tmp_path, image, cli, case, meta, message):
    source = _png_with_metadata(tmp_path / "made.png", json.dumps(meta))
    run = cli("run", "--from", source, image, "-o", tmp_path / "out.png")
    assert run.one_line_error(2, message).startswith(f"dreamfx: error: --from {source}: ")
    assert run.written == [] and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize(
    "case, blob, message",
    [
        ("oversized sidecar", b'{"settings": {"description": "' + b"x" * MAX_METADATA_BYTES + b'"}}', "larger than 64 KiB"),
        ("non-UTF-8 sidecar", b'{"settings": {"description": "\xff\xfe"}}', "not UTF-8"),
        ("deeply nested JSON", b'{"settings": ' + _nested(30_000).encode() + b"}", "nests arrays or tables too deeply"),
        ("nested within the parser's reach", b'{"settings": {"objective": {"terms": ' + _nested(500).encode() + b"}}}",
         "nests arrays or tables too deeply"),
        ("not JSON", b"{settings: 1", "is not valid JSON"),
    ],
)
def test_hostile_sidecar_metadata(tmp_path, image, cli, case, blob, message):
    source = tmp_path / "made.jpg"
    Image.new("RGB", (8, 8)).save(source)
    (tmp_path / "made.jpg.dreamfx.json").write_bytes(blob)
    run = cli("run", "--from", source, image, "-o", tmp_path / "out.png")
    assert run.one_line_error(2, message).startswith("dreamfx: error: --from")


def test_oversized_png_text_chunk_is_refused(tmp_path, host):
    source = _png_with_metadata(tmp_path / "big.png", json.dumps(_good_metadata(pad="y" * MAX_METADATA_BYTES)))
    with pytest.raises(SettingsError, match="larger than 64 KiB"):
        settings_from_output(host, source)


def test_from_output_returns_validated_settings_colour_and_alpha(tmp_path, host):
    source = _png_with_metadata(tmp_path / "ok.png", json.dumps(_good_metadata(color="luma", keep_alpha=True)))
    settings, color, keep_alpha = settings_from_output(host, source, [("optimizer.steps", 7)], seed=4)
    assert (color, keep_alpha) == ("luma", True)
    assert settings.preset == "single-map" and settings.seed == 4
    assert settings.objective.params == {"layer": "conv3", "map": 5}
    assert settings.optimizer.params["steps"] == 7
    # what is not stored falls back to the caller's choice
    bare = _good_metadata()
    del bare["color"], bare["keep_alpha"]
    source = _png_with_metadata(tmp_path / "bare.png", json.dumps(bare))
    assert settings_from_output(host, source, color="luma", keep_alpha=True)[1:] == ("luma", True)


def test_python_api_and_resolve_refuse_the_same_values(host):
    with pytest.raises(SettingsError, match="optimizer.step_size must be a finite number, got nan"):
        settings_for(host, "single-map", [("optimizer.step_size", math.nan)])
    with pytest.raises(SettingsError, match="output.contrast must be a finite number, got inf"):
        resolve_settings("api", {"output": {"contrast": math.inf}}, host.registries)
    with pytest.raises(SettingsError, match="must be a string, number, boolean, array or table"):
        resolve_settings("api", {"objective": {"name": "single-map", "layer": object()}}, host.registries)
    with pytest.raises(SettingsError, match="must be a table of settings"):
        resolve_settings("api", [("seed", 1)], host.registries)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="seed must be between 0 and"):
        settings_for(host, "single-map", seed=-5)
    from dreamfx.api import make_dreamer

    with pytest.raises(SettingsError, match="optimizer.step_size must be a finite number, got inf"):
        make_dreamer(overrides={"step_size": math.inf}, host=host)


def test_largest_seed_is_accepted_and_tensorflow_takes_it(host):
    settings = settings_for(host, "single-map", seed=SEED_MAX)
    assert settings.seed == SEED_MAX
    import tensorflow as tf

    values = tf.random.stateless_uniform([2], seed=tf.constant([settings.seed, 3], tf.int64)).numpy()
    assert values.shape == (2,) and all(0.0 <= v < 1.0 for v in values)


def test_parse_override_reads_non_finite_values_for_validation():
    assert math.isnan(parse_override("optimizer.step_size=nan")[1])
    assert parse_override("output.contrast=inf")[1] == math.inf
    with pytest.raises(SettingsError, match="nests arrays or tables too deeply"):
        parse_override("objective.terms=" + _nested(5_000))
