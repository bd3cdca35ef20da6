"""Batch runs over folders: bad files, resume, interruption, colour, provenance."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamfx.imageio import read_metadata

from .conftest import SAMPLE


def dreamfx(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dreamfx", *args], capture_output=True, text=True, timeout=600, **kwargs)


def _photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    with Image.open(SAMPLE) as img:
        return img.convert("RGB").resize((width, height), Image.Resampling.LANCZOS).convert(mode)


def make_good_images(folder: Path, count: int) -> list[Path]:
    """``count`` readable images of many formats and modes, in a tree with a sub-folder."""
    makers = [
        ("png", lambda im: im),
        ("jpg", lambda im: im),
        ("tif", lambda im: im.convert("L")),
        ("bmp", lambda im: im),
        ("webp", lambda im: im),
        ("gif", lambda im: im.convert("P")),
        ("png", lambda im: im.convert("RGBA")),
        ("jpg", lambda im: im.convert("CMYK")),
        ("png", lambda im: Image.fromarray((np.asarray(im.convert("L"), np.uint16) * 257))),  # 16-bit
    ]
    paths = []
    for i in range(count):
        suffix, convert = makers[i % len(makers)]
        sub = folder / "sub" if i % 5 == 0 else folder
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"img{i:02d}.{suffix}"
        image = convert(_photo(48 + 8 * (i % 3), 36 + 8 * (i % 3)))
        if i == 1:  # EXIF orientation: stored sideways, shown upright
            exif = Image.Exif()
            exif[0x0112] = 6
            image.save(path, exif=exif)
        else:
            image.save(path)
        paths.append(path)
    return paths


def make_bad_images(folder: Path) -> dict[str, str]:
    """Eight bad inputs, mapped to a word their failure reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.png").write_bytes(b"")
    good = folder / "_tmp.png"
    _photo(64, 48).save(good)
    data = good.read_bytes()
    good.unlink()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "text.jpg").write_text("this is a text file, not a picture\n")
    (folder / "header.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    Image.new("1", (12000, 12000)).save(folder / "bomb.png")  # 144 Mpx, over the --max-pixels below
    _photo(10, 8).save(folder / "tiny.png")  # under --min-size
    (folder / "dangling.png").symlink_to(folder / "nowhere.png")
    (folder / "fake.webp").write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 garbage")
    return {"zero.png": "empty", "truncated.png": "not a readable image", "text.jpg": "unknown format",
            "header.png": "not a readable image", "bomb.png": "decompression bomb", "tiny.png": "--min-size",
            "dangling.png": "does not exist", "fake.webp": "not a readable image"}


FAST = ["--set", "optimizer.steps=3", "--set", "loop.rounds=2"]


def test_folder_with_good_and_bad_images_then_resume(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    good = make_good_images(src, 40)
    bad = make_bad_images(src / "bad")
    before = {p: p.read_bytes() for p in good}

    first = dreamfx("run", "--preset", "single-map", str(src), "-r", "-o", str(out), "--min-size", "16",
                    "--max-pixels", "100000000", *FAST)
    assert first.returncode == 1, first.stderr
    report = json.loads((out / "report.json").read_text())
    statuses = {Path(f["input"]).name: f for f in report["files"]}
    assert len(statuses) == 48 and report["counts"] == {"done": 40, "skipped": 0, "refused": 0, "failed": 8, "pending": 0}
    for name, word in bad.items():
        assert statuses[name]["status"] == "failed" and word in statuses[name]["reason"], statuses[name]
        assert name in first.stdout  # the final table lists every failure
    outputs = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    expected = sorted([p.relative_to(src).with_suffix(".png") for p in good] + [Path("report.json")])
    assert outputs == expected  # mirrored tree, nothing else: no temporary files
    assert all(p.read_bytes() == data for p, data in before.items())  # inputs untouched
    with Image.open(out / "img01.png") as img:
        assert img.size == (44, 56)  # stored 56x44 with EXIF orientation 6: shown upright, 44x56

    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("img*.png")}
    second = dreamfx("run", "--preset", "single-map", str(src), "-r", "-o", str(out), "--min-size", "16",
                     "--max-pixels", "100000000", *FAST)
    report2 = json.loads((out / "report.json").read_text())
    assert report2["counts"] == {"done": 0, "skipped": 40, "refused": 0, "failed": 8, "pending": 0}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("img*.png")} == mtimes
    assert second.returncode == 1

    forced = dreamfx("run", str(src / "sub"), "-o", str(out / "sub"), "--force", *FAST)
    assert forced.returncode == 0 and json.loads((out / "sub" / "report.json").read_text())["counts"]["done"] == 8


def test_changed_settings_are_not_skipped(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_good_images(src, 3)
    assert dreamfx("run", str(src), "-r", "-o", str(out), *FAST).returncode == 0
    dreamfx("run", str(src), "-r", "-o", str(out), *FAST, "--seed", "9")
    assert json.loads((out / "report.json").read_text())["counts"]["done"] == 3


# Enough steps that the ten dreams after the second output take seconds: the signal must
# land mid-folder even when the writer threads lag behind the dreams on a busy machine.
STEPS = 80


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_leaves_only_complete_outputs_and_resume_finishes(tmp_path, signum):
    src, out = tmp_path / "in", tmp_path / "out"
    make_good_images(src, 12)
    # A shell starts background jobs with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler; the child sets it explicitly so the test also holds there.
    child = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "from dreamfx.cli import entry; entry(sys.argv[1:])")
    cmd = [sys.executable, "-c", child, "run", str(src), "-r", "-o", str(out), "--batch-size", "1",
           "--set", f"optimizer.steps={STEPS}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.rglob("img*.png"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    finished = list(out.rglob("img*.png"))
    assert 2 <= len(finished) < 12
    for path in finished:  # every output there is whole and carries its metadata
        with Image.open(path) as img:
            img.load()
        meta = read_metadata(path)
        assert meta["input"].startswith(path.stem + ".") and meta["run_hash"]
    assert not [p for p in out.rglob(".*")]  # no temporary files
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True and report["counts"]["pending"] > 0

    resume = dreamfx("run", str(src), "-r", "-o", str(out), "--batch-size", "1", "--set", f"optimizer.steps={STEPS}")
    assert resume.returncode == 0
    counts = json.loads((out / "report.json").read_text())["counts"]
    assert counts["skipped"] == len(finished) and counts["done"] == 12 - len(finished)


def test_batched_results_equal_one_by_one():
    from dreamfx.api import as_gray_array, make_dreamer

    base = as_gray_array(SAMPLE)[:90, :120]
    images = [base, base[::-1].copy(), base[:, ::-1].copy(), np.full_like(base, 0.4)]
    for preset in ("single-map", "tiling"):
        dreamer = make_dreamer(preset, {"steps": 5, "rounds": 2, "seed": 3})
        together = dreamer.dream_batch(images)
        for image, batched in zip(images, together):
            alone = dreamer(image)
            assert np.abs(batched.image - alone.image).max() <= 1e-5
            assert batched.score_after == pytest.approx(alone.score_after, rel=1e-4)


def test_luma_keeps_colour_and_alpha_can_be_kept(tmp_path):
    rgba = _photo(80, 60, "RGBA")
    alpha = np.full((60, 80), 255, np.uint8)
    alpha[:, :20] = 0
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(tmp_path / "a.png")
    _photo(80, 60).save(tmp_path / "c.png")

    assert dreamfx("run", str(tmp_path / "c.png"), "-o", str(tmp_path / "luma.png"), "--color", "luma", *FAST).returncode == 0
    with Image.open(tmp_path / "luma.png") as out, Image.open(tmp_path / "c.png") as src:
        assert out.mode == "RGB"
        _, cb_out, cr_out = (np.asarray(c, np.float32) for c in out.convert("YCbCr").split())
        _, cb_in, cr_in = (np.asarray(c, np.float32) for c in src.convert("YCbCr").split())
    assert np.abs(cb_out - cb_in).mean() < 4 and np.abs(cr_out - cr_in).mean() < 4  # the colours stay
    assert np.abs(cb_out - 128).mean() > 3  # and they are colours, not gray

    assert dreamfx("run", str(tmp_path / "a.png"), "-o", str(tmp_path / "alpha.png"), "--keep-alpha", *FAST).returncode == 0
    with Image.open(tmp_path / "alpha.png") as out:
        assert out.mode == "LA"
        assert np.array_equal(np.asarray(out.getchannel("A")), alpha)


def test_from_repeats_a_run(tmp_path):
    src = tmp_path / "c.png"
    _photo(64, 48).save(src)
    first = tmp_path / "first.png"
    assert dreamfx("run", str(src), "-o", str(first), "--set", "objective.map=3", "--seed", "5", *FAST).returncode == 0
    again = tmp_path / "again.png"
    proc = dreamfx("run", "--from", str(first), str(src), "-o", str(again))
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(again)))
    assert read_metadata(again)["settings"]["objective"]["map"] == 3


def test_refuses_an_output_folder_that_overwrites_inputs(tmp_path):
    make_good_images(tmp_path, 2)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    proc = dreamfx("run", str(tmp_path), "-o", str(tmp_path))
    assert proc.returncode == 2 and "is the input folder" in proc.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    # a file whose output name is itself (same name, same format) is refused too
    single = tmp_path / "img01.png"
    Image.new("L", (30, 30)).save(single)
    proc = dreamfx("run", str(single), str(tmp_path / "img00.jpg"), "-o", str(tmp_path))
    assert proc.returncode == 2 and "would overwrite the input" in proc.stderr


def test_several_inputs_need_an_output_folder(tmp_path):
    proc = dreamfx("run", str(SAMPLE), str(SAMPLE))
    assert proc.returncode == 2 and "need -o OUTPUT_FOLDER" in proc.stderr
