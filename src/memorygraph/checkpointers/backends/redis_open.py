"""Open the Redis saver and store for `open_checkpointer` / `open_store` and their twins."""

from __future__ import annotations

from contextlib import AsyncExitStack, ExitStack
from typing import TYPE_CHECKING

from memorygraph.checkpointers._serde import memorygraph_serializer
from memorygraph.checkpointers.backends.redis_client import (
    connect,
    connect_async,
    parse_redis_url,
)
from memorygraph.checkpointers.backends.redis_saver import RedisSaver
from memorygraph.checkpointers.backends.redis_store import RedisStore
from memorygraph.checkpointers.urls import redact_url
from memorygraph.errors import BackendError

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.store.base import BaseStore, IndexConfig

__all__ = ["aopen_redis_saver", "aopen_redis_store", "open_redis_saver", "open_redis_store"]


def open_redis_saver(url: str, stack: ExitStack) -> BaseCheckpointSaver[str]:
    """A `RedisSaver` on a sync client, closed with ``stack``."""
    target = parse_redis_url(url)
    conn = connect(target.url)
    stack.callback(conn.close)
    return RedisSaver(conn, prefix=target.prefix, serde=memorygraph_serializer())


async def aopen_redis_saver(url: str, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
    """A `RedisSaver` on an async client (and a lazy sync one), closed with ``stack``."""
    target = parse_redis_url(url)
    aconn = await connect_async(target.url)
    stack.push_async_callback(aconn.aclose)
    conn = connect(target.url, ping=False)
    stack.callback(conn.close)
    return RedisSaver(conn, aconn=aconn, prefix=target.prefix, serde=memorygraph_serializer())


def _no_index(url: str, index: IndexConfig | None) -> None:
    if index is not None:
        raise BackendError(
            f"the Redis store at {redact_url(url)} has no semantic search (plain Redis has no "
            "vector index); open it without index=, or use PostgreSQL with pgvector"
        )


def open_redis_store(url: str, stack: ExitStack, index: IndexConfig | None) -> BaseStore:
    """A `RedisStore` on a sync client, closed with ``stack``."""
    _no_index(url, index)
    target = parse_redis_url(url)
    conn = connect(target.url)
    stack.callback(conn.close)
    return RedisStore(conn, prefix=target.prefix)


async def aopen_redis_store(
    url: str, stack: AsyncExitStack, index: IndexConfig | None
) -> BaseStore:
    """A `RedisStore` on an async client (and a lazy sync one), closed with ``stack``."""
    _no_index(url, index)
    target = parse_redis_url(url)
    aconn = await connect_async(target.url)
    stack.push_async_callback(aconn.aclose)
    conn = connect(target.url, ping=False)
    stack.callback(conn.close)
    return RedisStore(conn, aconn=aconn, prefix=target.prefix)
