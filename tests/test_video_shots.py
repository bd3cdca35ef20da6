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
