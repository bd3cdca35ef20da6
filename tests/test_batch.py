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

from dreamfx.io.provenance import read_metadata

from .conftest import FAST, SAMPLE, default_signals, photo


GOOD_KINDS = [("png", "RGB"), ("jpg", "RGB"), ("tif", "L"), ("bmp", "RGB"), ("webp", "RGB"), ("gif", "P"),
              ("png", "RGBA"), ("jpg", "CMYK"), ("png", "I;16")]


def make_good_images(folder: Path, count: int) -> list[Path]:
    """``count`` readable images of many formats and modes, in a tree with a sub-folder."""
    paths = []
    for i in range(count):
        suffix, mode = GOOD_KINDS[i % len(GOOD_KINDS)]
        sub = folder / "sub" if i % 5 == 0 else folder
        path = photo(sub / f"img{i:02d}.{suffix}", size=(48 + 8 * (i % 3), 36 + 8 * (i % 3)),
                     mode="L" if mode == "I;16" else mode)
        if mode == "I;16":  # 16-bit gray
            with Image.open(path) as img:
                wide = np.asarray(img, np.uint16) * 257
            Image.fromarray(wide).save(path)
        if i == 1:  # a night shot: black, so silent under the presets' map (zero on black)
            with Image.open(path) as img:
                Image.new(img.mode, img.size).save(path)
        if i == 1:  # EXIF orientation: stored sideways, shown upright
            exif = Image.Exif()
            exif[0x0112] = 6
            with Image.open(path) as img:
                img.load()
            img.save(path, exif=exif)
        paths.append(path)
    return paths


def make_bad_images(folder: Path) -> dict[str, str]:
    """Eight bad inputs, mapped to a word their failure reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.png").write_bytes(b"")
    good = photo(folder / "_tmp.png", size=(64, 48))
    data = good.read_bytes()
    good.unlink()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "text.jpg").write_text("this is a text file, not a picture\n")
    (folder / "header.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    Image.new("1", (12000, 12000)).save(folder / "bomb.png")  # 144 Mpx, over the --max-pixels below
    photo(folder / "tiny.png", size=(10, 8))  # under --min-size
    (folder / "dangling.png").symlink_to(folder / "nowhere.png")
    (folder / "fake.webp").write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 garbage")
    return {"zero.png": "empty", "truncated.png": "not a readable image", "text.jpg": "unknown format",
            "header.png": "not a readable image", "bomb.png": "decompression bomb", "tiny.png": "--min-size",
            "dangling.png": "does not exist", "fake.webp": "not a readable image"}


def test_folder_with_good_and_bad_images_then_resume(cli, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    good = make_good_images(src, 40)
    bad = make_bad_images(src / "bad")
    before = {p: p.read_bytes() for p in good}

    first = cli("run", "--preset", "single-map", src, "-r", "-o", out, "--min-size", "16",
                "--max-pixels", "100000000", *FAST)
    assert first.returncode == 1, first.stderr
    report = json.loads((out / "report.json").read_text())
    statuses = {Path(f["input"]).name: f for f in report["files"]}
    # img01 (black, turned upright by its EXIF) is one on which conv3 map 19 is zero everywhere:
    # no step can wake it, so it is silent (written; issue 25), not done
    assert len(statuses) == 48 and report["counts"] == {"done": 39, "silent": 1, "skipped": 0, "refused": 0, "failed": 8,
                                                 "pending": 0}
    assert statuses["img01.jpg"]["status"] == "silent" and "try --set objective.map=auto" in statuses["img01.jpg"]["reason"]
    for name, word in bad.items():
        assert statuses[name]["status"] == "failed" and word in statuses[name]["reason"], statuses[name]
        assert name in first.stdout  # the final table lists every failure
    outputs = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    expected = sorted([p.relative_to(src).with_suffix(".png") for p in good] + [Path("report.json")])
    assert outputs == expected  # mirrored tree, nothing else: no temporary files
    assert sorted(p.relative_to(out) for p in first.written) == expected  # and nothing written elsewhere
    assert all(p.read_bytes() == data for p, data in before.items())  # inputs untouched
    with Image.open(out / "img01.png") as img:
        assert img.size == (44, 56)  # stored 56x44 with EXIF orientation 6: shown upright, 44x56

    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("img*.png")}
    second = cli("run", "--preset", "single-map", src, "-r", "-o", out, "--min-size", "16",
                 "--max-pixels", "100000000", *FAST)
    report2 = json.loads((out / "report.json").read_text())
    assert report2["counts"] == {"done": 0, "silent": 0, "skipped": 40, "refused": 0, "failed": 8, "pending": 0}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("img*.png")} == mtimes
    assert second.returncode == 1

    forced = cli("run", src / "sub", "-o", out / "sub", "--force", *FAST)
    assert forced.returncode == 0 and json.loads((out / "sub" / "report.json").read_text())["counts"]["done"] == 8


def test_changed_settings_are_not_skipped(cli, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_good_images(src, 3)
    assert cli("run", src, "-r", "-o", out, *FAST).returncode == 0
    assert cli("run", src, "-r", "-o", out, *FAST, "--seed", "9").returncode == 0
    counts = json.loads((out / "report.json").read_text())["counts"]
    assert counts["done"] + counts["silent"] == 3 and counts["skipped"] == 0  # img01 is silent (see above)


# Enough steps that the dreams after the second output take seconds: the signal must
# land mid-folder even when the writer threads lag behind the dreams on a busy machine.
STEPS = 80
COUNT = 8


@pytest.mark.process("signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_leaves_only_complete_outputs_and_resume_finishes(cli, tmp_path, signum):
    src, out = tmp_path / "in", tmp_path / "out"
    make_good_images(src, COUNT)
    # A shell starts background jobs with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler; the child sets it explicitly so the test also holds there.
    child = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "from dreamfx.cli import entry; entry(sys.argv[1:])")
    cmd = [sys.executable, "-c", child, "run", str(src), "-r", "-o", str(out), "--batch-size", "1",
           "--set", f"optimizer.steps={STEPS}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signals)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.rglob("img*.png"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    finished = list(out.rglob("img*.png"))
    assert 2 <= len(finished) < COUNT
    for path in finished:  # every output there is whole and carries its metadata
        with Image.open(path) as img:
            img.load()
        meta = read_metadata(path)
        assert meta["input"].startswith(path.stem + ".") and meta["run_hash"]
    assert not [p for p in out.rglob(".*")]  # no temporary files
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True and report["counts"]["pending"] > 0

    resume = cli("run", src, "-r", "-o", out, "--batch-size", "1", "--set", f"optimizer.steps={STEPS}")
    assert resume.returncode == 0, resume.stderr
    counts = json.loads((out / "report.json").read_text())["counts"]
    assert counts["skipped"] == len(finished) and counts["done"] == COUNT - len(finished)


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


def test_luma_keeps_colour_and_alpha_can_be_kept(cli, tmp_path):
    with Image.open(photo(tmp_path / "a.png", size=(80, 60), mode="RGBA")) as img:
        rgba = img.copy()
    alpha = np.full((60, 80), 255, np.uint8)
    alpha[:, :20] = 0
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(tmp_path / "a.png")
    photo(tmp_path / "c.png", size=(80, 60))

    assert cli("run", tmp_path / "c.png", "-o", tmp_path / "luma.png", "--color", "luma", *FAST).returncode == 0
    with Image.open(tmp_path / "luma.png") as out, Image.open(tmp_path / "c.png") as src:
        assert out.mode == "RGB"
        _, cb_out, cr_out = (np.asarray(c, np.float32) for c in out.convert("YCbCr").split())
        _, cb_in, cr_in = (np.asarray(c, np.float32) for c in src.convert("YCbCr").split())
    assert np.abs(cb_out - cb_in).mean() < 4 and np.abs(cr_out - cr_in).mean() < 4  # the colours stay
    assert np.abs(cb_out - 128).mean() > 3  # and they are colours, not gray

    assert cli("run", tmp_path / "a.png", "-o", tmp_path / "alpha.png", "--keep-alpha", *FAST).returncode == 0
    with Image.open(tmp_path / "alpha.png") as out:
        assert out.mode == "LA"
        assert np.array_equal(np.asarray(out.getchannel("A")), alpha)


def test_from_repeats_a_run(cli, tmp_path):
    src = photo(tmp_path / "c.png", size=(64, 48))
    first = tmp_path / "first.png"
    assert cli("run", src, "-o", first, "--set", "objective.map=3", "--seed", "5", *FAST).returncode == 0
    again = tmp_path / "again.png"
    proc = cli("run", "--from", first, src, "-o", again)
    assert proc.returncode == 0, proc.stderr
    with Image.open(first) as one, Image.open(again) as two:
        assert np.array_equal(np.asarray(one), np.asarray(two))
    assert read_metadata(again)["settings"]["objective"]["map"] == 3


def test_refuses_an_output_folder_that_overwrites_inputs(cli, tmp_path):
    make_good_images(tmp_path, 2)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    proc = cli("run", tmp_path, "-o", tmp_path)
    proc.one_line_error(2, "is the input folder")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    # a file whose output name is itself (same name, same format) is refused too
    single = tmp_path / "img01.png"
    Image.new("L", (30, 30)).save(single)
    proc = cli("run", single, tmp_path / "img00.jpg", "-o", tmp_path)
    proc.one_line_error(2, "would overwrite the input")
    assert proc.written == []


def test_several_inputs_need_an_output_folder(cli, tmp_path):
    proc = cli("run", SAMPLE, SAMPLE, cwd=tmp_path)
    proc.one_line_error(2, "need -o OUTPUT_FOLDER")
    assert proc.written == []


# -- what a terminal shows while a run dreams (issue 25, items 3 and 5) ----------------------------


class _Clock:
    """A clock the test moves by hand: the display's times and ETA without real waiting."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _terminal() -> object:
    import io

    from rich.console import Console

    return Console(width=80, force_terminal=True, file=io.StringIO())


def _shown(progress) -> list[str]:
    """The live display as a terminal 80 columns wide shows it now, line by line."""
    import io

    from rich.console import Console

    screen = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    screen.print(progress.progress.get_renderable())
    lines = [line.rstrip() for line in screen.export_text().splitlines()]
    assert lines and all(len(line) <= 80 for line in lines)
    return lines


def _outcome(name: str):
    from dreamfx.runs.outcomes import Outcome
    from dreamfx.runs.inputs import Job

    return Outcome(Job(Path(name), Path("out") / Path(name).name))


def test_a_single_dream_shows_its_steps_and_an_eta_from_the_first_piece_at_80_columns():
    from dreamfx.engine.results import Piece
    from dreamfx.cli.progress import BatchProgress

    clock, job = _Clock(), _outcome("big.png")
    with BatchProgress(_terminal(), 1, single=True, clock=clock) as progress:
        assert progress.progress is None  # no bar while the model loads, nor for an up-to-date output
        progress("batch", job, (1, 4))
        bar, line = _shown(progress)
        assert "0:00:00" in bar and bar.endswith("ETA -:--:--") and line == "round 1/4"
        clock.now += 30  # the first piece: 2 of the first round's 40 steps
        progress("piece", job, Piece(0, 4, 2, 40, fraction=0.0125))
        clock.now += 30
        bar, line = _shown(progress)
        # 1.25% in 30 s: 2370 s left after it, 30 of them gone since
        assert "1%" in bar and "0:01:00" in bar and bar.endswith("ETA 0:39:00") and line == "round 1/4, steps 2/40"
        progress("piece", job, Piece(0, 4, 3, 40, 1024, 40_000, fraction=0.05))  # a huge canvas's split step
        bar, line = _shown(progress)
        # from the first piece on: 3.75% in 30 s, 95% left
        assert bar.endswith("ETA 0:12:40") and line == "round 1/4, steps 3/40, views 1,024/40,000"
        progress("piece", job, Piece(0, 4, 40, 40, fraction=0.25))  # the round's end
        assert _shown(progress)[1] == "round 2/4"
        progress("done", job, None)


def test_a_single_dream_shows_nothing_off_a_terminal_or_when_quiet():
    import io

    from rich.console import Console

    from dreamfx.engine.results import Piece
    from dreamfx.cli.progress import BatchProgress

    job = _outcome("big.png")
    piped, terminal = Console(width=80, file=io.StringIO()), _terminal()
    for console, quiet in ((piped, False), (terminal, True)):
        with BatchProgress(console, 1, quiet=quiet, single=True, clock=_Clock()) as progress:
            progress("batch", job, (1, 4))
            progress("piece", job, Piece(0, 4, 2, 40, fraction=0.0125))
            progress("done", job, None)
            assert progress.progress is None
        assert console.file.getvalue() == ""


def test_the_folder_bar_moves_within_a_batch_and_fits_80_columns():
    """A batch's pieces move the bar (16 images at 5% are 0.8 of a file), so the ETA is
    known long before the first file is written; elapsed time and ETA are never cut."""
    from dreamfx.engine.results import Piece
    from dreamfx.cli.progress import BatchProgress

    clock, job = _Clock(), _outcome("holiday/2024/IMG_20240611_120000.png")
    with BatchProgress(_terminal(), 48, clock=clock) as progress:
        progress("skipped", _outcome("holiday/done.png"), None)  # settled before the dreaming: not timed
        progress("batch", job, (16, 4))
        bar, line = _shown(progress)
        assert "1/48" in bar and bar.endswith("ETA -:--:--")
        assert line == "round 1/4: IMG_20240611_120000.png (+15 of the same size)"
        clock.now += 30
        progress("piece", job, Piece(0, 4, 8, 40, fraction=0.05))
        bar, line = _shown(progress)
        # 0.8 files in 30 s, 46.2 to go
        assert "1/48" in bar and "0.03 img/s" in bar and "0:00:30" in bar and bar.endswith("ETA 0:28:52")
        assert line == "round 1/4, steps 8/40: IMG_20240611_120000.png (+15 of the same size)"
        progress("round", job, 0)  # a round's end, already told by its piece: no change
        assert _shown(progress)[0] == bar
        progress("piece", job, Piece(3, 4, 40, 40, fraction=1.0))  # dreamed: the files count as written
        for _ in range(16):
            progress("done", job, None)
        assert "17/48" in _shown(progress)[0]


# -- silent dreams and a map chosen per photo (issue 25, item 1) ------------------------------------


def dark_photo(path: Path, size: tuple[int, int] = (48, 36)) -> Path:
    """A black photo: conv3 map 56 (the presets') is zero on every view of it, exactly (a
    product with 0 rounds to nothing), so its dream is silent; other maps respond to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (0, 0, 0)).save(path)
    return path


def responding_map(path: Path, **overrides) -> int:
    """The map of conv3 that responds most to the photo at ``path`` (hints.strongest_map)."""
    from dreamfx.api import as_gray_array
    from dreamfx.engine.responses import strongest_map

    from .conftest import warm_dreamer

    dreamer = warm_dreamer("single-map", steps=2, rounds=1, **overrides)
    return strongest_map(dreamer.model, dreamer.model_info, dreamer.scaler, "conv3", as_gray_array(path))


def test_a_silent_photo_is_its_own_status_exits_0_and_a_rerun_skips_it(cli, tmp_path):
    """A folder run whose map does not respond to a photo says so (its line, the table, one
    note naming a map that responds, report.json), never just "done"; exit status 0; the
    output is written, so a rerun skips it as finished."""
    dark, lit = dark_photo(tmp_path / "in" / "dark.png"), photo(tmp_path / "in" / "lit.png")
    out = tmp_path / "out"
    best = responding_map(dark)
    assert best is not None and best != 56
    run = cli("run", tmp_path / "in", "-o", out, *FAST)
    assert run.returncode == 0, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["counts"] == {"done": 1, "silent": 1, "skipped": 0, "refused": 0, "failed": 0, "pending": 0}
    files = {Path(f["input"]).name: f for f in report["files"]}
    assert files["lit.png"]["status"] == "done" and files["lit.png"]["reason"] is None
    silent = files["dark.png"]
    assert silent["status"] == "silent" and silent["output"] == str(out / "dark.png")
    assert silent["score_before"] == silent["score_after"] == 0.0
    assert "conv3 map 19 does not respond to it" in silent["reason"], silent
    assert f"try --set objective.map=auto, or --set objective.map={best} " in silent["reason"], silent
    text = " ".join(run.stdout.split())
    assert f"silent {out / 'dark.png'}: conv3 map 19 does not respond" in text
    assert f"done {out / 'dark.png'}" not in text
    assert (f"1 silent: conv3 map 19 does not respond to it (zero activation): nothing changed; try --set "
            f"objective.map=auto, or --set objective.map={best}") in text
    assert (out / "dark.png").exists() and read_metadata(out / "dark.png")["score_after"] == 0.0

    again = cli("run", tmp_path / "in", "-o", out, *FAST)
    assert again.returncode == 0, again.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["counts"] == {"done": 0, "silent": 0, "skipped": 2, "refused": 0, "failed": 0, "pending": 0}
    files = {Path(f["input"]).name: f for f in report["files"]}
    assert "its dream was silent" in files["dark.png"]["reason"] and "silent" not in files["lit.png"]["reason"]
    assert lit.exists()


def test_the_summary_sums_up_silent_photos_with_the_most_common_map():
    from dreamfx.engine.responses import Silence
    from dreamfx.runs.hints import silence_summary

    found = [Silence("conv3 map 19", "conv3", 50, "map"), Silence("conv3 map 19", "conv3", 50, "map"),
             Silence("conv3 map 19", "conv3", 7, "map")]
    assert silence_summary(found) == (
        "3 silent: conv3 map 19 does not respond to them (zero activation): nothing changed; try --set "
        "objective.map=auto, or --set objective.map=50 (the map of conv3 that responds most to 2 of them) "
        "(report.json names one for each)")
    dead = Silence("conv1 (mean-square)", "conv1", None, None)
    assert silence_summary([dead]).endswith("every map of conv1 is zero on it; try an earlier layer")
    other = Silence("conv2 map 3 - 0.5 * conv3 map 56", "conv3", 50, None)
    assert "try --set objective=single-map --set objective.layer=conv3 --set objective.map=50" in other.reason()


def test_map_auto_dreams_each_photo_with_its_own_map_and_from_repeats_it(cli, tmp_path):
    """objective.map=auto in a folder: one batch, a map per photo (the one that responds most
    to it); each output's settings hold its map, a rerun skips them all, and --from repeats
    one dream bit for bit without choosing again."""
    inputs = [dark_photo(tmp_path / "in" / "dark.png"), photo(tmp_path / "in" / "a.png"),
              photo(tmp_path / "in" / "b.png", shift=200)]
    chosen = {p.name: responding_map(p) for p in inputs}
    assert len(set(chosen.values())) > 1, chosen  # the photos differ in what responds
    out = tmp_path / "out"
    run = cli("run", tmp_path / "in", "-o", out, "--set", "objective.map=auto", *FAST)
    assert run.returncode == 0, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["done"] == 3 and report["settings"]["objective"]["map"] == "auto"
    for name, best in chosen.items():
        meta = read_metadata(out / name)
        assert meta["settings"]["objective"]["map"] == best and meta["objective"] == f"conv3 map {best}", name
        assert meta["score_before"] > 0, name  # the dark photo is not silent under its own map
    rerun = cli("run", tmp_path / "in", "-o", out, "--set", "objective.map=auto", *FAST)
    assert rerun.returncode == 0 and json.loads((out / "report.json").read_text())["counts"]["skipped"] == 3
    again = tmp_path / "again.png"
    proc = cli("run", "--from", out / "b.png", inputs[2], "-o", again)
    assert proc.returncode == 0, proc.stderr
    assert read_metadata(again)["settings"]["objective"]["map"] == chosen["b.png"]
    with Image.open(out / "b.png") as one, Image.open(again) as two:
        assert np.array_equal(np.asarray(one), np.asarray(two))

