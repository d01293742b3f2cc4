"""The store's own TTL: how long durable facts and audit records live where they are written.

memorygraph's sweep, for every backend, is `memorygraph.admin.sweep_expired`.
"""

from __future__ import annotations

from datetime import timedelta

from langgraph.store.base import BaseStore

__all__ = ["ttl_minutes"]


def ttl_minutes(store: BaseStore | None, ttl: timedelta | None) -> float | None:
    """Return the ``ttl=`` to pass to ``store.put``: minutes, or None without store TTL.

    Example:
        >>> from datetime import timedelta
        >>> from langgraph.store.memory import InMemoryStore
        >>> ttl_minutes(InMemoryStore(), timedelta(hours=1)) is None
        True
    """
    if store is None or ttl is None or not store.supports_ttl:
        return None
    return ttl.total_seconds() / 60
