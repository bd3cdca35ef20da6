"""Built-in executors: ``local`` (dream in this process, the default) and ``dask`` (Dask
distributed: ``--cluster local:N`` starts a local cluster, ``--cluster tcp://host:8786`` uses
a running one; docs/cluster.md). Dask is imported only when a ``dask`` run starts."""

from __future__ import annotations

from typing import Annotated

from dreamfx.plugin import BuildContext, hookimpl


class Local:
    """Dream in this process: decode ahead, same-size batches, write behind (dreamfx/runs/batch.py)."""

    def __init__(self, ctx: BuildContext) -> None:
        pass

    def run(self, work):
        work.run_here()

    def describe(self) -> str:
        return "in this process"


def dask_executor(ctx: BuildContext,
                  address: Annotated[str, "local:N (a local cluster of N worker processes), a scheduler's "
                                          "address (tcp://host:8786) or a scheduler file (.json)"] = "local:1",
                  retries: Annotated[int, "Times a task that raised is tried again on another worker"] = 2,
                  tasks_per_worker: Annotated[int, "Tasks in flight per worker thread, at most"] = 2,
                  max_megabytes: Annotated[int, "Input megabytes in flight, at most"] = 256,
                  connect_timeout: Annotated[float, "Seconds to wait for the scheduler, for a first worker, "
                                                     "and for a worker when none is left"] = 30.0):
    from .dask_engine import DaskExecutor

    return DaskExecutor(address, retries=retries, tasks_per_worker=tasks_per_worker, max_megabytes=max_megabytes,
                        connect_timeout=connect_timeout)


@hookimpl
def dreamfx_register_executors(register):
    register("local", Local, description="Dream in this process (the default)")
    register("dask", dask_executor, description="Dask distributed: --cluster local:N, or a scheduler's address")
