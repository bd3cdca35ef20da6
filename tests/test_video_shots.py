"""Shots of a video (issue 27): hard cuts between generated photos found with no miss and no
false cut, a fast pan left in one piece, lanes of whole shots, and the shots in the summary
and report.json. The clips are dreamfx.tools.clips's (the benchmarks' too)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dreamfx.tools.clips import generated_photo, pan_frames
from .conftest import SAMPLE


def multi_shot(lengths: list[int], size: tuple[int, int], seed: int = 0, step: float = 2.0) -> list[Image.Image]:
    """Shots of ``lengths`` frames, each a pan over another generated photo: hard cuts between."""
    frames: list[Image.Image] = []
    for k, n in enumerate(lengths):
        frames += pan_frames(generated_photo(seed * 100 + k), n, size, step * (1 + k % 3), zoom=1.0 + 0.01 * (k % 2))
    return frames


def _shots_of(frames: list[Image.Image]) -> list[tuple[int, int]]:
    from dreamfx.runs.shots import ContentValues, find_shots

    values = ContentValues()
    for frame in frames:
        values.add(np.asarray(frame.convert("RGB")))
    return [(s.first, s.last) for s in find_shots(values.values)]


def _expected(lengths: list[int]) -> list[tuple[int, int]]:
    starts = np.cumsum([0, *lengths])
    return [(int(a), int(b) - 1) for a, b in zip(starts[:-1], starts[1:])]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_hard_cuts_between_generated_photos_are_found_with_no_miss_and_no_false_cut(seed):
    lengths = list(np.random.default_rng(seed).integers(2, 9, 6))
    frames = multi_shot(lengths, (96, 72), seed)
    assert _shots_of(frames) == _expected(lengths)


def test_gray_clips_are_cut_by_their_luma():
    lengths = [4, 3, 5]
    frames = [f.convert("L").convert("RGB") for f in multi_shot(lengths, (96, 72), 7)]
    assert _shots_of(frames) == _expected(lengths)


@pytest.mark.parametrize("source", ["generated", "bundled"])
def test_a_fast_pan_with_strong_motion_is_one_shot(source):
    """6 pixels a frame (a sixteenth of the frame's width: 20 pixels at 320 wide) and a 2% zoom per frame."""
    photo = generated_photo(42) if source == "generated" else Image.open(SAMPLE).convert("RGB")
    frames = pan_frames(photo, 16, (96, 72), 6.0, zoom=1.02)
    assert _shots_of(frames) == [(0, 15)]


def test_lanes_hold_whole_consecutive_shots_and_the_longest_is_as_short_as_can_be():
    from dreamfx.runs.shots import Shot, lane_ranges

    shots = [Shot(0, 5), Shot(6, 17), Shot(18, 25), Shot(26, 31)]
    lanes = lane_ranges(shots, 8)
    assert [s for lane in lanes for s in lane] == shots and len(lanes) == 4
    two = lane_ranges(shots, 2)
    assert [sum(s.count for s in lane) for lane in two] == [18, 14]
    assert lane_ranges([Shot(0, 9)], 16) == [[Shot(0, 9)]]


def test_a_batch_keeps_its_width_as_lanes_end_unless_a_long_tail_is_left():
    """A new batch shape costs about ten steps (round-by-round dreams and a trace), so the
    batch narrows only for the last NARROW_AFTER frames or more."""
    from dreamfx.runs.chain import BatchWidth, NARROW_AFTER

    short = BatchWidth(8)  # issue 27's S1: 8 shots of 6-12 frames
    assert [short(8, 11), short(6, 5), short(4, 3), short(2, 2), short(1, 1)] == [8, 8, 8, 8, 8]
    long = BatchWidth(8)
    assert long(8, NARROW_AFTER + 20) == 8
    assert long(3, NARROW_AFTER + 5) == 4  # a power of two: few shapes
    assert long(3, NARROW_AFTER - 1) == 4  # never wider again
    assert long(1, NARROW_AFTER) == 1 and long(1, 3) == 1
    assert BatchWidth(5)(5, 100) == 5


def _content_value_shift_by_shift(before: np.ndarray, after: np.ndarray) -> float:
    """PySceneDetect's content value at each shift, one shift at a time (the reference)."""
    from dreamfx.runs.shots import GRAY_SATURATION, SHIFT

    gray = before[..., 1].mean() < GRAY_SATURATION and after[..., 1].mean() < GRAY_SATURATION
    h, w = before.shape[:2]
    r = min(SHIFT, h // 4, w // 4)
    best = np.inf
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            d = np.abs(after[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
                       - before[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]).astype(np.float64)
            hue = np.minimum(d[..., 0], 256.0 - d[..., 0])
            value = d[..., 2].mean() if gray else (hue.mean() + d[..., 1].mean() + d[..., 2].mean()) / 3.0
            best = min(best, value)
    return float(best)


@pytest.mark.parametrize("seed", range(6))
def test_the_content_value_is_the_smallest_over_shifts(seed):
    from dreamfx.runs.shots import content_value, thumbnail

    rng = np.random.default_rng(seed)
    size = (int(rng.integers(16, 200)), int(rng.integers(16, 150)))
    a, b = pan_frames(generated_photo(3000 + seed), 2, size, float(rng.integers(0, 12)))
    if seed % 2:
        b = generated_photo(3100 + seed).resize(size)  # a cut
    if seed % 3 == 0:
        a, b = a.convert("L"), b.convert("L")  # gray: value alone
    ta, tb = (thumbnail(np.asarray(f.convert("RGB"))) for f in (a, b))
    # float32 sums in another order than float64's: a few ulps of a value of at most 255
    assert content_value(ta, tb) == pytest.approx(_content_value_shift_by_shift(ta, tb), abs=1e-3)


def test_planning_names_the_first_bad_frame_in_order(tmp_path):
    """Frames are planned in threads; the error is the first bad frame's, as one at a time."""
    from dreamfx.errors import ImageError
    from dreamfx.runs.clips import scan_clip
    from dreamfx.tools.clips import save_clip

    folder = tmp_path / "clip"
    save_clip(folder, pan_frames(generated_photo(5), 24, (40, 30), 1.0))
    names = sorted(p.name for p in folder.iterdir())
    (folder / names[9]).write_bytes(b"")
    (folder / names[17]).write_bytes(b"not an image")
    with pytest.raises(ImageError, match=names[9]):
        scan_clip(folder)
    (folder / names[9]).unlink()
    with pytest.raises(ImageError, match=names[17]):
        scan_clip(folder)
    (folder / names[17]).unlink()
    generated_photo(6).resize((41, 30)).save(folder / names[20])  # another size
    with pytest.raises(ImageError, match=f"{names[20]} is 41x30"):
        scan_clip(folder)


def test_a_folders_frames_are_the_ones_planned_held_or_read_again(tmp_path, monkeypatch):
    """Planning keeps a folder's first frames (up to HELD_BYTES) for the run: a frame file
    changed after planning gives the frame planned when it was held, and is refused (the
    frames dreamed are complete, run again) when it must be read again."""
    import numpy as np

    from dreamfx.errors import ImageError
    from dreamfx.runs import clips
    from dreamfx.tools.clips import save_clip

    folder = tmp_path / "clip"
    frames = pan_frames(generated_photo(8), 5, (40, 30), 1.0)
    save_clip(folder, frames)
    names = sorted(folder.iterdir())
    planned = clips.scan_clip(folder)
    assert sorted(planned.held) == [0, 1, 2, 3, 4]
    generated_photo(9).resize((40, 30)).save(names[2])  # changed after planning
    got = list(planned.frames(0))
    assert np.array_equal(got[2], np.asarray(frames[2].convert("RGB"))) and not planned.held  # handed out once
    monkeypatch.setattr(clips, "HELD_BYTES", 40 * 30 * 3 * 2)  # two frames held
    frames[2].save(names[2])
    again = clips.scan_clip(folder)
    assert sorted(again.held) == [0, 1]
    generated_photo(9).resize((40, 30)).save(names[3])
    with pytest.raises(ImageError, match="changed while it was dreamed"):
        list(again.frames(0))
