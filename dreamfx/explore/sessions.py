"""The dreaming behind ``dreamfx explore``: warm dreamers kept in a bounded LRU, one dream
at a time, frames round by round, and a newer request cancelling an older one.

Dreamers are keyed as :func:`dreamfx.api.warm_dreamer` keys them (the settings without the
objective's ``selectable`` parameter, the map, which is fed at run time), so dragging
through the maps of a layer reuses one compiled dreamer. They are this server's own (not
the API's process cache), :data:`KEEP_DREAMERS` at most: switching presets for an hour
holds at most that many.

A :class:`Channel` is one client's line (a websocket): each request on it takes a ticket,
and a dream whose ticket is no longer the channel's latest stops at its next round or piece
(about 0.4 s at most, :mod:`dreamfx.engine.ascent`), so requests are never queued: a dream
that was superseded before it started does not start at all.

Frames: a streamed dream hands each round's canvas to a :class:`Watch`
(``Dreamer.dream_batch(..., on_canvas=...)``, the engine's public per-round hook); the
frame is that canvas back at full size with the level's lost detail re-added, the image
the ``reinject`` loop goes on from. A streamed dream runs round by round
(``Dreamer.dream_batch(..., stream=True)``: never as one compiled call,
:class:`dreamfx.engine.whole.WholeDreams`), so its rounds can be shown.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from dreamfx.cache import LRUCache

#: Dreamers kept at once (each holds its compiled steps: tens of MB).
KEEP_DREAMERS = 4


class Cancelled(Exception):
    """A newer request on the same channel took over."""


class Channel:
    """One client's requests: the latest ticket wins."""

    def __init__(self) -> None:
        self._latest = 0
        self._lock = threading.Lock()

    def ticket(self) -> int:
        with self._lock:
            self._latest += 1
            return self._latest

    def cancel(self) -> None:
        """Stop whatever runs on this channel (the client went away)."""
        self.ticket()

    def current(self, ticket: int) -> bool:
        return ticket == self._latest

    def check(self, ticket: int) -> None:
        if ticket != self._latest:
            raise Cancelled


@dataclass
class Frame:
    round: int  # counted from 0
    rounds: int
    score: float
    image: np.ndarray  # (H, W) or (H, W, 3) in [0, 1]


@dataclass
class Watch:
    """One streamed dream: rebuilds each round's image and hands it to ``on_frame``.

    The image is the loop's own between-round work again (back to full size, the level's
    lost detail re-added, clipped), as two functions compiled through the dreamer's
    :attr:`~dreamfx.engine.dreamer.Dreamer.compiled` (once per level and size, as the loop's
    are): eagerly, its handful of full-size operations cost a round about a quarter of its
    optimizer steps' time."""

    size: tuple[int, int]
    rounds: int
    images: Any  # the model batch the dream starts from
    on_frame: Callable[[Frame], None]
    check: Callable[[], None]
    compiled: Any = None  # the dreamer's FunctionCache (None: eager)
    details: dict[int, Any] = field(default_factory=dict)
    last: Any = None
    levels: list[Any] = field(default_factory=list)  # kept alive while their ids key details

    def _compile(self, fn: Callable[..., Any], level: Any) -> Callable[..., Any]:
        return fn if self.compiled is None else self.compiled.get(fn, ("explore.frame", level, self.size))

    def __call__(self, canvas: Any, round_index: int, level: Any, round_: Any) -> None:
        from keras import ops

        self.check()
        size = self.size

        def detail(images: Any) -> Any:
            return images - level.from_canvas(level.to_canvas(images), size)

        def rebuild(canvas: Any, detail: Any) -> Any:
            return ops.clip(level.from_canvas(canvas, size) + detail, 0.0, 1.0)

        if id(level) not in self.details:
            entering = ops.convert_to_tensor(self.images) if self.last is None else self.last
            self.levels.append(level)
            self.details[id(level)] = self._compile(detail, level)(entering)
        image = self._compile(rebuild, level)(round_.canvas, self.details[id(level)])
        self.last = image
        array = np.asarray(image)[0]
        array = array[..., 0] if array.shape[-1] == 1 else array[..., :3]
        score = float(round_.score[0]) if len(round_.score) else float("nan")
        self.on_frame(Frame(round_index, self.rounds, score, array))


class Studio:
    """The plugin host, the warm dreamers and the one-dream-at-a-time lock."""

    def __init__(self, keep: int = KEEP_DREAMERS, device: str = "auto") -> None:
        self.device = device
        self.dreamers = LRUCache(keep)
        self._selectable: dict[str, str | None] = {}
        self._host: Any = None
        self._host_lock = threading.Lock()
        #: One dream (or atlas, or patterns) at a time: two on 2 cores are each slower, and
        #: the frame watcher belongs to the running one.
        self.busy = threading.Lock()
        self.builds = 0  # dreamers built (a test holds the LRU to its size)

    def host(self) -> Any:
        with self._host_lock:
            if self._host is None:
                from dreamfx.host.manager import create_host

                host = create_host()
                host.registries  # collected now, on the caller's thread (dreamfx.explore.work.Explorer)
                self._host = host
            return self._host

    def _build(self, settings: Any) -> Any:
        from dreamfx.engine import backend
        from dreamfx.engine.dreamer import Dreamer

        backend.start_quietly()
        dreamer = Dreamer(self.host(), settings, self.device)
        self.builds += 1
        return dreamer

    def dreamer(self, settings: Any) -> tuple[Any, int | None]:
        """A warm dreamer for ``settings`` and the map (or unit) to feed it (None: its own)."""
        from dreamfx.api import warm_key

        host = self.host()
        name, params = settings.objective.name, settings.objective.params

        def key(selectable: str | None) -> tuple[Any, ...]:
            return warm_key(host, settings, selectable, self.device)

        if name not in self._selectable:
            built = self._build(settings)
            self._selectable[name] = getattr(built.objective, "selectable", None)
            dreamer = self.dreamers.get_or_build(key(self._selectable[name]), lambda: built)
        else:
            dreamer = self.dreamers.get_or_build(key(self._selectable[name]), lambda: self._build(settings))
        selectable = self._selectable[name]
        # the map is fed at run time even when it is the dreamer's own: one route per dreamer,
        # so the map it was built for does not trace a whole dream of its own (the same bits)
        return dreamer, params.get(selectable) if selectable in params else None

    def dream(self, settings: Any, picture: Any, *, on_frame: Callable[[Frame], None] | None = None,
              check: Callable[[], None] = lambda: None, mask: Any = None) -> tuple[Any, Any]:
        """Dream ``picture`` with ``settings``: ``(result, dreamer)``. With ``on_frame``,
        each round's image is handed to it as the dream goes; ``check`` raises
        :class:`Cancelled` to stop (called before the dream starts and at each round and piece).
        ``mask`` (a :class:`dreamfx.engine.masks.MaskFile`): the photo's own mask, applied by
        the warm dreamer of the settings without it (no dreamer is built per mask)."""
        check()
        dreamer, choice = self.dreamer(settings)
        pixels = picture.pixels(dreamer.channels)
        with self.busy:
            check()
            watch = None
            if on_frame is not None:
                size = (int(pixels.shape[0]), int(pixels.shape[1]))
                watch = Watch(size, dreamer.rounds_for(size), dreamer.model_input([pixels]), on_frame, check,
                              dreamer.compiled)
            result = dreamer.dream_batch([pixels], choices=None if choice is None else [choice],
                                         on_piece=lambda piece: check(), on_canvas=watch,
                                         **({} if mask is None else {"masks": [mask]}))[0]
        return result, dreamer

    def run(self, work: Callable[[], Any], check: Callable[[], None] = lambda: None) -> Any:
        """``work()`` alone (an atlas, patterns, responses), after ``check``."""
        with self.busy:
            check()
            started = time.perf_counter()
            out = work()
            self.last_seconds = time.perf_counter() - started
            return out
