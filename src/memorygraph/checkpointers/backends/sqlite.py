"""The SQLite backend: LangGraph's `SqliteSaver`, `SqliteStore` and their async twins.

- open: WAL mode, missing parent directories created; ``setup()`` (and the
  switch to WAL) under the file's setup lock, since LangGraph's migrations race
  when two processes open a new file at once; ``secure_delete=FAST`` (see
  `_SECURE_DELETE`);
- lock: one byte of ``<file>.memorygraph-locks`` per thread (`sqlite_lock`),
  for `SqliteSaver`; the async saver gets the in-process lock only;
- prune: `sqlite_prune`, a few statements in one ``BEGIN IMMEDIATE``;
- deferred sync: a run that prunes commits its saves with ``synchronous=NORMAL``
  and the prune waits for the disk once for the run (`sqlite_sync`);
- list: one ``SELECT DISTINCT``;
- forget and vacuum: deleted rows only become free pages, so `vacuum` runs
  ``VACUUM`` and ``PRAGMA wal_checkpoint(TRUNCATE)`` on each database file once.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    ExitStack,
    nullcontext,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.store.base import BaseStore, IndexConfig
from langgraph.store.sqlite import SqliteStore
from langgraph.store.sqlite.aio import AsyncSqliteStore

from memorygraph.checkpointers._serde import memorygraph_serializer
from memorygraph.checkpointers.backends.base import AnySaver, Busy, lock_key, run_on_loop
from memorygraph.checkpointers.backends.sqlite_lock import (
    SETUP_BYTE,
    asetup_lock,
    hold_byte,
    setup_lock,
)
from memorygraph.checkpointers.backends.sqlite_prune import aprune_sqlite, prune_sqlite
from memorygraph.checkpointers.backends.sqlite_sync import adeferred_sync, deferred_sync
from memorygraph.errors import BackendError

if TYPE_CHECKING:
    import aiosqlite
    from langgraph.store.sqlite.base import SqliteIndexConfig

__all__ = ["ADAPTER"]

logger = logging.getLogger(__name__)

_FIX = "check that the directory is writable and that the file is a SQLite database"
_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_DISTINCT_THREADS = "SELECT DISTINCT thread_id FROM checkpoints"


# --- open ----------------------------------------------------------------------------------


def _error(path: str, exc: BaseException) -> NoReturn:
    raise BackendError(f"cannot open SQLite database {path!r}: {exc}; {_FIX}") from exc


def _prepare_path(path: str) -> None:
    if path == ":memory:":
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _error(path, exc)


def _setup(path: str) -> AbstractContextManager[None]:
    return nullcontext() if path == ":memory:" else setup_lock(path)


def _asetup(path: str) -> AbstractAsyncContextManager[None]:
    return nullcontext() if path == ":memory:" else asetup_lock(path)


# Many SQLite builds (Python's among them) are compiled with SECURE_DELETE on:
# every page a delete frees is overwritten with zeros and written again. The
# prune that ends each run frees the overflow pages of the thread's older
# checkpoints, so with it on a run wrote about 470 kB to the write-ahead log
# instead of 330 (benchmarks/README.md). FAST still zeroes what it can without
# more writes. Deleted rows were never meant to be erased by this setting: a
# forget ends with VACUUM, which rewrites the file (`vacuum`).
_SECURE_DELETE = "PRAGMA secure_delete=FAST"


def _connect(path: str, stack: ExitStack, *, autocommit: bool) -> sqlite3.Connection:
    _prepare_path(path)
    try:
        # check_same_thread=False: the LangGraph savers and stores guard the
        # connection with their own lock, and graphs run nodes in worker threads.
        if autocommit:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        else:
            conn = sqlite3.connect(path, check_same_thread=False)
        stack.callback(conn.close)
        with _setup(path):  # switching a new file to WAL races too
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SECURE_DELETE)
    except (sqlite3.Error, OSError) as exc:  # OSError: the lock file (read-only, ...)
        _error(path, exc)
    return conn


async def _aconnect(path: str, stack: AsyncExitStack, *, autocommit: bool) -> aiosqlite.Connection:
    import aiosqlite

    _prepare_path(path)
    try:
        if autocommit:
            conn = await aiosqlite.connect(path, isolation_level=None)
        else:
            conn = await aiosqlite.connect(path)
        stack.push_async_callback(conn.close)
        async with _asetup(path):
            await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute(_SECURE_DELETE)
    except (sqlite3.Error, OSError) as exc:
        _error(path, exc)
    return conn


def _index(index: IndexConfig | None) -> SqliteIndexConfig | None:
    if index is None:
        return None
    config: dict[str, Any] = dict(index)
    if "fields" in config and "text_fields" not in config:
        # SqliteStore reads `text_fields`; given only `fields`, it would
        # silently embed whole documents.
        config["text_fields"] = config["fields"]
    return cast("SqliteIndexConfig", config)


def _store_setup_error(path: str, exc: BaseException) -> NoReturn:
    if isinstance(exc, AttributeError):
        raise BackendError(
            f"cannot set up semantic search in SQLite database {path!r}: this Python's "
            "sqlite3 cannot load extensions; use PostgreSQL with pgvector, or a Python "
            "built with loadable SQLite extensions, or open the store without index="
        ) from exc
    _error(path, exc)


# --- vacuum (the one path: `delete_thread` and forgetting both use it) ----------------------


def database_path(rows: Sequence[Any]) -> str:
    """The main database's file from ``PRAGMA database_list`` ("" in memory)."""
    return next((str(row[2]) for row in rows if row[1] == "main"), "")


def _orphan_vectors(tables: set[str]) -> str | None:
    if {"store", "store_vectors"} <= tables:
        # SQLite enforces the vectors' ON DELETE CASCADE only with foreign_keys on.
        return (
            "DELETE FROM store_vectors WHERE NOT EXISTS (SELECT 1 FROM store AS s "
            "WHERE s.prefix = store_vectors.prefix AND s.key = store_vectors.key)"
        )
    return None


_TABLES = "SELECT name FROM sqlite_master WHERE type='table'"
_TRUNCATE_LOG = "PRAGMA wal_checkpoint(TRUNCATE)"


def _vacuum_conn(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.commit()
    orphans = _orphan_vectors({row[0] for row in conn.execute(_TABLES)})
    if orphans is not None:
        conn.execute(orphans)
        if conn.in_transaction:
            conn.commit()
    conn.execute("VACUUM")
    conn.execute(_TRUNCATE_LOG).fetchall()


async def _avacuum_conn(conn: aiosqlite.Connection) -> None:
    if conn.in_transaction:
        await conn.commit()
    async with conn.execute(_TABLES) as cur:
        orphans = _orphan_vectors({row[0] for row in await cur.fetchall()})
    if orphans is not None:
        await (await conn.execute(orphans)).close()
        if conn.in_transaction:
            await conn.commit()
    await (await conn.execute("VACUUM")).close()
    async with conn.execute(_TRUNCATE_LOG) as cur:
        await cur.fetchall()


def _failed(path: str, exc: sqlite3.Error) -> None:
    # The rows are gone; only the space is not rewritten yet (another
    # connection holds the file). The next vacuum rewrites it.
    logger.warning("deleted, but VACUUM of %s failed: %s", path, exc)


def vacuum(objs: Sequence[object]) -> list[str]:
    """VACUUM each file behind the sync savers and stores among ``objs`` once.

    Returns:
        The files vacuumed.
    """
    conns = [
        (obj, conn)
        for obj in objs
        if isinstance(conn := getattr(obj, "conn", None), sqlite3.Connection)
    ]
    done: list[str] = []
    for obj, conn in conns:
        with _guard(obj):
            path = database_path(conn.execute("PRAGMA database_list").fetchall())
        if not path or path in done:
            continue
        try:
            with _guard(obj):
                _vacuum_conn(conn)
        except sqlite3.Error as exc:
            _failed(path, exc)
            continue
        done.append(path)
    for obj, conn in conns:  # every connection's view of the log, once all are done
        try:
            with _guard(obj):
                conn.execute(_TRUNCATE_LOG).fetchall()
        except sqlite3.Error:
            pass
    return done


def _guard(obj: object) -> AbstractContextManager[Any]:
    # LangGraph's SQLite savers and stores share their connection between
    # threads behind their own lock.
    lock: AbstractContextManager[Any] | None = getattr(obj, "lock", None)
    return lock if lock is not None else nullcontext()


async def avacuum(objs: Sequence[object]) -> list[str]:
    """Async twin of `vacuum`, for the async savers and stores among ``objs``."""
    conns = [
        (obj, obj.conn) for obj in objs if isinstance(obj, AsyncSqliteSaver | AsyncSqliteStore)
    ]
    done: list[str] = []
    for obj, conn in conns:
        async with conn.execute("PRAGMA database_list") as cur:
            path = database_path(list(await cur.fetchall()))
        if not path or path in done:
            continue
        try:
            async with obj.lock:
                await _avacuum_conn(conn)
        except sqlite3.Error as exc:
            _failed(path, exc)
            continue
        done.append(path)
    for _, conn in conns:
        try:
            async with conn.execute(_TRUNCATE_LOG) as cur:
                await cur.fetchall()
        except sqlite3.Error:
            pass
    return done


# --- list ----------------------------------------------------------------------------------


async def _alist(saver: AsyncSqliteSaver) -> list[str]:
    await saver.setup()
    async with saver.lock, saver.conn.execute(_DISTINCT_THREADS) as cur:
        rows = await cur.fetchall()
    return sorted({row[0] for row in rows})


# --- the adapter ---------------------------------------------------------------------------


class _Sqlite(AnySaver):
    name = "sqlite"

    def handles(self, obj: object) -> bool:
        return isinstance(obj, SqliteSaver | AsyncSqliteSaver | SqliteStore | AsyncSqliteStore)

    def open_saver(self, location: str, stack: ExitStack) -> BaseCheckpointSaver[str]:
        conn = _connect(location, stack, autocommit=False)
        saver = SqliteSaver(conn, serde=memorygraph_serializer())
        try:
            with _setup(location):
                saver.setup()
        except (sqlite3.Error, OSError) as exc:
            _error(location, exc)
        return saver

    async def aopen_saver(self, location: str, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
        conn = await _aconnect(location, stack, autocommit=False)
        saver = AsyncSqliteSaver(conn, serde=memorygraph_serializer())
        try:
            async with _asetup(location):
                await saver.setup()
        except (sqlite3.Error, OSError) as exc:
            _error(location, exc)
        return saver

    def open_store(self, location: str, stack: ExitStack, index: IndexConfig | None) -> BaseStore:
        conn = _connect(location, stack, autocommit=True)
        store = SqliteStore(conn, index=_index(index))
        try:
            with _setup(location):
                store.setup()
        except (sqlite3.Error, AttributeError, OSError) as exc:
            _store_setup_error(location, exc)
        return store

    async def aopen_store(
        self, location: str, stack: AsyncExitStack, index: IndexConfig | None
    ) -> BaseStore:
        conn = await _aconnect(location, stack, autocommit=True)
        store = AsyncSqliteStore(conn, index=_index(index))
        try:
            async with _asetup(location):
                await store.setup()
        except (sqlite3.Error, AttributeError, OSError) as exc:
            _store_setup_error(location, exc)
        return store

    def lock(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, deadline: float, busy: Busy
    ) -> AbstractContextManager[None]:
        if not isinstance(saver, SqliteSaver):
            return nullcontext()
        with saver.lock:
            path = database_path(saver.conn.execute("PRAGMA database_list").fetchall())
        if not path:  # an in-memory database
            return nullcontext()
        # one byte of the lock file per thread, below the setup byte
        return hold_byte(path, lock_key(thread_id) % SETUP_BYTE, deadline, busy)

    def check_can_prune(self, saver: BaseCheckpointSaver[Any]) -> None:
        pass

    def prune(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        if isinstance(saver, AsyncSqliteSaver):
            run_on_loop(saver.loop, aprune_sqlite(saver, thread_id), "prune_thread")
        else:
            assert isinstance(saver, SqliteSaver)
            prune_sqlite(saver, thread_id)

    async def aprune(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        if isinstance(saver, AsyncSqliteSaver):
            await aprune_sqlite(saver, thread_id)
        else:
            assert isinstance(saver, SqliteSaver)
            await asyncio.to_thread(prune_sqlite, saver, thread_id)

    def deferred_sync(self, saver: BaseCheckpointSaver[Any]) -> AbstractContextManager[None]:
        # A sync run on an async saver (or the reverse) commits as it always does.
        return deferred_sync(saver) if isinstance(saver, SqliteSaver) else nullcontext()

    def adeferred_sync(self, saver: BaseCheckpointSaver[Any]) -> AbstractAsyncContextManager[None]:
        return adeferred_sync(saver) if isinstance(saver, AsyncSqliteSaver) else nullcontext()

    def list_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        if isinstance(saver, AsyncSqliteSaver):
            return run_on_loop(saver.loop, _alist(saver), "list_threads")
        assert isinstance(saver, SqliteSaver)
        with saver.cursor(transaction=False) as cur:
            cur.execute(_DISTINCT_THREADS)
            return sorted({row[0] for row in cur.fetchall()})

    async def alist_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        if isinstance(saver, AsyncSqliteSaver):
            return await _alist(saver)
        return await asyncio.to_thread(self.list_threads, saver)

    def delete_thread(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool
    ) -> None:
        saver.delete_thread(thread_id)
        if vacuum and isinstance(saver, AsyncSqliteSaver):
            # Its sync methods hop onto its event loop; so must the vacuum.
            run_on_loop(saver.loop, avacuum([saver]), "delete_thread")
        elif vacuum:
            self.vacuum([saver])

    async def adelete_thread(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool
    ) -> None:
        if not isinstance(saver, AsyncSqliteSaver):
            await asyncio.to_thread(self.delete_thread, saver, thread_id, vacuum=vacuum)
            return
        await saver.adelete_thread(thread_id)
        if vacuum:
            await avacuum([saver])

    def vacuum(self, objs: Sequence[object]) -> list[str]:
        return vacuum(objs)

    async def avacuum(self, objs: Sequence[object]) -> list[str]:
        return await avacuum(objs)

    def sync_only(self, obj: object) -> bool:
        return isinstance(obj, SqliteSaver | SqliteStore)

    def database_errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    def failure_errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.OperationalError,)

    def is_corruption(self, exc: BaseException) -> bool:
        if not isinstance(exc, sqlite3.DatabaseError):
            return False
        name = getattr(exc, "sqlite_errorname", "") or ""
        return name.startswith(_CORRUPT) or "malformed" in str(exc)


ADAPTER = _Sqlite()
"""The SQLite backend's adapter."""
