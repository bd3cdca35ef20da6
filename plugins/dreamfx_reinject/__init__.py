"""The detail-reinjection loop: the article's recipe as a plugin."""

from __future__ import annotations

from typing import Any

from dreamfx import hookimpl


def _reinject(rounds: int) -> Any:
    from .loop import ReinjectLoop

    return ReinjectLoop(rounds)


@hookimpl
def dreamfx_register_loops(register: Any) -> None:
    register(
        "reinject",
        _reinject,
        params={"rounds": 4},
        description="Optimise the views, scale back up, re-add the detail scaling lost, repeat",
    )
