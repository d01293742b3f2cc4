"""The Redis backend: memorygraph's `RedisSaver` and `RedisStore` on plain Redis 7.

Its parts are the ``redis_*`` modules of this package; this adapter is their one
entry point:

- open: `redis_open` (a sync client, or an async one with a lazy sync one);
- lock: a lease per thread (`redis_lock`);
- prune, list and forget: the saver's own methods (`redis_maintenance` plans);
- vacuum: the keys are gone at once; a server that keeps an append-only file or
  RDB snapshots gets both rewritten, once per server (`redis_persistence`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    ExitStack,
    nullcontext,
)
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore, IndexConfig

from memorygraph.checkpointers.backends.base import AnySaver, Busy
from memorygraph.checkpointers.backends.redis_lock import ahold_lease, hold_lease
from memorygraph.checkpointers.backends.redis_open import (
    aopen_redis_saver,
    aopen_redis_store,
    open_redis_saver,
    open_redis_store,
)
from memorygraph.checkpointers.backends.redis_persistence import (
    arewrite_files,
    rewrite_files,
    server_name,
)
from memorygraph.checkpointers.backends.redis_saver import RedisSaver
from memorygraph.checkpointers.backends.redis_store import RedisStore

__all__ = ["ADAPTER"]


def _one_per_server(objs: Sequence[object]) -> list[RedisSaver | RedisStore]:
    found: dict[str, RedisSaver | RedisStore] = {}
    for obj in objs:
        if isinstance(obj, RedisSaver | RedisStore):
            found.setdefault(server_name(obj.conn), obj)
    return list(found.values())


class _Redis(AnySaver):
    name = "redis"

    def handles(self, obj: object) -> bool:
        return isinstance(obj, RedisSaver | RedisStore)

    def open_saver(self, location: str, stack: ExitStack) -> BaseCheckpointSaver[str]:
        return open_redis_saver(location, stack)

    async def aopen_saver(self, location: str, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
        return await aopen_redis_saver(location, stack)

    def open_store(self, location: str, stack: ExitStack, index: IndexConfig | None) -> BaseStore:
        return open_redis_store(location, stack, index)

    async def aopen_store(
        self, location: str, stack: AsyncExitStack, index: IndexConfig | None
    ) -> BaseStore:
        return await aopen_redis_store(location, stack, index)

    def lock(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, deadline: float, busy: Busy
    ) -> AbstractContextManager[None]:
        if not isinstance(saver, RedisSaver):
            return nullcontext()
        return hold_lease(saver, thread_id, deadline, busy)

    def alock(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, deadline: float, busy: Busy
    ) -> AbstractAsyncContextManager[None]:
        if not isinstance(saver, RedisSaver):
            return nullcontext()
        return ahold_lease(saver, thread_id, deadline, busy)

    def list_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        assert isinstance(saver, RedisSaver)
        return saver.list_thread_ids()

    async def alist_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        assert isinstance(saver, RedisSaver)
        return await saver.alist_thread_ids()

    def vacuum(self, objs: Sequence[object]) -> list[str]:
        rewritten = [rewrite_files(obj.conn) for obj in _one_per_server(objs)]
        return [name for name in rewritten if name is not None]

    async def avacuum(self, objs: Sequence[object]) -> list[str]:
        done: list[str] = []
        for obj in _one_per_server(objs):
            if obj.aconn is not None:
                rewritten = await arewrite_files(obj.aconn)
            else:
                rewritten = await asyncio.to_thread(rewrite_files, obj.conn)
            if rewritten is not None:
                done.append(rewritten)
        return done

    def database_errors(self) -> tuple[type[Exception], ...]:
        try:
            from redis import RedisError
        except ImportError:
            return ()
        return (RedisError,)


ADAPTER = _Redis()
"""The Redis backend's adapter."""
