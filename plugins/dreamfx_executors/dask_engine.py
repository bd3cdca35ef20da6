"""The ``dask`` executor: a folder run's tasks on Dask distributed workers.

``local:N`` starts a ``LocalCluster`` of N single-threaded worker processes (closed at the
end); anything else is a running scheduler (``tcp://host:8786``, or a scheduler file
``*.json`` as ``dask scheduler --scheduler-file`` writes). Before any work every worker is
checked (the same dreamfx, the same plugins at the same versions: one line if not).
Each worker's TensorFlow uses all of its machine's cores (measured faster than dividing
them among the workers there, docs/cluster.md); ``DREAMFX_WORKER_THREADS`` caps it.
Tasks are submitted as results come back, at most ``tasks_per_worker`` per worker thread
and ``max_megabytes`` of input bytes in flight. A task that raises is retried on another
worker (``retries``); a worker that dies has its tasks rerun by the scheduler. When no
worker is left, the run waits ``connect_timeout`` seconds for one to join (and says so),
then fails what is left. Losing the scheduler ends the run early (the report says so; a
rerun resumes). Ctrl-C cancels what is in flight. ``local:N`` takes at most one worker per
core, and a ``tcp://`` address must answer as a scheduler does (:mod:`.reach`) before Dask
connects to it.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import os
import re
import signal
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

from dreamfx.plugin import DreamfxError, ExecutorError, SettingsError

from .reach import NotAScheduler, local_cores, probe, scheduler_address

_LOCAL = re.compile(r"^local(?::(\d+))?$")
INSTALL = 'pip install "dreamfx[cluster]"'


#: Seconds without a result before the scheduler is asked how many workers it has.
CHECK_WORKERS_EVERY = 2.0


class _Lost(Exception):
    """The client lost its scheduler."""


class _NoWorkers(Exception):
    """No worker was left, and none joined in time."""


class DaskExecutor:
    def __init__(self, address: str, *, retries: int, tasks_per_worker: int, max_megabytes: int,
                 connect_timeout: float) -> None:
        # the parameters' defaults and descriptions are declared once, in the factory's signature
        address = address.strip()
        local = _LOCAL.match(address)
        if local:
            cores = local_cores()
            self.workers = int(local.group(1) or cores)
            if self.workers < 1:
                raise SettingsError(f"--cluster {address}: local:N needs at least 1 worker")
            if self.workers > cores:  # each worker is a process with its own TensorFlow and model
                raise SettingsError(f"--cluster {address}: this machine has {cores} core{'s' if cores != 1 else ''}; "
                                    f"a local cluster takes one worker process per core at most (local:{cores})")
        elif "://" in address or address.endswith(".json"):
            self.workers = 0
        else:
            raise SettingsError(f"--cluster {address!r}: use local:N (a local cluster of N worker processes), a "
                                "scheduler's address such as tcp://scheduler:8786, or a scheduler file (.json)")
        if retries < 0 or tasks_per_worker < 1 or max_megabytes < 1 or connect_timeout <= 0:
            raise SettingsError("the dask executor needs retries >= 0, tasks_per_worker >= 1, max_megabytes >= 1 "
                                "and a positive connect_timeout")
        if importlib.util.find_spec("distributed") is None:
            raise SettingsError(f"--cluster needs Dask's distributed, which is not installed: {INSTALL}")
        self.address, self.retries = address, retries
        self.tasks_per_worker, self.max_bytes = tasks_per_worker, max_megabytes << 20
        self.connect_timeout = connect_timeout

    def describe(self) -> str:
        return f"dask {self.address}"

    # -- the run --------------------------------------------------------------------------------
    def run(self, work: Any) -> None:
        environ = dict(os.environ)  # a nanny sets OMP_NUM_THREADS & co. in this process: put back after
        try:
            with _quiet(not work.debug):
                self._run(work)
        finally:
            for key in set(os.environ) - set(environ):
                del os.environ[key]
            os.environ.update(environ)

    def _run(self, work: Any) -> None:
        import distributed

        work.status(f"starting a local Dask cluster of {self.workers} workers" if self.workers
                    else f"connecting to the Dask scheduler at {self.address}")
        client, cluster = self._connect(distributed, quiet=not work.debug)
        pending: dict[Any, Any] = {}
        try:
            workers = self._check(client, work)
            threads = sum(int(info["nthreads"]) for info in workers.values())
            where = f"local:{self.workers}" if self.workers else self.address
            work.status(f"on {len(workers)} Dask worker{'s' if len(workers) != 1 else ''} "
                        f"({threads} thread{'s' if threads != 1 else ''}) at {where}")
            self._dream(distributed, client, work, pending, workers)
        except KeyboardInterrupt:
            with _shielded():
                _cancel(client, pending)
            raise
        finally:
            with _shielded():
                _close(client, cluster)

    def _connect(self, distributed: Any, quiet: bool) -> tuple[Any, Any]:
        cluster = None
        try:
            if self.workers:
                env = {"DREAMFX_LOCAL_WORKER": "1"}
                if quiet:  # the workers share this terminal: TensorFlow's native start-up lines off
                    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "DREAMFX_WORKER_QUIET": "1"})
                import dask

                # no MALLOC_TRIM_THRESHOLD_ for our workers: it made every dream 2-3x slower
                # (glibc's adaptive mmap threshold off; see dreamfx.runs.folderwork)
                with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                    cluster = distributed.LocalCluster(
                        n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=":0", silence_logs=logging.CRITICAL if quiet else logging.INFO, env=env)
                client = distributed.Client(cluster, timeout=self.connect_timeout)
            elif self.address.endswith(".json") and "://" not in self.address:
                if not Path(self.address).is_file():
                    raise ExecutorError(f"--cluster {self.address}: no such scheduler file")
                left = self._probe(scheduler_address(self.address))
                client = distributed.Client(scheduler_file=self.address, timeout=left)
            else:
                client = distributed.Client(self.address, timeout=self._probe(self.address))
        except DreamfxError:
            raise
        except KeyboardInterrupt:
            with _shielded():
                _close(None, cluster)
            raise
        except Exception as exc:  # noqa: BLE001 - OSError, a timeout; a worker's address answers the RPCs wrongly
            if cluster is not None:
                _close(None, cluster)
            hint = "" if isinstance(exc, (OSError, TimeoutError)) else " (is it a scheduler's address?)"
            raise ExecutorError(f"cannot reach the Dask scheduler at {self.address}: {_line(exc)}{hint}") from exc
        try:
            client.wait_for_workers(1, timeout=self.connect_timeout)
        except KeyboardInterrupt:
            with _shielded():
                _close(client, cluster)
            raise
        except (OSError, TimeoutError) as exc:
            _close(client, cluster)
            raise ExecutorError(f"no Dask worker joined the scheduler at {self.address} within "
                                f"{self.connect_timeout:g} s (start some: dask worker {self.address})") from exc
        return client, cluster

    def _probe(self, address: str) -> float:
        """Dask's timeout for the client, once ``address`` answered as a scheduler does."""
        try:
            left = probe(address, self.connect_timeout) if address else self.connect_timeout
        except NotAScheduler as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        return max(left, min(self.connect_timeout, 5.0))

    def _check(self, client: Any, work: Any) -> dict[str, Any]:
        """Every worker can dream these settings, or one line saying which cannot and why."""
        workers = client.scheduler_info(n_workers=-1)["workers"]
        try:
            answers = client.run(work.check_function, work.requirements, on_error="return")
        except Exception as exc:  # noqa: BLE001 - e.g. a worker that cannot unpickle dreamfx's function
            raise ExecutorError(f"a Dask worker at {self.address} cannot run dreamfx: {_line(exc)}; install the "
                                "client's dreamfx and plugins on every worker (docs/cluster.md)") from exc
        problems = []
        for address, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                problems.append(f"Dask worker {address} cannot run dreamfx: {_line(answer)}")
            elif answer is not None:
                problems.append(f"Dask worker {address} {answer}")
        if problems:
            more = f" (and {len(problems) - 1} more workers)" if len(problems) > 1 else ""
            raise ExecutorError(f"{problems[0]}{more}; install the client's dreamfx and plugins on every worker "
                                "(docs/cluster.md)")
        return workers

    def _dream(self, distributed: Any, client: Any, work: Any, pending: dict[Any, Any],
               workers: dict[str, Any]) -> None:
        threads = sum(int(info["nthreads"]) for info in workers.values()) or 1
        work.threads = threads  # tasks that run at once, before the first is made (a video groups its shots by it)
        max_tasks = max(2, self.tasks_per_worker * threads)
        in_flight = distributed.as_completed()
        held = 0
        watch = _WorkerWatch(client, work, self.address, self.connect_timeout)

        def collect() -> None:
            nonlocal held
            while not _ready(in_flight, CHECK_WORKERS_EVERY):
                watch.check()
            future = next(in_flight)
            task = pending.pop(future)
            held -= task.nbytes
            self._settle(work, future, task)

        try:
            for task in work.tasks():
                while pending and (len(pending) >= max_tasks or held + task.nbytes > self.max_bytes):
                    collect()
                try:
                    future = client.submit(_dream_overlapped, work.worker_function, task, retries=self.retries,
                                           pure=False)
                except Exception as exc:  # noqa: BLE001 - a closed client: the scheduler is gone
                    raise _Lost(_line(exc)) from exc
                pending[future] = task
                in_flight.add(future)
                held += task.nbytes
            while pending:
                collect()
        except _Lost as lost:
            work.stop(f"lost the Dask scheduler at {self.address} ({lost}); finished outputs are complete, "
                      "run again to resume")
            pending.clear()
        except _NoWorkers as gone:
            _cancel(client, pending)
            work.fail_rest(str(gone))
            work.stop(f"{gone}; finished outputs are complete, run again to resume")

    def _settle(self, work: Any, future: Any, task: Any) -> None:
        status = future.status
        if status == "cancelled":
            raise _Lost("its tasks were cancelled")
        if status == "finished":
            try:
                results = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. results that cannot be unpickled here
                work.fail(task, f"its result could not be fetched: {_line(exc)}")
                return
            work.finish(task, results)
            return
        try:
            exc = future.exception()
        except Exception as inner:  # noqa: BLE001 - the scheduler went away while we asked
            raise _Lost(_line(inner)) from inner
        if type(exc).__name__ == "KilledWorker":
            work.fail(task, "the workers that ran it died, again and again (Dask's KilledWorker): too little "
                      "memory there? see the workers' logs")
        else:
            work.fail(task, f"the worker failed ({self.retries} retries): {_line(exc)}")


class _WorkerWatch:
    """While no result comes back: whether the scheduler still has a worker. With none left
    the user is told at once, and after ``wait`` seconds without one :class:`_NoWorkers`."""

    def __init__(self, client: Any, work: Any, address: str, wait: float) -> None:
        self.client, self.work, self.address, self.wait = client, work, address, wait
        self.none_since: float | None = None

    def check(self) -> None:
        workers = _count_workers(self.client)
        if workers is None:
            return  # the scheduler did not answer: a lost scheduler cancels the futures
        now = time.monotonic()
        if workers:
            if self.none_since is not None:
                self.work.status(f"on {workers} Dask worker{'s' if workers != 1 else ''} again at {self.address}")
            self.none_since = None
        elif self.none_since is None:
            self.none_since = now
            self.work.status(f"no Dask worker left at {self.address}: waiting up to {self.wait:g} s for one to join")
        elif now - self.none_since >= self.wait:
            raise _NoWorkers(f"no Dask worker left at {self.address} (none joined in {self.wait:g} s)")


def _ready(in_flight: Any, seconds: float) -> bool:
    """Whether a finished future is ready in ``in_flight`` within ``seconds`` (as
    ``as_completed`` itself waits: on its condition, in steps of 0.1 s)."""
    deadline = time.monotonic() + seconds
    condition = getattr(in_flight, "thread_condition", None)
    while not in_flight.has_ready():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if condition is None:
            time.sleep(min(left, 0.05))
            continue
        with condition:
            condition.wait(timeout=min(left, 0.1))
    return True


def _count_workers(client: Any) -> int | None:
    """The scheduler's count of workers, or None if it does not answer within 5 s."""
    try:
        info = client.sync(client.scheduler.identity, n_workers=0, callback_timeout=5)
        return int(info["n_workers"])
    except Exception:  # noqa: BLE001 - a scheduler going away: the futures say so
        return None


# -- on a worker ----------------------------------------------------------------------------------

def _dream_overlapped(worker_function: Any, task: Any) -> Any:
    """Run on a worker: ``worker_function(task)``, leaving the worker's thread pool
    (``secede``) once the task's dreams are done, so the worker starts its next task (decode
    and dream) while this one encodes its outputs, as an in-process run's threads overlap
    them with the dreams. Done one after another, they put about 0.15-0.2 s between two
    dreams of 0.75 s (16 photos of 512x384 on 2 cores, docs/cluster.md)."""
    from distributed import secede

    return worker_function(task, dreams_done=secede)


# -- helpers --------------------------------------------------------------------------------------

def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _cancel(client: Any, pending: dict[Any, Any]) -> None:
    try:
        if pending:
            client.cancel(list(pending), force=True)
    except Exception:  # noqa: BLE001 - a lost scheduler cannot cancel; nothing is written anyway
        pass
    pending.clear()


def _close(client: Any, cluster: Any) -> None:
    for thing in (client, cluster):
        if thing is None:
            continue
        try:
            thing.close(timeout=10)
        except Exception:  # noqa: BLE001 - closing a lost connection may fail; nothing of ours is left
            pass


@contextlib.contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """Dask's own log lines, tracebacks and warnings off (unless --debug): the progress bar,
    the summary and dreamfx's one-line errors say what matters. Dask's logging is set up
    first (importing it gives ``distributed.client`` and others levels of their own), then
    every logger of its packages is held at CRITICAL; the comms Dask leaves behind are
    collected before the levels come back."""
    if not quiet:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import distributed  # noqa: F401 - its logging configuration, before ours

        roots = ("distributed", "dask", "tornado", "bokeh")
        named = [name for name, logger in list(logging.Logger.manager.loggerDict.items())
                 if isinstance(logger, logging.Logger) and name.split(".")[0] in roots]
        loggers = [logging.getLogger(name) for name in {*roots, *named}]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            gc.collect()  # Dask's comms left behind say "dangling stream" as they go: now, quietly
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


@contextlib.contextmanager
def _shielded() -> Iterator[None]:
    """Ctrl-C (and SIGTERM, SIGHUP) held off while futures are cancelled and the cluster
    closed, so no worker process outlives the run."""
    saved = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            saved[signum] = signal.signal(signum, signal.SIG_IGN)
        except ValueError:  # not the main thread
            break
    try:
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous)
