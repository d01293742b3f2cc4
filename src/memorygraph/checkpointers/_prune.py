"""Keep only the latest checkpoint of a thread: `prune_thread` and `aprune_thread`."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig, ensure_config
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.constants import CONFIG_KEY_CHECKPOINTER

from memorygraph.checkpointers._threads import _check_thread_id, _run_on_loop
from memorygraph.errors import BackendError

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["PruneTarget", "aprune_thread", "prune_target", "prune_thread"]

logger = logging.getLogger(__name__)

# A `DeltaChannel` leaves these keys in checkpoint metadata (the second one is
# LangGraph.js's), and rebuilds its value from older checkpoints' writes.
_DELTA_KEYS = ("counters_since_delta_snapshot", "delta_writes_versioned")

# A subgraph call's namespace ends with ":<task id>"; a `checkpointer=True`
# subgraph's has none, because its state outlives each call.
_CALL_SEPARATOR = ":"


def prune_thread(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> None:
    """Keep only the latest checkpoint of each namespace of a thread.

    The checkpoint kept is the one ``get_tuple`` loads, with its pending
    writes, so an interrupted thread can still be resumed: its interrupts are
    pending writes. Every older checkpoint and its writes are deleted, and the
    kept checkpoint loses its parent link. A subgraph call's namespace goes
    with the root checkpoint the call started from; a ``checkpointer=True``
    subgraph keeps its latest checkpoint. Time travel to a deleted checkpoint
    is no longer possible.

    - ``PostgresSaver`` / ``AsyncPostgresSaver``: their own
      ``prune([thread_id], strategy="keep_latest")``.
    - ``SqliteSaver`` / ``AsyncSqliteSaver``: a few statements in one
      ``BEGIN IMMEDIATE`` transaction. There is no ``VACUUM``: the freed pages
      are reused by the next checkpoints, which keeps the file's size bounded.
      `delete_thread` is what shrinks the file.
    - ``InMemorySaver``: its dictionaries.
    - ``RedisSaver``: its own ``prune``, one optimistic transaction
      (``WATCH``/``MULTI``/``EXEC``) with the same plan as SQLite's.
    - Any other saver: its own ``prune``, if it has one.

    Args:
        checkpointer: The saver that holds the thread.
        thread_id: The thread to prune. The other threads are not touched.

    Raises:
        IdentityError: ``thread_id`` is empty or blank.
        BackendError: The saver cannot prune (its type is named), or the
            thread uses a ``DeltaChannel``, whose value is rebuilt from the
            older checkpoints this would delete. Database errors (such as
            ``sqlite3.OperationalError``) propagate unchanged, and leave the
            thread as it was.

    Example:
        >>> from langgraph.graph import MessagesState, StateGraph
        >>> from memorygraph.checkpointers import open_checkpointer, prune_thread
        >>> builder = StateGraph(MessagesState)
        >>> _ = builder.add_node("reply", lambda state: {"messages": [("ai", "ok")]})
        >>> _ = builder.set_entry_point("reply")
        >>> cfg = {"configurable": {"thread_id": "t1"}}
        >>> with open_checkpointer("memory") as saver:
        ...     graph = builder.compile(checkpointer=saver)
        ...     for text in ["one", "two", "three"]:
        ...         _ = graph.invoke({"messages": [("user", text)]}, cfg)
        ...     before = len(list(graph.get_state_history(cfg)))
        ...     prune_thread(saver, "t1")
        ...     after = len(list(graph.get_state_history(cfg)))
        ...     messages = len(graph.get_state(cfg).values["messages"])
        >>> before, after, messages
        (9, 1, 6)
    """
    _check_thread_id(thread_id)
    if isinstance(checkpointer, SqliteSaver):
        _prune_sqlite(checkpointer, thread_id)
    elif isinstance(checkpointer, AsyncSqliteSaver):
        _run_on_loop(checkpointer.loop, _aprune_sqlite(checkpointer, thread_id), "prune_thread")
    elif isinstance(checkpointer, InMemorySaver):
        _prune_memory(checkpointer, thread_id)
    else:
        _check_can_prune(checkpointer)
        try:
            checkpointer.prune([thread_id], strategy="keep_latest")
        except NotImplementedError as exc:
            raise _refusal(checkpointer, thread_id, exc) from exc


async def aprune_thread(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> None:
    """Keep only the latest checkpoint of each namespace of a thread (async).

    The async twin of `prune_thread`, with the same rules. A sync-only saver
    (``SqliteSaver``, ``PostgresSaver``) is driven from a worker thread.

    Args:
        checkpointer: The saver that holds the thread.
        thread_id: The thread to prune.

    Raises:
        IdentityError: ``thread_id`` is empty or blank.
        BackendError: The saver cannot prune, or the thread uses a ``DeltaChannel``.

    Example:
        >>> import asyncio
        >>> from langgraph.graph import MessagesState, StateGraph
        >>> from memorygraph.checkpointers import aopen_checkpointer, aprune_thread
        >>> builder = StateGraph(MessagesState)
        >>> _ = builder.add_node("reply", lambda state: {"messages": [("ai", "ok")]})
        >>> _ = builder.set_entry_point("reply")
        >>> async def history_after_pruning() -> int:
        ...     cfg = {"configurable": {"thread_id": "t1"}}
        ...     async with aopen_checkpointer("memory") as saver:
        ...         graph = builder.compile(checkpointer=saver)
        ...         for text in ["one", "two"]:
        ...             await graph.ainvoke({"messages": [("user", text)]}, cfg)
        ...         await aprune_thread(saver, "t1")
        ...         return len([s async for s in graph.aget_state_history(cfg)])
        >>> asyncio.run(history_after_pruning())
        1
    """
    _check_thread_id(thread_id)
    if isinstance(checkpointer, AsyncSqliteSaver):
        await _aprune_sqlite(checkpointer, thread_id)
    elif isinstance(checkpointer, InMemorySaver):
        _prune_memory(checkpointer, thread_id)
    elif isinstance(checkpointer, SqliteSaver):
        await asyncio.to_thread(_prune_sqlite, checkpointer, thread_id)
    else:
        _check_can_prune(checkpointer)
        try:
            if type(checkpointer).aprune is not BaseCheckpointSaver.aprune:
                await checkpointer.aprune([thread_id], strategy="keep_latest")
            else:
                await asyncio.to_thread(checkpointer.prune, [thread_id], strategy="keep_latest")
        except NotImplementedError as exc:
            raise _refusal(checkpointer, thread_id, exc) from exc


def _check_can_prune(checkpointer: BaseCheckpointSaver[Any]) -> None:
    if type(checkpointer).prune is BaseCheckpointSaver.prune:
        raise BackendError(
            f"{type(checkpointer).__name__} cannot prune checkpoints (it does not implement "
            "prune()); use MemoryConfig(keep_checkpoints='all') with it, or an in-memory, "
            "SQLite or PostgreSQL saver"
        )


def _refusal(
    checkpointer: BaseCheckpointSaver[Any], thread_id: str, exc: NotImplementedError
) -> BackendError:
    if "DeltaChannel" in str(exc):  # PostgresSaver's refusal
        return _delta_refusal(thread_id)
    return BackendError(f"{type(checkpointer).__name__} cannot prune thread {thread_id!r}: {exc}")


def _delta_refusal(thread_id: str) -> BackendError:
    return BackendError(
        f"cannot prune thread {thread_id!r}: it uses a DeltaChannel, whose value is rebuilt "
        "from the older checkpoints that pruning deletes; use "
        "MemoryConfig(keep_checkpoints='all') for this graph"
    )


# --- after a run of the memory graph ---


@dataclass(frozen=True)
class PruneTarget:
    """The saver and thread that a root run of the memory graph prunes when it ends."""

    checkpointer: BaseCheckpointSaver[Any]
    thread_id: str

    def prune(self) -> None:
        """Prune the thread; a database error is logged, and the next run retries."""
        try:
            prune_thread(self.checkpointer, self.thread_id)
        except _database_errors() as exc:
            _log_failure(self.thread_id, exc)

    async def aprune(self) -> None:
        """Async twin of `prune`."""
        try:
            await aprune_thread(self.checkpointer, self.thread_id)
        except _database_errors() as exc:
            _log_failure(self.thread_id, exc)


def prune_target(
    checkpointer: object, config: RunnableConfig | None, keep_checkpoints: str
) -> PruneTarget | None:
    """Return what a run with this config should prune when it ends, if anything.

    Nothing when history is kept, when the graph has no saver of its own (a
    subgraph borrows its parent's through the config; `MemoryGraph` passes None
    for a saver the LangGraph API server attached, whose storage the platform
    owns), or when the run is a subgraph call (it has a namespace): the root
    run prunes. Called before the run, so that a saver
    that cannot prune fails it before anything is written.

    Raises:
        BackendError: The saver cannot prune.
    """
    if keep_checkpoints != "latest" or not isinstance(checkpointer, BaseCheckpointSaver):
        return None
    configurable = ensure_config(config).get("configurable") or {}
    thread_id = configurable.get("thread_id")
    if (
        thread_id is None
        or configurable.get("checkpoint_ns")
        or CONFIG_KEY_CHECKPOINTER in configurable
    ):
        return None
    if not isinstance(checkpointer, SqliteSaver | AsyncSqliteSaver | InMemorySaver):
        _check_can_prune(checkpointer)
    return PruneTarget(checkpointer, str(thread_id))


def _database_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [sqlite3.Error]
    try:
        from psycopg import Error as PostgresError
    except ImportError:
        pass
    else:
        errors.append(PostgresError)
    try:
        from redis import RedisError
    except ImportError:
        pass
    else:
        errors.append(RedisError)
    return tuple(errors)


def _log_failure(thread_id: str, exc: Exception) -> None:
    # The run itself succeeded and is saved; pruning is idempotent, so the next
    # run's prune catches up. Failing the run here would invite a retry that
    # sends the same turn twice.
    logger.warning(
        "run saved, but pruning older checkpoints of thread %r failed (%s: %s); "
        "the next run retries",
        thread_id,
        type(exc).__name__,
        exc,
    )


# --- the plan, shared by the SQLite and in-memory savers ---


@dataclass(frozen=True)
class _Head:
    namespace: str
    checkpoint_id: str
    root: str | None  # the root checkpoint a subgraph call started from


def _is_delta(metadata: Mapping[str, Any]) -> bool:
    return any(key in metadata for key in _DELTA_KEYS)


def _root_of(metadata: Mapping[str, Any]) -> str | None:
    parents = metadata.get("parents")
    root = parents.get("") if isinstance(parents, Mapping) else None
    return root if isinstance(root, str) else None


def _finished_calls(heads: Iterable[_Head], root_ids: set[str]) -> set[str]:
    """The subgraph call namespaces whose root checkpoint is not the one kept.

    A call whose root checkpoint is not saved (yet) is left alone: runs save
    in the background, so a call's checkpoints can commit before its root's.
    """
    heads = list(heads)
    kept_root = next((head.checkpoint_id for head in heads if head.namespace == ""), None)
    return {
        head.namespace
        for head in heads
        if _CALL_SEPARATOR in head.namespace
        and head.root is not None
        and head.root in root_ids
        and head.root != kept_root
    }


# --- SQLite ---

_SQLITE_HEADS = """
SELECT checkpoint_ns, checkpoint_id, metadata FROM checkpoints AS c
WHERE thread_id = ? AND checkpoint_id = (
    SELECT MAX(checkpoint_id) FROM checkpoints
    WHERE thread_id = c.thread_id AND checkpoint_ns = c.checkpoint_ns
)
"""
_SQLITE_DELTA = """
SELECT 1 FROM checkpoints
WHERE thread_id = ? AND (
    json_extract(CAST(metadata AS TEXT), '$.counters_since_delta_snapshot') IS NOT NULL
    OR json_extract(CAST(metadata AS TEXT), '$.delta_writes_versioned') IS NOT NULL
)
LIMIT 1
"""
_SQLITE_ROOTS = "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
_SQLITE_DROP_NAMESPACE = (
    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ?",
    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?",
)
# Writes go by the checkpoints deleted, not by "older than the head": a run
# can save a superstep's writes before their checkpoint.
_SQLITE_KEEP_HEAD = (
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


def _sqlite_heads(rows: Iterable[Sequence[Any]]) -> list[_Head]:
    heads = []
    for namespace, checkpoint_id, metadata in rows:
        loaded = json.loads(metadata) if metadata is not None else {}
        heads.append(_Head(namespace, checkpoint_id, _root_of(loaded)))
    return heads


def _sqlite_plan(
    thread_id: str, heads: list[_Head], uses_delta: bool, root_ids: set[str]
) -> list[_Statement]:
    if uses_delta:
        raise _delta_refusal(thread_id)
    calls = _finished_calls(heads, root_ids)
    statements: list[_Statement] = []
    for head in heads:
        ns, kept = head.namespace, head.checkpoint_id
        if ns in calls:
            statements += [(sql, (thread_id, ns)) for sql in _SQLITE_DROP_NAMESPACE]
            continue
        drop_writes, drop_checkpoints, unlink = _SQLITE_KEEP_HEAD
        statements += [
            (drop_writes, (thread_id, ns, thread_id, ns, kept)),
            (drop_checkpoints, (thread_id, ns, kept)),
            (unlink, (thread_id, ns, kept)),
        ]
    return statements


def _prune_sqlite(saver: SqliteSaver, thread_id: str) -> None:
    with saver.cursor(transaction=False) as cur:
        conn = saver.conn
        if conn.in_transaction:
            conn.commit()
        # IMMEDIATE takes the write lock before the reads, so the plan is made
        # on the rows it deletes, even with other processes on the file.
        cur.execute("BEGIN IMMEDIATE")
        try:
            heads = _sqlite_heads(cur.execute(_SQLITE_HEADS, (thread_id,)).fetchall())
            uses_delta = cur.execute(_SQLITE_DELTA, (thread_id,)).fetchone() is not None
            roots = {row[0] for row in cur.execute(_SQLITE_ROOTS, (thread_id,)).fetchall()}
            for sql, params in _sqlite_plan(thread_id, heads, uses_delta, roots):
                cur.execute(sql, params)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


async def _aprune_sqlite(saver: AsyncSqliteSaver, thread_id: str) -> None:
    await saver.setup()  # takes the lock itself
    async with saver.lock:
        conn = saver.conn
        if conn.in_transaction:
            await conn.commit()
        await (await conn.execute("BEGIN IMMEDIATE")).close()
        try:
            heads = _sqlite_heads(await _afetch(conn, _SQLITE_HEADS, thread_id))
            uses_delta = bool(await _afetch(conn, _SQLITE_DELTA, thread_id))
            roots = {row[0] for row in await _afetch(conn, _SQLITE_ROOTS, thread_id)}
            for sql, params in _sqlite_plan(thread_id, heads, uses_delta, roots):
                await (await conn.execute(sql, params)).close()
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()


async def _afetch(conn: aiosqlite.Connection, sql: str, thread_id: str) -> list[Any]:
    async with conn.execute(sql, (thread_id,)) as cur:
        return list(await cur.fetchall())


# --- in memory ---


def _prune_memory(saver: InMemorySaver, thread_id: str) -> None:
    # `get_tuple` on an unknown thread creates an empty entry: don't add one.
    namespaces = saver.storage.get(thread_id)
    if not namespaces:
        return
    heads: list[_Head] = []
    for ns, checkpoints in namespaces.items():
        loaded = {cid: saver.serde.loads_typed(saved[1]) for cid, saved in checkpoints.items()}
        if any(_is_delta(metadata) for metadata in loaded.values()):
            raise _delta_refusal(thread_id)
        if checkpoints:
            latest = max(checkpoints)  # what `InMemorySaver.get_tuple` loads
            heads.append(_Head(ns, latest, _root_of(loaded[latest])))
    calls = _finished_calls(heads, set(namespaces.get("", {})))
    for ns in [ns for ns in namespaces if not namespaces[ns]]:
        del namespaces[ns]
    for head in heads:
        _prune_memory_namespace(saver, thread_id, head, keep=head.namespace not in calls)


def _prune_memory_namespace(
    saver: InMemorySaver, thread_id: str, head: _Head, *, keep: bool
) -> None:
    ns = head.namespace
    checkpoints = saver.storage[thread_id][ns]
    freed: set[tuple[str, Any]] = set()
    for checkpoint_id in [cid for cid in checkpoints if not keep or cid != head.checkpoint_id]:
        checkpoint, _, _ = checkpoints.pop(checkpoint_id)
        freed |= _versions(saver, checkpoint)
        saver.writes.pop((thread_id, ns, checkpoint_id), None)
    if keep:
        checkpoint, metadata, _ = checkpoints[head.checkpoint_id]
        checkpoints[head.checkpoint_id] = (checkpoint, metadata, None)
        freed -= _versions(saver, checkpoint)
    else:
        del saver.storage[thread_id][ns]
    # Blobs are shared by the checkpoints that did not change a channel.
    for channel, version in freed:
        saver.blobs.pop((thread_id, ns, channel, version), None)


def _versions(saver: InMemorySaver, checkpoint: tuple[str, bytes]) -> set[tuple[str, Any]]:
    versions: Mapping[str, Any] = saver.serde.loads_typed(checkpoint)["channel_versions"]
    return set(versions.items())
