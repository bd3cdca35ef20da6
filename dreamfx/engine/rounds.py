"""How a dream's rounds are run and reported: the ``ascend`` a loop is handed
(:class:`~dreamfx.engine.ascent.HostRun`), with the dream's choices and pull, and the progress
callbacks (``on_round``, ``on_piece``) around it, each callback's failure kept apart from the
plugins' (:class:`~dreamfx.host.calls.CallbackError`)."""

from __future__ import annotations

from typing import Any, Callable

from dreamfx.engine.results import Piece
from dreamfx.host.calls import CAUGHT, CallbackError


def _call(fn: Callable[..., None], *args: Any) -> None:
    try:
        fn(*args)
    except CAUGHT as exc:
        raise CallbackError(exc) from exc


def round_runner(dreamer: Any, size: tuple[int, int], choices: Any, pull: Any,
                 on_round: Callable[[int], None] | None,
                 on_piece: Callable[[Piece], None] | None,
                 on_canvas: Callable[[Any, int, Any, Any], None] | None = None,
                 ) -> tuple[Callable[[Any, int, Any], Any], Any]:
    """``(ascend(canvas, round_index, level), on_round)``: each round through
    ``dreamer.ascend`` with ``choices`` (a tensor or None) and ``pull``'s canvas for the level
    (a :class:`~dreamfx.engine.pull.Pull` or None), ``on_piece`` told of pieces within rounds,
    ``on_canvas(canvas, round_index, level, round)`` shown each round's canvas before and its
    :class:`~dreamfx.kinds.loops.Round` after, then ``on_round``; the ``on_round`` returned is
    the one a whole-dream call reports its rounds to (``on_piece``'s round ends included)."""
    if on_piece is not None:
        on_round = pieces(dreamer, size, on_round, on_piece)
    report = None if on_piece is None else on_round.piece  # type: ignore[union-attr]

    def ascend(canvas: Any, round_index: int, level: Any) -> Any:
        extra: dict[str, Any] = {} if pull is None else {"pull": pull.at(level)}
        piece = None
        if report is not None:
            def piece(steps_done: int, steps: int, views_done: int, views: int) -> None:
                _call(report, round_index, steps_done, steps, views_done, views)

        if piece is None and not extra:  # as plugins and wrappers have always seen it
            out = dreamer.ascend(canvas, round_index, level) if choices is None else \
                dreamer.ascend(canvas, round_index, level, choices)
        else:
            out = dreamer.ascend(canvas, round_index, level, choices, piece, **extra)
        if on_canvas is not None:
            _call(on_canvas, canvas, round_index, level, out)
        if on_round is not None:
            _call(on_round, round_index)
        return out

    return ascend, on_round


def pieces(dreamer: Any, size: Any, on_round: Callable[[int], None] | None,
           on_piece: Callable[[Piece], None]) -> Callable[[int], None]:
    """An ``on_round`` that also reports each round's end to ``on_piece`` (then calls
    ``on_round``), with a ``piece(round, steps_done, steps, views_done, views)`` attribute
    that reports a piece within a round: both as :class:`Piece`."""
    weights = dreamer.round_weights((int(size[0]), int(size[1])))
    starts = [sum(weights[:i]) for i in range(len(weights) + 1)]
    steps = dreamer.ascent.steps

    def piece(round_index: int, steps_done: int, total: int, views_done: int = 0, views: int = 0) -> None:
        r = min(round_index, len(weights) - 1)
        within = (steps_done + (views_done / views if views else 0.0)) / total if total else 1.0
        fraction = min(1.0, starts[r] + weights[r] * min(1.0, within))
        on_piece(Piece(round_index, len(weights), steps_done, total, views_done, views, fraction))

    def round_done(round_index: int) -> None:
        piece(round_index, steps, steps)
        if on_round is not None:
            on_round(round_index)

    round_done.piece = piece  # type: ignore[attr-defined]
    return round_done
