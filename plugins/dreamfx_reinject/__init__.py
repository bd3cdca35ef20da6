"""The detail-reinjection loop: the article's recipe as a plugin."""

from __future__ import annotations

from typing import Annotated, Any

from dreamfx.plugin import BuildContext, hookimpl


def _reinject(
    ctx: BuildContext,
    rounds: Annotated[int, "Rounds per scaling level: optimise, scale back, re-add the lost detail. "
                           "At least 1."] = 4,
    patience: Annotated[int, "Stop an image's level after this many rounds without a gain (see min_gain). "
                             "0 never stops early."] = 0,
    min_gain: Annotated[float, "The gain a round must make over the level's best score, as a fraction of "
                               "it, to count as progress for patience."] = 0.0,
) -> Any:
    from .loop import ReinjectLoop

    return ReinjectLoop(rounds=rounds, patience=patience, min_gain=min_gain)


@hookimpl
def dreamfx_register_loops(register: Any) -> None:
    register(
        "reinject",
        _reinject,
        description="Optimise the views, scale back up, re-add the detail scaling lost, repeat",
    )
