"""The write plan, once for every command and the API (issue 23's "plans written once";
issue 24's data-loss rows): :mod:`dreamfx.runs.writes` decides what may be written, and
every command's refusal reads the same."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from .conftest import photo
from dreamfx.errors import SettingsError
from dreamfx.io.provenance import read_metadata
from dreamfx.runs.inputs import Job
from dreamfx.runs.writes import NOT_REPLACED, check_plan, existing, ours_json


def _user_sidecar(path: Path) -> Path:
    """A user's own file where dreamfx would put ``path``'s metadata sidecar."""
    sidecar = path.with_name(path.name + ".dreamfx.json")
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_text('{"my": "notes"}')
    return sidecar


def test_existing_tells_free_ours_foreign_link_and_folder(tmp_path):
    free = existing(tmp_path / "new.png", "output", False)
    assert free.refused is None and free.meta is None
    theirs = tmp_path / "theirs.png"
    Image.new("L", (4, 4)).save(theirs)
    refused = existing(theirs, "output", False)
    assert refused.refused == (f"output {theirs} exists and was not written by dreamfx "
                               f"(it carries no dreamfx metadata); {NOT_REPLACED}")
    assert existing(theirs, "output", True).refused is None  # --force
    link = tmp_path / "link.png"
    link.symlink_to(theirs)
    assert "is a symbolic link" in existing(link, "output", False).refused
    assert existing(link, "output", True).refused is None
    folder = tmp_path / "dir.png"
    folder.mkdir()
    found = existing(folder, "output", True)
    assert found.folder and "is a folder" in found.refused  # --force never replaces a folder
    from dreamfx.io.writing import write_image_atomic

    ours = tmp_path / "ours.png"
    write_image_atomic(ours, Image.new("L", (4, 4)), {"dreamfx_version": "x", "run_hash": "h"})
    assert existing(ours, "output", False).meta["run_hash"] == "h"


def test_a_users_file_at_the_sidecar_path_is_never_overwritten(tmp_path):
    out = tmp_path / "out.jpg"
    sidecar = _user_sidecar(out)
    assert "the metadata sidecar" in existing(out, "output", False).refused
    assert existing(out, "output", True).refused is None
    sidecar.write_text(json.dumps({"dreamfx_version": "0.2.0", "complete": False}))  # a killed run's
    assert existing(out, "output", False).refused is None
    sidecar.unlink()
    sidecar.symlink_to(tmp_path / "elsewhere.json")  # a link is never written through
    assert existing(out, "output", False).refused is not None
    assert existing(tmp_path / "out.png", "output", False).refused is None  # a PNG has no sidecar


def test_ours_json_reads_only_regular_files_and_needs_the_keys(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"dreamfx_version": "0.2.0", "files": []}))
    assert ours_json(report, ("dreamfx_version", "files"))
    assert not ours_json(report, ("dreamfx_atlas",))
    report.write_text("[1, 2]")
    assert not ours_json(report)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert not ours_json(fifo)  # never opened for reading (it would block)


def test_check_plan_names_an_input_folder_and_a_clash(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    with pytest.raises(SettingsError, match="frames folder .* is the input folder"):
        check_plan([], [("frames folder", frames)], inputs=[frames])
    with pytest.raises(SettingsError, match="would both be written"):
        check_plan([Job(tmp_path / "a.png", tmp_path / "x.png")], [("the panel", tmp_path / "x.png")])
    with pytest.raises(SettingsError, match="metadata sidecar .* would overwrite the input"):
        check_plan([], [("output", tmp_path / "v.mp4")], inputs=[tmp_path / "v.mp4.dreamfx.json"])


def test_run_refuses_a_users_sidecar_and_keeps_it(cli, tmp_path):
    src = photo(tmp_path / "p.png")
    out = tmp_path / "out.jpg"
    sidecar = _user_sidecar(out)
    quick = ("--set", "optimizer.steps=1", "--set", "loop.rounds=1")
    run = cli("run", src, "-o", out, *quick)
    assert run.returncode != 0 and "metadata sidecar" in run.stderr and "--force" in run.stderr, run.stderr
    assert sidecar.read_text() == '{"my": "notes"}' and not out.exists()
    assert cli("run", src, "-o", out, *quick, "--force").returncode == 0
    assert read_metadata(out)["dreamfx_version"]


def test_folder_run_refuses_a_users_sidecar_per_file(cli, tmp_path):
    photo(tmp_path / "in" / "a.png")
    photo(tmp_path / "in" / "b.png", shift=3)
    sidecar = _user_sidecar(tmp_path / "out" / "a.jpg")
    run = cli("run", tmp_path / "in", "-o", tmp_path / "out", "--format", "jpg",
              "--set", "optimizer.steps=1", "--set", "loop.rounds=1")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    status = {Path(f["input"]).name: f["status"] for f in report["files"]}
    assert status == {"a.png": "refused", "b.png": "done"}, (status, run.stdout)
    assert sidecar.read_text() == '{"my": "notes"}'


@pytest.mark.parametrize("command", ["zoom", "atlas"])
def test_zoom_and_atlas_refuse_a_users_sidecar_before_any_work(cli, tmp_path, command):
    src = photo(tmp_path / "p.png")
    out = tmp_path / ("side.gif" if command == "zoom" else "user2.jpg")
    sidecar = _user_sidecar(out)
    run = cli(command, src, "-o", out, *(("--frames", "3") if command == "zoom" else ()))
    assert run.returncode == 2 and "metadata sidecar" in run.stderr, run.stderr
    assert sidecar.read_text() == '{"my": "notes"}' and run.written == []


def test_the_api_never_saves_over_its_input_or_a_users_file(tmp_path):
    import dreamfx

    src = photo(tmp_path / "photo.png")
    before = src.read_bytes()
    result = dreamfx.dream(str(src), steps=1, rounds=1)
    with pytest.raises(SettingsError, match="would overwrite the input"):
        result.save(src)
    with pytest.raises(SettingsError, match="would overwrite the input"):
        result.save(src, force=True)  # --force never writes an input either
    assert src.read_bytes() == before
    user = tmp_path / "user.png"
    Image.new("L", (5, 5), 9).save(user)
    mine = user.read_bytes()
    with pytest.raises(SettingsError, match="was not written by dreamfx"):
        result.save(user)
    assert user.read_bytes() == mine
    result.save(user, force=True)
    assert read_metadata(user)["dreamfx_version"]
    result.save(user)  # dreamfx's own file now: replaced without force


def test_the_panel_keeps_a_users_sidecar(cli, tmp_path):
    """Issue 24 row 3: ``--panel panel.jpg`` over a user's ``panel.jpg.dreamfx.json``."""
    src = photo(tmp_path / "p.png")
    panel = tmp_path / "panel.jpg"
    sidecar = _user_sidecar(panel)
    run = cli("run", src, "-o", tmp_path / "o.png", "--panel", panel, "--set", "optimizer.steps=1",
              "--set", "loop.rounds=1")
    assert run.returncode != 0 and "metadata sidecar" in run.stderr, run.stderr
    assert sidecar.read_text() == '{"my": "notes"}' and not panel.exists()
