"""A thread's lock on PostgreSQL: a session advisory lock keyed by the thread id.

It is polled with ``pg_try_advisory_lock`` on the saver's own connection, or on
a connection taken from its pool for the run, and released when the run ends or
the process dies. Without it, two runs on one thread write channel blobs under
the same version numbers (the second write is dropped, ``ON CONFLICT DO
NOTHING``), and pruning after one run deletes blobs the other run's checkpoint
still points to.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from memorygraph.checkpointers.backends.base import Busy, lock_key

__all__ = ["ahold_advisory", "hold_advisory"]

_POLL_SECONDS = 0.02
_TRY = "SELECT pg_try_advisory_lock(%s)"
_UNLOCK = "SELECT pg_advisory_unlock(%s)"


def _row_true(row: Any) -> bool:
    if row is None:
        return False
    value = next(iter(row.values())) if isinstance(row, dict) else row[0]
    return bool(value)


@contextmanager
def _session(saver: Any) -> Iterator[tuple[Any, threading.Lock | None]]:
    from psycopg import Connection

    if isinstance(saver.conn, Connection):
        yield saver.conn, saver.lock
        return
    conn = saver.conn.getconn()  # a pool: this connection holds the lock for the run
    try:
        yield conn, None
    finally:
        saver.conn.putconn(conn)


def _execute(conn: Any, guard: threading.Lock | None, sql: str, key: int) -> Any:
    if guard is None:
        return conn.execute(sql, (key,)).fetchone()
    with guard:
        return conn.execute(sql, (key,)).fetchone()


@contextmanager
def hold_advisory(saver: Any, thread_id: str, deadline: float, busy: Busy) -> Iterator[None]:
    """Hold the thread's advisory lock until the block ends (a `PostgresSaver`).

    Raises:
        Exception: ``busy()``, when another run held the lock past ``deadline``.
    """
    key = lock_key(thread_id)
    with _session(saver) as (conn, guard):
        while not _row_true(_execute(conn, guard, _TRY, key)):
            if time.monotonic() > deadline:
                raise busy()
            time.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            _execute(conn, guard, _UNLOCK, key)


@asynccontextmanager
async def _asession(saver: Any) -> AsyncIterator[tuple[Any, asyncio.Lock | None]]:
    from psycopg import AsyncConnection

    if isinstance(saver.conn, AsyncConnection):
        yield saver.conn, saver.lock
        return
    async with saver.conn.connection() as conn:
        yield conn, None


async def _aexecute(conn: Any, guard: asyncio.Lock | None, sql: str, key: int) -> Any:
    if guard is None:
        return await (await conn.execute(sql, (key,))).fetchone()
    async with guard:
        return await (await conn.execute(sql, (key,))).fetchone()


@asynccontextmanager
async def ahold_advisory(
    saver: Any, thread_id: str, deadline: float, busy: Busy
) -> AsyncIterator[None]:
    """Async twin of `hold_advisory` (an `AsyncPostgresSaver`)."""
    key = lock_key(thread_id)
    async with _asession(saver) as (conn, guard):
        while not _row_true(await _aexecute(conn, guard, _TRY, key)):
            if time.monotonic() > deadline:
                raise busy()
            await asyncio.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            await _aexecute(conn, guard, _UNLOCK, key)
