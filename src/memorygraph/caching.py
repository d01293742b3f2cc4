"""Bounded, thread-safe caches for work redone on the same inputs from turn to turn.

`BoundedCache` is a map that forgets its oldest entries past its size;
`ObjectCache` keeps a value computed from an object while that object lives
among the last ones seen (it is kept, and compared by identity, so a freed
object whose ``id`` is reused cannot match).

Example:
    >>> cache = BoundedCache[str, int](2)
    >>> cache.put("a", 1); cache.put("b", 2); cache.put("c", 3)
    >>> cache.get("a"), cache.get("c"), len(cache)
    (None, 3, 2)
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ["KEPT_CHARS", "BoundedCache", "ObjectCache"]

KEPT_CHARS = 4096
"""Longer texts are not kept by these caches: a large tool result is not held twice."""

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class BoundedCache(Generic[K, V]):
    """A map of at most ``size`` entries; the oldest put goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value put under ``key``, or None."""
        with self._lock:
            return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key``, forgetting the oldest entries past the size."""
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.pop(next(iter(self._data)))

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class ObjectCache(Generic[T, V]):
    """A value per object, for the last ``size`` objects put, matched by identity.

    Example:
        >>> cache = ObjectCache[list[int], int](8)
        >>> numbers = [1, 2]
        >>> cache.put(numbers, 3)
        >>> cache.get(numbers), cache.get([1, 2])
        (3, None)
    """

    def __init__(self, size: int) -> None:
        self.entries = BoundedCache[int, tuple[T, V]](size)

    def get(self, obj: T) -> V | None:
        """The value put for this very object, or None."""
        hit = self.entries.get(id(obj))
        return hit[1] if hit is not None and hit[0] is obj else None

    def put(self, obj: T, value: V) -> None:
        """Keep ``value`` for ``obj`` (and ``obj`` itself, while the entry lives)."""
        self.entries.put(id(obj), (obj, value))

    def clear(self) -> None:
        """Forget every entry."""
        self.entries.clear()

    def __len__(self) -> int:
        return len(self.entries)
