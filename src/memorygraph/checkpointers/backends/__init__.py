"""One adapter per backend, behind one protocol (`base.BackendAdapter`).

`memory`, `sqlite`, `postgres` and `redis` each hold one adapter (``ADAPTER``)
that opens, locks, prunes, lists, forgets and vacuums for its backend;
`dispatch.adapter_for` picks it for a URL, a saver or a store. Some adapters
have parts of their own: `sqlite_lock`, `sqlite_prune` and `sqlite_sync`; `postgres_lock`;
and for Redis, for which LangGraph has no saver on plain commands,
`redis_saver` and `redis_store` (a checkpointer and a store on Redis 7),
`redis_lock` (the thread lease), `redis_client` (connections and the command
plans both share), `redis_keys`, `redis_maintenance`, `redis_open` and
`redis_persistence`. `keep_latest` is the pruning plan that the memory, SQLite
and Redis adapters share.
"""

from memorygraph.checkpointers.backends.base import AnySaver, BackendAdapter
from memorygraph.checkpointers.backends.dispatch import (
    ADAPTERS,
    adapter_for,
    avacuum,
    database_errors,
    failure_errors,
    is_corruption,
    sync_only,
    vacuum,
)

__all__ = [
    "ADAPTERS",
    "AnySaver",
    "BackendAdapter",
    "adapter_for",
    "avacuum",
    "database_errors",
    "failure_errors",
    "is_corruption",
    "sync_only",
    "vacuum",
]
