"""Where a benchmark thread lives (a SQLite file, a PostgreSQL database, Redis), and its size.

Used by ``bench_growth.py``. SQLite: the checkpoint file's size after
``PRAGMA wal_checkpoint(TRUNCATE)`` (the store is a file of its own).
PostgreSQL: ``pg_total_relation_size`` of the checkpoint tables and of the
store tables, in a fresh database per graph, dropped at the end. Redis: the
sum of ``MEMORY USAGE <key> SAMPLES 0`` (the key's bytes in the server's RAM,
every element counted) over the thread's keys, and over the store's keys,
under a key prefix of the run's own, deleted at the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from memorygraph.checkpointers import open_checkpointer, open_store

POSTGRES_URL_ENV = "MEMORYGRAPH_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL_ENV = "MEMORYGRAPH_BENCH_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
BACKENDS = ("sqlite", "postgres", "redis")
THREAD_ID = "bench"  # the thread every subject of systems.py runs (`Subject.config`)
CHECKPOINT_TABLES = (
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "checkpoint_migrations",
)
STORE_TABLES = ("store", "store_migrations", "store_vectors", "vector_migrations")


@dataclass
class Backend:
    """Where one graph's thread lives, and how to measure it."""

    saver: BaseCheckpointSaver[Any]
    store: BaseStore | None
    checkpoint_bytes: Callable[[], int]
    store_bytes: Callable[[], int]
    after_turn: Callable[[int], None] = lambda turn: None


@dataclass(frozen=True)
class Servers:
    """The servers the PostgreSQL and Redis backends use, and PostgreSQL's VACUUM period."""

    postgres_url: str
    redis_url: str
    vacuum_every: int = 0

    @classmethod
    def from_env(cls, vacuum_every: int = 0) -> Servers:
        """The URLs from the environment, else the local servers' defaults."""
        postgres_url = (
            os.environ.get(POSTGRES_URL_ENV)
            or os.environ.get("MEMORYGRAPH_TEST_POSTGRES_URL")
            or DEFAULT_POSTGRES_URL
        )
        redis_url = os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL
        return cls(postgres_url, redis_url, vacuum_every)

    def problem(self, backend_name: str) -> str | None:
        """Why the backend's server cannot be used, or None."""
        if backend_name == "postgres":
            return postgres_problem(self.postgres_url)
        if backend_name == "redis":
            return redis_problem(self.redis_url)
        return None

    def open(
        self, backend_name: str, work: Path, name: str, *, with_store: bool
    ) -> contextlib.AbstractContextManager[Backend]:
        """A fresh backend for the graph ``name``: a SQLite file in ``work``, or on a server."""
        if backend_name == "sqlite":
            return sqlite_backend(work, name, with_store=with_store)
        if backend_name == "redis":
            return redis_backend(self.redis_url, with_store=with_store)
        return postgres_backend(
            self.postgres_url, with_store=with_store, vacuum_every=self.vacuum_every
        )


def sqlite_file_bytes(path: Path) -> int:
    """The file's size once its WAL is written back into it."""
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    if busy:
        raise RuntimeError(f"could not checkpoint the WAL of {path}: a reader holds it")
    return path.stat().st_size


@contextlib.contextmanager
def sqlite_backend(directory: Path, name: str, *, with_store: bool) -> Iterator[Backend]:
    checkpoints = directory / f"{name}-checkpoints.db"
    stores = directory / f"{name}-store.db"
    with contextlib.ExitStack() as stack:
        saver = stack.enter_context(open_checkpointer(f"sqlite:///{checkpoints}"))
        store = stack.enter_context(open_store(f"sqlite:///{stores}")) if with_store else None
        yield Backend(
            saver,
            store,
            lambda: sqlite_file_bytes(checkpoints),
            lambda: sqlite_file_bytes(stores) if with_store else 0,
        )
    for path in directory.glob(f"{name}-*.db*"):
        path.unlink()  # the baseline's file reaches gigabytes


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextlib.contextmanager
def postgres_database(base: str) -> Iterator[str]:
    """A fresh database on the server, dropped on exit."""
    import psycopg
    from psycopg import sql

    name = f"memorygraph_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(base, name)
    finally:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def postgres_problem(base: str) -> str | None:
    """Why the server cannot be used, or None."""
    try:
        import psycopg
    except ImportError:
        return 'psycopg is not installed: pip install -e ".[postgres]"'
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=5):
            return None
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {str(exc).strip()} (set {POSTGRES_URL_ENV})"


def postgres_bytes(url: str, tables: Sequence[str]) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        total = 0
        for table in tables:
            row = conn.execute(
                "SELECT pg_total_relation_size(to_regclass(%s))", (f"public.{table}",)
            ).fetchone()
            total += int(row[0] or 0) if row else 0
        return total


def postgres_setting(base: str, name: str) -> str:
    import psycopg

    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
        return str(row[0]) if row else ""


def postgres_vacuum(url: str, tables: Sequence[str]) -> None:
    """Plain VACUUM (not FULL): marks dead rows' space reusable, as autovacuum does."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            if conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone() != (None,):
                conn.execute(sql.SQL("VACUUM {}").format(sql.Identifier(table)))


@contextlib.contextmanager
def postgres_backend(base: str, *, with_store: bool, vacuum_every: int) -> Iterator[Backend]:
    with postgres_database(base) as url, contextlib.ExitStack() as stack:
        saver = stack.enter_context(open_checkpointer(url))
        store = stack.enter_context(open_store(url)) if with_store else None

        def after_turn(turn: int) -> None:
            if vacuum_every and turn % vacuum_every == 0:
                postgres_vacuum(url, CHECKPOINT_TABLES + STORE_TABLES)

        yield Backend(
            saver,
            store,
            lambda: postgres_bytes(url, CHECKPOINT_TABLES),
            lambda: postgres_bytes(url, STORE_TABLES) if with_store else 0,
            after_turn,
        )


def redis_run_url(base: str) -> tuple[str, str]:
    """The server's URL for a client, and a key prefix of the run's own.

    The prefix is ``memorygraph-bench-<pid>-<hex>``, or, if ``base`` sets
    ``?prefix=P``, ``P:bench-<pid>-<hex>``.
    """
    parts = urlsplit(base)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    given = [value for key, value in pairs if key == "prefix"]
    kept = [(key, value) for key, value in pairs if key != "prefix"]
    run = f"bench-{os.getpid()}-{secrets.token_hex(4)}"
    prefix = f"{given[-1]}:{run}" if given else f"memorygraph-{run}"
    return urlunsplit((*parts[:3], urlencode(kept), parts.fragment)), prefix


def redis_problem(base: str) -> str | None:
    """Why the Redis server cannot be used, or None."""
    try:
        import redis
    except ImportError:
        return 'redis is not installed: pip install -e ".[redis]"'
    try:
        server, _ = redis_run_url(base)
        with redis.Redis.from_url(server, socket_connect_timeout=5) as client:
            client.ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc} (set {REDIS_URL_ENV})"
    return None


def redis_bytes(client: Any, keys: Sequence[Any]) -> int:
    """The bytes the keys take in the server's memory (``MEMORY USAGE``, every element)."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(int(size or 0) for size in pipe.execute())


@contextlib.contextmanager
def redis_backend(base: str, *, with_store: bool) -> Iterator[Backend]:
    from memorygraph.checkpointers import RedisSaver

    server, prefix = redis_run_url(base)
    parts = urlsplit(server)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("prefix", prefix)])
    url = urlunsplit((*parts[:3], query, parts.fragment))
    with contextlib.ExitStack() as stack:
        saver = stack.enter_context(open_checkpointer(url))
        store = stack.enter_context(open_store(url)) if with_store else None
        if not isinstance(saver, RedisSaver):
            raise TypeError(f"expected a RedisSaver for a redis:// URL, got {type(saver)}")
        client, keys = saver.conn, saver.keys
        registry = keys.registry(THREAD_ID)

        def thread_bytes() -> int:
            return redis_bytes(client, [*client.smembers(registry), registry])

        def store_bytes() -> int:
            return redis_bytes(client, list(client.scan_iter(match=f"{prefix}:s:*", count=1000)))

        try:
            yield Backend(saver, store, thread_bytes, store_bytes if with_store else lambda: 0)
        finally:
            doomed = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for start in range(0, len(doomed), 500):
                client.delete(*doomed[start : start + 500])
