"""Prune a SQLite thread: the plan of `keep_latest` as a few statements in one transaction.

``BEGIN IMMEDIATE`` takes the write lock before the reads, so the plan is made
on the rows it deletes, even with other processes on the file. There is no
``VACUUM``: the freed pages are reused by the next checkpoints, which keeps the
file's size bounded. The commit waits for the disk even while runs defer it
(`memorygraph.checkpointers.backends.sqlite_sync`): it is what makes a run durable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from memorygraph.checkpointers.backends.base import delta_refusal
from memorygraph.checkpointers.backends.keep_latest import Head, finished_calls, root_of
from memorygraph.checkpointers.backends.sqlite_sync import adurable_level, durable_level

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["aprune_sqlite", "prune_sqlite"]

_HEADS = """
SELECT checkpoint_ns, checkpoint_id, metadata FROM checkpoints AS c
WHERE thread_id = ? AND checkpoint_id = (
    SELECT MAX(checkpoint_id) FROM checkpoints
    WHERE thread_id = c.thread_id AND checkpoint_ns = c.checkpoint_ns
)
"""
_DELTA = """
SELECT 1 FROM checkpoints
WHERE thread_id = ? AND (
    json_extract(CAST(metadata AS TEXT), '$.counters_since_delta_snapshot') IS NOT NULL
    OR json_extract(CAST(metadata AS TEXT), '$.delta_writes_versioned') IS NOT NULL
)
LIMIT 1
"""
_ROOTS = "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
_DROP_NAMESPACE = (
    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ?",
    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?",
)
# Writes go by the checkpoints deleted, not by "older than the head": a run
# can save a superstep's writes before their checkpoint.
_KEEP_HEAD = (
    """
    DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id IN (
        SELECT checkpoint_id FROM checkpoints
        WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id <> ?
    )
    """,
    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id <> ?",
    """
    UPDATE checkpoints SET parent_checkpoint_id = NULL
    WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?
    AND parent_checkpoint_id IS NOT NULL
    """,
)

_Statement = tuple[str, tuple[str, ...]]


def _heads(rows: Iterable[Sequence[Any]]) -> list[Head]:
    heads = []
    for namespace, checkpoint_id, metadata in rows:
        loaded = json.loads(metadata) if metadata is not None else {}
        heads.append(Head(namespace, checkpoint_id, root_of(loaded)))
    return heads


def _plan(
    thread_id: str, heads: list[Head], uses_delta: bool, root_ids: set[str]
) -> list[_Statement]:
    if uses_delta:
        raise delta_refusal(thread_id)
    calls = finished_calls(heads, root_ids)
    statements: list[_Statement] = []
    for head in heads:
        ns, kept = head.namespace, head.checkpoint_id
        if ns in calls:
            statements += [(sql, (thread_id, ns)) for sql in _DROP_NAMESPACE]
            continue
        drop_writes, drop_checkpoints, unlink = _KEEP_HEAD
        statements += [
            (drop_writes, (thread_id, ns, thread_id, ns, kept)),
            (drop_checkpoints, (thread_id, ns, kept)),
            (unlink, (thread_id, ns, kept)),
        ]
    return statements


def prune_sqlite(saver: SqliteSaver, thread_id: str) -> None:
    """Keep the latest checkpoint of each namespace of the thread, in one transaction."""
    with saver.cursor(transaction=False) as cur:
        conn = saver.conn
        if conn.in_transaction:
            conn.commit()
        with durable_level(conn):  # this commit waits for the disk (sqlite_sync)
            cur.execute("BEGIN IMMEDIATE")
            try:
                heads = _heads(cur.execute(_HEADS, (thread_id,)).fetchall())
                uses_delta = cur.execute(_DELTA, (thread_id,)).fetchone() is not None
                roots = {row[0] for row in cur.execute(_ROOTS, (thread_id,)).fetchall()}
                for sql, params in _plan(thread_id, heads, uses_delta, roots):
                    cur.execute(sql, params)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()


async def aprune_sqlite(saver: AsyncSqliteSaver, thread_id: str) -> None:
    """Async twin of `prune_sqlite`."""
    await saver.setup()  # takes the lock itself
    async with saver.lock:
        conn = saver.conn
        if conn.in_transaction:
            await conn.commit()
        async with adurable_level(conn):
            await (await conn.execute("BEGIN IMMEDIATE")).close()
            try:
                heads = _heads(await _fetch(conn, _HEADS, thread_id))
                uses_delta = bool(await _fetch(conn, _DELTA, thread_id))
                roots = {row[0] for row in await _fetch(conn, _ROOTS, thread_id)}
                for sql, params in _plan(thread_id, heads, uses_delta, roots):
                    await (await conn.execute(sql, params)).close()
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()


async def _fetch(conn: aiosqlite.Connection, sql: str, thread_id: str) -> list[Any]:
    async with conn.execute(sql, (thread_id,)) as cur:
        return list(await cur.fetchall())
