"""Open a LangGraph checkpointer or store from a URL."""

from __future__ import annotations

import asyncio
import sqlite3
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
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore, IndexConfig
from langgraph.store.memory import InMemoryStore

from memorygraph.checkpointers._file_lock import asetup_lock, setup_lock
from memorygraph.checkpointers._serde import memorygraph_serializer
from memorygraph.checkpointers._urls import parse_url as _parse_url
from memorygraph.checkpointers._urls import redact_url, scrub_secrets
from memorygraph.checkpointers.backends.redis_open import (
    aopen_redis_saver,
    aopen_redis_store,
    open_redis_saver,
    open_redis_store,
)
from memorygraph.errors import BackendError

if TYPE_CHECKING:
    import aiosqlite
    from langgraph.store.sqlite.base import SqliteIndexConfig
    from psycopg import AsyncConnection, Connection
    from psycopg.rows import DictRow
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

__all__ = ["aopen_checkpointer", "aopen_store", "open_checkpointer", "open_store"]

CONNECT_TIMEOUT_SECONDS = 5
"""How long to wait for PostgreSQL unless the URL sets ``connect_timeout``."""
POOL_MAX_SIZE = 10
"""The most PostgreSQL connections one saver or store opens (a run waiting for
its thread holds one while it waits)."""

_POSTGRES_HINT = 'install the PostgreSQL extra: pip install "memorygraph[postgres]"'
_POSTGRES_FIX = (
    "check that the server is running and that the URL's host, port, user, password "
    "and database are right"
)
_SQLITE_FIX = "check that the directory is writable and that the file is a SQLite database"


@contextmanager
def open_checkpointer(url: str = "memory") -> Iterator[BaseCheckpointSaver[str]]:
    """Open a LangGraph checkpointer from a URL, and close it on exit.

    The saver serializes with `memorygraph_serializer`, so memorygraph's
    records load back typed and without warnings. Its tables exist on entry.
    If your graph state holds types of your own, widen the saver with
    ``register_types(saver, extra_types=[...])``.

    PostgreSQL is opened on a psycopg ``ConnectionPool`` (up to
    `POOL_MAX_SIZE` connections), the supported way to give a ``PostgresSaver``
    connections: each connection is checked as it is taken, so one dropped by
    the server (a restart, ``pg_terminate_backend``, an idle timeout) is
    replaced instead of failing every later call.

    Args:
        url: ``"memory"`` (an `InMemorySaver`), ``"sqlite:///relative/path.db"``,
            ``"sqlite:////absolute/path.db"`` or ``"sqlite:///:memory:"`` (a
            `SqliteSaver` in WAL mode; missing parent directories are created),
            or ``"postgresql://user:password@host:5432/dbname"`` (a
            `PostgresSaver` on a connection pool; ``postgres://`` works too, and
            ``?connect_timeout=N`` overrides the default of 5 seconds), or
            ``"redis://[:password@]host:6379/0"`` / ``"rediss://..."`` (a
            `RedisSaver` on plain Redis commands; ``?prefix=name`` changes the
            key prefix, ``memorygraph`` by default).

    Yields:
        The saver, ready to pass to ``StateGraph.compile(checkpointer=...)``.

    Raises:
        BackendError: The URL is not one of the forms above, the PostgreSQL
            extra is not installed, or the database cannot be opened. The
            message never contains the URL's password.

    Example:
        >>> from memorygraph.checkpointers import open_checkpointer
        >>> with open_checkpointer("memory") as saver:
        ...     type(saver).__name__
        'InMemorySaver'
    """
    target = _parse_url(url)
    with ExitStack() as stack:
        if target.kind == "memory":
            yield InMemorySaver(serde=memorygraph_serializer())
        elif target.kind == "sqlite":
            yield _open_sqlite_saver(target.location, stack)
        elif target.kind == "redis":
            yield open_redis_saver(target.location, stack)
        else:
            yield _open_postgres_saver(target.location, stack)


@asynccontextmanager
async def aopen_checkpointer(url: str = "memory") -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Open an async LangGraph checkpointer from a URL, and close it on exit.

    The async twin of `open_checkpointer`: it gives an `AsyncSqliteSaver` or
    an `AsyncPostgresSaver`, for graphs run with ``ainvoke`` / ``astream``.

    Args:
        url: The same URL forms as `open_checkpointer`.

    Yields:
        The saver, with its tables created.

    Raises:
        BackendError: The URL is not supported or the database cannot be opened.

    Example:
        >>> import asyncio
        >>> from memorygraph.checkpointers import aopen_checkpointer
        >>> async def kind() -> str:
        ...     async with aopen_checkpointer("memory") as saver:
        ...         return type(saver).__name__
        >>> asyncio.run(kind())
        'InMemorySaver'
    """
    target = _parse_url(url)
    async with AsyncExitStack() as stack:
        if target.kind == "memory":
            yield InMemorySaver(serde=memorygraph_serializer())
        elif target.kind == "sqlite":
            yield await _aopen_sqlite_saver(target.location, stack)
        elif target.kind == "redis":
            yield await aopen_redis_saver(target.location, stack)
        else:
            yield await _aopen_postgres_saver(target.location, stack)


@contextmanager
def open_store(url: str = "memory", *, index: IndexConfig | None = None) -> Iterator[BaseStore]:
    """Open a LangGraph store (long-term memory) from a URL, and close it on exit.

    Args:
        url: The same URL forms as `open_checkpointer`: an `InMemoryStore`, a
            `SqliteStore` or a `PostgresStore`, with its tables created.
        index: Semantic search configuration (``dims``, ``embed``, ``fields``).
            For SQLite, ``fields`` is passed on as ``text_fields``, the key
            `SqliteStore` reads. SQLite needs a Python whose ``sqlite3`` can
            load extensions, and PostgreSQL needs pgvector.

    Yields:
        The store.

    Raises:
        BackendError: The URL is not supported or the database cannot be opened.

    Example:
        >>> from memorygraph.checkpointers import open_store
        >>> with open_store("memory") as store:
        ...     store.put(("memorygraph", "acme", "ada", "facts"), "f1", {"value": "tea"})
        ...     store.get(("memorygraph", "acme", "ada", "facts"), "f1").value
        {'value': 'tea'}
    """
    target = _parse_url(url)
    with ExitStack() as stack:
        if target.kind == "memory":
            yield InMemoryStore(index=index)
        elif target.kind == "sqlite":
            yield _open_sqlite_store(target.location, stack, index)
        elif target.kind == "redis":
            yield open_redis_store(target.location, stack, index)
        else:
            yield _open_postgres_store(target.location, stack, index)


@asynccontextmanager
async def aopen_store(
    url: str = "memory", *, index: IndexConfig | None = None
) -> AsyncIterator[BaseStore]:
    """Open an async LangGraph store from a URL, and close it on exit.

    The async twin of `open_store`: it gives an `InMemoryStore`, an
    `AsyncSqliteStore` or an `AsyncPostgresStore`.

    Args:
        url: The same URL forms as `open_checkpointer`.
        index: Semantic search configuration, as for `open_store`.

    Yields:
        The store, with its tables created.

    Raises:
        BackendError: The URL is not supported or the database cannot be opened.

    Example:
        >>> import asyncio
        >>> from memorygraph.checkpointers import aopen_store
        >>> async def roundtrip() -> dict[str, str]:
        ...     async with aopen_store("memory") as store:
        ...         await store.aput(("notes",), "n1", {"text": "hi"})
        ...         item = await store.aget(("notes",), "n1")
        ...         return item.value
        >>> asyncio.run(roundtrip())
        {'text': 'hi'}
    """
    target = _parse_url(url)
    async with AsyncExitStack() as stack:
        if target.kind == "memory":
            yield InMemoryStore(index=index)
        elif target.kind == "sqlite":
            yield await _aopen_sqlite_store(target.location, stack, index)
        elif target.kind == "redis":
            yield await aopen_redis_store(target.location, stack, index)
        else:
            yield await _aopen_postgres_store(target.location, stack, index)


# --- SQLite ---


def _sqlite_error(path: str, exc: BaseException) -> NoReturn:
    raise BackendError(f"cannot open SQLite database {path!r}: {exc}; {_SQLITE_FIX}") from exc


def _prepare_sqlite_path(path: str) -> None:
    if path == ":memory:":
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _sqlite_error(path, exc)


# LangGraph's SQLite setup() runs migrations that race when two processes open a
# new file at once ("UNIQUE constraint failed: store_migrations.v").
def _sqlite_setup(path: str) -> AbstractContextManager[None]:
    return nullcontext() if path == ":memory:" else setup_lock(path)


def _asqlite_setup(path: str) -> AbstractAsyncContextManager[None]:
    return nullcontext() if path == ":memory:" else asetup_lock(path)


def _sqlite_connect(path: str, stack: ExitStack, *, autocommit: bool) -> sqlite3.Connection:
    _prepare_sqlite_path(path)
    try:
        # check_same_thread=False: the LangGraph savers and stores guard the
        # connection with their own lock, and graphs run nodes in worker threads.
        if autocommit:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        else:
            conn = sqlite3.connect(path, check_same_thread=False)
        stack.callback(conn.close)
        with _sqlite_setup(path):  # switching a new file to WAL races too
            conn.execute("PRAGMA journal_mode=WAL")
    except (sqlite3.Error, OSError) as exc:  # OSError: the lock file (read-only, ...)
        _sqlite_error(path, exc)
    return conn


async def _asqlite_connect(
    path: str, stack: AsyncExitStack, *, autocommit: bool
) -> aiosqlite.Connection:
    import aiosqlite

    _prepare_sqlite_path(path)
    try:
        if autocommit:
            conn = await aiosqlite.connect(path, isolation_level=None)
        else:
            conn = await aiosqlite.connect(path)
        stack.push_async_callback(conn.close)
        async with _asqlite_setup(path):
            await conn.execute("PRAGMA journal_mode=WAL")
    except (sqlite3.Error, OSError) as exc:
        _sqlite_error(path, exc)
    return conn


def _open_sqlite_saver(path: str, stack: ExitStack) -> BaseCheckpointSaver[str]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    saver = SqliteSaver(
        _sqlite_connect(path, stack, autocommit=False), serde=memorygraph_serializer()
    )
    try:
        with _sqlite_setup(path):
            saver.setup()
    except (sqlite3.Error, OSError) as exc:
        _sqlite_error(path, exc)
    return saver


async def _aopen_sqlite_saver(path: str, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    conn = await _asqlite_connect(path, stack, autocommit=False)
    saver = AsyncSqliteSaver(conn, serde=memorygraph_serializer())
    try:
        async with _asqlite_setup(path):
            await saver.setup()
    except (sqlite3.Error, OSError) as exc:
        _sqlite_error(path, exc)
    return saver


def _sqlite_index(index: IndexConfig | None) -> SqliteIndexConfig | None:
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
    _sqlite_error(path, exc)


def _open_sqlite_store(path: str, stack: ExitStack, index: IndexConfig | None) -> BaseStore:
    from langgraph.store.sqlite import SqliteStore

    conn = _sqlite_connect(path, stack, autocommit=True)
    store = SqliteStore(conn, index=_sqlite_index(index))
    try:
        with _sqlite_setup(path):
            store.setup()
    except (sqlite3.Error, AttributeError, OSError) as exc:
        _store_setup_error(path, exc)
    return store


async def _aopen_sqlite_store(
    path: str, stack: AsyncExitStack, index: IndexConfig | None
) -> BaseStore:
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    conn = await _asqlite_connect(path, stack, autocommit=True)
    store = AsyncSqliteStore(conn, index=_sqlite_index(index))
    try:
        async with _asqlite_setup(path):
            await store.setup()
    except (sqlite3.Error, AttributeError, OSError) as exc:
        _store_setup_error(path, exc)
    return store


# --- PostgreSQL ---


def _postgres_error(url: str, action: str, exc: BaseException) -> NoReturn:
    detail = scrub_secrets(str(exc).strip(), url)
    error = BackendError(
        f"cannot {action} PostgreSQL at {redact_url(url)}: {detail}; {_POSTGRES_FIX}"
    )
    if detail != str(exc).strip():
        # The driver's own message held the password: keep it out of tracebacks.
        raise error from None
    raise error from exc


def _require_postgres_extra() -> None:
    try:
        import langgraph.checkpoint.postgres
        import langgraph.store.postgres  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise BackendError(
            f"PostgreSQL URLs need psycopg and its savers; {_POSTGRES_HINT}"
        ) from exc


def _connect_timeout(url: str) -> int | None:
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except ProgrammingError as exc:
        _postgres_error(url, "parse the URL for", exc)
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


def _postgres_pool(url: str, stack: ExitStack) -> ConnectionPool[Connection[DictRow]]:
    _require_postgres_extra()
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
        _postgres_error(url, "connect to", exc)
    stack.callback(pool.close)
    return pool


async def _apostgres_pool(
    url: str, stack: AsyncExitStack
) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    _require_postgres_extra()
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
        _postgres_error(url, "connect to", exc)
    stack.push_async_callback(pool.close)
    return pool


def _probe(url: str) -> None:
    # One direct connection first: it fails fast with the server's own reason
    # (refused, bad password, no database), where a pool would retry until its
    # timeout and then only say that it timed out.
    from psycopg import Connection, Error

    try:
        Connection.connect(url, **_connect_kwargs(url)).close()
    except Error as exc:
        _postgres_error(url, "connect to", exc)


def _open_postgres_saver(url: str, stack: ExitStack) -> BaseCheckpointSaver[str]:
    pool = _postgres_pool(url, stack)
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Error

    saver = PostgresSaver(pool, serde=memorygraph_serializer())
    try:
        with pool.connection() as conn, _setup_lock(conn):
            saver.setup()
    except Error as exc:
        _postgres_error(url, "create the checkpoint tables in", exc)
    return saver


async def _aopen_postgres_saver(url: str, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
    pool = await _apostgres_pool(url, stack)
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import Error

    saver = AsyncPostgresSaver(pool, serde=memorygraph_serializer())
    try:
        async with pool.connection() as conn, _asetup_lock(conn):
            await saver.setup()
    except Error as exc:
        _postgres_error(url, "create the checkpoint tables in", exc)
    return saver


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


def _open_postgres_store(url: str, stack: ExitStack, index: IndexConfig | None) -> BaseStore:
    pool = _postgres_pool(url, stack)
    from langgraph.store.postgres import PostgresStore
    from langgraph.store.postgres.base import PostgresIndexConfig
    from psycopg import Error

    store = PostgresStore(pool, index=cast(PostgresIndexConfig | None, index))
    try:
        with pool.connection() as conn, _setup_lock(conn):
            store.setup()
    except Error as exc:
        _postgres_error(url, "create the store tables (and pgvector index, if any) in", exc)
    return store


async def _aopen_postgres_store(
    url: str, stack: AsyncExitStack, index: IndexConfig | None
) -> BaseStore:
    pool = await _apostgres_pool(url, stack)
    from langgraph.store.postgres import AsyncPostgresStore
    from langgraph.store.postgres.base import PostgresIndexConfig
    from psycopg import Error

    store = AsyncPostgresStore(pool, index=cast(PostgresIndexConfig | None, index))
    try:
        async with pool.connection() as conn, _asetup_lock(conn):
            await store.setup()
    except Error as exc:
        _postgres_error(url, "create the store tables (and pgvector index, if any) in", exc)
    return store
