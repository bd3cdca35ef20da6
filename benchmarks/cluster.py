"""The cost of dreaming a folder on Dask (issue #13): ratios against the plain in-process run
of the same folder, measured in one run of this script.

    python benchmarks/cluster.py [--repeats 3] [--json results.json]

64 photos of 512x384 (made from the bundled photo, or ../shared/images), `single-map`.

C1  warm: a folder run with a warm dreamer in this process, vs the same run on a
    running `local:1` cluster whose worker has dreamed the folder once already (the
    executor's own overhead: bytes out, results back, no start-up). Target <= 1.15x.
C2  warm: `local:2` vs `local:1` on this machine (2 cores: 1 TensorFlow thread per worker
    vs 2). Target: not slower (ratio <= 1.0).
C3  cold: the whole command, `dreamfx run photos/ -o out/` vs the same with
    `--cluster local:1` and `--cluster local:2` (starting the cluster, the workers'
    TensorFlow and model, and closing it, included). No target; printed so C1 does not
    overstate.
Images/s per worker are printed for every cluster run. Warm and cold runs alternate (in-process,
local:1, local:2, again), so a slow minute on a shared machine hits all three.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

COUNT = 64


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


_DREAMER: list[Any] = []


def folder_run(src: Path, out: Path, cluster: str | None, host: Any) -> None:
    """A folder run as `dreamfx run` does it; in this process with one dreamer kept warm
    across runs, as each worker keeps its own."""
    from dreamfx.config.request import DreamRequest
    from dreamfx.runs.dreams import plan_dream

    plan = plan_dream(DreamRequest([str(src)], str(out), force=True, cluster=cluster), host)
    if cluster is None and not _DREAMER:
        _DREAMER.append(plan.make_dreamer())
    run = plan.run(make_dreamer=(lambda: _DREAMER[0]) if cluster is None else None)
    run.finish()
    done = sum(o.status == "done" for o in run.outcomes)
    assert done == COUNT, [(o.job.source.name, o.status, o.reason) for o in run.outcomes if o.status != "done"]


def warm(src: Path, tmp: Path, repeats: int) -> dict[str, Any]:
    import contextlib

    import dask
    import distributed

    from dreamfx.host.manager import create_host

    host = create_host()
    runs: dict[str, Callable[[], None]] = {"in_process_s": lambda: folder_run(src, tmp / "here", None, host)}
    runs["in_process_s"]()  # warm: TensorFlow, the model, the compiled steps
    results: dict[str, Any] = {key: [] for key in ("in_process_s", "local1_s", "local2_s")}
    with contextlib.ExitStack() as stack:
        # clusters as `--cluster local:N` starts them (plugins/dreamfx_executors/dask_engine.py)
        stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}))
        for workers in (1, 2):
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0",
                silence_logs=logging.ERROR))
            key = f"local{workers}_s"
            runs[key] = lambda k=key, a=cluster.scheduler_address: folder_run(src, tmp / k, a, host)
            runs[key]()  # warm: each worker's TensorFlow, model and compiled steps
        for _ in range(repeats):  # alternating, so a slow minute on this VM hits all three
            for key, run in runs.items():
                results[key].extend(timed(run, 1))
    return results


def cold(src: Path, tmp: Path, repeats: int) -> dict[str, Any]:
    from run import dreamfx_command
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("DREAMFX_CLUSTER", None)
    results: dict[str, list[float]] = {"in_process_s": [], "local1_s": [], "local2_s": []}
    for _ in range(repeats):  # alternating, so a slow minute on this VM hits all three
        for key, extra in (("in_process_s", []), ("local1_s", ["--cluster", "local:1"]),
                           ("local2_s", ["--cluster", "local:2"])):
            out = tmp / f"cold-{key}"
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            subprocess.run([*dreamfx_command(), "run", str(src), "-o", str(out), "-q", *extra], check=True, env=env)
            results[key].append(time.perf_counter() - start)
    return results


def markdown(results: dict[str, Any]) -> str:
    """The table docs/cluster.md quotes, from this script's --json output (a test checks the
    page against benchmarks/cluster-results.json)."""
    m, c1, c2 = results["medians"], results["c1"], results["c2"]
    cold1, cold2 = m["cold_local1_s"] / m["cold_in_process_s"], m["cold_local2_s"] / m["cold_in_process_s"]
    rows = [
        "| id | measurement | figure | target | met |",
        "| --- | --- | --- | --- | --- |",
        f"| C1 | warm: `local:1` vs in-process, 64 photos | **{c1:.2f}x** ({m['warm_local1_s']:.2f} s / "
        f"{m['warm_in_process_s']:.2f} s) | <= 1.15x | {'yes' if c1 <= 1.15 else 'no'} |",
        f"| C2 | warm: `local:2` vs `local:1` | **{c2:.2f}x** ({m['warm_local2_s']:.2f} s / "
        f"{m['warm_local1_s']:.2f} s) | <= 1.0x | {'yes' if c2 <= 1.0 else 'no'} |",
        f"| C3 | cold command: `--cluster local:1` vs in-process | **{cold1:.2f}x** ({m['cold_local1_s']:.1f} s / "
        f"{m['cold_in_process_s']:.1f} s) | (none) | |",
        f"| C3 | cold command: `--cluster local:2` vs in-process | **{cold2:.2f}x** ({m['cold_local2_s']:.1f} s / "
        f"{m['cold_in_process_s']:.1f} s) | (none) | |",
        f"| | images/s per worker, warm: in-process / `local:1` / `local:2` | {COUNT / m['warm_in_process_s']:.1f} / "
        f"{COUNT / m['warm_local1_s']:.1f} / {COUNT / m['warm_local2_s'] / 2:.1f} | | |",
    ]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument("--markdown", metavar="JSON", help="print docs/cluster.md's table from an earlier --json")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())), end="")
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import make_photos  # benchmarks/run.py: the same 64 photos as its B3

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "photos"
        src.mkdir()
        make_photos(src, COUNT)
        w = warm(src, tmp, args.repeats)
        c = cold(src, tmp, args.repeats)
    med = {f"warm_{k}": statistics.median(v) for k, v in w.items()}
    med.update({f"cold_{k}": statistics.median(v) for k, v in c.items()})
    c1 = med["warm_local1_s"] / med["warm_in_process_s"]
    c2 = med["warm_local2_s"] / med["warm_local1_s"]
    rows = [
        ("C1", "warm local:1 vs in-process, 64 photos", f"{c1:.2f}x ({med['warm_local1_s']:.2f} s / "
         f"{med['warm_in_process_s']:.2f} s)", "<= 1.15x", c1 <= 1.15),
        ("C2", "warm local:2 vs local:1", f"{c2:.2f}x ({med['warm_local2_s']:.2f} s / {med['warm_local1_s']:.2f} s)",
         "<= 1.0x", c2 <= 1.0),
        ("C3", "cold command: local:1 / local:2 vs in-process",
         f"{med['cold_local1_s'] / med['cold_in_process_s']:.2f}x / {med['cold_local2_s'] / med['cold_in_process_s']:.2f}x"
         f" ({med['cold_local1_s']:.1f} s / {med['cold_local2_s']:.1f} s / {med['cold_in_process_s']:.1f} s)",
         "(none)", None),
    ]
    print(f"dreamfx cluster benchmark: {COUNT} photos 512x384, single-map, {os.cpu_count()} CPUs, "
          f"medians of {args.repeats}")
    for row in rows:
        met = "" if row[4] is None else ("yes" if row[4] else "NO")
        print(f"{row[0]:4} {row[1]:48} {row[2]:44} target {row[3]:8} {met}")
    print("images/s per worker (warm): "
          f"in-process {COUNT / med['warm_in_process_s']:.1f}, local:1 {COUNT / med['warm_local1_s']:.1f}, "
          f"local:2 {COUNT / med['warm_local2_s'] / 2:.1f} per worker ({COUNT / med['warm_local2_s']:.1f} in all)")
    if args.json:
        Path(args.json).write_text(json.dumps({"warm": w, "cold": c, "medians": med, "c1": c1, "c2": c2}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
