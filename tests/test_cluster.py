"""Folder runs on Dask distributed (``--cluster``, the ``dask`` executor; docs/cluster.md).

Fast tests: the executors' wiring, the client's tasks (grouping, look-ahead, unreadable
inputs), the worker check, and that the default run never imports Dask. Slow tests, on
loopback only: the client runs in this process (``cli``) except where a test signals it,
and the scheduler and workers are real processes. One cluster started with Dask's own
command line (``dask scheduler`` and ``dask worker``) serves the module: a run on it against
the in-process run (within 2/255), then a worker that lacks a plugin and one that cannot
import dreamfx, each joining it for its test. Tests that kill a worker or the scheduler
start their own: a worker SIGKILLed mid-run; the only worker SIGKILLed mid-run (the run says
so and ends after the connect timeout); the scheduler lost mid-run (and Dask's loggers stay
quiet), then a rerun on
``--cluster local:1`` that resumes (a real process: the local workers write to its
terminal, which must stay quiet); Ctrl-C on a ``--cluster local:1`` run (a real process,
signalled; its terminal stays quiet too).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
from PIL import Image

from dreamfx.errors import SettingsError
from dreamfx.config.request import DreamRequest
from dreamfx.runs.dreams import plan_dream

from .conftest import FAST, default_signals, photo

BIN = Path(sys.executable).parent


def _photos(folder: Path, sizes: list[tuple[int, int]]) -> list[Path]:
    """A different small photo of each size (width, height), named p00.png, p01.png, ..."""
    return [photo(folder / f"p{i:02d}.png", size, shift=10 * i) for i, size in enumerate(sizes)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    env.pop("DREAMFX_CLUSTER", None)
    return env


#: For an in-process run: no default cluster from the environment.
NO_CLUSTER = {"DREAMFX_CLUSTER": None}


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# -- wiring ---------------------------------------------------------------------------------------

def test_executors_are_a_plugin_kind_with_local_and_dask_built_in(host):
    assert {c.name: c.plugin for c in host.registry("executors")} == {"local": "executors", "dask": "executors"}
    assert [p.name for p in host.get("executors", "dask").parameters][0] == "address"


def test_the_request_picks_the_executor(host, tmp_path):
    _photos(tmp_path / "in", [(40, 30)])
    local = plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "out")), host)
    assert type(local.executor).__name__ == "Local"
    dask = plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "out"), cluster="local:1"), host)
    # local:N takes at most the machine's cores (tests/test_cluster_failures.py)
    assert (type(dask.executor).__name__, dask.executor.workers) == ("DaskExecutor", 1)
    remote = plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "out"), cluster="tcp://10.0.0.1:8786"),
                        host)
    assert remote.executor.address == "tcp://10.0.0.1:8786" and remote.executor.workers == 0
    with pytest.raises(SettingsError, match="local:N"):
        plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "out"), cluster="scheduler"), host)
    with pytest.raises(SettingsError, match="at least 1 worker"):
        plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "out"), cluster="local:0"), host)
    with pytest.raises(SettingsError, match="takes no --cluster"):
        plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "out"), cluster="local:2", executor="local"),
                   host)
    with pytest.raises(SettingsError, match="unknown executor 'ray'"):
        plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "out"), executor="ray"), host)
    with pytest.raises(SettingsError, match="one image is dreamed in this process"):
        plan_dream(DreamRequest([str(tmp_path / "in" / "p00.png")], str(tmp_path / "o.png"), cluster="local:2"), host)


def test_without_distributed_the_error_says_what_to_install(host, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    _photos(tmp_path / "in", [(40, 30)])
    with pytest.raises(SettingsError, match=r'pip install "dreamfx\[cluster\]"'):
        plan_dream(DreamRequest([str(tmp_path / "in")], str(tmp_path / "out"), cluster="local:2"), host)


@pytest.mark.process("start-up imports")
def test_the_default_run_and_planning_import_no_dask(tmp_path):
    _photos(tmp_path / "in", [(40, 30)])
    code = ("import sys\nfrom dreamfx.host.manager import create_host\nfrom dreamfx.config.request import DreamRequest\nfrom dreamfx.runs.dreams import plan_dream\n"
            "import dreamfx.cli, dreamfx.plugin\n"
            f"plan_dream(DreamRequest([{str(tmp_path / 'in')!r}], {str(tmp_path / 'out')!r}), create_host())\n"
            f"plan_dream(DreamRequest([{str(tmp_path / 'in')!r}], {str(tmp_path / 'out')!r}, cluster='local:1'), "
            "create_host())\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'tensorflow')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _work(host, tmp_path, inputs: list[Path], **request):
    from dreamfx.runs.batch import BatchRunner
    from dreamfx.runs.folderwork import FolderWork

    plan = plan_dream(DreamRequest([str(p) for p in inputs], str(tmp_path / "out") + "/", **request), host)
    runner = BatchRunner(plan.settings, plan.jobs, plan.options, plan.make_dreamer, host=host)
    return runner, FolderWork(runner, runner.plan(), host)


def test_tasks_group_same_sized_inputs_and_fail_unreadable_ones(host, tmp_path):
    photos = _photos(tmp_path / "in", [(40, 30), (50, 30), (40, 30), (40, 30), (50, 30)])
    empty = tmp_path / "in" / "empty.png"
    empty.write_bytes(b"")
    junk = tmp_path / "in" / "junk.png"
    junk.write_bytes(b"not an image at all")
    runner, work = _work(host, tmp_path, [*photos, empty, junk], batch_size=2)
    tasks = list(work.tasks())
    groups = sorted(sorted(Path(i.path).name for i in t.items) for t in tasks)
    # same size together, at most batch_size; the junk alone (its header cannot be read)
    assert groups == [["junk.png"], ["p00.png", "p02.png"], ["p01.png", "p04.png"], ["p03.png"]]
    assert all(i.data == Path(i.path).read_bytes() and len(i.digest) == 64 for t in tasks for i in t.items)
    failed = {o.job.source.name: o.reason for o in runner.outcomes if o.status == "failed"}
    assert list(failed) == ["empty.png"] and "empty" in failed["empty.png"]


def test_the_look_ahead_bounds_the_bytes_held(host, tmp_path):
    photos = _photos(tmp_path / "in", [(40, 30)] * 6)
    _, work = _work(host, tmp_path, photos, batch_size=16)
    work.lookahead_bytes = 1  # every input is flushed as soon as it is read
    assert [len(t.items) for t in work.tasks()] == [1] * 6


def test_a_worker_returns_a_silent_dream_as_silent(host, tmp_path):
    """What a worker dreams (executors.dream_task, here in this process) and the client writes
    (FolderWork.finish) keeps a silent dream's status and reason, as a local run does; with
    objective.map=auto the worker chooses each photo's map and the output stores it."""
    from dreamfx.runs.worker import dream_task
    from dreamfx.io.provenance import read_metadata

    dark = tmp_path / "in" / "dark.png"
    (lit,) = _photos(tmp_path / "in", [(40, 30)])
    Image.new("RGB", (40, 30)).save(dark)
    for overrides, statuses in (([], {"dark.png": "silent", "p00.png": "done"}),
                                (["objective.map=auto"], {"dark.png": "done", "p00.png": "done"})):
        runner, work = _work(host, tmp_path, [dark, lit], overrides=["optimizer.steps=2", "loop.rounds=1", *overrides],
                             force=True)
        for task in work.tasks():
            work.finish(task, dream_task(task))
        assert {o.job.source.name: o.status for o in runner.outcomes} == statuses
        dreamed = [o for o in runner.outcomes if o.job.source.name == "dark.png"][0]
        if not overrides:
            assert "conv3 map 19 does not respond to it" in dreamed.reason and dreamed.job.output.exists()
    assert read_metadata(dreamed.job.output)["settings"]["objective"]["map"] != 56  # chosen: 56 is zero on it


def test_the_worker_check_names_what_is_missing(host):
    from dreamfx.runs.worker import check_worker
    from dreamfx.kinds.executors import Requirements

    good = {"objective": ("objectives", "single-map", "objectives", host.plugins["objectives"].version)}
    assert check_worker(Requirements(__import__("dreamfx").__version__, good)) is None
    assert "has dreamfx" in check_worker(Requirements("9.9.9", good))
    missing = {"objective": ("objectives", "nowhere-map", "nowhere", "0.1.0")}
    assert check_worker(Requirements(__import__("dreamfx").__version__, missing)) == (
        "lacks objective 'nowhere-map': plugin 'nowhere' is not installed")
    other = {"objective": ("objectives", "single-map", "objectives", "0.0.1")}
    assert "has plugin 'objectives'" in check_worker(Requirements(__import__("dreamfx").__version__, other))
    assert check_worker(Requirements(__import__("dreamfx").__version__, good, "jax")) == (
        "runs Keras on tensorflow, the client on jax; start the workers with KERAS_BACKEND=jax")


# -- end to end, on loopback -----------------------------------------------------------------------

def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), np.int16)


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _gone(pids: list[int], wait: float = 20.0) -> list[int]:
    import psutil

    deadline = time.monotonic() + wait
    alive = [p for p in pids if psutil.pid_exists(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    return alive


class DaskProcesses:
    """A scheduler and workers started with Dask's own command line, on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.port, self.tmp = _free_port(), folder
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler_file = folder / "scheduler.json"
        self.procs: list[subprocess.Popen] = []
        self.scheduler = self._start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                      str(self.port), "--dashboard-address", ":0", "--no-show", "--scheduler-file",
                                      str(self.scheduler_file)], "scheduler")

    def _start(self, cmd: list[str], name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.tmp / f"{name}-{len(self.procs)}.log", "w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env or _env(), cwd=self.tmp)
        self.procs.append(proc)
        return proc

    def worker(self, **env: str) -> subprocess.Popen:
        return self._start([str(BIN / "dask"), "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
                            "--no-nanny", "--no-dashboard", "--death-timeout", "60"], "worker",
                           _env(DREAMFX_WORKER_THREADS="1", **env))

    def wait_for_workers(self, n: int, timeout: float = 120) -> None:
        """Until at least ``n`` workers have joined."""
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(n, timeout=timeout)

    def stop_worker(self, proc: subprocess.Popen, remaining: int, timeout: float = 60) -> None:
        """Stop a worker and wait until the scheduler counts ``remaining`` workers."""
        from distributed import Client

        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        with Client(self.address, timeout=30) as client:
            deadline = time.monotonic() + timeout
            while len(client.scheduler_info(n_workers=-1)["workers"]) != remaining:
                assert time.monotonic() < deadline, "the scheduler still counts a stopped worker"
                time.sleep(0.2)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The module's cluster: a scheduler and two workers (started once, warm after the first
    run), for every test that kills none of them."""
    processes = DaskProcesses(tmp_path_factory.mktemp("cluster"))
    try:
        processes.worker()
        processes.worker()
        processes.wait_for_workers(2)
        yield processes
    finally:
        processes.close()
    assert all(p.poll() is not None for p in processes.procs)


@contextlib.contextmanager
def _guest_worker(cluster: DaskProcesses, **env: str) -> Iterator[subprocess.Popen]:
    """One more worker on the module's cluster for the block (with ``env``), stopped after."""
    worker = cluster.worker(**env)
    try:
        cluster.wait_for_workers(3)
        yield worker
    finally:
        cluster.stop_worker(worker, remaining=2)


@pytest.fixture
def dask_processes(tmp_path):
    """A cluster of the test's own (it kills a worker or the scheduler): start workers with ``worker()``."""
    processes = DaskProcesses(tmp_path)
    yield processes
    processes.close()
    assert all(p.poll() is not None for p in processes.procs)


class _AtFirstOutput(threading.Thread):
    """While a run goes on in this thread (``cli``), wait in the background for its first
    finished output in ``folder``, then call ``action`` once (``acted`` says it did)."""

    def __init__(self, folder: Path, action: Callable[[], None], timeout: float = 240) -> None:
        super().__init__(daemon=True)
        self.folder, self.action, self.timeout = folder, action, timeout
        self.stopped = threading.Event()
        self.acted = False

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.stopped.is_set() and time.monotonic() < deadline:
            if any(self.folder.glob("p*.png")):
                self.action()
                self.acted = True
                return
            time.sleep(0.05)

    def __enter__(self) -> "_AtFirstOutput":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()


def _wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.process("cluster workers")
def test_a_cluster_dreams_like_the_in_process_run(tmp_path, cli, cluster):
    photos = _photos(tmp_path / "in", [(48, 36), (48, 36), (56, 40), (56, 40), (56, 40)])
    (tmp_path / "in" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    here = cli("run", tmp_path / "in", "-o", tmp_path / "here", *FAST, env=NO_CLUSTER)
    assert here.returncode == 1, here.stderr
    there = cli("run", tmp_path / "in", "-o", tmp_path / "there", "--cluster", cluster.address, *FAST)
    assert there.returncode == 1, there.stderr
    assert "distributed" not in there.stderr and "Traceback" not in there.stderr  # Dask's log stays quiet
    report = json.loads((tmp_path / "there" / "report.json").read_text())
    assert report["counts"] == {"done": 5, "silent": 0, "skipped": 0, "refused": 0, "failed": 1, "pending": 0}
    bad = next(f for f in report["files"] if f["input"].endswith("bad.png"))
    assert "not a readable image" in bad["reason"]
    for source in photos:
        a, b = _pixels(tmp_path / "here" / source.name), _pixels(tmp_path / "there" / source.name)
        assert np.abs(a - b).max() <= 2, source.name
        meta = json.loads(Image.open(tmp_path / "there" / source.name).text["dreamfx"])
        assert meta["input_sha256"] == __import__("hashlib").sha256(source.read_bytes()).hexdigest()
    assert not _leftovers(tmp_path / "there")
    # resume: nothing to do, so no cluster is started
    (tmp_path / "in" / "bad.png").unlink()
    again = cli("run", tmp_path / "in", "-o", tmp_path / "there", "--cluster", "local:1", *FAST)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "there" / "report.json").read_text())["counts"]["skipped"] == 5


@pytest.mark.slow
@pytest.mark.process("cluster workers")
def test_a_worker_without_the_plugin_is_named_before_any_work(tmp_path, cli, cluster):
    _photos(tmp_path / "in", [(40, 30)] * 2)
    with _guest_worker(cluster, DREAMFX_DISABLE_PLUGINS="spotlight"):  # as if the plugin were not installed there
        started = time.monotonic()
        # the scheduler file that `dask scheduler --scheduler-file` wrote, as on SLURM
        run = cli("run", tmp_path / "in", "-o", tmp_path / "out", "--cluster", cluster.scheduler_file,
                  "--set", "objective=spotlight-map", *FAST)
        seconds = time.monotonic() - started
    lines = run.one_line_error(1, "lacks objective 'spotlight-map': plugin 'spotlight' is disabled").splitlines()
    assert lines[0].startswith("dreamfx: error: Dask worker tcp://127.0.0.1:")
    assert not list((tmp_path / "out").glob("*.png"))
    assert seconds < 60


@pytest.mark.slow
@pytest.mark.process("cluster workers")
def test_a_worker_that_cannot_import_dreamfx_is_named_before_any_work(tmp_path, cli, cluster):
    _photos(tmp_path / "in", [(40, 30)])
    broken = tmp_path / "broken" / "dreamfx"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('simulated: no dreamfx on this worker')\n")
    with _guest_worker(cluster, PYTHONPATH=str(broken.parent)):  # its `import dreamfx` fails
        run = cli("run", tmp_path / "in", "-o", tmp_path / "out", "--cluster", cluster.address, *FAST)
    run.one_line_error(1, "cannot run dreamfx", "simulated: no dreamfx")
    assert not list((tmp_path / "out").glob("*.png"))


@pytest.mark.slow
@pytest.mark.process("cluster workers")
def test_dask_cli_cluster_survives_a_killed_worker(tmp_path, cli, dask_processes):
    photos = _photos(tmp_path / "in", [(40 + 4 * i, 32) for i in range(8)])  # 8 sizes: 8 tasks
    workers = [dask_processes.worker(), dask_processes.worker()]
    dask_processes.wait_for_workers(2)
    out = tmp_path / "out"
    with _AtFirstOutput(out, lambda: workers[0].send_signal(signal.SIGKILL)) as killer:  # mid-run: its task
        run = cli("run", tmp_path / "in", "-o", out, "--cluster", dask_processes.address,  # runs again on the other
                  "--set", "optimizer.steps=40", "--set", "loop.rounds=2", env=NO_CLUSTER)
    assert killer.acted, "the run ended before a worker was killed"
    assert workers[0].wait(timeout=30) == -signal.SIGKILL
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["done"] == 8 and not report["interrupted"]
    assert sorted(p.name for p in out.iterdir()) == sorted([p.name for p in photos] + ["report.json"])
    assert all(_pixels(out / p.name).shape == _pixels(p).shape for p in photos)
    assert sum(line.startswith("[") and " done " in line for line in run.stdout.splitlines()) == 8  # each once


@contextlib.contextmanager
def _dask_log_records() -> Iterator[list[logging.LogRecord]]:
    """The records Dask's loggers (distributed, dask, tornado, bokeh) let through during the
    block, from any thread: what its handlers would print on the terminal (file descriptor
    2, which an in-process run's captured stderr does not see)."""
    import gc

    gc.collect()  # comms of clients closed before the block go now ("dangling stream")
    records: list[logging.LogRecord] = []
    real = logging.Logger.handle

    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in ("distributed", "dask", "tornado", "bokeh"):
            records.append(record)
        real(self, record)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logging.Logger, "handle", handle)
        yield records


@pytest.mark.slow
@pytest.mark.process("cluster workers")
def test_with_no_worker_left_the_run_says_so_and_ends_with_the_report(tmp_path, cli, dask_processes, monkeypatch):
    from .test_cluster_failures import short_connect_timeout

    wait = 8.0  # connect_timeout: how long a run waits for a worker when none is left
    short_connect_timeout(monkeypatch, wait)
    _photos(tmp_path / "in", [(40 + 4 * i, 32) for i in range(6)])  # 6 sizes: 6 tasks
    worker = dask_processes.worker()
    dask_processes.wait_for_workers(1)
    out = tmp_path / "out"
    killed: list[float] = []

    def kill() -> None:
        worker.send_signal(signal.SIGKILL)
        killed.append(time.monotonic())

    with _AtFirstOutput(out, kill) as killer:  # the only worker, mid-run: before issue 24 the run waited forever
        run = cli("run", tmp_path / "in", "-o", out, "--cluster", dask_processes.address,
                  "--set", "optimizer.steps=60", "--set", "loop.rounds=2", env=NO_CLUSTER)
    seconds = time.monotonic() - killed[0]
    assert killer.acted, "the run ended before the worker was killed"
    assert run.returncode == 1, run.stderr[-3000:]
    assert f"no Dask worker left at {dask_processes.address}: waiting up to 8 s for one to join" in run.stdout
    assert run.stderr.strip().splitlines()[-1] == (
        f"dreamfx: error: no Dask worker left at {dask_processes.address} (none joined in 8 s); finished outputs "
        "are complete, run again to resume"), run.stderr[-3000:]
    assert wait <= seconds < wait + 60, seconds  # a check every 2 s; room for a loaded machine
    report = json.loads((out / "report.json").read_text())
    done = report["counts"]["done"]
    assert 1 <= done < 6 and report["counts"]["failed"] == 6 - done and report["counts"]["pending"] == 0
    assert "no Dask worker left" in report["stopped"]
    assert all("no Dask worker left" in f["reason"] for f in report["files"] if f["status"] == "failed")
    assert not _leftovers(out)


@pytest.mark.slow
@pytest.mark.process("cluster workers")
def test_losing_the_scheduler_writes_the_report_and_a_rerun_resumes(tmp_path, cli, dask_processes):
    photos = _photos(tmp_path / "in", [(40 + 4 * i, 32) for i in range(6)])
    dask_processes.worker()
    dask_processes.wait_for_workers(1)
    out = tmp_path / "out"
    with _AtFirstOutput(out, lambda: dask_processes.scheduler.send_signal(signal.SIGKILL)) as killer, \
            _dask_log_records() as logged:
        run = cli("run", tmp_path / "in", "-o", out, "--cluster", dask_processes.address,
                  "--set", "optimizer.steps=60", "--set", "loop.rounds=2", env=NO_CLUSTER)
    assert killer.acted, "the run ended before the scheduler was killed"
    assert run.returncode == 1, run.stderr[-3000:]
    assert "lost the Dask scheduler" in run.stderr and "run again to resume" in run.stderr
    # and nothing else on the terminal: before issue 24, distributed.client's ERROR tracebacks
    assert [f"{r.name} {r.levelname}: {r.getMessage()}" for r in logged] == []
    report = json.loads((out / "report.json").read_text())
    assert "lost the Dask scheduler" in report["stopped"]
    done = report["counts"]["done"]
    assert 1 <= done < 6 and report["counts"]["pending"] == 6 - done
    assert not _leftovers(out)
    # the rerun on a local cluster, as a user runs it: its workers write to the terminal
    # (file descriptor 2) that `dreamfx run` shares with them, and Dask's log stays quiet there
    rerun = subprocess.run([str(BIN / "dreamfx"), "run", str(tmp_path / "in"), "-o", str(out), "--set",
                            "optimizer.steps=60", "--set", "loop.rounds=2", "--cluster", "local:1"],
                           capture_output=True, text=True, timeout=300, env=_env())
    assert rerun.returncode == 0, rerun.stderr
    assert "distributed" not in rerun.stderr and "Traceback" not in rerun.stderr, rerun.stderr
    counts = json.loads((out / "report.json").read_text())["counts"]
    assert (counts["skipped"], counts["done"]) == (done, 6 - done)
    assert len(list(out.glob("p*.png"))) == len(photos)


@pytest.mark.slow
@pytest.mark.process("signals")
def test_ctrl_c_cancels_writes_the_report_and_leaves_no_dask_process(tmp_path):
    _photos(tmp_path / "in", [(40 + 4 * i, 32) for i in range(6)])
    out = tmp_path / "out"
    proc = subprocess.Popen([str(BIN / "dreamfx"), "run", str(tmp_path / "in"), "-o", str(out), "--cluster",
                             "local:1", "--set", "optimizer.steps=60", "--set", "loop.rounds=2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            preexec_fn=default_signals)
    try:
        _wait_for(lambda: len(list(out.glob("p*.png"))) >= 1, 240, proc)
        children = _children(proc.pid)
        assert children, "the local cluster's worker processes"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr
    assert "distributed" not in stderr and "Traceback" not in stderr, stderr  # its workers' terminal stays quiet
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True and report["counts"]["done"] >= 1 and report["counts"]["pending"] >= 1
    assert not _leftovers(out)
    assert not _gone(children), "a Dask process outlived the run"


def test_the_measured_table_is_the_benchmarks_output():
    """docs/cluster.md quotes benchmarks/cluster.py's figures as its --markdown prints them
    from the committed run (benchmarks/cluster-results.json)."""
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("cluster_benchmark", root / "benchmarks" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = json.loads((root / "benchmarks" / "cluster-results.json").read_text())
    assert module.markdown(results) in (root / "docs" / "cluster.md").read_text()
