"""A database that fails under a run gives a `BackendError` that says what to do, and recovers.

- PostgreSQL: every connection of the saver and the store is killed with
  ``pg_terminate_backend`` between two turns; the next turn works (the pools
  replace dropped connections), sync and async.
- SQLite: the database fills up mid-run (``max_page_count`` stands in for a
  full disk): `BackendError`, the thread as it was, and the next turn works
  once there is room again.
- SQLite: a lock file that cannot be opened (a read-only directory, here a
  directory in its place) gives `BackendError` from `open_checkpointer`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from memorygraph import MemoryConfig, MemoryContext, create_memory_graph
from memorygraph.checkpointers import (
    aopen_checkpointer,
    aopen_store,
    open_checkpointer,
    open_store,
)
from memorygraph.errors import BackendError
from tests.fakes import RecordingChatModel

ANA = MemoryContext(tenant_id="acme", user_id="ana")


def _terminate_others(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_postgres_runs_survive_dropped_connections(postgres_url: str) -> None:
    model = RecordingChatModel()
    with open_checkpointer(postgres_url) as saver, open_store(postgres_url) as store:
        graph = create_memory_graph(model, checkpointer=saver, store=store)
        cfg = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}
        graph.invoke({"messages": [HumanMessage("first")]}, cfg, context=ANA)
        for turn in ("second", "third"):
            assert _terminate_others(postgres_url) >= 2  # the saver's and the store's
            out = graph.invoke({"messages": [HumanMessage(turn)]}, cfg, context=ANA)
            assert out["messages"][-1].content.startswith("reply")
        texts = [m.content for m in graph.get_state(cfg).values["messages"]]
        assert texts == ["first", "reply 1", "second", "reply 2", "third", "reply 3"]


def test_async_postgres_runs_survive_dropped_connections(postgres_url: str) -> None:
    async def scenario() -> list[Any]:
        model = RecordingChatModel()
        async with aopen_checkpointer(postgres_url) as saver, aopen_store(postgres_url) as store:
            graph = create_memory_graph(model, checkpointer=saver, store=store)
            cfg = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}
            await graph.ainvoke({"messages": [HumanMessage("first")]}, cfg, context=ANA)
            assert _terminate_others(postgres_url) >= 2
            await graph.ainvoke({"messages": [HumanMessage("second")]}, cfg, context=ANA)
            return [m.content for m in (await graph.aget_state(cfg)).values["messages"]]

    assert asyncio.run(scenario()) == ["first", "reply 1", "second", "reply 2"]


def test_a_full_sqlite_database_gives_backend_error_and_recovers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'full.db'}"
    with ExitStack() as stack:
        saver: Any = stack.enter_context(open_checkpointer(url))
        store: Any = stack.enter_context(open_store(url))
        graph = create_memory_graph(
            RecordingChatModel(),
            checkpointer=saver,
            store=store,
            config=MemoryConfig(token_budget=120_000),
        )
        cfg = {"configurable": {"thread_id": "t1"}}
        graph.invoke({"messages": [HumanMessage("first")]}, cfg, context=ANA)
        before = graph.get_state(cfg).values
        conns: list[sqlite3.Connection] = [saver.conn, store.conn]
        pages = conns[0].execute("PRAGMA page_count").fetchone()[0]
        for conn in conns:
            conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(BackendError, match="free disk space") as caught:
            graph.invoke({"messages": [HumanMessage("many words " * 20_000)]}, cfg, context=ANA)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert graph.get_state(cfg).values["messages"] == before["messages"]
        for conn in conns:
            conn.execute("PRAGMA max_page_count = 1073741823")
        out = graph.invoke({"messages": [HumanMessage("room again")]}, cfg, context=ANA)
        assert out["messages"][-1].content == "reply 2"


def test_an_unusable_sqlite_lock_file_gives_backend_error(tmp_path: Path) -> None:
    (tmp_path / "db.sqlite.memorygraph-locks").mkdir()  # opening it raises IsADirectoryError
    with pytest.raises(BackendError, match="check that the directory is writable"):
        with open_checkpointer(f"sqlite:///{tmp_path / 'db.sqlite'}"):
            pass
