"""Open a LangGraph checkpointer or store from a URL: `open_checkpointer`, `open_store`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore, IndexConfig

from memorygraph.checkpointers.backends import adapter_for
from memorygraph.checkpointers.urls import parse_url

__all__ = ["aopen_checkpointer", "aopen_store", "open_checkpointer", "open_store"]


@contextmanager
def open_checkpointer(url: str = "memory") -> Iterator[BaseCheckpointSaver[str]]:
    """Open a LangGraph checkpointer from a URL, and close it on exit.

    The saver serializes with `memorygraph_serializer`, so memorygraph's
    records load back typed and without warnings. Its tables exist on entry.
    If your graph state holds types of your own, widen the saver with
    ``register_types(saver, extra_types=[...])``.

    PostgreSQL is opened on a psycopg ``ConnectionPool`` (up to
    ``backends.postgres.POOL_MAX_SIZE`` connections), the supported way to give a ``PostgresSaver``
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
    target = parse_url(url)
    with ExitStack() as stack:
        yield adapter_for(target).open_saver(target.location, stack)


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
    target = parse_url(url)
    async with AsyncExitStack() as stack:
        yield await adapter_for(target).aopen_saver(target.location, stack)


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
    target = parse_url(url)
    with ExitStack() as stack:
        yield adapter_for(target).open_store(target.location, stack, index)


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
    target = parse_url(url)
    async with AsyncExitStack() as stack:
        yield await adapter_for(target).aopen_store(target.location, stack, index)
