"""What ``run`` promises, ``zoom`` and ``video`` keep (issue 24): every frame held to the pixel
limit before it is decoded (row 4), memory that does not grow with the frames (rows 5, 6),
``-o .`` as a folder of frames (15), a full disk or a read-only folder as one line (16), a
refusal that leaves nothing behind (19), GIF frame durations browsers honour (21)."""

from __future__ import annotations

import errno
import struct
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from .conftest import FAST, SAMPLE, photo
from .test_animation import pan_clip

TINY = ("--set", "optimizer.steps=1", "--set", "loop.rounds=1")


def _gif_screen(path: Path, width: int, height: int, frames: int = 2) -> Path:
    """A GIF of ``frames`` 1x1 images on a ``width`` x ``height`` screen: a few bytes that a
    decoder turns into whole screens (a decompression bomb)."""
    data = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes([0, 0, 0, 255, 255, 255])
    data += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for _ in range(frames):
        data += b"\x21\xf9\x04\x00\x0a\x00\x00\x00" + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        data += b"\x02\x02\x44\x01\x00"
    path.write_bytes(data + b";")
    return path


def _mp4(path: Path, frames: list[Path]) -> Path:
    pytest.importorskip("av")
    from dreamfx.tools.clips import write_mp4

    return write_mp4(path, frames, fps=12)


# -- row 4: the pixel limit holds for every frame of a clip ---------------------------------------

def test_a_clip_whose_frames_exceed_the_pixel_limit_is_refused_before_they_are_decoded(tmp_path, cli):
    """A 100-byte GIF whose two frames are 14000x14000 screens: refused from the video's
    header in a moment (it once decoded 1.2 GB of frames and went on to dream them)."""
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    bomb = _gif_screen(tmp_path / "bomb.gif", 14000, 14000)
    began = time.perf_counter()
    line = cli("video", bomb, "-o", str(tmp_path / "out") + "/", *TINY).one_line_error(
        1, f"input video {bomb} is 14000x14000, 196,000,000 pixels, more than the limit of 178,956,970",
        "decompression bomb")
    assert time.perf_counter() - began < 10, line
    assert not (tmp_path / "out").exists()


def test_the_pixel_limit_holds_for_a_video_and_a_folder_of_frames(tmp_path, host):
    """``max_pixels`` (``--max-pixels``) bounds every frame, in a video file as in a folder."""
    pytest.importorskip("cv2")
    from dreamfx.errors import ImageError
    from dreamfx.runs.video import VideoRequest, run_video

    frames = pan_clip(tmp_path / "clip", 2, (64, 48))
    clips = [tmp_path / "clip", _mp4(tmp_path / "clip.mp4", frames)]
    for clip in clips:
        request = VideoRequest(str(clip), str(tmp_path / f"out-{clip.suffix}") + "/", max_pixels=3000)
        with pytest.raises(ImageError, match="more than the limit of 3,000"):
            run_video(request, host, lambda settings: pytest.fail("no dream after a refusal"))
        assert not (tmp_path / f"out-{clip.suffix}").exists()


# -- rows 5 and 6: memory does not grow with the frames --------------------------------------------

@pytest.mark.slow
def test_video_memory_does_not_grow_with_the_frames(tmp_path, host):
    """Python-side peak memory (numpy's arrays are traced) of a 6-frame and a 30-frame clip of
    96x72: the input frames, flows and dreams held are a window, not the clip (the clip
    held whole grew by about 130 KB a frame here: 3 MB; benchmarks/animation_memory.py
    measures whole processes)."""
    import tracemalloc

    pytest.importorskip("cv2")
    from dreamfx.engine.dreamer import Dreamer
    from dreamfx.runs.video import VideoRequest, run_video

    made: list[Dreamer] = []

    def make(settings):
        if not made:
            made.append(Dreamer(host, settings, "cpu"))
        return made[0]

    overrides = ("optimizer.steps=1", "loop.rounds=1")
    for count in (2, 6, 30):
        pan_clip(tmp_path / f"clip{count}", count, (96, 72))
    run_video(VideoRequest(str(tmp_path / "clip2"), str(tmp_path / "out2") + "/", overrides=overrides), host, make)
    peaks = {}
    for count in (6, 30):
        tracemalloc.start()
        try:
            run = run_video(VideoRequest(str(tmp_path / f"clip{count}"), str(tmp_path / f"out{count}") + "/",
                                         overrides=overrides), host, make)
            peaks[count] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert run.dreamed == count and run.metrics["pairs"] == count - 1
    frame = 96 * 72 * (3 + 4 + 12)  # an input frame, a dream's luma and a flow with its mask
    assert peaks[30] - peaks[6] < 8 * frame, peaks


def _frames(count: int, size: tuple[int, int], alive: list[weakref.ref], mode: str = "L"):
    """``count`` different frames, made one at a time; ``alive`` gets a weak reference to each."""
    w, h = size
    noise = Image.fromarray((np.random.default_rng(0).random((h, w + count)) * 255).astype(np.uint8))
    texture = noise.filter(ImageFilter.GaussianBlur(1)).convert(mode)
    for i in range(count):
        frame = texture.crop((i, 0, i + w, h))
        alive.append(weakref.ref(frame))
        yield frame


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_gif_and_webp_are_written_a_frame_at_a_time(fmt, tmp_path):
    """The writer takes frames from an iterator and lets each go before the next: at most
    two of the frames it was handed are alive at any time (all 12 were, when Pillow's
    animated writer was handed the list)."""
    from dreamfx.runs.frames import write_animation

    alive: list[weakref.ref] = []
    most = 0

    def watched():
        nonlocal most
        for frame in _frames(12, (40, 30), alive, "RGB"):
            most = max(most, sum(ref() is not None for ref in alive))
            yield frame

    out = tmp_path / f"a.{fmt.lower()}"
    write_animation(out, fmt, watched(), 12.0, {"dreamfx_version": "test"})
    assert most <= 2, most
    with Image.open(out) as img:
        assert img.n_frames == 12 and img.size == (40, 30) and img.is_animated


def test_the_gif_shows_the_frames_pillow_would_write(tmp_path):
    """Frame by frame, the streamed GIF decodes to the same pixels as Pillow's own animated
    GIF of the same frames (gray and colour), loops, and keeps each frame's duration."""
    from dreamfx.runs.frames import write_animation

    for mode in ("L", "RGB"):
        frames = list(_frames(5, (37, 29), [], mode))
        ours, pillows = tmp_path / f"ours-{mode}.gif", tmp_path / f"pillow-{mode}.gif"
        write_animation(ours, "GIF", iter(frames), 10.0, {"dreamfx_version": "test"})
        frames[0].save(pillows, save_all=True, append_images=frames[1:], duration=100, loop=0, optimize=False)
        with Image.open(ours) as a, Image.open(pillows) as b:
            assert a.n_frames == b.n_frames == 5 and a.info["loop"] == 0
            for i in range(5):
                a.seek(i)
                b.seek(i)
                assert a.info["duration"] == 100
                assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))), (mode, i)
                if mode == "L":  # 256 grays: the frame itself
                    assert np.array_equal(np.asarray(a.convert("L")), np.asarray(frames[i])), i


# -- row 15: -o . is a folder of frames --------------------------------------------------------------

def test_dot_is_the_folder_of_frames(tmp_path, cli):
    pytest.importorskip("cv2")
    photo(tmp_path / "photo.png", (40, 30))
    pan_clip(tmp_path / "clip", 2, (32, 24))
    for out in (".", "./"):
        work = tmp_path / f"zoom{len(out)}"
        work.mkdir()
        run = cli("zoom", tmp_path / "photo.png", "--frames", "2", *TINY, "-q", "-o", out, cwd=work)
        assert run.returncode == 0, run.stderr
        assert sorted(p.name for p in work.iterdir()) == ["frame_00000.png", "frame_00001.png"]
    work = tmp_path / "video"
    work.mkdir()
    run = cli("video", tmp_path / "clip", *TINY, "-q", "-o", ".", cwd=work)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in work.iterdir()) == ["frame_00000.png", "frame_00001.png", "report.json"]


# -- row 16: a full disk or a read-only folder is one line ------------------------------------------

def _failing_writes(monkeypatch, code: int) -> None:
    import dreamfx.io.writing as writing

    def full(path, data):
        raise OSError(code, "No space left on device" if code == errno.ENOSPC else "Read-only file system")

    monkeypatch.setattr(writing, "write_bytes_atomic", full)


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "No space left on device"),
                                         (errno.EROFS, "Read-only file system")])
def test_a_frame_that_cannot_be_written_is_one_line(code, words, tmp_path, cli, monkeypatch):
    pytest.importorskip("cv2")
    pan_clip(tmp_path / "clip", 3, (32, 24))
    _failing_writes(monkeypatch, code)
    line = cli("zoom", SAMPLE, "--frames", "2", *TINY, "-o", str(tmp_path / "z") + "/").one_line_error(
        1, "cannot write frame", words)
    assert "frame_00000.png" in line
    line = cli("video", tmp_path / "clip", *TINY, "-o", str(tmp_path / "v") + "/").one_line_error(
        1, "cannot write frame", words)
    assert "frame_00000.png" in line
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("fmt", ["gif", "webp", "mp4"])
def test_an_animation_that_cannot_be_written_is_one_line(fmt, tmp_path, cli, monkeypatch):
    """The frames are written; the animated file is not (a full disk as it is encoded): one
    line, exit 1, no temporary file left, and a rerun writes it from the frames."""
    if fmt == "mp4":
        pytest.importorskip("av")
    import dreamfx.runs.encoders as encoders

    def full(fh, *args):
        fh.write(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(encoders, {"gif": "_write_gif", "webp": "_write_webp", "mp4": "_encode_mp4"}[fmt],
                        full if fmt != "mp4" else lambda av, fh, *args: full(fh))
    out = tmp_path / f"z.{fmt}"
    photo(tmp_path / "photo.png", (40, 30))
    cli("zoom", tmp_path / "photo.png", "--frames", "2", *TINY, "-o", out).one_line_error(
        1, f"cannot write {out}", "No space left on device")
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    monkeypatch.undo()
    again = cli("zoom", tmp_path / "photo.png", "--frames", "2", *TINY, "-o", out)
    assert again.returncode == 0 and "2 up to date" in again.stdout and out.exists(), again.stdout


# -- row 19: a refusal leaves nothing behind --------------------------------------------------------

def test_a_refused_run_leaves_no_folder_behind(tmp_path, cli, host):
    pytest.importorskip("cv2")
    from dreamfx.errors import SettingsError
    from dreamfx.runs.video import VideoRequest, run_video
    from dreamfx.runs.zoom import ZoomRequest, run_zoom

    pan_clip(tmp_path / "clip", 2, (32, 24))
    cli("video", tmp_path / "clip", "-o", tmp_path / "new" / "x.gif").one_line_error(2, "writes .mp4 or a folder")
    assert not (tmp_path / "new").exists()

    def refuse(settings):
        raise SettingsError("refused after planning")

    for request, run in ((ZoomRequest(str(SAMPLE), str(tmp_path / "a" / "b" / "z.gif"), 2), run_zoom),
                         (VideoRequest(str(tmp_path / "clip"), str(tmp_path / "c" / "d") + "/"), run_video)):
        with pytest.raises(SettingsError, match="refused after planning"):
            run(request, host, refuse)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


# -- row 21: GIF durations browsers honour ------------------------------------------------------------

def test_frame_durations_are_ones_a_gif_can_hold_and_browsers_honour():
    from dreamfx.runs.encoders import duration_note, frame_duration

    assert [frame_duration("GIF", fps) for fps in (240, 100, 50, 30, 12, 10, 0.1)] == \
        [20, 20, 20, 30, 80, 100, 10000]
    assert [frame_duration("WEBP", fps) for fps in (240, 30, 12)] == [20, 33, 83]
    assert duration_note("GIF", 10) is None and duration_note("MP4", 240) is None
    assert "50 fps, not 240" in duration_note("GIF", 240)


def test_a_gif_at_240_fps_has_durations_and_says_what_it_plays_at(tmp_path, cli):
    photo(tmp_path / "photo.png", (40, 30))
    run = cli("zoom", tmp_path / "photo.png", "--frames", "2", "--fps", "240", *FAST, "-o", tmp_path / "z.gif")
    assert run.returncode == 0, run.stderr
    assert "plays at 50 fps, not 240" in " ".join(run.stdout.split())
    with Image.open(tmp_path / "z.gif") as img:
        durations = []
        for i in range(img.n_frames):
            img.seek(i)
            durations.append(img.info.get("duration"))
    assert durations == [20, 20]
