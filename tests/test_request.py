"""One request type behind ``dreamfx run``, ``dreamfx demo`` and ``dreamfx.dream()``: each
input is decoded once, and the Python API has the CLI's colour, alpha and provenance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import FAST, SAMPLE


@pytest.fixture
def rgba_photo(tmp_path) -> Path:
    """A small colour photo with a transparent band."""
    path = tmp_path / "in" / "photo.png"
    path.parent.mkdir()
    with Image.open(SAMPLE) as img:
        rgba = img.convert("RGBA").resize((72, 54))
    alpha = np.full((54, 72), 255, np.uint8)
    alpha[:, :12] = 0
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(path)
    return path


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Every image decode (``images.decode_picture``), by path."""
    import dreamfx.io.images as images

    seen: list[str] = []
    real = images.decode_picture

    def counting(data, path, **kwargs):
        seen.append(str(path))
        return real(data, path, **kwargs)

    monkeypatch.setattr(images, "decode_picture", counting)
    return seen


def test_a_single_image_run_decodes_its_input_once(rgba_photo, tmp_path, decodes, cli):
    run = cli("run", rgba_photo, "-o", tmp_path / "out.png", "-q", *FAST)
    assert run.returncode == 0, run.stderr
    assert decodes == [str(rgba_photo)]
    assert run.written == [tmp_path / "out.png"]


def test_a_folder_run_decodes_each_input_once(rgba_photo, tmp_path, decodes, cli):
    with Image.open(SAMPLE) as img:
        img.convert("L").resize((60, 40)).save(rgba_photo.parent / "gray.png")
    run = cli("run", rgba_photo.parent, "-o", tmp_path / "out", "-q", *FAST)
    assert run.returncode == 0, run.stderr
    assert sorted(decodes) == sorted(str(p) for p in rgba_photo.parent.iterdir())


def test_api_dream_keeps_colour_and_alpha_and_saves_what_run_writes(rgba_photo, tmp_path, decodes, cli):
    import dreamfx
    from dreamfx.api import forget_warm
    from dreamfx.io.provenance import read_metadata

    forget_warm()  # no photo decoded by an earlier test's call
    result = dreamfx.dream(rgba_photo, color="luma", keep_alpha=True, steps=2, rounds=1)
    assert decodes == [str(rgba_photo)]
    again = dreamfx.dream(rgba_photo, color="luma", keep_alpha=True, steps=2, rounds=1)
    assert decodes == [str(rgba_photo)]  # the same bytes: decoded once
    assert np.array_equal(np.asarray(again.to_pil()), np.asarray(result.to_pil()))
    image = result.to_pil()
    assert image.mode == "RGBA" and image.size == (72, 54)
    assert np.asarray(image)[:, :12, 3].max() == 0  # the transparent band stays transparent
    saved = result.save(tmp_path / "api.png")
    meta = read_metadata(saved)
    assert meta["color"] == "luma" and meta["keep_alpha"] is True and meta["input"] == "photo.png"
    assert meta["settings"]["optimizer"]["steps"] == 2 and meta["input_sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.png", "in"]  # no temporary left

    # the CLI repeats it from the saved file's provenance, to the same pixels
    run = cli("run", rgba_photo, "--from", saved, "-o", tmp_path / "cli.png", "-q")
    assert run.returncode == 0, run.stderr
    cli_meta = read_metadata(tmp_path / "cli.png")
    assert {k: cli_meta[k] for k in ("settings_hash", "run_hash", "color", "keep_alpha")} == \
        {k: meta[k] for k in ("settings_hash", "run_hash", "color", "keep_alpha")}
    with Image.open(saved) as a, Image.open(tmp_path / "cli.png") as b:
        assert a.mode == b.mode == "RGBA"
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_api_to_pil_and_save_default_to_gray_like_run(tmp_path):
    import dreamfx

    with Image.open(SAMPLE) as img:
        array = np.asarray(img.convert("RGB").resize((60, 40)))
    result = dreamfx.dream(array, steps=1, rounds=1)
    assert result.to_pil().mode == "L"
    from dreamfx.io.provenance import read_metadata

    meta = read_metadata(result.save(tmp_path / "a.png"))
    assert meta["color"] == "gray" and meta["input"] is None
    with pytest.raises(Exception, match="cannot hold transparency"):
        dreamfx.dream(array, keep_alpha=True, steps=1, rounds=1).save(tmp_path / "a.jpg")


def test_api_color_is_checked_before_any_work():
    import dreamfx
    from dreamfx.errors import SettingsError

    with pytest.raises(SettingsError, match="color must be one of gray, luma"):
        dreamfx.dream("does-not-matter.png", color="sepia")


@pytest.mark.process("start-up imports")
def test_a_request_plans_without_tensorflow(tmp_path):
    """Planning a folder (jobs, outputs, the report's path) is library code that needs no TensorFlow."""
    import subprocess
    import sys

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.new("L", (30, 20), 40 * i).save(src / f"p{i}.png")
    code = ("import sys\nfrom dreamfx.host.manager import create_host\nfrom dreamfx.config.request import DreamRequest\nfrom dreamfx.runs.dreams import plan_dream\n"
            f"plan = plan_dream(DreamRequest([{str(src)!r}], output={str(tmp_path / 'out')!r}, format='jpg'), "
            "create_host())\n"
            "print(len(plan.jobs), plan.report.name, plan.jobs[0].output.suffix, plan.single)\n"
            "print('HEAVY', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "3 report.json .jpg False" in out.stdout and "HEAVY []" in out.stdout


def test_every_dreaming_command_checks_and_resolves_the_shared_options_alike():
    """run, zoom and video take preset, --set, seed, device, colour and force from one
    CommonOptions (issue 23): the same mistakes give the same words, and the same options
    the same settings."""
    from dreamfx.runs.zoom import ZoomRequest
    from dreamfx.errors import SettingsError
    from dreamfx.host.manager import create_host
    from dreamfx.config.request import CommonOptions, DreamRequest
    from dreamfx.runs.video import VideoRequest

    def requests(**common):
        return [DreamRequest(["in.png"], **common), ZoomRequest("in.png", "z.gif", 4, **common),
                VideoRequest("clip/", "v/", **common)]

    for bad, words in (({"device": "tpu"}, "unknown device 'tpu'"), ({"color": "sepia"}, "color must be one of gray, luma")):
        for request in requests(**bad):
            assert isinstance(request, CommonOptions)
            with pytest.raises(SettingsError, match=words):
                request.check()
    host = create_host()
    chosen = requests(preset="tiling", overrides=("objective.map=7", ("optimizer.steps", 3)), seed=5)
    digests = {request.settings(host).digest() for request in chosen}
    assert len(digests) == 1
    settings = chosen[0].settings(host)
    assert settings.objective.params["map"] == 7 and settings.optimizer.params["steps"] == 3 and settings.seed == 5
