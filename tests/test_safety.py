"""Data safety as a hostile but realistic user meets it (issue 10): nothing lost, nothing
wrongly skipped, one bad item never stops a run. Every file here is made by the test."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from dreamfx.io.provenance import read_metadata

from .conftest import FAST, SAMPLE, default_signals, photo


def files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def by_name(rep: dict) -> dict[str, dict]:
    return {Path(f["input"]).name: f for f in rep["files"]}


@pytest.fixture
def dreams(monkeypatch) -> list[tuple]:
    """The dreamers each command built, recorded as they are built: an empty list after a
    refusal proves it came before any dream (in a fresh process: before TensorFlow)."""
    import dreamfx.engine.dreamer as dreamers

    built: list[tuple] = []
    real = dreamers.Dreamer

    def recorded(*args, **kwargs):
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(dreamers, "Dreamer", recorded)
    return built


# -- 1. every written path against every input and every other output -------------------------

def test_panel_or_output_onto_an_input_or_each_other_is_refused_before_dreaming(cli, dreams, tmp_path):
    src = photo(tmp_path / "photo.png")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.png").symlink_to(src)
    before = files(tmp_path)
    cases = [
        (["-o", tmp_path / "dream.png", "--panel", src], f"the panel {src} would overwrite the input"),
        (["-o", tmp_path / "d.png", "--panel", tmp_path / "d.png"], f"the output of {src} and the panel would both be written to"),
        (["-o", tmp_path / "sub" / ".." / "photo.png"], "would overwrite the input"),  # through ..
        (["-o", tmp_path / "link.png"], "would overwrite the input"),  # through a symbolic link
        (["-o", tmp_path / "dream.png", "--panel", tmp_path / "sub" / ".." / "link.png"], "would overwrite the input"),
    ]
    for extra, message in cases:
        cli("run", src, *extra, *FAST).one_line_error(2, message)
        assert dreams == []  # refused before a dream (in a process: before TensorFlow)
    assert files(tmp_path) == before
    # a sidecar (non-PNG metadata) and report.json are written paths too
    shot = photo(tmp_path / "in" / "report.json.png")
    (tmp_path / "out").mkdir()
    fake_report = tmp_path / "out" / "report.json"
    shutil.copy(shot, fake_report)
    cli("run", fake_report, shot, "-o", tmp_path / "out", "--glob", "*", *FAST).one_line_error(
        2, "the report", "would overwrite the input")
    assert fake_report.read_bytes() == shot.read_bytes() and dreams == []


def test_a_refusal_to_overwrite_an_input_names_each_path_once(cli, dreams, tmp_path):
    """"the output of mymoon.png mymoon.png would overwrite the input mymoon.png" said the
    name three times: each refusal names what would be written, and the input it would hit."""
    moon = photo(tmp_path / "mymoon.png")
    line = cli("run", moon, "-o", moon, *FAST).one_line_error(2)
    assert line == (f"dreamfx: error: output {moon} would overwrite the input {moon}; dreamfx never writes its "
                    "inputs: choose another output name or folder")
    other = photo(tmp_path / "x" / "mymoon.png", shift=20)  # its dream goes where the first input is
    cli("run", other, moon, "-o", tmp_path, *FAST).one_line_error(
        2, f"output {moon}, dreamed from {other}, would overwrite the input {moon}; dreamfx never writes its inputs")
    notes = tmp_path / "b.jpg.dreamfx.json"  # where b.jpg's metadata sidecar would go
    notes.write_text("{}")
    cli("run", notes, "-o", tmp_path / "b.jpg", *FAST).one_line_error(
        2, f"the metadata sidecar {notes} of output {tmp_path / 'b.jpg'} would overwrite the input {notes};")
    cli("atlas", moon, "-o", tmp_path / "a.png", "--json", moon).one_line_error(
        2, f"the --json file {moon} would overwrite the input {moon}; dreamfx never writes its inputs")
    gif = photo(tmp_path / "moon.gif")
    cli("zoom", gif, "--frames", "2", "-o", gif, *FAST).one_line_error(
        2, f"output {gif} would overwrite the input {gif}; dreamfx never writes its inputs")
    assert dreams == [] and notes.read_text() == "{}"


# -- 2. resume keys on the input's content ----------------------------------------------------

def test_resume_redoes_a_different_photo_with_the_same_name_and_an_edited_input(cli, tmp_path):
    day1, day2, out = tmp_path / "day1", tmp_path / "day2", tmp_path / "dreams"
    photo(day1 / "IMG_0001.png", shift=0)
    photo(day2 / "IMG_0001.png", shift=150)
    assert cli("run", day1, "-o", out, *FAST).returncode == 0
    first = (out / "IMG_0001.png").read_bytes()
    assert read_metadata(out / "IMG_0001.png")["input_sha256"]
    assert cli("run", day2, "-o", out, *FAST).returncode == 0
    assert report(out)["counts"]["done"] == 1  # not "up to date"
    second = (out / "IMG_0001.png").read_bytes()
    assert second != first
    assert cli("run", day2, "-o", out, *FAST).returncode == 0
    assert report(out)["counts"]["skipped"] == 1  # the same photo again is up to date
    photo(day2 / "IMG_0001.png", shift=60)  # edited in place
    assert cli("run", day2, "-o", out, *FAST).returncode == 0
    assert report(out)["counts"]["done"] == 1


def test_a_rerun_with_only_a_corrupt_file_left_fails_it_without_starting_tensorflow(cli, dreams, tmp_path):
    """A corrupt file fails again on every rerun, but once everything else is up to date it
    no longer starts TensorFlow for it (21 s instead of 1 s): the dreamer is built only when a
    picture has decoded. Edited into a good photo, it is dreamed."""
    src, out = tmp_path / "in", tmp_path / "out"
    photo(src / "good.png")
    broken = src / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    first = cli("run", src, "-o", out, *FAST)
    assert first.returncode == 1 and len(dreams) == 1, first.stderr
    reason = by_name(report(out))["broken.png"]["reason"]
    assert "not a readable image" in reason
    dreams.clear()
    again = cli("run", src, "-o", out, *FAST)
    assert again.returncode == first.returncode and dreams == [], again.stderr  # no dreamer: no TensorFlow
    entries = by_name(report(out))
    assert entries["broken.png"]["status"] == "failed" and entries["broken.png"]["reason"] == reason
    assert entries["good.png"]["status"] == "skipped" and "broken.png" in again.stdout + again.stderr
    photo(broken, shift=40)  # the same name, now a good photo
    fixed = cli("run", src, "-o", out, *FAST)
    assert fixed.returncode == 0 and len(dreams) == 1, fixed.stderr
    assert by_name(report(out))["broken.png"]["status"] in ("done", "silent") and (out / "broken.png").is_file()


# -- 3. a file dreamfx did not write is never replaced without --force --------------------------

def test_a_users_own_file_is_not_replaced_without_force(cli, tmp_path):
    photos = tmp_path / "photos"
    src = photo(photos / "IMG_1.png")
    own = photos / "IMG_1.jpg"
    photo(own, size=(40, 30))
    mine = own.read_bytes()
    proc = cli("run", src, photos / "IMG_1.png", "-o", photos, "--format", "jpg", *FAST)
    # the same input twice maps to one output: refused as a collision
    assert proc.returncode == 2 and proc.written == []
    proc = cli("run", src, "-o", photos, "--format", "jpg", *FAST)
    assert proc.returncode == 1, proc.stderr
    assert own.read_bytes() == mine
    entry = by_name(report(photos))["IMG_1.png"]
    assert entry["status"] == "refused" and "not written by dreamfx" in entry["reason"] and "--force" in entry["reason"]
    assert "IMG_1" in proc.stdout and "not replaced" in proc.stdout
    # one input, -o naming the user's file: also refused, exit 1, one line
    cli("run", src, "-o", own, *FAST).one_line_error(1, "not written by dreamfx")
    assert own.read_bytes() == mine
    # --force replaces it, and then it is dreamfx's
    assert cli("run", src, "-o", photos, "--format", "jpg", "--force", *FAST).returncode == 0
    assert own.read_bytes() != mine and read_metadata(own)["input"] == "IMG_1.png"


# -- 5. one bad item never stops the run ---------------------------------------------------------

def bad_outputs(out: Path) -> dict[str, str]:
    """Existing outputs with corrupt metadata, mapped to a word of their reason."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta_notjson.png").write_bytes(b"")
    Image.new("L", (8, 8)).save(out / "meta_notjson.png", pnginfo=_png_text("{not json"))
    Image.new("L", (8, 8)).save(out / "meta_string.png", pnginfo=_png_text('"just a string"'))
    Image.new("L", (8, 8)).save(out / "meta_empty.jpg")
    (out / "meta_empty.jpg.dreamfx.json").write_bytes(b"")
    Image.new("1", (20000, 20000)).save(out / "meta_bomb.png")  # 400 Mpx: past Pillow's own limit too
    return {"meta_notjson.png": "not valid JSON", "meta_string.png": "not a JSON object",
            "meta_empty.jpg": "not valid JSON", "meta_bomb.png": "carries no dreamfx metadata"}


def _png_text(text: str):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("dreamfx", text)
    return info


def hostile_folder(src: Path) -> dict[str, str]:
    """Inputs that used to stop a whole run, mapped to a word of their reason."""
    src.mkdir(parents=True, exist_ok=True)
    (src / "loop.png").symlink_to(src / "loop.png")
    (src / "loop_a.png").symlink_to(src / "loop_b.png")
    (src / "loop_b.png").symlink_to(src / "loop_a.png")
    os.mkfifo(src / "fifo.png")
    (src / "dirloop").symlink_to(src)  # a link to a folder above: never followed
    photo(src / "[red]bracket].png")
    photo(src / "meta_notjson.png")
    photo(src / "meta_string.png")
    photo(src / "meta_empty.png")
    photo(src / "meta_bomb.png")
    return {"loop.png": "symbolic link loop", "loop_a.png": "symbolic link loop", "loop_b.png": "symbolic link loop",
            "fifo.png": "not a regular file"}


def test_hostile_items_each_fail_alone_with_a_report(cli, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    bad = hostile_folder(src)
    corrupt = bad_outputs(out)
    corrupt["meta_empty.png"] = corrupt.pop("meta_empty.jpg")
    (out / "meta_empty.jpg").rename(out / "meta_empty.png")  # the sidecar stays with the .png name below
    (out / "meta_empty.jpg.dreamfx.json").rename(out / "meta_empty.png.dreamfx.json")
    proc = cli("run", src, "-r", "-o", out, *FAST)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    entries = by_name(report(out))
    for name, word in bad.items():
        assert entries[name]["status"] == "failed" and word in entries[name]["reason"], entries[name]
    for name, word in corrupt.items():
        assert entries[name]["status"] == "refused" and word in entries[name]["reason"], entries[name]
    assert entries["[red]bracket].png"]["status"] == "done"
    assert "[red]bracket].png" in proc.stdout  # printed as itself, not as markup
    assert "dirloop" not in " ".join(entries)
    assert not list(out.rglob(".*tmp"))


def test_several_inputs_with_o_naming_an_existing_file(cli, tmp_path):
    a, b = photo(tmp_path / "a.png"), photo(tmp_path / "b.png")
    target = photo(tmp_path / "existing.png")
    before = files(tmp_path)
    cli("run", a, b, "-o", target, *FAST).one_line_error(2, "-o names a folder")
    assert files(tmp_path) == before


# -- 6. the output folder is checked before dreaming; the report's failure is one line ---------

@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str):
    """A real tmpfs (read-only, or tiny) where this process may mount one; None otherwise."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_read_only_output_folder_is_refused_before_dreaming(cli, dreams, tmp_path, monkeypatch):
    src = tmp_path / "in"
    photo(src / "a.png")
    photo(src / "b.png")
    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        if ro is None and os.geteuid() != 0:  # an ordinary user: permissions are real
            ro = tmp_path / "ro"
            ro.chmod(0o555)
        if ro is not None:
            cli("run", src, "-o", ro / "out", *FAST).one_line_error(2, "cannot create the output folder")
            cli("run", src / "a.png", "-o", ro / "a-dream.png", *FAST).one_line_error(2, "not writable")
            assert dreams == []  # refused before a dream (in a process: before TensorFlow)
    # the same check whatever this machine allows (a read-only file system faked): nothing is dreamed
    import dreamfx.io.writing as writing

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(writing.tempfile, "mkstemp", refuse)
    proc = cli("run", src, "-o", tmp_path / "out", *FAST)
    proc.one_line_error(2, "not writable: Read-only file system")
    assert dreams == []


def test_full_disk_fails_items_and_the_report_is_one_line(cli, tmp_path, monkeypatch):
    src = tmp_path / "in"
    for i in range(3):
        photo(src / f"p{i}.png", size=(400, 300), shift=10 * i)
    with mounted_tmpfs(tmp_path / "tiny", "size=160k") as tiny:
        if tiny is not None:
            proc = cli("run", src, "-o", tiny, "--png-level", "0", *FAST)
            assert proc.returncode == 1, proc.stderr
            assert "No space left on device" in proc.stderr + proc.stdout
            assert "Traceback" not in proc.stderr
            assert not list(tiny.rglob(".*tmp"))  # no partial files
    # the report alone failing (on any machine): one line, exit 1
    import dreamfx.runs.batch as batch

    real = batch.write_bytes_atomic

    def full(path, data):
        if path.name == "report.json":
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(batch, "write_bytes_atomic", full)
    proc = cli("run", src, "-o", tmp_path / "out", "-q", *FAST)
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()
    assert err == [f"dreamfx: error: cannot write the report {tmp_path / 'out' / 'report.json'}: No space left on device"]


# -- 8. signals and closed pipes still end with a report; killed runs' leftovers go -----------

CHILD = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "from dreamfx.cli import entry; entry(sys.argv[1:])")


def start_slow_run(src: Path, out: Path, count: int = 8) -> subprocess.Popen[str]:
    for i in range(count):
        photo(src / f"p{i:02d}.png", shift=10 * i)
    cmd = [sys.executable, "-c", CHILD, "run", str(src), "-o", str(out), "--batch-size", "1",
           "--set", "optimizer.steps=150"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signals)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("p*.png"))) < 1:
        time.sleep(0.02)
    return proc


@pytest.mark.process("signals")
@pytest.mark.parametrize("how", ["double-sigint", "sighup"])
def test_double_ctrl_c_and_sighup_still_write_the_report(tmp_path, how):
    out = tmp_path / "out"
    proc = start_slow_run(tmp_path / "in", out)
    if how == "double-sigint":
        proc.send_signal(signal.SIGINT)
        time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
    else:
        proc.send_signal(signal.SIGHUP)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    rep = report(out)
    assert rep["interrupted"] is True and rep["counts"]["done"] >= 1
    assert not list(out.rglob(".*tmp"))


@pytest.mark.process("signals")
def test_stdout_closed_early_still_finishes_with_a_report(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(5):
        photo(src / f"p{i}.png", shift=10 * i)
    proc = subprocess.Popen([sys.executable, "-m", "dreamfx", "run", str(src), "-o", str(out), "--batch-size", "1",
                             *FAST], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # like `| head -1`: read a line, then close the pipe
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert b"[1/5]" in first
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "Broken pipe" not in stderr
    assert report(out)["counts"]["done"] == 5


@pytest.mark.process("signals")
def test_a_later_run_removes_temporaries_that_a_killed_run_left(cli, tmp_path):
    out = tmp_path / "out"
    proc = start_slow_run(tmp_path / "in", out, count=3)
    proc.kill()
    proc.wait()
    # whatever the kill left, plus what a kill mid-write leaves (a dead pid's and 0.1.0's names)
    dead = proc.pid  # SIGKILLed and reaped: no process has this pid now
    (out / "sub").mkdir(parents=True, exist_ok=True)
    leftovers = [out / f".p00.png.dreamfx-{dead}-abc123.tmp", out / "sub" / f".x.png.dreamfx-{dead}-zz.tmp",
                 out / ".p01.png.k2j4h5g6.tmp"]
    for path in leftovers:
        path.write_bytes(b"partial")
    keep = out / ".my-notes.tmp"  # not a name dreamfx makes: a user's file stays
    keep.write_text("mine")
    assert cli("run", tmp_path / "in", "-o", out, *FAST).returncode == 0
    assert not any(p.exists() for p in leftovers)
    assert keep.read_text() == "mine"


# -- 9. memory: a folder of 12-megapixel photos stays under 3 GB ------------------------------

PEAK = """
import resource, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "dreamfx", *sys.argv[1:]], capture_output=True, text=True)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, proc.stderr[-500:])
"""


@pytest.mark.slow
@pytest.mark.process("peak memory")
def test_a_folder_of_12_megapixel_photos_peaks_under_3_gb(tmp_path):
    src, out = tmp_path / "big", tmp_path / "out"
    src.mkdir()
    with Image.open(SAMPLE) as img:
        base = img.convert("RGB").resize((4000, 3000), Image.Resampling.BILINEAR)
    for i in range(6):
        base.transpose(Image.Transpose.FLIP_LEFT_RIGHT if i % 2 else Image.Transpose.FLIP_TOP_BOTTOM).save(
            src / f"big{i}.jpg", quality=85)
    proc = subprocess.run([sys.executable, "-c", PEAK, "run", str(src), "-o", str(out), "--set", "optimizer.steps=2",
                           "--set", "loop.rounds=2", "-q"], capture_output=True, text=True, timeout=600)
    code, peak_kb, err = proc.stdout.split(" ", 2)
    assert code == "0", err
    assert report(out)["counts"]["done"] == 6
    assert int(peak_kb) < 3 * 1024 * 1024, f"peak {int(peak_kb) / 1024:.0f} MiB"


# -- 12. -q shows failures, one line each, and nothing else ------------------------------------

def test_quiet_prints_one_line_per_failure_and_nothing_else(cli, tmp_path):
    src = tmp_path / "in"
    for i, size in enumerate([(40, 30), (52, 36), (64, 40), (30, 44)]):  # several sizes: retracing
        photo(src / f"good{i}.png", size=size)
    for i in range(7):
        (src / f"bad{i}.png").write_bytes(b"not an image %d" % i)
    proc = cli("run", src, "-o", tmp_path / "out", "-q", *FAST)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 7, proc.stderr
    assert all(line.startswith("dreamfx: failed: ") and "bad" in line for line in lines)


# -- 13. option combinations that can only fail are refused up front ---------------------------

@pytest.mark.parametrize("args,message", [
    (["--format", "bmp", "--keep-alpha"], "cannot hold transparency"),
    (["--format", "jpg", "--keep-alpha"], "cannot hold transparency"),
    (["--max-pixels", "-1"], "--max-pixels must be a positive"),
    (["--max-pixels", "0"], "--max-pixels must be a positive"),
    (["--min-size", "0"], "--min-size must be at least 1"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--format", "gif"], "unknown output format"),
])
def test_impossible_options_are_usage_errors(cli, dreams, tmp_path, args, message):
    src = tmp_path / "in"
    photo(src / "a.png", mode="RGBA")
    photo(src / "b.png")
    cli("run", src, "-o", tmp_path / "out", *args, *FAST).one_line_error(2, message)
    assert dreams == []  # refused before a dream (in a process: before TensorFlow)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target,message", [("noext", "no suffix"), ("out.weird", "unknown image format .weird"),
                                             ("a.jpg", "cannot hold transparency")])
def test_single_output_names_are_checked_before_dreaming(cli, dreams, tmp_path, target, message):
    src = photo(tmp_path / "a.png", mode="RGBA")
    extra = ["--keep-alpha"] if target == "a.jpg" else []
    cli("run", src, "-o", tmp_path / target, *extra, *FAST).one_line_error(2, message)
    assert dreams == []  # refused before a dream (in a process: before TensorFlow)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    # an existing folder, or a path ending in /, is a folder output
    assert cli("run", src, "-o", f"{tmp_path / 'outdir'}/", *FAST).returncode == 0
    assert len(dreams) == 1
    assert (tmp_path / "outdir" / "a.png").is_file() and (tmp_path / "outdir" / "report.json").is_file()


# -- issue 11: an up-to-date rerun does not import TensorFlow ---------------------------------

@pytest.mark.process("start-up imports")
def test_up_to_date_rerun_does_not_import_tensorflow(cli, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(3):
        photo(src / f"p{i}.png", shift=10 * i)
    assert cli("run", src, "-o", out, *FAST).returncode == 0
    code = ("import sys\nfrom dreamfx.cli import main\n"
            f"rc = main(['run', {str(src)!r}, '-o', {str(out)!r}, '-q', *{FAST!r}])\n"
            "print('RC', rc, 'HEAVY', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "RC 0 HEAVY []" in proc.stdout, proc.stdout + proc.stderr
    assert report(out)["counts"]["skipped"] == 3


# -- the whole issue at once -------------------------------------------------------------------

def test_a_folder_of_every_bad_item_with_good_photos(cli, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    good = [photo(src / f"good{i}.png", size=(48 + 8 * (i % 2), 36), shift=10 * i) for i in range(4)]
    bad = hostile_folder(src / "bad")
    (src / "empty.png").write_bytes(b"")
    (src / "text.jpg").write_text("not a picture")
    Image.new("1", (12000, 12000)).save(src / "bomb.png")
    bad.update({"empty.png": "empty", "text.jpg": "not a readable image", "bomb.png": "decompression bomb"})
    corrupt = bad_outputs(out / "bad")
    for name in list(corrupt):
        if name.endswith(".jpg"):
            continue
        photo(src / "bad" / name)
    corrupt.pop("meta_empty.jpg")
    os.mkfifo(src / "bad" / "fifo2.jpg")
    bad["fifo2.jpg"] = "not a regular file"
    inputs_before = files(src)
    proc = cli("run", src, "-r", "-o", out, "--max-pixels", "50000000", *FAST)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    entries = by_name(report(out))
    for path in good:
        assert entries[path.name]["status"] == "done"
        assert read_metadata(out / path.name)["input_sha256"]
    for name, word in bad.items():
        assert entries[name]["status"] == "failed" and word in entries[name]["reason"], entries[name]
        assert name in proc.stdout
    for name, word in corrupt.items():
        assert entries[name]["status"] == "refused" and word in entries[name]["reason"], entries[name]
    assert entries["[red]bracket].png"]["status"] == "done"
    assert not list(out.rglob(".*tmp")) and not list(src.rglob(".*tmp"))
    assert files(src) == inputs_before
