"""One run at a time per thread: `thread_lock` around each run of the memory graph.

Two runs on one thread at once both start from the same checkpoint. With
LangGraph's savers the later one's checkpoint becomes the thread's state and
the other's turn is lost; with `PostgresSaver` it is worse: both runs write
channel blobs under the same version numbers (the second write is dropped, as
``ON CONFLICT DO NOTHING``), and pruning after one run deletes blobs the other
run's checkpoint still points to, which leaves the thread unreadable.

So `MemoryGraph` holds a lock on the thread for the whole run (and its prune):

* within a process, a lock per (saver, thread) serializes threads and tasks;
* across processes on PostgreSQL, a session advisory lock keyed by the thread
  id, polled with ``pg_try_advisory_lock`` on the saver's own connection (or a
  connection taken from its pool for the run), released when the run ends or
  the process dies.

* across processes on one SQLite file (`SqliteSaver`), a POSIX record lock on
  one byte, chosen by the thread id, of a ``<file>.memorygraph-locks`` file next
  to the database (`memorygraph.checkpointers._file_lock`), also released when
  the process dies.

* across processes on Redis (`RedisSaver`), a lease: a key set to a random
  token with an expiry, renewed while the run lasts, deleted at its end, and
  expiring `LEASE_SECONDS` (30) after a process that died holding it
  (`memorygraph.checkpointers.backends.redis_lock`).

`AsyncSqliteSaver` and the in-memory saver get the in-process lock only (two
processes on one file with the async saver lose a turn, last writer wins, but
SQLite keeps a whole checkpoint in one row, so the thread stays readable).

A run that waits longer than ``timeout`` seconds raises `ThreadBusyError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from memorygraph.checkpointers._file_lock import SETUP_BYTE, hold_byte
from memorygraph.checkpointers.backends.redis_lock import ahold_lease, hold_lease
from memorygraph.checkpointers.backends.redis_saver import RedisSaver
from memorygraph.errors import ThreadBusyError

__all__ = ["DEFAULT_TIMEOUT", "athread_lock", "thread_lock"]

DEFAULT_TIMEOUT = 120.0
"""Seconds a run waits for another run on the same thread before giving up."""

_POLL_SECONDS = 0.02
_TRY = "SELECT pg_try_advisory_lock(%s)"
_UNLOCK = "SELECT pg_advisory_unlock(%s)"

_local_guard = threading.Lock()
# (database, thread) -> [lock, users]; an entry lives while a run holds or waits for it.
_local: dict[tuple[int, str], list[Any]] = {}


def _key(thread_id: str) -> int:
    digest = hashlib.sha256(f"memorygraph:thread:{thread_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _database(saver: Any) -> int:
    # Graphs built on one saver hold copies of it (register_types): key by what
    # they share, the connection (or pool, or in-memory storage).
    for name in ("conn", "storage"):  # (an empty storage dict is falsy: test for None)
        shared = getattr(saver, name, None)
        if shared is not None:
            return id(shared)
    return id(saver)


@contextmanager
def _local_entry(saver: Any, thread_id: str) -> Iterator[threading.Lock]:
    key = (_database(saver), thread_id)
    with _local_guard:
        entry = _local.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        yield entry[0]
    finally:
        with _local_guard:
            entry[1] -= 1
            if entry[1] == 0:
                del _local[key]


def _busy(thread_id: str, timeout: float) -> ThreadBusyError:
    return ThreadBusyError(
        f"thread {thread_id!r} is being written by another run, still after {timeout:.0f}s; "
        "a thread takes one turn at a time: retry when that run has ended"
    )


def _postgres_kinds() -> tuple[tuple[type, ...], tuple[type, ...]]:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    except ImportError:
        return (), ()
    return (PostgresSaver,), (AsyncPostgresSaver,)


def _row_true(row: Any) -> bool:
    if row is None:
        return False
    value = next(iter(row.values())) if isinstance(row, dict) else row[0]
    return bool(value)


@contextmanager
def _postgres_session(saver: Any) -> Iterator[tuple[Any, threading.Lock | None]]:
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
def _postgres_lock(saver: Any, thread_id: str, deadline: float, timeout: float) -> Iterator[None]:
    key = _key(thread_id)
    with _postgres_session(saver) as (conn, guard):
        while not _row_true(_execute(conn, guard, _TRY, key)):
            if time.monotonic() > deadline:
                raise _busy(thread_id, timeout)
            time.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            _execute(conn, guard, _UNLOCK, key)


def _sqlite_path(saver: Any) -> str | None:
    conn = getattr(saver, "conn", None)
    if not isinstance(conn, sqlite3.Connection):
        return None
    with saver.lock:
        rows = conn.execute("PRAGMA database_list").fetchall()
    path = next((str(row[2]) for row in rows if row[1] == "main"), "")
    return path or None  # "" for an in-memory database


@contextmanager
def thread_lock(saver: Any, thread_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the thread for one run (see the module docstring).

    Raises:
        ThreadBusyError: Another run held the thread for longer than ``timeout``.
    """
    deadline = time.monotonic() + timeout
    with _local_entry(saver, thread_id) as local:
        if not local.acquire(timeout=timeout):
            raise _busy(thread_id, timeout)
        try:
            sync_kinds, _ = _postgres_kinds()
            path = _sqlite_path(saver)
            if sync_kinds and isinstance(saver, sync_kinds):
                with _postgres_lock(saver, thread_id, deadline, timeout):
                    yield
            elif isinstance(saver, RedisSaver):
                with hold_lease(saver, thread_id, deadline, lambda: _busy(thread_id, timeout)):
                    yield
            elif path is not None:
                # one byte of the lock file per thread, below the setup byte
                offset = _key(thread_id) % SETUP_BYTE
                with hold_byte(path, offset, deadline, lambda: _busy(thread_id, timeout)):
                    yield
            else:
                yield
        finally:
            local.release()


@asynccontextmanager
async def _apostgres_session(saver: Any) -> AsyncIterator[tuple[Any, asyncio.Lock | None]]:
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
async def _apostgres_lock(
    saver: Any, thread_id: str, deadline: float, timeout: float
) -> AsyncIterator[None]:
    key = _key(thread_id)
    async with _apostgres_session(saver) as (conn, guard):
        while not _row_true(await _aexecute(conn, guard, _TRY, key)):
            if time.monotonic() > deadline:
                raise _busy(thread_id, timeout)
            await asyncio.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            await _aexecute(conn, guard, _UNLOCK, key)


@asynccontextmanager
async def athread_lock(
    saver: Any, thread_id: str, *, timeout: float = DEFAULT_TIMEOUT
) -> AsyncIterator[None]:
    """Async twin of `thread_lock`."""
    deadline = time.monotonic() + timeout
    with _local_entry(saver, thread_id) as local:
        while not local.acquire(blocking=False):
            if time.monotonic() > deadline:
                raise _busy(thread_id, timeout)
            await asyncio.sleep(_POLL_SECONDS)
        try:
            _, async_kinds = _postgres_kinds()
            if async_kinds and isinstance(saver, async_kinds):
                async with _apostgres_lock(saver, thread_id, deadline, timeout):
                    yield
            elif isinstance(saver, RedisSaver):
                async with ahold_lease(
                    saver, thread_id, deadline, lambda: _busy(thread_id, timeout)
                ):
                    yield
            else:
                yield
        finally:
            local.release()
