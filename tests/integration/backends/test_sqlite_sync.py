"""SQLite waits for the disk once per run: the saves defer it, the prune does not.

`memorygraph.checkpointers.backends.sqlite_sync`: while a run that prunes is in
progress its saver commits with ``synchronous=NORMAL``; the prune commits with
the connection's own level, which makes the run's saves durable with it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.store.memory import InMemoryStore

from memorygraph import MemoryConfig, MemoryContext, create_memory_graph
from memorygraph.checkpointers import (
    aopen_checkpointer,
    open_checkpointer,
    open_store,
    prune_thread,
)
from memorygraph.checkpointers.backends.sqlite_sync import deferred_sync, durable_level
from tests.fakes import RecordingChatModel

ANA = MemoryContext(tenant_id="acme", user_id="ana")
FULL, NORMAL, OFF = 2, 1, 0


def new_config() -> RunnableConfig:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def level(saver: Any) -> int:
    with saver.lock:
        return int(saver.conn.execute("PRAGMA synchronous").fetchone()[0])


def levels_during_run(saver: SqliteSaver, tmp_path: Path, config: MemoryConfig) -> list[int]:
    """``PRAGMA synchronous`` between the steps of one run of the memory graph."""
    seen: list[int] = []
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        graph = create_memory_graph(
            RecordingChatModel(), checkpointer=saver, store=store, config=config
        )
        chunks = graph.stream(
            {"messages": [HumanMessage("Plan the trip to Kyoto.")]},
            new_config(),
            context=ANA,
            stream_mode="values",
        )
        for _ in chunks:
            seen.append(level(saver))
    return seen


def test_a_run_that_prunes_defers_its_commits_and_restores_the_level(tmp_path: Path) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:
        assert level(saver) == FULL
        seen = levels_during_run(saver, tmp_path, MemoryConfig())
        assert seen and set(seen) == {NORMAL}
        assert level(saver) == FULL


def test_a_run_that_keeps_every_checkpoint_waits_for_the_disk_at_every_commit(
    tmp_path: Path,
) -> None:
    # No prune ends the run, so nothing would make the deferred commits durable.
    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:
        seen = levels_during_run(saver, tmp_path, MemoryConfig(keep_checkpoints="all"))
        assert seen and set(seen) == {FULL}


@pytest.mark.parametrize("own", [NORMAL, OFF])
def test_a_level_already_at_normal_or_lower_is_left_as_it_is(tmp_path: Path, own: int) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:
        saver.conn.execute(f"PRAGMA synchronous={own}")
        seen = levels_during_run(saver, tmp_path, MemoryConfig())
        assert set(seen) == {own}
        assert level(saver) == own


def test_a_connection_not_in_wal_mode_is_left_as_it_is(tmp_path: Path) -> None:
    # Outside WAL, NORMAL could corrupt the file on a power loss: nothing changes.
    conn = sqlite3.connect(tmp_path / "c.db", check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        conn.execute("PRAGMA journal_mode=DELETE")
        with deferred_sync(saver):
            assert level(saver) == FULL
        assert level(saver) == FULL
    finally:
        conn.close()


def test_runs_on_one_connection_share_the_setting_until_the_last_ends(tmp_path: Path) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:
        assert isinstance(saver, SqliteSaver)
        with deferred_sync(saver):
            with deferred_sync(saver):
                assert level(saver) == NORMAL
            assert level(saver) == NORMAL  # the first run is still in progress
        assert level(saver) == FULL


def test_the_prune_commits_at_the_connection_level_while_other_runs_defer(
    tmp_path: Path,
) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:
        assert isinstance(saver, SqliteSaver)
        cfg = new_config()
        with open_store("memory") as store:
            graph = create_memory_graph(
                RecordingChatModel(),
                checkpointer=saver,
                store=store,
                config=MemoryConfig(keep_checkpoints="all"),
            )
            graph.invoke({"messages": [HumanMessage("hello")]}, cfg, context=ANA)
        statements: list[str] = []
        with deferred_sync(saver):  # another run, still in progress
            saver.conn.set_trace_callback(statements.append)
            try:
                prune_thread(saver, cfg["configurable"]["thread_id"])
            finally:
                saver.conn.set_trace_callback(None)
            assert level(saver) == NORMAL
        begin = statements.index("BEGIN IMMEDIATE")
        commit = next(i for i, s in enumerate(statements) if i > begin and s == "COMMIT")
        assert f"PRAGMA synchronous={FULL}" in statements[:begin]
        assert f"PRAGMA synchronous={NORMAL}" in statements[commit:]


def test_durable_level_changes_nothing_when_nothing_is_deferred(tmp_path: Path) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:
        statements: list[str] = []
        with saver.lock:
            saver.conn.set_trace_callback(statements.append)
            try:
                with durable_level(saver.conn):
                    pass
            finally:
                saver.conn.set_trace_callback(None)
        assert not [s for s in statements if s.startswith("PRAGMA synchronous=")]


def test_an_async_run_defers_its_commits_and_restores_the_level(tmp_path: Path) -> None:
    async def run() -> tuple[list[int], int]:
        async with aopen_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:

            async def alevel() -> int:
                async with saver.conn.execute("PRAGMA synchronous") as cur:
                    row = await cur.fetchone()
                return int(row[0]) if row else -1

            graph = create_memory_graph(
                RecordingChatModel(), checkpointer=saver, store=InMemoryStore()
            )
            seen = []
            async for _ in graph.astream(
                {"messages": [HumanMessage("hello")]},
                new_config(),
                context=ANA,
                stream_mode="values",
            ):
                seen.append(await alevel())
            return seen, await alevel()

    seen, after = asyncio.run(run())
    assert seen and set(seen) == {NORMAL}
    assert after == FULL
