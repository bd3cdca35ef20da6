"""Showing a run's progress: a rich live display on a terminal, plain lines elsewhere."""

from __future__ import annotations

import time
from typing import Any

from .batch import BatchRunner, Outcome


class BatchProgress:
    """Receives :class:`BatchRunner` events and shows them.

    On a terminal: one overall bar (files done of total, images per second, time left) and
    the current file and round. Not on a terminal (CI logs, pipes): one plain line per file.
    ``quiet``: nothing.
    """

    def __init__(self, console: Any, total: int, quiet: bool = False) -> None:
        self.console, self.total, self.quiet = console, total, quiet
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
        if self.quiet:
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
        self.finished += 1
        if self.live:
            self._update(self.current)
            if kind == "failed" and outcome is not None:
                self.console.print(f"[red]failed[/] {outcome.job.source}: {outcome.reason}")
        elif outcome is not None:
            text = {"done": f"done {outcome.job.output}", "skipped": f"skipped {outcome.job.source} (output up to date)",
                    "failed": f"FAILED {outcome.job.source}: {outcome.reason}"}[kind]
            self.console.print(f"[{self.finished}/{self.total}] {text}", soft_wrap=True, highlight=False)

    def _update(self, now: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=self.finished, now=now, rate=f"{self.rate():.2f} img/s")


def summary_table(runner: BatchRunner, elapsed: float) -> Any:
    """The final table: counts, time, throughput, and every failure with its reason."""
    from rich.table import Table

    counts = runner.counts()
    done = counts["done"]
    table = Table(title="dreamfx run", title_justify="left", show_header=True)
    for col in ("done", "skipped", "failed", "not reached", "time", "images/s"):
        table.add_column(col, justify="right")
    table.add_row(str(done), str(counts["skipped"]), f"[red]{counts['failed']}[/]" if counts["failed"] else "0",
                  str(counts["pending"]), f"{elapsed:.1f} s", f"{done / elapsed:.2f}" if elapsed > 0 else "-")
    failures = [o for o in runner.outcomes if o.status == "failed"]
    if not failures:
        return table
    from rich.console import Group

    reasons = Table(title="failures", title_justify="left")
    reasons.add_column("input", style="red", overflow="fold")
    reasons.add_column("reason", overflow="fold")
    for outcome in failures:
        reasons.add_row(str(outcome.job.source), outcome.reason or "")
    return Group(table, reasons)
