"""Showing a run's progress: a rich live display on a terminal, plain lines elsewhere.

Paths and reasons are user data: they are escaped before rich sees them, so a file named
``[red].png`` prints as itself. If standard output is closed early (``dreamfx run ... | head``)
the display goes silent and the run goes on (:func:`make_console`): the images and report.json
are its real output.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from rich.markup import escape

from .batch import BatchRunner, Outcome


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null after its reader went away, so later writes (and
    the interpreter's final flush) neither fail nor print a broken-pipe error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def make_console(stderr: bool = False) -> Any:
    """A rich console that, when its reader goes away, falls silent instead of exiting: rich's
    default is ``SystemExit(1)``, which would stop a run whose real output is its files."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            silence_stdout()
            self.quiet = True

    return _Console(stderr=stderr, highlight=False)


class BatchProgress:
    """Receives :class:`BatchRunner` events and shows them.

    On a terminal: one overall bar (files done of total, images per second, time left) and
    the current file and round. Not on a terminal (CI logs, pipes): one plain line per file.
    ``quiet``: only one line per failed or refused input, on ``errors`` (standard error).
    """

    def __init__(self, console: Any, total: int, quiet: bool = False, errors: Any = None) -> None:
        self.console, self.total, self.quiet, self.errors = console, total, quiet, errors
        self.rounds = 1
        self.finished = 0
        self.started = time.perf_counter()
        self.live = console.is_terminal and not quiet
        self.progress: Any = None
        self.current = ""

    def __enter__(self) -> "BatchProgress":
        if self.live:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self.progress = Progress(
                TextColumn("[bold]dreaming"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                TextColumn("[dim]{task.fields[now]}"), console=self.console, transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task("files", total=self.total, rate="", now="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.finished / elapsed if elapsed > 0 else 0.0

    def __call__(self, kind: str, outcome: Outcome | None, detail: Any) -> None:
        if kind not in ("batch", "round"):
            self.finished += 1
        if self.quiet:
            if kind in ("failed", "refused") and outcome is not None and self.errors is not None:
                self.errors.print(f"dreamfx: {kind}: {escape(str(outcome.job.source))}: {escape(outcome.reason or '')}",
                                  soft_wrap=True)
            return
        if kind == "batch" and outcome is not None:
            count, self.rounds = detail
            extra = f" (+{count - 1} of the same size)" if count > 1 else ""
            self.current = f"{outcome.job.source.name}{extra}"
            self._update(f"{self.current} round 1/{self.rounds}")
            return
        if kind == "round":
            self._update(f"{self.current} round {min(detail + 2, self.rounds)}/{self.rounds}")
            return
        if self.live:
            self._update(self.current)
            if kind in ("failed", "refused") and outcome is not None:
                self.console.print(f"[red]{kind}[/] {escape(str(outcome.job.source))}: {escape(outcome.reason or '')}")
        elif outcome is not None:
            text = {"done": f"done {outcome.job.output}",
                    "skipped": f"skipped {outcome.job.source} (output up to date)",
                    "refused": f"NOT REPLACED {outcome.job.output}: {outcome.reason}",
                    "failed": f"FAILED {outcome.job.source}: {outcome.reason}"}[kind]
            self.console.print(f"[{self.finished}/{self.total}] {escape(text)}", soft_wrap=True, highlight=False)

    def _update(self, now: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=self.finished, now=escape(now), rate=f"{self.rate():.2f} img/s")


def summary_table(runner: BatchRunner, elapsed: float) -> Any:
    """The final table: counts, time, throughput, and every problem with its reason."""
    from rich.table import Table

    counts = runner.counts()
    done = counts["done"]
    table = Table(title="dreamfx run", title_justify="left", show_header=True)
    for col in ("done", "skipped", "not replaced", "failed", "not reached", "time", "images/s"):
        table.add_column(col, justify="right")

    def red(n: int) -> str:
        return f"[red]{n}[/]" if n else "0"

    table.add_row(str(done), str(counts["skipped"]), red(counts["refused"]), red(counts["failed"]),
                  str(counts["pending"]), f"{elapsed:.1f} s", f"{done / elapsed:.2f}" if elapsed > 0 else "-")
    problems = runner.problems()
    if not problems:
        return table
    from rich.console import Group

    reasons = Table(title="problems", title_justify="left")
    reasons.add_column("input", style="red", overflow="fold")
    reasons.add_column("status")
    reasons.add_column("reason", overflow="fold")
    for outcome in problems:
        status = "not replaced" if outcome.status == "refused" else outcome.status
        reasons.add_row(escape(str(outcome.job.source)), status, escape(outcome.reason or ""))
    return Group(table, reasons)
