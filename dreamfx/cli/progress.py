"""Showing a run's progress: a rich live display on a terminal, plain lines elsewhere.

Paths and reasons are user data: they are escaped before rich sees them, so a file named
``[red].png`` prints as itself. If standard output is closed early (``dreamfx run ... | head``)
the display goes silent and the run goes on (:func:`dreamfx.host.commands.console`): the images and report.json
are its real output.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from rich.markup import escape

from dreamfx.runs.outcomes import Outcome


class PathText:
    """A file path as rich shows it in a narrow column or terminal: broken between its names
    (after a ``/`` or at a space) rather than within one, so ``out/dreams/coffee.png`` at 80
    columns never reads ``out/dre`` + ``ams/coffee.png``; only a single name wider than the
    whole line is folded. ``prefix`` (plain text, e.g. ``"report: "``) comes first."""

    def __init__(self, path: Any, prefix: str = "", style: str = "") -> None:
        self.prefix, self.path, self.style = prefix, str(path), style

    def _parts(self) -> list[str]:
        import re

        return [p for p in re.findall(r"[^/\\ ]*(?:[/\\ ]+|$)", self.prefix + self.path) if p]

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.cells import cell_len
        from rich.measure import Measurement

        parts = self._parts() or [""]
        return Measurement(max(cell_len(p.rstrip(" ")) for p in parts), cell_len(self.prefix + self.path))

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.cells import cell_len
        from rich.text import Text

        lines, line = [], ""
        for part in self._parts():
            if line and cell_len(line + part.rstrip(" ")) > options.max_width:
                lines.append(line.rstrip(" "))
                line = ""
            line += part
        lines.append(line)
        yield Text("\n".join(lines), style=self.style, overflow="fold", no_wrap=False)


def _clock_text(seconds: float) -> str:
    """``h:mm:ss``, as rich prints elapsed time."""
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Eta:
    """When work will be done, from how much is done (any unit) and when: the rate since the
    first piece of work reported (so the time the first call spends compiling counts as
    little as it can), or since :meth:`start` while only one piece came. ``clock``: seconds."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.origin: tuple[float, float] | None = None
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None

    def start(self, done: float = 0.0) -> None:
        """The work timed starts now, with ``done`` of it done already (skipped files)."""
        self.origin, self.first, self.last = (self.clock(), done), None, None

    def update(self, done: float) -> None:
        if self.origin is None:
            self.start(done)
            return
        if done <= (self.last or self.origin)[1]:
            return
        self.last = (self.clock(), done)
        if self.first is None:
            self.first = self.last

    def rate(self) -> float | None:
        """Work per second, or None before the first piece."""
        if self.last is None or self.origin is None:
            return None
        ref = self.first if self.first is not None and self.first[1] < self.last[1] else self.origin
        seconds = self.last[0] - ref[0]
        return (self.last[1] - ref[1]) / seconds if seconds > 0 else None

    def finish(self, total: float) -> float | None:
        """The ``clock`` time the work should be done at, or None (nothing measured yet)."""
        rate = self.rate()
        if rate is None or rate <= 0 or self.last is None:
            return None
        return self.last[0] + max(0.0, total - self.last[1]) / rate


def _progress_display(console: Any, clock: Callable[[], float], columns: list[Any], transient: bool) -> Any:
    """A rich :class:`~rich.progress.Progress` of ``columns`` laid out for narrow terminals:
    the bar takes what the other columns leave (so elapsed time and ETA are never cut at 80
    columns), and ``progress.line``, what is being dreamed, is a second line of its own,
    shortened at the terminal's edge."""
    from rich.progress import Progress
    from rich.text import Text

    class _Progress(Progress):
        line = ""

        def get_renderables(self) -> Iterator[Any]:
            yield self.make_tasks_table(self.tasks)
            if self.line:
                yield Text(self.line, style="dim", no_wrap=True, overflow="ellipsis")

    return _Progress(*columns, console=console, transient=transient, get_time=clock, expand=True)


def _bar() -> Any:
    from rich.progress import BarColumn
    from rich.table import Column

    return BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=4))


def _eta_column(clock: Callable[[], float]) -> Any:
    """``ETA 0:01:10``: counted down from the task's ``finish`` field (a ``clock`` time);
    ``ETA -:--:--`` before anything was measured."""
    from rich.progress import ProgressColumn
    from rich.table import Column
    from rich.text import Text

    class _EtaColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            finish = task.fields.get("finish")
            text = "-:--:--" if finish is None else _clock_text(finish - clock())
            return Text(f"ETA {text}", style="progress.remaining")

    return _EtaColumn(table_column=Column(no_wrap=True, min_width=11))


def where_text(piece: Any) -> str:
    """Where a dream stands (a :class:`dreamfx.engine.results.Piece`): ``round 2/4, steps 13/40``,
    ``round 1/4, steps 3/40, views 12,288/40,000`` (a huge canvas's step, split), or
    ``round 3/4`` as a round starts."""
    if piece.round_end:
        return f"round {min(piece.round_index + 2, piece.rounds)}/{piece.rounds}"
    text = f"round {piece.round_index + 1}/{piece.rounds}, steps {piece.steps_done}/{piece.steps}"
    return text + (f", views {piece.views_done:,}/{piece.views:,}" if piece.views else "")


class BatchProgress:
    """Receives :class:`BatchRunner` events and shows them.

    On a terminal: one overall bar (files done of total, images per second, elapsed time,
    time left) and, on a line below it, the file, round and steps being dreamed. The bar
    moves within a batch too, with each piece of its dream (``piece`` events), so the time
    left is known from the first piece on. Not on a terminal (CI logs, pipes): one plain
    line per file. ``quiet``: only one line per failed or refused input, on ``errors``
    (standard error). ``single`` (a one-file run): on a terminal a bar over the dream's
    rounds and steps that goes away when it ends; elsewhere nothing (the command's summary,
    or its error, says the rest). ``clock``: seconds (tests pass their own).
    """

    def __init__(self, console: Any, total: int, quiet: bool = False, errors: Any = None, single: bool = False,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.console, self.total, self.quiet, self.errors, self.single = console, total, quiet, errors, single
        self.clock = clock
        self.rounds = 1
        self.finished = 0
        self.batch = 0  # images in the batch being dreamed
        self.dreaming = 0.0  # the share of that batch's dream done (0 when none is under way)
        self.pieces = False  # whether this batch reports pieces (else rounds move the bar)
        self.units = 0.0  # files done, the batch under way counted in part (never goes back)
        self.eta = Eta(clock)
        self.live = console.is_terminal and not quiet
        self.progress: Any = None
        self.current = ""
        self.where = ""
        self._lock = threading.Lock()

    def __enter__(self) -> "BatchProgress":
        if self.live and not self.single:  # a single dream's bar starts with the dream
            self._start()
        return self

    def _start(self) -> None:
        from rich.progress import MofNCompleteColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

        if self.single:
            columns = [TextColumn("[bold]dreaming"), _bar(), TaskProgressColumn(), TimeElapsedColumn(),
                       _eta_column(self.clock)]
        else:
            columns = [TextColumn("[bold]dreaming"), _bar(), MofNCompleteColumn(), TaskProgressColumn(),
                       TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), _eta_column(self.clock)]
        self.progress = _progress_display(self.console, self.clock, columns, transient=self.single)
        self.progress.start()
        self.task = self.progress.add_task("dream" if self.single else "files", total=1.0 if self.single else self.total,
                                           rate="", finish=None)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def rate(self) -> float:
        """Files per second since the dreaming started (0 before the first piece)."""
        return self.eta.rate() or 0.0

    def __call__(self, kind: str, outcome: Outcome | None, detail: Any) -> None:
        with self._lock:
            self._event(kind, outcome, detail)

    def _event(self, kind: str, outcome: Outcome | None, detail: Any) -> None:
        if kind not in ("batch", "round", "status", "piece"):
            self.finished += 1
        if self.quiet:
            if kind in ("failed", "refused") and outcome is not None and self.errors is not None:
                self.errors.print(f"dreamfx: {kind}: {escape(str(outcome.job.source))}: {escape(outcome.reason or '')}",
                                  soft_wrap=True)
            return
        if self.single:
            self._single(kind, detail)
            return
        if kind == "batch" and outcome is not None:
            count, self.rounds = detail
            if self.eta.last is None:  # the dreaming starts: files settled before it are not timed
                self.eta.start(self.units)
            self.batch, self.dreaming, self.pieces = count, 0.0, False
            extra = f" (+{count - 1} of the same size)" if count > 1 else ""
            self.current = f"{outcome.job.source.name}{extra}"
            self.where = f"round 1/{self.rounds}"
            self._update()
            return
        if kind == "piece":
            self.pieces = True
            self.dreaming = detail.fraction if detail.fraction < 1.0 else 0.0  # a finished dream: its files count
            self.where = where_text(detail)
            self._update()
            return
        if kind == "round":
            if not self.pieces:
                self.dreaming = (detail + 1) / self.rounds if detail + 1 < self.rounds else 0.0
                self.where = f"round {min(detail + 2, self.rounds)}/{self.rounds}"
                self._update()
            return
        if kind == "status":  # an executor's news (dreamfx/runs/folderwork.py): where the dreams happen
            self.current, self.where = str(detail), ""
            if self.eta.last is None:
                self.eta.start(self.units)
            if self.live:
                self._update()
            else:
                self.console.print(escape(self.current), soft_wrap=True, highlight=False)
            return
        # a file settled: the batch's dream is over (a loop may stop early, short of its last
        # round), or it is a file of the batch before, written late: the next piece says
        self.dreaming = 0.0
        if self.live:
            self._update()
            if kind in ("failed", "refused") and outcome is not None:
                self.console.print(f"[red]{kind}[/] {escape(str(outcome.job.source))}: {escape(outcome.reason or '')}")
        elif outcome is not None:
            text = {"done": f"done {outcome.job.output}",
                    "silent": f"silent {outcome.job.output}: {outcome.reason}",
                    "skipped": f"skipped {outcome.job.source} (output up to date)",
                    "refused": f"NOT REPLACED {outcome.job.output}: {outcome.reason}",
                    "failed": f"FAILED {outcome.job.source}: {outcome.reason}"}[kind]
            self.console.print(f"[{self.finished}/{self.total}] {escape(text)}", soft_wrap=True, highlight=False)

    def _single(self, kind: str, detail: Any) -> None:
        """A one-file run: the dream's share done, on a terminal only."""
        if not self.live:
            return
        if kind == "batch":
            self.rounds = detail[1]
            self.where = f"round 1/{self.rounds}"
            if self.progress is None:
                self._start()
            self.eta.start(0.0)
        elif kind == "piece":
            self.units = max(self.units, detail.fraction)
            self.where = where_text(detail)
        else:
            return
        self.eta.update(self.units)
        if self.progress is not None:
            self.progress.line = self.where
            self.progress.update(self.task, completed=self.units, finish=self.eta.finish(1.0))

    def _update(self) -> None:
        self.units = min(float(self.total), max(self.units, self.finished + self.batch * self.dreaming))
        self.eta.update(self.units)
        if self.progress is not None:
            rate = self.eta.rate()
            self.progress.line = f"{self.where}: {self.current}" if self.where and self.current else self.where or self.current
            self.progress.update(self.task, completed=self.units, rate="" if rate is None else f"{rate:.2f} img/s",
                                 finish=self.eta.finish(float(self.total)))


class FrameProgress:
    """An animation run's progress (``dreamfx zoom``/``video``): a bar of frames with frames/s
    and time left on a terminal, one plain line per frame elsewhere; nothing when ``quiet``."""

    def __init__(self, console: Any, what: str, quiet: bool = False) -> None:
        self.console, self.what, self.quiet = console, what, quiet
        self.live = console.is_terminal and not quiet
        self.progress: Any = None
        self.first: int | None = None
        self.started = time.perf_counter()

    def __enter__(self) -> "FrameProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if done < 0:  # the dreaming starts
            if self.live:
                from rich.progress import (MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                           TimeRemainingColumn)

                # the bar takes what the rest leaves: elapsed time and ETA whole at 80 columns
                self.progress = Progress(TextColumn(f"[bold]{escape(self.what)}"), _bar(), MofNCompleteColumn(),
                                         TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                         TimeRemainingColumn(), console=self.console, expand=True)
                self.progress.start()
                self.task = self.progress.add_task("frames", total=total, rate="")
            return
        if self.first is None:
            self.first, self.started = done, time.perf_counter()
            if done and not self.live:
                self.console.print(f"{done}/{total} frames up to date; resuming", highlight=False)
        elapsed = time.perf_counter() - self.started
        rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
        if self.progress is not None:
            self.progress.update(self.task, completed=done, rate=f"{rate:.2f} frames/s")
        elif done > self.first:
            # a count, not the frame's index: lanes of shots finish frames out of order
            self.console.print(f"[{done}/{total}] frames done", highlight=False)

    def status(self, text: str) -> None:
        """A line of news (where the dreams happen: ``video --cluster``'s workers), above the bar."""
        if not self.quiet:
            (self.progress.console if self.progress is not None else self.console).print(
                escape(text), soft_wrap=True, highlight=False)


@contextmanager
def round_progress(console: Any, total: int, what: str, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """A bar over ``total`` rounds on a terminal (nothing elsewhere, or when ``quiet``);
    yields the ``on_round`` callback that advances it."""
    if quiet or not console.is_terminal:
        yield lambda _round: None
        return
    from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn(f"[bold]{what}"), _bar(), MofNCompleteColumn(), TextColumn("rounds"),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                  transient=True, expand=True) as progress:
        task = progress.add_task(what, total=total)
        yield lambda _round: progress.advance(task)


