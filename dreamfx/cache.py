"""The one cache facility: things built once per key and kept, the least recently used
dropped beyond a stated size.

Every cache that lives as long as the process is made by :func:`process_cache`, which
names it and states its size in :data:`CACHES` (docs/architecture.md lists them, and a test
holds the page to this table). A ``Dreamer``'s own
caches (compiled functions per level and shape) are :class:`LRUCache` objects that live
and die with it. Lookups are thread-safe: a folder run's decode and write threads and a
notebook's threads may share a cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable


class LRUCache:
    """Things built once per key, the least recently used dropped beyond ``size``.

    ``build`` runs outside the lock, so a slow build (a model, a traced function) does not
    hold up other keys; two threads that miss the same key at once may both build it, and the
    first one stored is kept and returned to both."""

    def __init__(self, size: int = 16) -> None:
        if size < 1:
            raise ValueError(f"a cache holds at least one item, got size {size}")
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_build(self, key: Any, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            self._items.move_to_end(key)
            return self._items[key]

    def peek(self, key: Any) -> Any:
        """The kept value of ``key`` (now the most recently used), or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._items.values())


@dataclass(frozen=True)
class CacheInfo:
    """A process-wide cache: its name (``module.what``), what it keeps and its size."""

    name: str
    keeps: str
    cache: LRUCache

    @property
    def size(self) -> int:
        return self.cache.size


#: Every process-wide cache, by name.
CACHES: dict[str, CacheInfo] = {}


def process_cache(name: str, size: int, keeps: str) -> LRUCache:
    """A cache that lives as long as the process, registered in :data:`CACHES`."""
    if name in CACHES:
        return CACHES[name].cache
    cache = LRUCache(size)
    CACHES[name] = CacheInfo(name, keeps, cache)
    return cache


__all__ = ["CACHES", "CacheInfo", "LRUCache", "process_cache"]
