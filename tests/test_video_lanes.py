"""Video that holds together (issue 27): shots restart the chain, lanes of shots give the same
frames as one lane, a resume is exact, report.json lists the shots and never replaces a
user's file, and a static scene does not drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamfx.tools.clips import generated_photo, save_clip

from .test_video_shots import multi_shot

TINY = ("optimizer.steps=2", "loop.rounds=1")
LENGTHS = [3, 4, 2]


def _gray(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), np.float32) / 255.0


def _video(host, clip: Path, out: Path, dreamers: list, **options):
    from dreamfx.engine.dreamer import Dreamer
    from dreamfx.runs.video import VideoRequest, run_video

    def make(settings):
        if not dreamers:
            dreamers.append(Dreamer(host, settings, "cpu"))
        return dreamers[0]

    return run_video(VideoRequest(str(clip), str(out) + "/", overrides=TINY, **options), host, make)


def _frames(folder: Path) -> list[np.ndarray]:
    return [_gray(p) for p in sorted(folder.glob("frame_*.png"))]


@pytest.fixture(scope="module")
def shot_clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shots") / "clip"
    save_clip(folder, multi_shot(LENGTHS, (48, 36), seed=9))
    return folder


def test_shots_restart_the_chain_and_lanes_change_no_pixel(shot_clip, tmp_path, host):
    pytest.importorskip("cv2")
    import json

    dreamers: list = []
    one = _video(host, shot_clip, tmp_path / "one", dreamers, lanes=1)
    three = _video(host, shot_clip, tmp_path / "three", dreamers, lanes=3)
    fresh = _video(host, shot_clip, tmp_path / "fresh", dreamers, blend=0.0)
    assert one.dreamed == three.dreamed == fresh.dreamed == sum(LENGTHS)
    a, b, c = _frames(tmp_path / "one"), _frames(tmp_path / "three"), _frames(tmp_path / "fresh")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # a frame's dream does not depend on its batch
    starts = [0, 3, 7]
    for i in range(sum(LENGTHS)):  # a shot's first frame is the dream of the frame alone; the others carry
        assert np.array_equal(a[i], c[i]) == (i in starts), i
    report = json.loads((tmp_path / "three" / "report.json").read_text())
    assert report["shots"] == [{"first": 0, "last": 2}, {"first": 3, "last": 6}, {"first": 7, "last": 8}]
    assert report["lanes"] == 3 and report["coherence"]["pairs"] == sum(LENGTHS) - 3  # no pair across a cut
    assert "3 shots: 0-2, 3-6, 7-8" in three.note


def test_a_resume_with_lanes_gives_the_same_frames(shot_clip, tmp_path, host):
    pytest.importorskip("cv2")
    dreamers: list = []
    out = tmp_path / "out"
    _video(host, shot_clip, out, dreamers, lanes=3)
    before = _frames(out)
    for index in (2, 5, 6):  # as if Ctrl-C had stopped each lane part-way
        (out / f"frame_{index:05d}.png").unlink()
    again = _video(host, shot_clip, out, dreamers, lanes=2)
    assert again.dreamed == 3 and again.reused == sum(LENGTHS) - 3
    assert all(np.array_equal(x, y) for x, y in zip(before, _frames(out)))


def test_the_report_goes_beside_an_mp4_and_a_users_file_is_never_replaced(shot_clip, tmp_path, cli):
    pytest.importorskip("cv2")
    pytest.importorskip("av")
    from dreamfx.runs.video import report_path

    assert report_path(tmp_path / "v.mp4", "MP4") == tmp_path / "v.mp4.report.json"
    assert report_path(tmp_path / "o", None) == tmp_path / "o" / "report.json"
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("my notes")
    run = cli("video", shot_clip, "-o", str(out) + "/", "--set", TINY[0], "--set", TINY[1], "-q")
    assert run.returncode != 0 and "not written by dreamfx" in run.stderr
    assert (out / "report.json").read_text() == "my notes" and not list(out.glob("frame_*"))
    ok = cli("video", shot_clip, "-o", tmp_path / "v.mp4", "--set", TINY[0], "--set", TINY[1])
    assert ok.returncode == 0, ok.stderr
    assert "3 shots: 0-2, 3-6, 7-8" in " ".join(ok.stdout.split())
    assert (tmp_path / "v.mp4.report.json").is_file()


def test_a_static_scene_keeps_its_brightness_and_contrast_for_300_frames(tmp_path, host):
    """Issue 27: frame 300's mean within 2/255 of frame 10's (and the contrast with it): the
    blended start and the temporal pull feed each dream back, which must not brighten."""
    pytest.importorskip("cv2")
    still = generated_photo(11, (32, 24))
    save_clip(tmp_path / "clip", [still] * 301)
    dreamers: list = []
    run = _video(host, tmp_path / "clip", tmp_path / "out", dreamers)
    assert run.dreamed == 301 and run.note.startswith("1 shot:")
    f10, f300 = _gray(tmp_path / "out" / "frame_00010.png"), _gray(tmp_path / "out" / "frame_00300.png")
    print("mean", f10.mean(), f300.mean(), "std", f10.std(), f300.std())
    assert abs(f300.mean() - f10.mean()) <= 2 / 255
    assert abs(f300.std() - f10.std()) <= 2 / 255
