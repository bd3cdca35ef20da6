"""Masks (issue 28, item 1): ``--mask MASK.png`` dreams where the mask is white and keeps
the photo where it is black, on photos and masks generated here (no test tunes them)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dreamfx.io.provenance import read_metadata

from .conftest import FAST

QUICK = ("--set", "optimizer.steps=6", "--set", "loop.rounds=2")


def _photo(path, seed: int, size=(128, 96)) -> np.ndarray:
    """A textured gray photo nobody tuned for: smooth waves, blobs and grain."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    image = 0.5 + 0.25 * np.sin(xx / rng.uniform(5, 12) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(5, 12))
    for _ in range(6):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(6, 20)
        image += 0.3 * rng.choice([-1, 1]) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    image = np.clip(image + 0.05 * rng.standard_normal((h, w)), 0, 1)
    Image.fromarray((image * 255).round().astype(np.uint8)).save(path)
    return (image * 255).round() / 255


def _half_mask(path, size=(40, 30), grey: int | None = None) -> None:
    """Black on the left half, white (or ``grey``) on the right, at another size than the photo."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    mask[:, size[0] // 2:] = 255 if grey is None else grey
    Image.fromarray(mask).save(path)


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), np.float32) / 255


@pytest.mark.parametrize("seed", [101, 202])
def test_black_keeps_the_photo_and_white_dreams(cli, tmp_path, seed):
    photo = tmp_path / "p.png"
    original = _photo(photo, seed)
    _half_mask(tmp_path / "m.png")
    assert cli("run", photo, "-o", tmp_path / "plain.png", *QUICK).returncode == 0
    run = cli("run", photo, "-o", tmp_path / "masked.png", "--mask", tmp_path / "m.png", *QUICK)
    assert run.returncode == 0, run.stderr
    plain, masked = _pixels(tmp_path / "plain.png"), _pixels(tmp_path / "masked.png")
    # away from the feathered edge (1% of the short side: about one pixel, blurred over ~4)
    black, white = slice(0, 56), slice(72, 128)
    assert np.abs(masked - original)[:, black].mean() <= 0.5 / 255  # 8-bit rounding is all it may differ by
    change_plain = np.abs(plain - original)[:, white].mean()
    assert change_plain > 5 / 255  # the dream does change the photo there
    assert np.abs(masked - original)[:, white].mean() >= 0.8 * change_plain


def test_grey_blends_and_the_edge_has_no_seam(cli, tmp_path):
    photo = tmp_path / "p.png"
    original = _photo(photo, 303)
    _half_mask(tmp_path / "grey.png", grey=128)
    _half_mask(tmp_path / "m.png")
    cli("run", photo, "-o", tmp_path / "plain.png", *QUICK)
    cli("run", photo, "-o", tmp_path / "grey.png.out.png", "--mask", tmp_path / "grey.png", *QUICK)
    plain, grey = _pixels(tmp_path / "plain.png"), _pixels(tmp_path / "grey.png.out.png")
    ratio = np.abs(grey - original)[:, 72:].mean() / np.abs(plain - original)[:, 72:].mean()
    assert 0.4 < ratio < 0.6  # half the change (128/255), give or take 8-bit rounding
    cli("run", photo, "-o", tmp_path / "half.png", "--mask", tmp_path / "m.png", "--set", "output.mask_feather=0.05",
        *QUICK)
    step = np.abs(np.diff(_pixels(tmp_path / "half.png") - original, axis=1))  # how fast the change switches on
    hard = np.abs(np.diff(plain - original, axis=1))
    assert step[:, 60:68].max() <= hard.max()  # the edge switches on no faster than the dream's own detail


def test_the_mask_is_in_the_provenance_and_from_repeats_it(cli, tmp_path):
    photo = tmp_path / "p.png"
    _photo(photo, 404)
    _half_mask(tmp_path / "m.png")
    out = tmp_path / "masked.png"
    assert cli("run", photo, "-o", out, "--mask", tmp_path / "m.png", *QUICK).returncode == 0
    meta = read_metadata(out)
    assert meta["settings"]["output"]["mask"] == str((tmp_path / "m.png").resolve())
    assert len(meta["mask_sha256"]) == 64
    again = tmp_path / "again.png"
    assert cli("run", photo, "-o", again, "--from", out).returncode == 0
    assert np.array_equal(_pixels(again), _pixels(out))
    plain = tmp_path / "plain.png"
    cli("run", photo, "-o", plain, *QUICK)
    assert "mask" not in read_metadata(plain)["settings"]["output"]  # settings without a mask hash as before


def test_a_folder_run_redoes_outputs_when_the_mask_changes(cli, tmp_path):
    (tmp_path / "in").mkdir()
    for i in range(2):
        _photo(tmp_path / "in" / f"{i}.png", 500 + i, size=(48, 36))
    _half_mask(tmp_path / "m.png")
    argv = ("run", tmp_path / "in", "-o", tmp_path / "out", "--mask", tmp_path / "m.png", *FAST)

    def statuses():
        return sorted(f["status"] for f in json.loads((tmp_path / "out" / "report.json").read_text())["files"])

    assert cli(*argv).returncode == 0 and statuses() == ["done", "done"]
    assert cli(*argv).returncode == 0 and statuses() == ["skipped", "skipped"]
    _half_mask(tmp_path / "m.png", grey=200)  # the same path, another mask
    assert cli(*argv).returncode == 0 and statuses() == ["done", "done"]


def test_a_bad_mask_is_a_usage_error_before_any_work(cli, tmp_path):
    import os

    photo = tmp_path / "p.png"
    _photo(photo, 606, size=(32, 24))
    (tmp_path / "notes.png").write_text("not an image")
    os.mkfifo(tmp_path / "fifo.png")
    for mask, words in [("missing.png", "does not exist"), ("notes.png", "notes.png"),
                        ("fifo.png", "not a regular file")]:
        run = cli("run", photo, "-o", tmp_path / "o.png", "--mask", tmp_path / mask)
        run.one_line_error(2, "mask", words)
    cli("run", photo, "-o", tmp_path / "o.png", "--set", "output.mask_feather=2").one_line_error(2, "mask_feather")


def test_the_api_takes_a_mask(tmp_path):
    import dreamfx

    original = _photo(tmp_path / "p.png", 707, size=(64, 48))
    _half_mask(tmp_path / "m.png")
    result = dreamfx.dream(str(tmp_path / "p.png"), mask=str(tmp_path / "m.png"), steps=4, rounds=1)
    out = np.asarray(result.to_pil().convert("L"), np.float32) / 255
    assert np.abs(out - original)[:, :26].max() <= 0.5 / 255


def test_zoom_and_video_keep_the_photo_under_black(cli, tmp_path):
    """The dreamer applies the mask, so the animations keep it too: zoom's first frame, and
    every frame of a video dreamed independently (--blend 0), are the input under black."""
    original = _photo(tmp_path / "p.png", 808, size=(64, 48))
    _half_mask(tmp_path / "m.png")
    run = cli("zoom", tmp_path / "p.png", "--frames", 2, "--mask", tmp_path / "m.png", "-o", f"{tmp_path / 'z'}/",
              *QUICK)
    assert run.returncode == 0, run.stderr
    first = _pixels(tmp_path / "z" / "frame_00000.png")
    assert np.abs(first - original)[:, :26].max() <= 0.5 / 255
    assert np.abs(first - original)[:, 38:].mean() > 5 / 255
    clip = tmp_path / "clip"
    clip.mkdir()
    frames = [original[:, i:i + 56] for i in range(3)]
    for i, frame in enumerate(frames):
        Image.fromarray((frame * 255).round().astype(np.uint8)).save(clip / f"f{i}.png")
    run = cli("video", clip, "--blend", 0, "--mask", tmp_path / "m.png", "-o", f"{tmp_path / 'v'}/", *QUICK)
    assert run.returncode == 0, run.stderr
    for i, frame in enumerate(frames):
        out = _pixels(tmp_path / "v" / f"frame_{i:05d}.png")
        assert np.abs(out - frame)[:, :22].max() <= 0.5 / 255, i
