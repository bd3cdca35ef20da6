"""Seamless zoom loops (issue 28, item 3): ``dreamfx zoom --loop`` joins its end to its start,
on photos generated here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from dreamfx.io.provenance import read_metadata

from .test_masks import _photo

QUICK = ("--set", "optimizer.steps=3", "--set", "loop.rounds=1")


def _frames(path) -> list[np.ndarray]:
    with Image.open(path) as image:
        return [np.asarray(frame.convert("L"), np.float32) for frame in ImageSequence.Iterator(image)]


@pytest.mark.parametrize("seed, count, fmt", [(901, 16, "gif"), (902, 12, "webp")])
def test_the_last_frame_leads_into_the_first(cli, tmp_path, seed, count, fmt):
    _photo(tmp_path / "p.png", seed, size=(64, 48))
    out = tmp_path / f"z.{fmt}"
    run = cli("zoom", tmp_path / "p.png", "--frames", count, "--loop", "-o", out, *QUICK)
    assert run.returncode == 0, run.stderr
    frames = _frames(out)
    steps = [np.abs(b - a).mean() for a, b in zip(frames, frames[1:])]
    seam = np.abs(frames[0] - frames[-1]).mean()
    assert seam <= np.median(steps), (seam, steps)
    meta = read_metadata(out)
    assert meta["loop"] is True and len(frames) == count - meta["loop_start"]


def test_loop_on_and_off_rewrites_the_file_and_reuses_the_frames(cli, tmp_path):
    _photo(tmp_path / "p.png", 903, size=(48, 36))
    out = tmp_path / "z.gif"
    argv = ("zoom", tmp_path / "p.png", "--frames", 8, "-o", out, *QUICK)
    assert cli(*argv).returncode == 0 and len(_frames(out)) == 8
    looped = cli(*argv, "--loop")
    assert looped.returncode == 0 and len(_frames(out)) < 8 and read_metadata(out)["loop"] is True
    assert all(".frames/" not in str(p) for p in looped.written if p.suffix == ".png")  # no frame dreamed again
    assert cli(*argv).returncode == 0 and len(_frames(out)) == 8 and "loop" not in read_metadata(out)


@pytest.mark.parametrize("argv, words", [
    (("--frames", "5", "--loop", "-o", "z.gif"), "--loop needs at least 8 frames"),
    (("--frames", "9", "--loop", "-o", "frames/"), "a folder of frames has no end to join"),
])
def test_loop_refusals(cli, tmp_path, argv, words):
    _photo(tmp_path / "p.png", 904, size=(32, 24))
    run = cli("zoom", tmp_path / "p.png", *argv, cwd=tmp_path)
    run.one_line_error(2, words)
    assert run.written == []
