"""Open LangGraph checkpointers and stores from a URL, and manage their threads.

``"memory"``, ``"sqlite:///path.db"`` and ``"postgresql://..."`` open
LangGraph's own savers and stores; memorygraph only picks the right one, sets
it up, and registers memorygraph's record types with its serializer.
``"redis://..."`` opens memorygraph's own (`backends.redis_saver`,
`backends.redis_store`), on plain Redis 7 commands. Each backend has one
adapter in `memorygraph.checkpointers.backends`, which every operation here
(open, prune, list, delete) dispatches to.

Example:
    >>> from memorygraph.checkpointers import list_threads, open_checkpointer
    >>> with open_checkpointer("memory") as saver:
    ...     list_threads(saver)
    []
"""

from memorygraph.checkpointers._open import (
    aopen_checkpointer,
    aopen_store,
    open_checkpointer,
    open_store,
)
from memorygraph.checkpointers._serde import (
    accept_records,
    memorygraph_serializer,
    register_types,
)
from memorygraph.checkpointers._threads import (
    adelete_thread,
    alist_threads,
    aprune_thread,
    delete_thread,
    list_threads,
    prune_thread,
)
from memorygraph.checkpointers.backends.redis_saver import RedisSaver
from memorygraph.checkpointers.backends.redis_store import RedisStore

__all__ = [
    "RedisSaver",
    "RedisStore",
    "accept_records",
    "adelete_thread",
    "alist_threads",
    "aopen_checkpointer",
    "aopen_store",
    "aprune_thread",
    "delete_thread",
    "list_threads",
    "memorygraph_serializer",
    "open_checkpointer",
    "open_store",
    "prune_thread",
    "register_types",
]
