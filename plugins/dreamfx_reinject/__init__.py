"""The detail-reinjection loop: the article's recipe as a plugin."""

from __future__ import annotations

from typing import Any

from dreamfx.plugin import hookimpl


def _reinject(**params: Any) -> Any:
    from .loop import ReinjectLoop

    return ReinjectLoop(**params)


@hookimpl
def dreamfx_register_loops(register: Any) -> None:
    register(
        "reinject",
        _reinject,
        params={"rounds": 4, "patience": 0, "min_gain": 0.0},
        description="Optimise the views, scale back up, re-add the detail scaling lost, repeat",
    )
