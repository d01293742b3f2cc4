"""List and delete the threads a checkpointer holds."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from memorygraph.errors import IdentityError

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

__all__ = ["adelete_thread", "alist_threads", "delete_thread", "list_threads"]

logger = logging.getLogger(__name__)

_DISTINCT_THREADS = "SELECT DISTINCT thread_id FROM checkpoints"

T = TypeVar("T")


def _run_on_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], name: str) -> T:
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        # Blocking on the loop that must run the coroutine would deadlock.
        raise asyncio.InvalidStateError(
            f"{name}() on an async saver must be called from another thread; "
            f"inside its event loop, await a{name}() instead"
        )
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def _check_thread_id(thread_id: object) -> str:
    if not isinstance(thread_id, str) or not thread_id.strip():
        raise IdentityError(f"thread_id must be a non-blank string, got {thread_id!r}")
    return thread_id


def _postgres_savers() -> tuple[type[PostgresSaver] | None, type[AsyncPostgresSaver] | None]:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    except ImportError:
        return None, None
    return PostgresSaver, AsyncPostgresSaver


# --- deletion ---


def delete_thread(
    checkpointer: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool = True
) -> None:
    """Delete every checkpoint and pending write of a thread.

    On SQLite, deleted rows only become free pages: the file does not shrink.
    So after the delete this runs ``VACUUM`` and ``PRAGMA
    wal_checkpoint(TRUNCATE)``, which rewrite the file without the thread.
    That costs time in proportion to the whole database; pass
    ``vacuum=False`` when deleting many threads, and vacuum once at the end
    (a last call with ``vacuum=True`` does it). PostgreSQL reclaims space
    with autovacuum.

    Args:
        checkpointer: Any LangGraph saver that implements ``delete_thread``.
        thread_id: The thread to forget.
        vacuum: Whether to reclaim the space on SQLite.

    Raises:
        IdentityError: ``thread_id`` is empty or blank.

    Example:
        >>> from memorygraph.checkpointers import delete_thread, open_checkpointer
        >>> with open_checkpointer("memory") as saver:
        ...     delete_thread(saver, "no-such-thread")
        >>> delete_thread(saver, " ")
        Traceback (most recent call last):
        ...
        memorygraph.errors.IdentityError: thread_id must be a non-blank string, got ' '
    """
    _check_thread_id(thread_id)
    if isinstance(checkpointer, AsyncSqliteSaver):
        # Its sync methods hop onto its event loop; so must the vacuum.
        checkpointer.delete_thread(thread_id)
        if vacuum:
            _run_on_loop(checkpointer.loop, _avacuum(checkpointer), "delete_thread")
        return
    checkpointer.delete_thread(thread_id)
    if vacuum and isinstance(checkpointer, SqliteSaver):
        _vacuum(checkpointer)


async def adelete_thread(
    checkpointer: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool = True
) -> None:
    """Delete every checkpoint and pending write of a thread (async).

    The async twin of `delete_thread`. A sync-only saver (``SqliteSaver``,
    ``PostgresSaver``) is driven from a worker thread.

    Args:
        checkpointer: Any LangGraph saver that implements ``adelete_thread``
            or ``delete_thread``.
        thread_id: The thread to forget.
        vacuum: Whether to reclaim the space on SQLite.

    Raises:
        IdentityError: ``thread_id`` is empty or blank.

    Example:
        >>> import asyncio
        >>> from memorygraph.checkpointers import adelete_thread, aopen_checkpointer
        >>> async def forget() -> None:
        ...     async with aopen_checkpointer("memory") as saver:
        ...         await adelete_thread(saver, "no-such-thread")
        >>> asyncio.run(forget())
    """
    _check_thread_id(thread_id)
    if isinstance(checkpointer, AsyncSqliteSaver):
        await checkpointer.adelete_thread(thread_id)
        if vacuum:
            await _avacuum(checkpointer)
        return
    sync_postgres, _ = _postgres_savers()
    if isinstance(checkpointer, SqliteSaver) or (
        sync_postgres is not None and isinstance(checkpointer, sync_postgres)
    ):
        await asyncio.to_thread(delete_thread, checkpointer, thread_id, vacuum=vacuum)
        return
    await checkpointer.adelete_thread(thread_id)


def _vacuum(saver: SqliteSaver) -> None:
    try:
        with saver.lock:
            if saver.conn.in_transaction:
                saver.conn.commit()
            saver.conn.execute("VACUUM")
            saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.Error as exc:
        # The rows are gone; only the space is not reclaimed yet (another
        # connection may hold the database). The next vacuum reclaims it.
        logger.warning("thread deleted, but VACUUM of the SQLite database failed: %s", exc)


async def _avacuum(saver: AsyncSqliteSaver) -> None:
    try:
        async with saver.lock:
            if saver.conn.in_transaction:
                await saver.conn.commit()
            await (await saver.conn.execute("VACUUM")).close()
            cursor = await saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await cursor.fetchall()
            await cursor.close()
    except sqlite3.Error as exc:
        logger.warning("thread deleted, but VACUUM of the SQLite database failed: %s", exc)


# --- listing ---


def list_threads(checkpointer: BaseCheckpointSaver[Any]) -> list[str]:
    """Return the ids of the threads that have checkpoints, sorted.

    SQLite and PostgreSQL savers answer with one ``SELECT DISTINCT``, a
    `RedisSaver` with one ``SMEMBERS``; an
    `InMemorySaver` reads its storage; any other saver is scanned with
    ``checkpointer.list(None)``, which loads every checkpoint.

    Args:
        checkpointer: Any LangGraph saver.

    Returns:
        The distinct thread ids, sorted.

    Example:
        >>> from memorygraph.checkpointers import list_threads, open_checkpointer
        >>> with open_checkpointer("memory") as saver:
        ...     list_threads(saver)
        []
    """
    if isinstance(checkpointer, SqliteSaver):
        with checkpointer.cursor(transaction=False) as cur:
            cur.execute(_DISTINCT_THREADS)
            return sorted({row[0] for row in cur.fetchall()})
    if isinstance(checkpointer, AsyncSqliteSaver):
        return _run_on_loop(checkpointer.loop, _alist_sqlite(checkpointer), "list_threads")
    from memorygraph.checkpointers.backends.redis_saver import RedisSaver  # (import cycle)

    if isinstance(checkpointer, RedisSaver):
        return checkpointer.list_thread_ids()
    sync_postgres, _ = _postgres_savers()
    if sync_postgres is not None and isinstance(checkpointer, sync_postgres):
        return _list_postgres(checkpointer)
    return _list_generic(checkpointer)


async def alist_threads(checkpointer: BaseCheckpointSaver[Any]) -> list[str]:
    """Return the ids of the threads that have checkpoints, sorted (async).

    The async twin of `list_threads`.

    Args:
        checkpointer: Any LangGraph saver.

    Returns:
        The distinct thread ids, sorted.

    Example:
        >>> import asyncio
        >>> from memorygraph.checkpointers import alist_threads, aopen_checkpointer
        >>> async def threads() -> list[str]:
        ...     async with aopen_checkpointer("memory") as saver:
        ...         return await alist_threads(saver)
        >>> asyncio.run(threads())
        []
    """
    if isinstance(checkpointer, AsyncSqliteSaver):
        return await _alist_sqlite(checkpointer)
    from memorygraph.checkpointers.backends.redis_saver import RedisSaver

    if isinstance(checkpointer, RedisSaver):
        return await checkpointer.alist_thread_ids()
    sync_postgres, async_postgres = _postgres_savers()
    if async_postgres is not None and isinstance(checkpointer, async_postgres):
        return await _alist_postgres(checkpointer)
    if isinstance(checkpointer, SqliteSaver | InMemorySaver) or (
        sync_postgres is not None and isinstance(checkpointer, sync_postgres)
    ):
        return await asyncio.to_thread(list_threads, checkpointer)
    return sorted(
        {item.config["configurable"]["thread_id"] async for item in checkpointer.alist(None)}
    )


async def _alist_sqlite(saver: AsyncSqliteSaver) -> list[str]:
    await saver.setup()
    async with saver.lock, saver.conn.execute(_DISTINCT_THREADS) as cur:
        rows = await cur.fetchall()
    return sorted({row[0] for row in rows})


def _list_postgres(saver: PostgresSaver) -> list[str]:
    from psycopg import Connection
    from psycopg.rows import tuple_row

    with saver.lock:
        if isinstance(saver.conn, Connection):
            with saver.conn.cursor(row_factory=tuple_row) as cur:
                rows = cur.execute(_DISTINCT_THREADS).fetchall()
        else:
            with saver.conn.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
                rows = cur.execute(_DISTINCT_THREADS).fetchall()
    return sorted({str(row[0]) for row in rows})


async def _alist_postgres(saver: AsyncPostgresSaver) -> list[str]:
    from psycopg import AsyncConnection
    from psycopg.rows import tuple_row

    async with saver.lock:
        if isinstance(saver.conn, AsyncConnection):
            async with saver.conn.cursor(row_factory=tuple_row) as cur:
                rows = await (await cur.execute(_DISTINCT_THREADS)).fetchall()
        else:
            async with (
                saver.conn.connection() as conn,
                conn.cursor(row_factory=tuple_row) as cur,
            ):
                rows = await (await cur.execute(_DISTINCT_THREADS)).fetchall()
    return sorted({str(row[0]) for row in rows})


def _list_generic(checkpointer: BaseCheckpointSaver[Any]) -> list[str]:
    if isinstance(checkpointer, InMemorySaver):
        # `get_tuple` on an unknown thread leaves an empty entry behind, so
        # only threads that still hold a checkpoint count.
        return sorted(
            str(thread_id)
            for thread_id, namespaces in checkpointer.storage.items()
            if any(namespaces.values())
        )
    return sorted({item.config["configurable"]["thread_id"] for item in checkpointer.list(None)})
