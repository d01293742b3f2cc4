"""The PostgreSQL backend: LangGraph's `PostgresSaver`, `PostgresStore` and their async twins.

- open: a psycopg_pool pool (at most `POOL_MAX_SIZE` connections) that checks
  each connection as it hands it out; one direct connection first, which fails
  fast with the server's own reason; ``setup()`` under an advisory lock;
- lock: a session advisory lock keyed by the thread id (`postgres_lock`);
- prune: the saver's own ``prune(strategy="keep_latest")``;
- list: one ``SELECT DISTINCT``;
- forget: the saver's own ``delete_thread``; nothing to vacuum (autovacuum
  reuses the space).

The psycopg driver and LangGraph's PostgreSQL savers are an extra
(``memorygraph[postgres]``): `driver` is the one place that asks whether they
are installed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    ExitStack,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, cast

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore, IndexConfig

from memorygraph.checkpointers._serde import memorygraph_serializer
from memorygraph.checkpointers.backends.base import AnySaver, Busy
from memorygraph.checkpointers.backends.postgres_lock import ahold_advisory, hold_advisory
from memorygraph.checkpointers.urls import redact_url, scrub_secrets
from memorygraph.errors import BackendError

if TYPE_CHECKING:
    from psycopg import AsyncConnection, Connection
    from psycopg.rows import DictRow
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

__all__ = ["ADAPTER", "CONNECT_TIMEOUT_SECONDS", "POOL_MAX_SIZE", "Driver", "driver"]

CONNECT_TIMEOUT_SECONDS = 5
"""How long to wait for PostgreSQL unless the URL sets ``connect_timeout``."""
POOL_MAX_SIZE = 10
"""The most PostgreSQL connections one saver or store opens (a run waiting for
its thread holds one while it waits)."""

_HINT = 'install the PostgreSQL extra: pip install "memorygraph[postgres]"'
_FIX = (
    "check that the server is running and that the URL's host, port, user, password "
    "and database are right"
)
_DISTINCT_THREADS = "SELECT DISTINCT thread_id FROM checkpoints"


@dataclass(frozen=True)
class Driver:
    """psycopg's errors and LangGraph's PostgreSQL classes, when the extra is installed."""

    saver: type[Any]
    async_saver: type[Any]
    store: type[Any]
    async_store: type[Any]
    error: type[Exception]
    operational_error: type[Exception]
    corruption: tuple[type[Exception], ...]


def driver() -> Driver | None:
    """The PostgreSQL extra's classes, or None when it is not installed."""
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from langgraph.store.postgres import AsyncPostgresStore, PostgresStore
        from psycopg import Error, OperationalError
        from psycopg.errors import DataCorrupted, IndexCorrupted
    except ImportError:
        return None
    return Driver(
        PostgresSaver,
        AsyncPostgresSaver,
        PostgresStore,
        AsyncPostgresStore,
        Error,
        OperationalError,
        (DataCorrupted, IndexCorrupted),
    )


def _require() -> Driver:
    found = driver()
    if found is None:
        raise BackendError(f"PostgreSQL URLs need psycopg and its savers; {_HINT}")
    return found


# --- open ----------------------------------------------------------------------------------


def _error(url: str, action: str, exc: BaseException) -> NoReturn:
    detail = scrub_secrets(str(exc).strip(), url)
    error = BackendError(f"cannot {action} PostgreSQL at {redact_url(url)}: {detail}; {_FIX}")
    if detail != str(exc).strip():
        # The driver's own message held the password: keep it out of tracebacks.
        raise error from None
    raise error from exc


def _connect_timeout(url: str) -> int | None:
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except ProgrammingError as exc:
        _error(url, "parse the URL for", exc)
    # None leaves the URL's own connect_timeout in force.
    return None if "connect_timeout" in params else CONNECT_TIMEOUT_SECONDS


def _connect_kwargs(url: str) -> dict[str, Any]:
    from psycopg.rows import dict_row

    return {
        "autocommit": True,
        "prepare_threshold": 0,
        "row_factory": dict_row,
        "connect_timeout": _connect_timeout(url),
    }


def _probe(url: str) -> None:
    # One direct connection first: it fails fast with the server's own reason
    # (refused, bad password, no database), where a pool would retry until its
    # timeout and then only say that it timed out.
    from psycopg import Connection, Error

    try:
        Connection.connect(url, **_connect_kwargs(url)).close()
    except Error as exc:
        _error(url, "connect to", exc)


def _pool(url: str, stack: ExitStack) -> ConnectionPool[Connection[DictRow]]:
    _require()
    from psycopg import Connection, Error
    from psycopg_pool import ConnectionPool, PoolTimeout

    _probe(url)
    kwargs = _connect_kwargs(url)
    pool = ConnectionPool(
        url,
        connection_class=Connection,
        kwargs=kwargs,
        min_size=1,
        max_size=POOL_MAX_SIZE,
        check=ConnectionPool.check_connection,
        open=False,
    )
    try:
        pool.open(wait=True, timeout=float(kwargs["connect_timeout"] or CONNECT_TIMEOUT_SECONDS))
    except (Error, PoolTimeout) as exc:
        pool.close()
        _error(url, "connect to", exc)
    stack.callback(pool.close)
    return pool


async def _apool(url: str, stack: AsyncExitStack) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    _require()
    from psycopg import AsyncConnection, Error
    from psycopg_pool import AsyncConnectionPool, PoolTimeout

    _probe(url)
    kwargs = _connect_kwargs(url)
    pool = AsyncConnectionPool(
        url,
        connection_class=AsyncConnection,
        kwargs=kwargs,
        min_size=1,
        max_size=POOL_MAX_SIZE,
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
    try:
        await pool.open(
            wait=True, timeout=float(kwargs["connect_timeout"] or CONNECT_TIMEOUT_SECONDS)
        )
    except (Error, PoolTimeout) as exc:
        await pool.close()
        _error(url, "connect to", exc)
    stack.push_async_callback(pool.close)
    return pool


# LangGraph's setup() creates its tables with CREATE TABLE IF NOT EXISTS, which
# PostgreSQL does not make safe against itself: two processes setting up a fresh
# database at once fail with "relation ... already exists". A session advisory
# lock makes them take turns; the second finds the tables there. It is polled with
# pg_try_advisory_lock rather than waited for: the store's setup builds indexes
# CONCURRENTLY, which waits for every open transaction, and a session blocked in
# pg_advisory_lock is one (PostgreSQL then reports a deadlock).
_SETUP_LOCK = 0x6D656D67  # "memg"
_SETUP_POLL_SECONDS = 0.05
_TRY_LOCK = "SELECT pg_try_advisory_lock(%s) AS locked"


@contextmanager
def _setup_lock(conn: Connection[DictRow]) -> Iterator[None]:
    while True:
        row = conn.execute(_TRY_LOCK, (_SETUP_LOCK,)).fetchone()
        if row is not None and row["locked"]:
            break
        time.sleep(_SETUP_POLL_SECONDS)
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


@asynccontextmanager
async def _asetup_lock(conn: AsyncConnection[DictRow]) -> AsyncIterator[None]:
    while True:
        row = await (await conn.execute(_TRY_LOCK, (_SETUP_LOCK,))).fetchone()
        if row is not None and row["locked"]:
            break
        await asyncio.sleep(_SETUP_POLL_SECONDS)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


# --- list ----------------------------------------------------------------------------------


def _list(saver: Any) -> list[str]:
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


async def _alist(saver: Any) -> list[str]:
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


# --- the adapter ---------------------------------------------------------------------------


def _is(obj: object, *kinds: str) -> bool:
    found = driver()
    return found is not None and isinstance(obj, tuple(getattr(found, k) for k in kinds))


class _Postgres(AnySaver):
    name = "postgres"

    def handles(self, obj: object) -> bool:
        return _is(obj, "saver", "async_saver", "store", "async_store")

    def open_saver(self, location: str, stack: ExitStack) -> BaseCheckpointSaver[str]:
        pool = _pool(location, stack)
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Error

        saver = PostgresSaver(pool, serde=memorygraph_serializer())
        try:
            with pool.connection() as conn, _setup_lock(conn):
                saver.setup()
        except Error as exc:
            _error(location, "create the checkpoint tables in", exc)
        return saver

    async def aopen_saver(self, location: str, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
        pool = await _apool(location, stack)
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg import Error

        saver = AsyncPostgresSaver(pool, serde=memorygraph_serializer())
        try:
            async with pool.connection() as conn, _asetup_lock(conn):
                await saver.setup()
        except Error as exc:
            _error(location, "create the checkpoint tables in", exc)
        return saver

    def open_store(self, location: str, stack: ExitStack, index: IndexConfig | None) -> BaseStore:
        pool = _pool(location, stack)
        from langgraph.store.postgres import PostgresStore
        from langgraph.store.postgres.base import PostgresIndexConfig
        from psycopg import Error

        store = PostgresStore(pool, index=cast(PostgresIndexConfig | None, index))
        try:
            with pool.connection() as conn, _setup_lock(conn):
                store.setup()
        except Error as exc:
            _error(location, "create the store tables (and pgvector index, if any) in", exc)
        return store

    async def aopen_store(
        self, location: str, stack: AsyncExitStack, index: IndexConfig | None
    ) -> BaseStore:
        pool = await _apool(location, stack)
        from langgraph.store.postgres import AsyncPostgresStore
        from langgraph.store.postgres.base import PostgresIndexConfig
        from psycopg import Error

        store = AsyncPostgresStore(pool, index=cast(PostgresIndexConfig | None, index))
        try:
            async with pool.connection() as conn, _asetup_lock(conn):
                await store.setup()
        except Error as exc:
            _error(location, "create the store tables (and pgvector index, if any) in", exc)
        return store

    def lock(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, deadline: float, busy: Busy
    ) -> AbstractContextManager[None]:
        if not _is(saver, "saver"):
            return nullcontext()
        return hold_advisory(saver, thread_id, deadline, busy)

    def alock(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, deadline: float, busy: Busy
    ) -> AbstractAsyncContextManager[None]:
        if not _is(saver, "async_saver"):
            return nullcontext()
        return ahold_advisory(saver, thread_id, deadline, busy)

    def list_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        if _is(saver, "saver"):
            return _list(saver)
        return super().list_threads(saver)

    async def alist_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        if _is(saver, "async_saver"):
            return await _alist(saver)
        return await asyncio.to_thread(self.list_threads, saver)

    async def adelete_thread(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool
    ) -> None:
        if self.sync_only(saver):
            await asyncio.to_thread(self.delete_thread, saver, thread_id, vacuum=vacuum)
        else:
            await saver.adelete_thread(thread_id)

    def sync_only(self, obj: object) -> bool:
        return _is(obj, "saver")

    def database_errors(self) -> tuple[type[Exception], ...]:
        found = driver()
        return (found.error,) if found is not None else ()

    def failure_errors(self) -> tuple[type[Exception], ...]:
        found = driver()
        return (found.operational_error,) if found is not None else ()

    def is_corruption(self, exc: BaseException) -> bool:
        found = driver()
        return found is not None and isinstance(exc, found.corruption)


ADAPTER = _Postgres()
"""The PostgreSQL backend's adapter."""
