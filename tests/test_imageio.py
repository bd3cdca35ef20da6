"""Reading images of many modes, atomic writes, and provenance metadata."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from dreamfx.errors import ImageError
from dreamfx.io.images import read_image
from dreamfx.io.provenance import read_metadata
from dreamfx.io.writing import write_image_atomic


def test_modes_become_gray_floats(tmp_path):
    rgb = Image.new("RGB", (10, 6), (255, 0, 0))
    rgb.save(tmp_path / "rgb.png")
    arr = read_image(tmp_path / "rgb.png")
    assert arr.shape == (6, 10) and arr.dtype == np.float32
    assert arr[0, 0] == pytest.approx(76 / 255, abs=1 / 255)  # ITU-R 601 luma of pure red

    deep = Image.fromarray(np.full((4, 5), 65535, np.uint16))
    deep.save(tmp_path / "deep.png")
    assert read_image(tmp_path / "deep.png").max() == pytest.approx(1.0)

    clear = Image.new("RGBA", (3, 3), (0, 0, 0, 0))
    clear.save(tmp_path / "clear.png")
    assert read_image(tmp_path / "clear.png").min() == pytest.approx(1.0)  # composited on white


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("L", (8, 4), 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert read_image(tmp_path / "rot.jpg").shape == (8, 4)


@pytest.mark.parametrize("content, reason", [(b"", "empty"), (b"not an image at all", "not a readable image"),
                                             (b"\x89PNG\r\n\x1a\n\x00\x00", "not a readable image")])
def test_bad_files_give_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        read_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        read_image(tmp_path / "nope.png")


def test_atomic_write_leaves_only_the_output_and_keeps_metadata(tmp_path):
    out = tmp_path / "sub" / "o.png"
    write_image_atomic(out, Image.new("L", (5, 5), 128), {"preset": "single-map", "seed": 3})
    assert sorted(os.listdir(out.parent)) == ["o.png"]
    assert read_metadata(out) == {"preset": "single-map", "seed": 3}


def test_jpeg_metadata_goes_to_a_sidecar(tmp_path):
    out = tmp_path / "o.jpg"
    write_image_atomic(out, Image.new("L", (5, 5), 128), {"seed": 1})
    assert read_metadata(out) == {"seed": 1}
    assert (tmp_path / "o.jpg.dreamfx.json").is_file()


def test_failed_encode_leaves_no_file(tmp_path, monkeypatch):
    from dreamfx.io import images

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(images.os, "replace", explode)
    with pytest.raises(OSError):
        write_image_atomic(tmp_path / "o.png", Image.new("L", (5, 5)))
    assert os.listdir(tmp_path) == []


def test_unknown_output_format(tmp_path):
    with pytest.raises(ImageError, match="unknown image format .xyz"):
        write_image_atomic(tmp_path / "o.xyz", Image.new("L", (5, 5)))
