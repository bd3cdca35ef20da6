"""``dreamfx video --cluster`` (issue 27, item 3): shots dreamed on Dask workers as they are
dreamed in lanes here. The cluster runs in this process (a scheduler and a worker on threads,
reached over loopback TCP as a remote one is): the client's tasks, the worker's dreams and the
writes are the real ones, without a worker process's start-up. The run gives the same frames
as the local lanes, restarts at cuts, resumes part-way shots exactly, lists the shots in
report.json; a bad address is a usage error, a scheduler that is gone one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamfx.tools.clips import save_clip

from .test_video_shots import multi_shot

TINY = ("optimizer.steps=2", "loop.rounds=1")
LENGTHS = [3, 4, 2]
STARTS = [0, 3, 7]


def _frames(folder: Path) -> list[np.ndarray]:
    def gray(path: Path) -> np.ndarray:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), np.int16)

    return [gray(p) for p in sorted(folder.glob("frame_*.png"))]


def _same(a: list[np.ndarray], b: list[np.ndarray], exact: bool = True) -> None:
    """The same frames: bit for bit where the worker is this process (the same kernels, and a
    frame's dream does not depend on its batch); in a worker process, within what the
    arithmetic guarantees (a pixel may round the other way, 1/255, rarely)."""
    assert len(a) == len(b) and a
    for i, (x, y) in enumerate(zip(a, b)):
        diff = np.abs(x - y)
        assert (diff.max() == 0) if exact else (diff.max() <= 1 and (diff > 0).mean() < 0.01), (i, diff.max())


@pytest.fixture(scope="module")
def shot_clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shots") / "clip"
    save_clip(folder, multi_shot(LENGTHS, (48, 36), seed=9))
    return folder


@pytest.fixture(scope="module")
def scheduler():
    """A Dask scheduler and one single-threaded worker in this process, on loopback TCP."""
    pytest.importorskip("distributed")
    pytest.importorskip("cv2")
    import distributed

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _video(host, clip: Path, out: Path, cluster: str | None = None, **options):
    from dreamfx.engine.dreamer import Dreamer
    from dreamfx.runs.video import VideoRequest, run_video

    return run_video(VideoRequest(str(clip), str(out) + "/", overrides=TINY, cluster=cluster, **options), host,
                     lambda settings: Dreamer(host, settings, "cpu"))


def test_a_cluster_dreams_the_frames_of_the_local_lanes(shot_clip, tmp_path, host, scheduler):
    here = _video(host, shot_clip, tmp_path / "here", lanes=2)
    there = _video(host, shot_clip, tmp_path / "there", scheduler, lanes=2)
    assert here.dreamed == there.dreamed == sum(LENGTHS) and not there.interrupted
    a, b = _frames(tmp_path / "here"), _frames(tmp_path / "there")
    _same(a, b)  # bit for bit
    report = json.loads((tmp_path / "there" / "report.json").read_text())
    assert report["shots"] == [{"first": 0, "last": 2}, {"first": 3, "last": 6}, {"first": 7, "last": 8}]
    assert report["coherence"]["pairs"] == sum(LENGTHS) - len(LENGTHS)  # no pair across a cut
    local = json.loads((tmp_path / "here" / "report.json").read_text())["coherence"]
    assert report["coherence"]["warping_error"] == pytest.approx(local["warping_error"], rel=0.05, abs=1e-4)
    meta = json.loads(Image.open(tmp_path / "there" / "frame_00004.png").text["dreamfx"])
    assert meta["frame"] == 4 and meta["animation"] == "video" and meta["run_hash"] == report["run_hash"]
    # a shot's first frame is the frame's dream alone, on the cluster too
    _video(host, shot_clip, tmp_path / "fresh", scheduler, blend=0.0)
    c = _frames(tmp_path / "fresh")
    for i in range(sum(LENGTHS)):
        assert np.array_equal(b[i], c[i]) == (i in STARTS), i


def test_the_progress_says_where_the_shots_are_dreamed(shot_clip, tmp_path, host, scheduler):
    """The executor's news (its workers and threads) reaches the frame progress, as `run`
    shows it: printed above the bar, or as a plain line off a terminal."""
    import io

    from rich.console import Console

    from dreamfx.cli.progress import FrameProgress
    from dreamfx.engine.dreamer import Dreamer
    from dreamfx.runs.video import VideoRequest, run_video

    out = io.StringIO()
    with FrameProgress(Console(file=out, width=100), "dreaming") as progress:
        run_video(VideoRequest(str(shot_clip), str(tmp_path / "out") + "/", overrides=TINY, cluster=scheduler),
                  host, lambda settings: Dreamer(host, settings, "cpu"), progress)
    assert f"on 1 Dask worker (1 thread) at {scheduler}" in out.getvalue()
    assert "[9/9] frames done" in out.getvalue()  # off a terminal: a count (lanes finish out of order)
    quiet = io.StringIO()
    FrameProgress(Console(file=quiet), "dreaming", quiet=True).status("on 1 Dask worker")
    assert quiet.getvalue() == ""


def test_ctrl_c_keeps_the_frames_written_and_a_rerun_resumes_exactly(shot_clip, tmp_path, host, scheduler,
                                                                    monkeypatch):
    from dreamfx.runs.videowork import VideoWork

    whole = _video(host, shot_clip, tmp_path / "whole", scheduler)
    real = VideoWork.finish

    def finish_then_ctrl_c(self, task, result):
        real(self, task, result)
        raise KeyboardInterrupt

    monkeypatch.setattr(VideoWork, "finish", finish_then_ctrl_c)
    out = tmp_path / "out"
    stopped = _video(host, shot_clip, out, scheduler)
    assert stopped.interrupted and 0 < stopped.dreamed < sum(LENGTHS) and not (out / "report.json").exists()
    assert len(list(out.glob("frame_*.png"))) == stopped.dreamed and not list(out.glob("*.tmp"))
    monkeypatch.setattr(VideoWork, "finish", real)
    again = _video(host, shot_clip, out, scheduler)
    assert again.reused == stopped.dreamed and again.dreamed == whole.dreamed - stopped.dreamed
    _same(_frames(tmp_path / "whole"), _frames(out))
    assert json.loads((out / "report.json").read_text())["shots"][1] == {"first": 3, "last": 6}


def test_a_resume_on_the_cluster_gives_the_same_frames(shot_clip, tmp_path, host, scheduler):
    out = tmp_path / "out"
    _video(host, shot_clip, out)
    before = _frames(out)
    for index in (2, 5, 6):  # as if Ctrl-C had stopped each shot part-way
        (out / f"frame_{index:05d}.png").unlink()
    again = _video(host, shot_clip, out, scheduler)
    assert again.dreamed == 3 and again.reused == sum(LENGTHS) - 3
    _same(before, _frames(out))
    nothing = _video(host, shot_clip, out, scheduler)  # nothing left to dream: no task is sent
    assert nothing.dreamed == 0 and nothing.reused == sum(LENGTHS)


def test_a_bad_address_is_a_usage_error_and_a_gone_scheduler_one_line(shot_clip, tmp_path, cli, monkeypatch):
    pytest.importorskip("distributed")
    bad = cli("video", shot_clip, "-o", str(tmp_path / "out") + "/", "--cluster", "scheduler", "-q")
    bad.one_line_error(2, "--cluster 'scheduler': use local:N")
    from_env = cli("video", shot_clip, "-o", str(tmp_path / "out") + "/", "-q", env={"DREAMFX_CLUSTER": "local:0"})
    from_env.one_line_error(2, "local:N needs at least 1 worker")
    assert not (tmp_path / "out").exists()
    from dreamfx_executors.dask_engine import DaskExecutor

    real = DaskExecutor.__init__
    monkeypatch.setattr(DaskExecutor, "__init__",
                        lambda self, address, **kw: real(self, address, **{**kw, "connect_timeout": 1.0}))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    gone = cli("video", shot_clip, "-o", str(tmp_path / "out") + "/", "--cluster", f"tcp://127.0.0.1:{port}", "-q")
    gone.one_line_error(1, "cannot reach the Dask scheduler")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.process("cluster workers")
def test_local_workers_dream_the_frames_of_the_local_lanes(shot_clip, tmp_path, cli):
    """``--cluster local:1``: a worker process of its own (its start-up is most of the time)."""
    pytest.importorskip("distributed")
    pytest.importorskip("cv2")
    sets = [w for pair in (("--set", t) for t in TINY) for w in pair]
    here = cli("video", shot_clip, "-o", str(tmp_path / "here") + "/", *sets, "-q", env={"DREAMFX_CLUSTER": None})
    assert here.returncode == 0, here.stderr
    there = cli("video", shot_clip, "-o", str(tmp_path / "there") + "/", *sets, "--cluster", "local:1")
    assert there.returncode == 0, there.stderr
    assert "distributed" not in there.stderr and "Traceback" not in there.stderr  # Dask's log stays quiet
    assert "3 shots: 0-2, 3-6, 7-8" in " ".join(there.stdout.split())
    assert "on 1 Dask worker (1 thread) at local:1" in there.stdout  # where the shots were dreamed
    _same(_frames(tmp_path / "here"), _frames(tmp_path / "there"), exact=False)


def test_a_long_clip_is_cut_into_tasks_of_a_few_shots(shot_clip, tmp_path, host, scheduler, monkeypatch):
    """Memory: a task holds about TASK_FRAMES frames (whole shots), not a share of the clip
    per worker thread; the frames are those of one task for all."""
    from dreamfx.runs import videowork

    made: list[list[tuple[int, int]]] = []
    tasks = videowork.VideoWork.tasks

    def recorded(self):
        for task in tasks(self):
            made.append([(s.first, s.last) for s in task.shots])
            yield task

    monkeypatch.setattr(videowork.VideoWork, "tasks", recorded)
    monkeypatch.setattr(videowork, "TASK_FRAMES", 3)
    _video(host, shot_clip, tmp_path / "cut", scheduler, lanes=2)
    assert made == [[(0, 2)], [(3, 6)], [(7, 8)]]  # 9 frames / 3: three tasks, the 4-frame shot whole
    monkeypatch.setattr(videowork, "TASK_FRAMES", 1000)
    made.clear()
    _video(host, shot_clip, tmp_path / "whole", scheduler, lanes=2)
    assert len(made) == 2  # one worker thread: two tasks
    _same(_frames(tmp_path / "cut"), _frames(tmp_path / "whole"))


def test_one_mask_for_all_reaches_the_workers_as_bytes(shot_clip, tmp_path, host, scheduler, monkeypatch):
    """``--mask FILE`` with ``--cluster``: each task carries the mask's bytes and the worker
    blends through them, never reading the path (on another machine it may not exist, or
    hold another file); the frames are the in-process run's, bit for bit."""
    from dreamfx.cache import CACHES
    from dreamfx.engine import masks
    from dreamfx.engine.dreamer import Dreamer
    from dreamfx.runs.video import VideoRequest, run_video

    mask = np.full((36, 48), 255, np.uint8)
    mask[:, :24] = 0
    Image.fromarray(mask).save(tmp_path / "m.png")
    sets = (*TINY, ("output.mask", str(tmp_path / "m.png")))

    def video(out: Path, cluster: str | None):
        return run_video(VideoRequest(str(shot_clip), str(out) + "/", overrides=sets, cluster=cluster), host,
                         lambda settings: Dreamer(host, settings, "cpu"))

    here = video(tmp_path / "here", None)
    CACHES["masks.feathered"].cache.clear()
    read: list[bool] = []
    real = masks.mask_for
    monkeypatch.setattr(masks, "mask_for", lambda *a, **k: read.append((a[4:] or [k.get("data")])[0] is not None)
                        or real(*a, **k))
    there = video(tmp_path / "there", scheduler)
    assert here.dreamed == there.dreamed == sum(LENGTHS)
    assert read and all(read)  # every mask the worker made came from the bytes it was sent
    _same(_frames(tmp_path / "here"), _frames(tmp_path / "there"))
