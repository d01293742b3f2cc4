"""When a SQLite saver waits for the disk: once per run, not once per node.

A turn of the memory graph saves a checkpoint after every node: six commits and
five more for the nodes' writes. With SQLite's default ``synchronous=FULL``
each of them waits for the disk (an ``fdatasync`` of the write-ahead log). A
run that prunes when it ends (the graph's default, ``keep_checkpoints=
"latest"``) commits the same rows again in one transaction: that commit is the
one that needs to wait.

So, while such a run is in progress, its saver's connection commits with
``synchronous=NORMAL`` (`deferred_sync`), and the prune commits with the
connection's own level (`durable_level`, ``FULL`` by default). In WAL mode,
which every saver memorygraph opens uses, this keeps every guarantee but one:

- A commit with ``NORMAL`` is in the log, in the operating system's cache: a
  process killed mid-turn loses nothing, and the next run resumes the turn
  from the last node that finished (the crash tests kill workers this way).
- The database cannot be corrupted by a power loss in either mode.
- The prune's ``fdatasync`` of the log makes every frame before it durable,
  the turn's checkpoints included. A power loss (or an operating-system
  crash) in the middle of a run rolls the thread back to the end of the
  previous run, whose state is whole, instead of to the last node.

Nothing changes for a connection that is not in WAL mode, one whose level is
already ``NORMAL`` or lower, or a run that does not prune (``keep_checkpoints
="all"``, a fork or a replay). Runs on one connection share the setting: the
first to start relaxes it and the last to end restores it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiosqlite
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

__all__ = ["adeferred_sync", "adurable_level", "deferred_sync", "durable_level"]

NORMAL = 1


@dataclass
class _Relaxed:
    conn: Any  # kept, so that its id cannot be reused while the entry lives
    runs: int
    level: int  # the connection's own level, restored by the last run


_RELAXED: dict[int, _Relaxed] = {}
_GUARD = threading.Lock()


def _level_sql(level: int) -> str:
    return f"PRAGMA synchronous={int(level)}"


def _enter(conn: object, read: tuple[str, int] | None) -> int | None:
    """Count a run in; return the level to set now (None: nothing to set)."""
    with _GUARD:
        entry = _RELAXED.get(id(conn))
        if entry is not None:
            entry.runs += 1
            return None
        if read is None:
            return None
        journal, level = read
        if journal.lower() != "wal" or level <= NORMAL:
            return None
        _RELAXED[id(conn)] = _Relaxed(conn, 1, level)
        return NORMAL


def _leave(conn: object) -> int | None:
    """Count a run out; return the level to restore now (None: nothing to set)."""
    with _GUARD:
        entry = _RELAXED.get(id(conn))
        if entry is None:
            return None
        entry.runs -= 1
        if entry.runs:
            return None
        del _RELAXED[id(conn)]
        return entry.level


def _own_level(conn: object, current: int) -> int:
    with _GUARD:
        entry = _RELAXED.get(id(conn))
    return max(current, entry.level) if entry is not None else current


def _read(conn: sqlite3.Connection) -> tuple[str, int]:
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    level = conn.execute("PRAGMA synchronous").fetchone()[0]
    return str(journal), int(level)


@contextmanager
def deferred_sync(saver: SqliteSaver) -> Iterator[None]:
    """Commit without waiting for the disk while the run is in progress.

    Example:
        >>> from memorygraph.checkpointers import open_checkpointer
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.db")
        >>> with open_checkpointer(f"sqlite:///{path}") as saver:
        ...     with deferred_sync(saver):
        ...         inside = saver.conn.execute("PRAGMA synchronous").fetchone()[0]
        ...     after = saver.conn.execute("PRAGMA synchronous").fetchone()[0]
        >>> inside, after
        (1, 2)
    """
    conn = saver.conn
    with saver.lock:
        known = id(conn) in _RELAXED
        level = _enter(conn, None if known else _read(conn))
        if level is not None:
            conn.execute(_level_sql(level))
    try:
        yield
    finally:
        with saver.lock:
            level = _leave(conn)
            if level is not None:
                conn.execute(_level_sql(level))


@asynccontextmanager
async def adeferred_sync(saver: AsyncSqliteSaver) -> AsyncIterator[None]:
    """Async twin of `deferred_sync`."""
    conn = saver.conn
    async with saver.lock:
        read = None if id(conn) in _RELAXED else await _aread(conn)
        level = _enter(conn, read)
        if level is not None:
            await (await conn.execute(_level_sql(level))).close()
    try:
        yield
    finally:
        async with saver.lock:
            level = _leave(conn)
            if level is not None:
                await (await conn.execute(_level_sql(level))).close()


async def _aread(conn: aiosqlite.Connection) -> tuple[str, int]:
    async with conn.execute("PRAGMA journal_mode") as cur:
        journal = (await cur.fetchone() or ("",))[0]
    async with conn.execute("PRAGMA synchronous") as cur:
        level = (await cur.fetchone() or (0,))[0]
    return str(journal), int(level)


@contextmanager
def durable_level(conn: sqlite3.Connection) -> Iterator[None]:
    """Commit at the connection's own level inside, even while runs defer it.

    Called with the saver's lock held, outside a transaction.
    """
    current = int(conn.execute("PRAGMA synchronous").fetchone()[0])
    own = _own_level(conn, current)
    if own != current:
        conn.execute(_level_sql(own))
    try:
        yield
    finally:
        if own != current:
            conn.execute(_level_sql(current))


@asynccontextmanager
async def adurable_level(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """Async twin of `durable_level`."""
    async with conn.execute("PRAGMA synchronous") as cur:
        current = int((await cur.fetchone() or (0,))[0])
    own = _own_level(conn, current)
    if own != current:
        await (await conn.execute(_level_sql(own))).close()
    try:
        yield
    finally:
        if own != current:
            await (await conn.execute(_level_sql(current))).close()
