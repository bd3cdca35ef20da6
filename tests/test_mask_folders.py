"""A folder of masks mirrored by name (issue 28, item 1): ``dreamfx run PHOTOS/ --mask MASKS/
-o OUT/`` dreams each photo through its own mask (``MASKS/sub/x.*`` for ``PHOTOS/sub/x.jpg``),
on photos and masks generated here. Every mistake is found before any work."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamfx.io.provenance import read_metadata

from .test_masks import _half_mask, _photo, _pixels

QUICK = ("--set", "optimizer.steps=4", "--set", "loop.rounds=1")


def _mask(path, left_black: bool, size=(40, 30), grey: int = 255) -> str:
    """Black on one half (left or right), white (or ``grey``) on the other, at another size
    than the photos; returns the file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.full((size[1], size[0]), grey, np.uint8)
    if left_black:
        mask[:, : size[0] // 2] = 0
    else:
        mask[:, size[0] // 2:] = 0
    Image.fromarray(mask).save(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _photos(folder, names, size=(64, 48), seed=900) -> dict[str, np.ndarray]:
    out = {}
    for i, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        out[name] = _photo(folder / name, seed + i, size=size)
    return out


#: Columns of a 64-wide photo away from a half mask's feathered edge (at 32).
LEFT, RIGHT = slice(0, 26), slice(38, 64)


def test_each_photo_is_dreamed_through_its_own_mask(cli, tmp_path):
    photos = _photos(tmp_path / "in", ["a.png", "b.png", "sub/c.png"])
    digests = {"a.png": _mask(tmp_path / "m" / "a.png", left_black=True),
               "b.png": _mask(tmp_path / "m" / "b.jpg", left_black=False),  # any image suffix, the same stem
               "sub/c.png": _mask(tmp_path / "m" / "sub" / "c.png", left_black=False)}
    masks_before = {p: p.read_bytes() for p in (tmp_path / "m").rglob("*.*")}
    run = cli("run", tmp_path / "in", "-r", "--mask", f"{tmp_path / 'm'}/", "-o", tmp_path / "out", *QUICK)
    assert run.returncode == 0, run.stderr
    assert {p: p.read_bytes() for p in (tmp_path / "m").rglob("*.*")} == masks_before  # masks only ever read
    assert not [p for p in run.written if (tmp_path / "m") in p.parents]
    for name, original in photos.items():
        out = _pixels(tmp_path / "out" / name)
        kept, dreamed = (LEFT, RIGHT) if name == "a.png" else (RIGHT, LEFT)
        assert np.abs(out - original)[:, kept].max() <= 0.5 / 255, name  # under its own black: the photo
        assert np.abs(out - original)[:, dreamed].mean() > 2 / 255, name  # under its own white: the dream
        meta = read_metadata(tmp_path / "out" / name)
        assert meta["mask_sha256"] == digests[name]
        own = next((tmp_path / "m").glob(f"{name.rpartition('.')[0]}.*"))
        assert meta["settings"]["output"]["mask"] == str(own.resolve())  # --from finds it from any folder
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["settings"]["output"]["mask"] == str((tmp_path / "m").resolve())
    masks = (tmp_path / "m").resolve()
    assert {str(Path(f["input"]).relative_to(tmp_path / "in")): str(Path(f["mask"]).relative_to(masks))
            for f in report["files"]} == {"a.png": "a.png", "b.png": "b.jpg", "sub/c.png": "sub/c.png"}


def test_batched_photos_with_different_masks_equal_their_dreams_alone(tmp_path):
    """Two photos with different masks in one batch: each result is the dream alone with
    its mask (as one mask for all would make it), and its settings name that mask."""
    from dreamfx.api import make_dreamer
    from dreamfx.engine.masks import MaskFile

    overrides = {"steps": 4, "rounds": 1}
    a, b = _photo(tmp_path / "a.png", 11), _photo(tmp_path / "b.png", 12)
    ma, mb = tmp_path / "ma.png", tmp_path / "mb.png"
    own = [MaskFile(str(ma), _mask(ma, left_black=True)), MaskFile(str(mb), _mask(mb, left_black=False))]
    plain = make_dreamer("single-map", overrides)
    batch = plain.dream_batch([a, b], masks=own)
    for i, (photo, mask, kept) in enumerate([(a, ma, slice(0, 56)), (b, mb, slice(72, 128))]):
        through = make_dreamer("single-map", {**overrides, "mask": str(mask)})  # one mask for all
        assert np.array_equal(batch[i].image, through.dream_batch([a, b])[i].image)  # the same bits
        alone = through.dream_batch([photo])[0]
        assert np.abs(batch[i].image - alone.image).max() <= 1e-5  # a batch dreams each image as alone
        assert batch[i].settings.digest() == through.settings.digest()  # the provenance --from repeats
        assert batch[i].settings.mask_sha256 == own[i].sha256
        assert np.abs(batch[i].image - photo)[:, kept].max() <= 0.5 / 255
    assert plain.settings.mask_sha256 is None and not plain.settings.output["mask"]  # the dreamer's own: untouched
    unmasked = plain.dream_batch([a, b])
    assert np.abs(unmasked[0].image - a)[:, :56].mean() > 5 / 255  # there would have been a dream there


def test_resume_redoes_only_the_photo_whose_mask_changed_and_from_repeats_one(cli, tmp_path):
    photos = _photos(tmp_path / "in", ["a.png"]) | _photos(tmp_path / "in", ["b.png"], size=(56, 48), seed=950)
    for name in photos:
        _mask(tmp_path / "m" / name, left_black=True)
    argv = ("run", tmp_path / "in", "--mask", tmp_path / "m", "-o", tmp_path / "out", *QUICK)

    def statuses():
        files = json.loads((tmp_path / "out" / "report.json").read_text())["files"]
        return {f["input"].rpartition("/")[2]: f["status"] for f in files}

    assert cli(*argv).returncode == 0 and statuses() == {"a.png": "done", "b.png": "done"}
    assert cli(*argv).returncode == 0 and statuses() == {"a.png": "skipped", "b.png": "skipped"}
    _mask(tmp_path / "m" / "b.png", left_black=True, grey=200)  # the same name, another mask
    assert cli(*argv).returncode == 0 and statuses() == {"a.png": "skipped", "b.png": "done"}
    again = tmp_path / "again.png"
    run = cli("run", tmp_path / "in" / "b.png", "--from", tmp_path / "out" / "b.png", "-o", again)
    assert run.returncode == 0, run.stderr
    assert np.array_equal(_pixels(again), _pixels(tmp_path / "out" / "b.png"))
    assert read_metadata(again)["mask_sha256"] == read_metadata(tmp_path / "out" / "b.png")["mask_sha256"]


def test_photos_without_a_mask_are_a_usage_error_before_any_work(cli, tmp_path):
    _photos(tmp_path / "in", ["a.png", "b.png", "c.png", "d.png", "e.png"], size=(32, 24))
    _mask(tmp_path / "m" / "c.png", left_black=True)
    _mask(tmp_path / "m" / "other.png", left_black=True)  # a mask without its photo is no matter
    run = cli("run", tmp_path / "in", "--mask", tmp_path / "m", "-o", tmp_path / "out", *QUICK)
    line = run.one_line_error(2, "4 of 5 photos have no mask", "a.png", "b.png", "d.png", "and 1 more",
                              "white mask")
    assert "e.png" not in line and not (tmp_path / "out").exists()
    _mask(tmp_path / "m" / "c.jpg", left_black=True)
    run = cli("run", tmp_path / "in", "--mask", tmp_path / "m", "-o", tmp_path / "out", *QUICK)
    run.one_line_error(2, str(tmp_path / "m" / "c.jpg"), str(tmp_path / "m" / "c.png"), "keep one")


def test_a_mask_folder_needs_a_folder_run_and_readable_masks(cli, tmp_path):
    import dreamfx
    from dreamfx.errors import SettingsError

    photo = tmp_path / "in" / "a.png"
    _photos(tmp_path / "in", ["a.png"], size=(32, 24))
    _mask(tmp_path / "m" / "a.png", left_black=True)
    masks = tmp_path / "m"
    for argv in (("run", photo, "-o", tmp_path / "one.png"), ("zoom", photo, "--frames", 2, "-o", f"{tmp_path}/z/"),
                 ("video", tmp_path / "in", "-o", f"{tmp_path}/v/")):
        cli(*argv, "--mask", masks, *QUICK).one_line_error(2, "is a folder", "folder run", "--mask MASK.png")
    with pytest.raises(SettingsError, match="is a folder"):
        dreamfx.dream(str(photo), mask=str(masks), steps=1, rounds=1)
    cli("run", tmp_path / "in", "--mask", masks, "-o", masks).one_line_error(2, "is the mask folder")
    (masks / "a.png").unlink()
    os.mkfifo(masks / "a.png")
    cli("run", tmp_path / "in", "--mask", masks, "-o", tmp_path / "out").one_line_error(2, "mask", "not a regular file")
    (masks / "a.png").unlink()
    (masks / "a.png").symlink_to(masks / "gone.png")
    cli("run", tmp_path / "in", "--mask", masks, "-o", tmp_path / "out").one_line_error(2, "mask", "does not exist")
    assert not (tmp_path / "out").exists()


def test_a_mask_folder_inside_the_photo_folder_holds_masks_not_photos(cli, tmp_path):
    photos = _photos(tmp_path / "in", ["a.png"])
    _mask(tmp_path / "in" / "masks" / "a.png", left_black=True)
    run = cli("run", tmp_path / "in", "-r", "--mask", tmp_path / "in" / "masks", "-o", tmp_path / "out", *QUICK)
    assert run.returncode == 0, run.stderr
    files = json.loads((tmp_path / "out" / "report.json").read_text())["files"]
    assert [f["input"] for f in files] == [str(tmp_path / "in" / "a.png")]
    assert np.abs(_pixels(tmp_path / "out" / "a.png") - photos["a.png"])[:, LEFT].max() <= 0.5 / 255
    run = cli("run", tmp_path / "in" / "masks", "--mask", tmp_path / "in" / "masks", "-o", tmp_path / "out2")
    run.one_line_error(2, "in the mask folder", "a folder of their own")


def test_a_run_never_writes_over_its_mask(cli, tmp_path):
    photo = tmp_path / "p.png"
    _photo(photo, 31, size=(32, 24))
    _half_mask(tmp_path / "m.png")
    before = (tmp_path / "m.png").read_bytes()
    run = cli("run", photo, "--mask", tmp_path / "m.png", "-o", tmp_path / "m.png", "--force", *QUICK)
    run.one_line_error(2, "would overwrite the input", "m.png")
    assert (tmp_path / "m.png").read_bytes() == before


def test_a_cluster_worker_dreams_each_photo_through_the_mask_bytes_it_is_sent(host, tmp_path):
    """The tasks of a folder run for an executor carry each photo's mask as bytes (a worker
    shares no filesystem); the worker's dream (here in this process) applies it."""
    from dreamfx.config.request import DreamRequest
    from dreamfx.runs.batch import BatchRunner
    from dreamfx.runs.dreams import plan_dream
    from dreamfx.runs.folderwork import FolderWork
    from dreamfx.runs.worker import dream_task

    photos = _photos(tmp_path / "in", ["a.png", "b.png"])
    _mask(tmp_path / "m" / "a.png", left_black=True)
    _mask(tmp_path / "m" / "b.png", left_black=False)
    request = DreamRequest([str(tmp_path / "in")], str(tmp_path / "out") + "/", batch_size=2,
                           overrides=["optimizer.steps=4", "loop.rounds=1", ("output.mask", str(tmp_path / "m"))])
    plan = plan_dream(request, host)
    runner = BatchRunner(plan.settings, plan.jobs, plan.options, plan.make_dreamer, host=host)
    work = FolderWork(runner, runner.plan(), host)
    (task,) = list(work.tasks())  # one batch, two masks
    assert [item.mask.data for item in task.items] == [(tmp_path / "m" / n).read_bytes() for n in ("a.png", "b.png")]
    work.finish(task, dream_task(task))
    for name, kept in (("a.png", LEFT), ("b.png", RIGHT)):
        out = _pixels(tmp_path / "out" / name)
        assert np.abs(out - photos[name])[:, kept].max() <= 0.5 / 255, name
        assert read_metadata(tmp_path / "out" / name)["mask_sha256"] == task.items[name == "b.png"].mask.sha256


def test_one_mask_for_all_travels_to_a_worker_as_bytes(host, tmp_path):
    """``--mask FILE`` on a cluster: the tasks carry the mask's bytes, and a worker dreams
    through them without reading the path (on another machine it may not exist, or hold
    another file): the same pixels and provenance as the run in this process."""
    from dreamfx.cache import CACHES
    from dreamfx.config.request import DreamRequest
    from dreamfx.runs.batch import BatchRunner
    from dreamfx.runs.dreams import plan_dream
    from dreamfx.runs.folderwork import FolderWork
    from dreamfx.runs.worker import dream_task

    _photos(tmp_path / "in", ["a.png", "b.png"])
    digest = _mask(tmp_path / "m.png", left_black=True)
    sets = ["optimizer.steps=4", "loop.rounds=1", ("output.mask", str(tmp_path / "m.png"))]
    here = plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "here") + "/", batch_size=2,
                                   overrides=sets), host)
    BatchRunner(here.settings, here.jobs, here.options, here.make_dreamer, host=host).run()
    plan = plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "out") + "/", batch_size=2,
                                   overrides=sets), host)
    runner = BatchRunner(plan.settings, plan.jobs, plan.options, plan.make_dreamer, host=host)
    work = FolderWork(runner, runner.plan(), host)
    (task,) = list(work.tasks())
    assert [item.mask.data for item in task.items] == [(tmp_path / "m.png").read_bytes()] * 2
    (tmp_path / "m.png").rename(tmp_path / "elsewhere.png")  # the worker's machine has no such file
    CACHES["masks.feathered"].cache.clear()
    work.finish(task, dream_task(task))
    for name in ("a.png", "b.png"):
        assert np.array_equal(_pixels(tmp_path / "out" / name), _pixels(tmp_path / "here" / name)), name
        meta, local = read_metadata(tmp_path / "out" / name), read_metadata(tmp_path / "here" / name)
        assert meta["mask_sha256"] == local["mask_sha256"] == digest
        assert meta["settings"] == local["settings"] and meta["run_hash"] == local["run_hash"]  # the same provenance
