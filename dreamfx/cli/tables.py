"""What the CLI prints when work is done: a run's summary, a dream's, an animation's, the
atlas and pattern reports, and the listings (presets, plugins, components, layers), as rich
tables that fit 80 columns with every name whole.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from dreamfx.runs.batch import BatchRunner
from dreamfx.runs.outcomes import Outcome
from dreamfx.cli.progress import PathText


def summary_table(runner: BatchRunner, elapsed: float) -> Any:
    """The final table: counts, time, throughput, and every problem with its reason."""
    from rich.table import Table

    from rich.console import Group

    from dreamfx.runs.hints import silence_summary

    counts = runner.counts()
    done = counts["done"] + counts["silent"]  # dreamed and written (images/s counts both)
    table = Table(title="dreamfx run", title_justify="left", show_header=True)
    # "silent" only when some are: the usual table stays within 80 columns
    silent_column = ("silent",) if counts["silent"] else ()
    for col in ("done", *silent_column, "skipped", "not replaced", "failed", "not reached", "time", "images/s"):
        table.add_column(col, justify="right")

    def red(n: int) -> str:
        return f"[red]{n}[/]" if n else "0"

    table.add_row(str(counts["done"]), *(f"[yellow]{counts['silent']}[/]" for _ in silent_column),
                  str(counts["skipped"]), red(counts["refused"]), red(counts["failed"]),
                  str(counts["pending"]), f"{elapsed:.1f} s", f"{done / elapsed:.2f}" if elapsed > 0 else "-")
    # silent dreams are finished (exit status 0) but changed nothing: one line says why and what to try
    silent = [o.silence for o in runner.silent() if o.silence is not None]
    parts: list[Any] = [table]
    if silent:
        parts.append(f"[yellow]note[/] {escape(silence_summary(silent))}")
    problems = runner.problems()
    if not problems:
        return table if len(parts) == 1 else Group(*parts)

    reasons = Table(title="problems", title_justify="left")
    reasons.add_column("input", style="red", overflow="fold")
    reasons.add_column("status")
    reasons.add_column("reason", overflow="fold")
    for outcome in problems:
        status = "not replaced" if outcome.status == "refused" else outcome.status
        reasons.add_row(PathText(outcome.job.source), status, escape(outcome.reason or ""))
    return Group(*parts, reasons)


def dream_summary(dreamer: Any, outcome: Outcome, panel: Any, elapsed: float) -> Any:
    """The table after one image: each component as it describes itself (the optimizer and
    the loop together as "rounds x steps"), the objective's value, the time and the paths."""
    from rich.table import Table

    result, settings = outcome.result, dreamer.settings
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold cyan")
    table.add_column(overflow="fold")  # a long path whole at 80 columns: broken at spaces, else folded
    table.add_row("preset", escape(settings.preset))
    lines = dict(dreamer.summary())
    if getattr(dreamer, "auto", None) is not None:  # objective.map = "auto": the map chosen for this image
        lines["objective"] = (f"{settings.objective.name}: {result.objective}  ({dreamer.auto} \"auto\": the "
                              f"{dreamer.auto} of {dreamer.auto_layer} that responds most to this image)")
    for label, text in lines.items():
        if label not in ("optimizer", "loop"):  # those two make the "rounds x steps" line
            table.add_row(label, escape(text))
    detail = lines.get("optimizer", "").partition(": ")[2]
    steps = getattr(dreamer.optimizer, "steps", "?")
    # rounds per level, as presets set them (loop.rounds); a loop whose rounds do not split
    # evenly over the levels shows its total
    rounds, levels = dreamer.rounds_for(result.image.shape[:2]), len(dreamer.scaler.levels(result.image.shape[:2]))
    rounds = rounds // levels if levels and rounds % levels == 0 else rounds
    table.add_row("rounds x steps", escape(f"{rounds} x {steps}  ({detail + ', ' if detail else ''}seed {settings.seed})"))
    # a ratio means something only between positive scores
    gain = (f"  (x{result.gain:.1f})" if result.score_before > 0 and result.score_after > 0
            else "  (from zero)" if result.score_before == 0 else "")
    table.add_row("objective value", f"{result.score_before:.4g} -> {result.score_after:.4g}{gain}")
    table.add_row("time", f"{elapsed:.2f} s on {dreamer.device} (dream {result.seconds:.2f} s)")
    table.add_row("output", PathText(outcome.job.output))
    if panel is not None:
        table.add_row("panel", PathText(panel))
    notes = outcome.notes
    if result.silence is not None:
        notes = [*notes, "the objective is silent on this image (zero activation, so zero gradient) and nothing "
                 f"changed: {result.silence.advice()}"]
    for note in notes:
        table.add_row("[yellow]note[/]", escape(note))
    return table


def presets_table(presets: Any) -> Any:
    """``dreamfx presets``: each preset with its description and plugin."""
    from rich.table import Table

    table = Table(title="dreamfx presets", title_justify="left")
    table.add_column("preset", style="bold cyan", no_wrap=True)  # names whole: the description wraps
    table.add_column("description", overflow="fold")
    table.add_column("plugin", style="dim", no_wrap=True)
    for component in presets:
        table.add_row(component.name, component.description, component.plugin)
    return table


def plugins_table(infos: Any) -> Any:
    """``dreamfx plugins``: each plugin (its distribution and version below its name), its
    status (and error), its hooks and what they register. Names are never cut: the plugin
    column does not wrap, the others wrap between names (a name wider than the whole column
    is folded), so an 80-column terminal shows everything."""
    from rich.table import Table

    table = Table(title="dreamfx plugins", title_justify="left")
    table.add_column("plugin", no_wrap=True)
    table.add_column("status", overflow="fold")
    table.add_column("hooks, registered", overflow="fold")
    colours = {"ok": "green", "failed": "red", "disabled": "yellow"}
    for info in infos:
        registers = [f"{kind}: {', '.join(escape(n) for n in names)}" for kind, names in info.registered.items()]
        status = f"[{colours[info.status]}]{info.status}[/]"
        if info.error:
            status += f"\n[red]{escape(info.error)}[/]"
        dist = f"{info.distribution or '-'} {info.version or ''}".strip()
        if len(dist) > 24:  # its version on a line of its own rather than a wider column
            dist = f"{info.distribution}\n{info.version or ''}".strip()
        hooks = ", ".join(h.removeprefix("dreamfx_") for h in info.hooks)
        table.add_row(f"[bold]{escape(info.name)}[/]\n[dim]{escape(dist)}[/]", status,
                      "\n".join([f"[dim]{hooks}[/]", *registers] if hooks else registers))
    return table


def components_table(host: Any) -> Any:
    """``dreamfx plugins``: each component (presets aside: ``dreamfx presets``) with its
    plugin, description and parameters (name, type, default, description)."""
    from rich.markup import escape
    from rich.table import Table

    from dreamfx.host.manager import describe_parameters

    table = Table(title="components and their parameters", title_justify="left")
    # names whole (80 columns): each component's plugin below it, the description wraps
    table.add_column("component\n[dim]plugin[/]", no_wrap=True)
    table.add_column("description and parameters", overflow="fold")
    for kind, registry in host.registries.items():
        for component in registry if kind != "presets" else ():
            table.add_row(f"{kind[:-1]} {escape(component.name)}\n[dim]{escape(component.plugin)}[/]",
                          escape(describe_parameters(component)))
    return table


def layers_table(listing: Any) -> Any:
    """``dreamfx layers``: a :class:`dreamfx.runs.hints.LayerListing` as a table."""
    from rich.table import Table

    table = Table(title=f"model {listing.model}: input {listing.input_shape}", title_justify="left")
    for col in ("layer", "type", "output shape", "maps / units", "weights"):
        # the layer's name whole (80 columns): the other columns wrap or fold first
        table.add_column(col, justify="right" if col in ("maps / units", "weights") else "left",
                         no_wrap=col == "layer", overflow="fold")
    for row in listing.rows:
        table.add_row(*row)
    return table


def patterns_report(console: Any, title: str, labels: list[str], result: Any, wrote: str) -> None:
    """What ``dreamfx oip`` prints: the grid's title, each pattern's score (with its gain over
    the noise, a ratio only between positive scores), a note when all stayed at zero."""
    console.print(f"[bold]{title}[/]")
    if getattr(result, "choices", None) is not None:  # oip --all: one line, not one per map
        live = int((result.after > 0).sum())
        best = sorted(zip(result.after, result.choices), reverse=True)[:8]
        console.print(f"  {live} of {len(result.choices)} patterns rose above zero; strongest: "
                      + ", ".join(f"{k} ({a:.3g})" for a, k in best if a > 0))
        none = [str(k) for a, k in zip(result.after, result.choices) if not a > 0]
        if none:
            console.print(f"  no pattern (gradient ascent grows nothing from the noise): {', '.join(none)}")
        console.print(wrote)
        return
    for label, before, after in zip(labels, result.before, result.after):
        console.print(f"  {label}{f'  x{after / before:.1f}' if before > 1e-6 and after > 0 else ''}")
    if not result.after.any():
        console.print("[yellow]note:[/] the objective stayed at zero: no pattern grows from gray noise (no activation, "
                      "so no gradient); try another map ('dreamfx layers' lists them)")
    console.print(wrote)


def animation_summary(run: Any, what: str) -> Any:
    """The table printed after ``dreamfx zoom``/``video``: frames, time, frames/s, output and,
    for video, the coherence metrics."""
    from rich.table import Table

    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    if run.up_to_date:
        table.add_row("frames", f"{run.frames} (up to date, nothing to do; --force to redo)")
    else:
        reused = f", {run.reused} up to date" if run.reused else ""
        table.add_row("frames", f"{run.dreamed} dreamed{reused}, {run.frames} in all")
        table.add_row("time", f"{run.seconds:.1f} s ({run.fps:.2f} frames/s; dream {run.dream_seconds:.1f} s)")
    if run.metrics:
        m = run.metrics
        table.add_row("flicker", f"{m['flicker']:.4f}  (mean |out\\[t] - out\\[t-1]| {m['output_change']:.4f} "
                                 f"minus the input's own {m['input_change']:.4f}; 0-1 scale)")
        table.add_row("warping error", f"{m['warping_error']:.5f}  (Lai et al. 2018: mean squared difference "
                                       "from the previous output warped, on consistent pixels)")
    if getattr(run, "note", None):
        table.add_row("note", escape(run.note))
    if getattr(run, "chosen", None):
        table.add_row("objective", escape(f"{run.chosen} (\"auto\": the map that responds most to the first frame, "
                                          "kept for every frame)"))
    if getattr(run, "silences", None):  # frames dreamed silent: nothing changed; what to try
        from dreamfx.runs.hints import silence_summary

        head = f"{len(run.silences)} of {run.dreamed} frames dreamed are silent"
        table.add_row("[yellow]silent[/]", escape(silence_summary(run.silences, head=head, each=None)))
    if run.folder is not None and run.folder != run.output:
        table.add_row("frames folder", PathText(run.folder))
    table.add_row("output", PathText(run.output))
    table.title, table.title_justify = what, "left"
    return table


def atlas_report(console: Any, atlas: Any, written: list[Any], elapsed: float) -> None:
    """What ``dreamfx atlas`` prints: the title, how many maps respond, the strongest by gain,
    the silent ones, the time and the files written."""
    from rich.markup import escape

    console.print(f"[bold]{escape(atlas.title)}[/]")
    entries = atlas.sorted("gain")
    live = [e for e in entries if not e.silent]
    silent = sorted(e.map for e in entries if e.silent)
    what = atlas.selectable
    console.print(f"  {len(live)} of {len(entries)} {what}s respond to the photo")
    if live:
        best = ", ".join(f"{e.map} ({e.score_after:.2g})" for e in atlas.sorted("after")[:8])
        console.print(f"  strongest after the dream: {best}")
    woke = sorted(e.map for e in entries if e.score_before == 0 and not e.silent)
    if woke:
        console.print(f"  zero on the photo but woken by the jitter: {', '.join(map(str, woke))}")
    if silent:
        console.print(f"  silent (zero before and after: the dream cannot start): {', '.join(map(str, silent))}")
    console.print(f"  time {elapsed:.2f} s (dream {atlas.seconds:.2f} s)")
    console.print(PathText(", ".join(str(p) for p in written), prefix="wrote "))
