"""What ``run`` promises, ``atlas``, ``oip``, ``info`` and the API keep (issue 24): bounded
work, one line for every failure, no traceback, nothing left behind. (Each command's write
plan is tests/test_writes.py; zoom and video are tests/test_animation.py; clusters
tests/test_cluster.py; plugins that hang or exit tests/test_plugins.py and
tests/test_component_failures.py.)"""

from __future__ import annotations

import errno
import json
import os
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from dreamfx.errors import ImageError, OutputError, SettingsError

from .conftest import FAST, photo

QUICK_OIP = ("--rounds", "1", "--set", "optimizer.steps=1")


@pytest.mark.parametrize("argv, words", [
    (("-n", "20000"), ("--count 20000", "at most 1024")),
    (("--rounds", "5000"), ("--rounds 5000", "at most 1000")),
])
def test_oip_bounds_its_batch_and_its_rounds(cli, tmp_path, argv, words):
    """Row 7: ``oip -n 20000`` grew past 6 GB; now a usage error before any work."""
    run = cli("oip", *argv, "-o", tmp_path / "o.png")
    run.one_line_error(2, *words)
    assert run.written == []


def test_a_fifo_is_never_opened_as_a_preset_or_an_output_to_repeat(cli, tmp_path):
    """Row 14: a FIFO given as --preset hung; presets and --from files are opened under the
    regular-file rule of images (a usage error, exit 2)."""
    src = photo(tmp_path / "p.png")
    fifo = tmp_path / "preset.toml"
    os.mkfifo(fifo)
    cli("run", src, "--preset", fifo, "-o", tmp_path / "o.png").one_line_error(2, "not a regular file (a FIFO)")
    cli("oip", "--preset", fifo, "-o", tmp_path / "o.png").one_line_error(2, "not a regular file (a FIFO)")
    made = tmp_path / "made.jpg"
    os.mkfifo(made.with_name("made.jpg.dreamfx.json"))
    made.write_bytes(b"x")
    run = cli("run", src, "--from", made, "-o", tmp_path / "o.png")
    assert run.returncode == 2 and "not a regular file" in run.stderr and "Traceback" not in run.stderr, run.stderr


def _disk_full(monkeypatch):
    """Every output write fails as on a full disk, after the planning checks passed."""
    import dreamfx.io.writing as writing

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writing.os, "fsync", fsync)


@pytest.mark.parametrize("command", ["atlas", "oip"])
def test_a_full_disk_is_one_line_and_leaves_nothing(cli, tmp_path, monkeypatch, command):
    """Row 16: a full disk in ``atlas`` (and a failed write in ``oip``) was a traceback."""
    src = photo(tmp_path / "p.png")
    out = tmp_path / "out" / "sheet.png"
    _disk_full(monkeypatch)
    argv = (src, "--maps", "0-1", *FAST) if command == "atlas" else QUICK_OIP
    run = cli(command, *argv, "-o", out)
    run.one_line_error(1, f"cannot write {out}: No space left on device")
    assert not out.exists() and [p.name for p in out.parent.iterdir()] == []  # no temporary file left


def test_a_failed_write_is_an_output_error_that_is_still_an_oserror(tmp_path, monkeypatch):
    from dreamfx.io.writing import write_image_atomic

    _disk_full(monkeypatch)
    with pytest.raises(OutputError) as caught:
        write_image_atomic(tmp_path / "x.png", Image.new("L", (4, 4)))
    assert isinstance(caught.value, OSError) and isinstance(caught.value, ImageError)
    assert caught.value.errno == errno.ENOSPC and str(caught.value) == (
        f"cannot write {tmp_path / 'x.png'}: No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_commands_that_replace_the_map_check_only_the_maps_they_dream(cli, tmp_path):
    """Row 18: ``--layer conv1`` with atlas's maps, or oip's --all, was refused because the
    preset's map 56 is not in conv1, although the command replaces that map."""
    src = photo(tmp_path / "p.png")
    run = cli("atlas", src, "--layer", "conv1", "--maps", "0-3", "-o", tmp_path / "a.png", *FAST)
    assert run.returncode == 0, run.stderr
    run = cli("oip", "--layer", "conv1", "--all", "-o", tmp_path / "o.png", *QUICK_OIP)
    assert run.returncode == 0, run.stderr
    cli("atlas", src, "--layer", "conv1", "--maps", "40", "-o", tmp_path / "b.png").one_line_error(
        2, "map 40 does not exist: this layer has 32 maps (0 to 31)")


@pytest.mark.parametrize("image, words", [
    (np.zeros((0, 0)), "the image has no pixels"),
    (np.zeros((5, 0, 3)), "the image has no pixels"),
    (np.zeros(7), "an image array is (H, W)"),
    (np.zeros((6, 6, 2)), "got shape (6, 6, 2)"),
    (np.array([["a", "b"]]), "holds numbers"),
])
def test_the_api_names_a_bad_array_instead_of_blaming_a_plugin(image, words):
    """Row 20: ``dream(np.zeros((0, 0)))`` blamed the reinject plugin."""
    import dreamfx

    with pytest.raises(ImageError) as caught:
        dreamfx.dream(image)
    assert words in str(caught.value) and "plugin" not in str(caught.value)


@pytest.mark.parametrize("maps, words", [
    (["a"], "'a' is not a map index"),
    ([1.7], "1.7 is not a map index"),
    ([True], "True is not a map index"),
])
def test_the_api_atlas_refuses_maps_that_are_not_whole_numbers(small_photo, maps, words):
    """Row 20: ``atlas(maps=['a'])`` raised a raw ValueError; ``maps=[1.7]`` became map 1."""
    import dreamfx

    with pytest.raises(SettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
        dreamfx.atlas(small_photo[:32, :32], maps=maps)


def test_the_api_atlas_takes_numpy_and_digit_strings(small_photo):
    from dreamfx.runs.atlas import parse_maps

    assert parse_maps([np.int64(3), "7", 3], 128) == [3, 7]


def _png_with_chunk(path, text: bytes, compressed: bool = False) -> None:
    info = PngImagePlugin.PngInfo()
    if compressed:
        info.add_text("dreamfx", text.decode("latin-1"), zip=True)
    else:
        info.add_text("dreamfx", text.decode("latin-1"))
    Image.new("L", (4, 4)).save(path, pnginfo=info)


@pytest.mark.parametrize("kind, words", [
    ("none", "carries no dreamfx metadata (was it written by dreamfx?)"),
    ("list", "its dreamfx metadata is not a JSON object"),
    ("broken", "its dreamfx metadata is not valid JSON"),
    ("large", "its metadata is larger than 1024 KiB"),
    ("bomb", "its metadata is larger than 1024 KiB"),
])
def test_info_says_why_it_cannot_show_metadata(cli, tmp_path, kind, words):
    """Row 21: ``info`` said "carries no dreamfx metadata" for metadata too large, a bomb,
    or not an object."""
    path = tmp_path / "x.png"
    if kind == "none":
        Image.new("L", (4, 4)).save(path)
    elif kind == "list":
        _png_with_chunk(path, b"[1, 2]")
    elif kind == "broken":
        _png_with_chunk(path, b"{not json")
    elif kind == "large":
        _png_with_chunk(path, json.dumps({"a": "x" * (1 << 20)}).encode())
    else:
        _png_with_chunk(path, b"{" + b" " * (8 << 20) + b"}", compressed=True)
        assert len(zlib.compress(b" " * (8 << 20))) < path.stat().st_size + 100_000
    cli("info", path).one_line_error(1, words)


def test_atlas_names_a_file_it_will_not_replace_once(cli, tmp_path):
    """Row 21: the atlas's overwrite message repeated the name."""
    src = photo(tmp_path / "p.png")
    theirs = tmp_path / "theirs.png"
    Image.new("L", (8, 8)).save(theirs)
    line = cli("atlas", src, "-o", theirs).one_line_error(2, "was not written by dreamfx", "--force")
    assert line.count(str(theirs)) == 1, line
