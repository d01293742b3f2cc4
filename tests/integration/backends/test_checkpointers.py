from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NotRequired

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.event_hooks import SerdeEvent, register_serde_event_listener
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel
from typing_extensions import TypedDict

from memorygraph import records
from memorygraph.checkpointers import (
    adelete_thread,
    alist_threads,
    aopen_checkpointer,
    aopen_store,
    delete_thread,
    list_threads,
    memorygraph_serializer,
    open_checkpointer,
    open_store,
    prune_thread,
    register_types,
)
from memorygraph.errors import BackendError, IdentityError
from memorygraph.records import ContextItem, ContextPackage, Fact, Priority, TrustLevel

TESTS_DIR = Path(__file__).resolve().parent
SECRET = "hunter2-not-for-logs"
OBSERVED_AT = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)


# --- the graph under test ---


class TurnState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    fact: NotRequired[Fact]
    package: NotRequired[ContextPackage]


def expected_fact(turn: int) -> Fact:
    return Fact(
        id=f"fact-{turn}",
        key="turns",
        value=str(turn),
        trust_level=TrustLevel.TOOL_OBSERVED,
        source_turn_id=f"turn-{turn}",
        observed_at=OBSERVED_AT,
    )


def expected_package(turn: int) -> ContextPackage:
    item = ContextItem(
        id="policy",
        kind="policy",
        content=f"Be careful (turn {turn}).",
        priority=Priority.CRITICAL,
        tokens=6,
        source="config:policy",
        trust_level=TrustLevel.SYSTEM_VERIFIED,
    )
    return ContextPackage(items=[item], total_tokens=6, budget=100, prompt_version="t")


def respond(state: TurnState) -> dict[str, Any]:
    turn = sum(isinstance(message, HumanMessage) for message in state["messages"])
    return {
        "messages": [AIMessage(f"echo {turn}: {state['messages'][-1].content}")],
        "fact": expected_fact(turn),
        "package": expected_package(turn),
    }


def build_graph(checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
    builder = StateGraph(TurnState)
    builder.add_node("respond", respond)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=checkpointer)


def config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def new_thread() -> str:
    return f"thread-{uuid.uuid4()}"


def run_turns(graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, *texts: str) -> None:
    for text in texts:
        graph.invoke({"messages": [HumanMessage(text)]}, config(thread_id))


async def arun_turns(
    graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str, *texts: str
) -> None:
    for text in texts:
        await graph.ainvoke({"messages": [HumanMessage(text)]}, config(thread_id))


@contextmanager
def reopened(url: str, saver: BaseCheckpointSaver[Any]) -> Iterator[BaseCheckpointSaver[Any]]:
    """A fresh saver on the same data (memory can only hand back the same one)."""
    if url == "memory":
        yield saver
    else:
        with open_checkpointer(url) as fresh:
            assert fresh is not saver
            yield fresh


@asynccontextmanager
async def areopened(
    url: str, saver: BaseCheckpointSaver[Any]
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if url == "memory":
        yield saver
    else:
        async with aopen_checkpointer(url) as fresh:
            yield fresh


def assert_two_turns(values: dict[str, Any]) -> None:
    assert [message.content for message in values["messages"]] == [
        "hello",
        "echo 1: hello",
        "again",
        "echo 2: again",
    ]
    assert isinstance(values["fact"], Fact)
    assert values["fact"] == expected_fact(2)
    assert values["fact"].observed_at == OBSERVED_AT
    assert values["fact"].trust_level is TrustLevel.TOOL_OBSERVED
    assert isinstance(values["package"], ContextPackage)
    assert values["package"] == expected_package(2)
    assert values["package"].items[0].priority is Priority.CRITICAL


# --- serializer complaints ---


@pytest.fixture
def serde_events() -> Iterator[list[SerdeEvent]]:
    """Every allowlist event LangGraph's serializer emits (never deduplicated, unlike its logs)."""
    events: list[SerdeEvent] = []
    unregister = register_serde_event_listener(events.append)
    yield events
    unregister()


@pytest.fixture
def warnings_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


def assert_no_serde_complaints(caplog: pytest.LogCaptureFixture, events: list[SerdeEvent]) -> None:
    complaints = [
        record.getMessage()
        for record in caplog.records
        if "unregistered" in record.getMessage().lower()
        or "blocked deserialization" in record.getMessage().lower()
    ]
    assert complaints == []
    assert events == []


def test_default_serializer_complains_about_records(serde_events: list[SerdeEvent]) -> None:
    """The check below has teeth: LangGraph's default serializer flags our records."""
    serde = JsonPlusSerializer()
    loaded = serde.loads_typed(serde.dumps_typed(expected_fact(1)))
    assert loaded == expected_fact(1)
    assert {
        "kind": "msgpack_unregistered_allowed",
        "module": "memorygraph.records",
        "name": "Fact",
    } in (serde_events)


def test_serializer_allows_every_exported_record() -> None:
    serde = memorygraph_serializer()
    classes = [
        value
        for value in (getattr(records, name) for name in records.__all__)
        if isinstance(value, type) and issubclass(value, BaseModel | Enum)
    ]
    assert {Fact, ContextPackage, ContextItem, TrustLevel, Priority} <= set(classes)
    for cls in classes:
        # Adding a class that is already allowed gives back the same serializer.
        assert serde.with_msgpack_allowlist([cls]) is serde, cls


def test_serializer_round_trips_every_enum_member_silently(
    warnings_log: pytest.LogCaptureFixture, serde_events: list[SerdeEvent]
) -> None:
    serde = memorygraph_serializer()
    for name in records.__all__:
        value = getattr(records, name)
        if isinstance(value, type) and issubclass(value, Enum):
            for member in value:
                loaded = serde.loads_typed(serde.dumps_typed(member))
                assert loaded is member
    assert_no_serde_complaints(warnings_log, serde_events)


class OwnState(BaseModel):
    label: str


def test_register_types_adds_a_users_own_types(serde_events: list[SerdeEvent]) -> None:
    with open_checkpointer("memory") as saver:
        payload = saver.serde.dumps_typed(OwnState(label="x"))
        assert saver.serde.loads_typed(payload) == {"label": "x"}  # blocked, raw data back
        assert serde_events[-1]["kind"] == "msgpack_blocked"
        serde_events.clear()

        widened = register_types(saver, extra_types=[OwnState])
        assert type(widened) is type(saver)
        assert widened.serde.loads_typed(payload) == OwnState(label="x")
        assert widened.serde.loads_typed(widened.serde.dumps_typed(expected_fact(1))) == (
            expected_fact(1)
        )
        assert serde_events == []


# --- checkpointers over every backend ---


def test_records_round_trip_through_a_fresh_checkpointer(
    backend_url: str,
    warnings_log: pytest.LogCaptureFixture,
    serde_events: list[SerdeEvent],
) -> None:
    thread_id = new_thread()
    with open_checkpointer(backend_url) as saver:
        run_turns(build_graph(saver), thread_id, "hello", "again")
        with reopened(backend_url, saver) as fresh:
            snapshot = build_graph(fresh).get_state(config(thread_id))
            assert_two_turns(snapshot.values)
            history = list(build_graph(fresh).get_state_history(config(thread_id)))
            assert len(history) >= 4
    assert_no_serde_complaints(warnings_log, serde_events)


def test_delete_thread_forgets_one_thread_and_keeps_the_other(backend_url: str) -> None:
    doomed, kept = new_thread(), new_thread()
    with open_checkpointer(backend_url) as saver:
        graph = build_graph(saver)
        run_turns(graph, doomed, "hello", "again")
        run_turns(graph, kept, "hello", "again")
        assert {doomed, kept} <= set(list_threads(saver))

        delete_thread(saver, doomed)

        assert graph.get_state(config(doomed)).values == {}
        assert list(saver.list(config(doomed))) == []
        threads = list_threads(saver)
        assert doomed not in threads
        assert kept in threads
        with reopened(backend_url, saver) as fresh:
            assert_two_turns(build_graph(fresh).get_state(config(kept)).values)
            assert doomed not in list_threads(fresh)


def test_list_threads_is_sorted_and_distinct(backend_url: str) -> None:
    prefix = f"list-{uuid.uuid4()}"
    ids = [f"{prefix}-c", f"{prefix}-a", f"{prefix}-b"]
    with open_checkpointer(backend_url) as saver:
        graph = build_graph(saver)
        for thread_id in ids:
            run_turns(graph, thread_id, "hello", "again")
        graph.get_state(config(f"{prefix}-never-written"))  # a read creates nothing
        threads = list_threads(saver)
    assert threads == sorted(threads)
    assert len(threads) == len(set(threads))
    assert [thread for thread in threads if thread.startswith(prefix)] == sorted(ids)
    if backend_url == "memory" or backend_url.startswith("sqlite"):
        assert threads == sorted(ids)


async def test_async_twins_round_trip_list_and_delete(
    backend_url: str,
    warnings_log: pytest.LogCaptureFixture,
    serde_events: list[SerdeEvent],
) -> None:
    doomed, kept = new_thread(), new_thread()
    async with aopen_checkpointer(backend_url) as saver:
        graph = build_graph(saver)
        await arun_turns(graph, doomed, "hello", "again")
        await arun_turns(graph, kept, "hello", "again")
        async with areopened(backend_url, saver) as fresh:
            assert_two_turns((await build_graph(fresh).aget_state(config(doomed))).values)
            assert {doomed, kept} <= set(await alist_threads(fresh))

        await adelete_thread(saver, doomed)

        assert (await graph.aget_state(config(doomed))).values == {}
        threads = await alist_threads(saver)
        assert doomed not in threads
        assert kept in threads
        assert threads == sorted(threads)
        assert_two_turns((await graph.aget_state(config(kept))).values)
    assert_no_serde_complaints(warnings_log, serde_events)


async def test_async_helpers_drive_sync_savers(backend_url: str) -> None:
    thread_id = new_thread()
    with open_checkpointer(backend_url) as saver:
        run_turns(build_graph(saver), thread_id, "hello", "again")
        assert thread_id in await alist_threads(saver)
        await adelete_thread(saver, thread_id)
        assert thread_id not in await alist_threads(saver)


@pytest.mark.parametrize("blank", ["", " ", "\t\n"])
async def test_blank_thread_id_is_an_identity_error(backend_url: str, blank: str) -> None:
    with open_checkpointer(backend_url) as saver, pytest.raises(IdentityError):
        delete_thread(saver, blank)
    async with aopen_checkpointer(backend_url) as asaver:
        with pytest.raises(IdentityError, match="thread_id"):
            await adelete_thread(asaver, blank)


# --- stores over every backend ---


def test_store_put_get_search(backend_url: str) -> None:
    namespace = ("memorygraph", f"tenant-{uuid.uuid4()}", "ada", "facts")
    with open_store(backend_url) as store:
        store.put(namespace, "f1", {"key": "drink", "value": "tea"})
        store.put(namespace, "f2", {"key": "city", "value": "Paris"})
        item = store.get(namespace, "f1")
        assert item is not None
        assert item.value == {"key": "drink", "value": "tea"}
        assert item.namespace == namespace
        found = store.search(namespace[:2])
        assert sorted(hit.key for hit in found) == ["f1", "f2"]
        filtered = store.search(namespace, filter={"key": "city"})
        assert [hit.value["value"] for hit in filtered] == ["Paris"]
        store.delete(namespace, "f1")
        assert store.get(namespace, "f1") is None
    if backend_url != "memory":
        with open_store(backend_url) as fresh:
            item = fresh.get(namespace, "f2")
            assert item is not None
            assert item.value["value"] == "Paris"


async def test_async_store_put_get_search(backend_url: str) -> None:
    namespace = ("memorygraph", f"tenant-{uuid.uuid4()}", "ada", "facts")
    async with aopen_store(backend_url) as store:
        await store.aput(namespace, "f1", {"key": "drink", "value": "tea"})
        item = await store.aget(namespace, "f1")
        assert item is not None
        assert item.value == {"key": "drink", "value": "tea"}
        found = await store.asearch(namespace, filter={"key": "drink"})
        assert [hit.key for hit in found] == ["f1"]
    if backend_url != "memory":
        async with aopen_store(backend_url) as fresh:
            assert await fresh.aget(namespace, "f1") is not None


# --- bad URLs ---


@pytest.mark.parametrize(
    "url",
    [
        "",
        "mem",
        "mysql://user:hunter2-not-for-logs@db.example.com/app",
        "memcached://localhost:11211",
        "sqlite:///",
        "sqlite://host/file.db",
        "postgresql",
        "/tmp/file.db",
    ],
)
def test_unsupported_urls_are_backend_errors(url: str) -> None:
    with pytest.raises(BackendError) as caught, open_checkpointer(url):
        pass
    message = str(caught.value)
    assert "sqlite:///" in message
    assert SECRET not in message
    with pytest.raises(BackendError), open_store(url):
        pass


def test_unsupported_scheme_lists_every_supported_form() -> None:
    with pytest.raises(BackendError) as caught, open_checkpointer("mongodb://x"):
        pass
    message = str(caught.value)
    for form in (
        '"memory"',
        "sqlite:///",
        "sqlite:////",
        ":memory:",
        "postgresql://",
        "postgres://",
        "redis://",
        "rediss://",
    ):
        assert form in message


def assert_secret_hidden(error: BaseException) -> None:
    seen: BaseException | None = error
    while seen is not None:
        assert SECRET not in str(seen)
        assert SECRET not in repr(seen.args)
        seen = seen.__cause__ or seen.__context__


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://postgres:{SECRET}@127.0.0.1:1/postgres",
        f"postgres://postgres@127.0.0.1:1/postgres?password={SECRET}&connect_timeout=2",
    ],
)
def test_unreachable_postgres_fails_fast_without_the_password(url: str) -> None:
    started = time.monotonic()
    with pytest.raises(BackendError) as caught, open_checkpointer(url):
        pass
    assert time.monotonic() - started < 5
    assert "127.0.0.1" in str(caught.value)
    assert "check that the server is running" in str(caught.value)
    assert_secret_hidden(caught.value)
    with pytest.raises(BackendError) as caught_store, open_store(url):
        pass
    assert_secret_hidden(caught_store.value)


async def test_unreachable_postgres_fails_fast_async() -> None:
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:1/postgres"
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        async with aopen_checkpointer(url):
            pass
    assert time.monotonic() - started < 5
    assert_secret_hidden(caught.value)
    with pytest.raises(BackendError) as caught_store:
        async with aopen_store(url):
            pass
    assert_secret_hidden(caught_store.value)


def test_postgres_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.postgres", None)
    with pytest.raises(BackendError, match=r'pip install "memorygraph\[postgres\]"'):
        with open_checkpointer("postgresql://postgres@127.0.0.1:5432/postgres"):
            pass


def test_a_file_that_is_not_sqlite_is_a_backend_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackendError, match="notes.db"), open_checkpointer(f"sqlite:///{path}"):
        pass


# --- SQLite specifics ---


def test_sqlite_urls_create_directories_and_use_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    absolute = tmp_path / "a" / "b" / "abs.db"
    cases = [
        (f"sqlite:///{absolute}", absolute),  # four slashes: an absolute path
        ("sqlite:///rel/dir/rel.db", tmp_path / "rel" / "dir" / "rel.db"),
    ]
    assert cases[0][0].startswith("sqlite:////")
    for url, path in cases:
        with open_checkpointer(url) as saver:
            run_turns(build_graph(saver), "t", "hello")
        with open_store(url) as store:
            store.put(("n",), "k", {"v": 1})
        assert path.is_file()
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            conn.close()


def test_sqlite_in_memory_url() -> None:
    with open_checkpointer("sqlite:///:memory:") as saver:
        run_turns(build_graph(saver), "t", "hello", "again")
        assert list_threads(saver) == ["t"]
    with open_store("sqlite:///:memory:") as store:
        store.put(("n",), "k", {"v": 1})
        item = store.get(("n",), "k")
        assert item is not None and item.value == {"v": 1}


class BlobState(TypedDict):
    blob: str


def keep_blob(state: BlobState) -> dict[str, str]:
    return {"blob": state["blob"]}


def build_blob_graph(
    checkpointer: BaseCheckpointSaver[Any],
) -> CompiledStateGraph[Any, Any, Any, Any]:
    builder = StateGraph(BlobState)
    builder.add_node("keep", keep_blob)
    builder.add_edge(START, "keep")
    return builder.compile(checkpointer=checkpointer)


def database_bytes(path: Path) -> int:
    return sum(
        candidate.stat().st_size
        for candidate in (path, path.with_name(path.name + "-wal"))
        if candidate.exists()
    )


FAST = 2  # PRAGMA secure_delete's value for FAST


async def test_sqlite_connections_free_pages_without_rewriting_them(sqlite_url: str) -> None:
    with open_checkpointer(sqlite_url) as saver, open_store(sqlite_url) as store:
        assert saver.conn.execute("PRAGMA secure_delete").fetchone() == (FAST,)
        assert store.conn.execute("PRAGMA secure_delete").fetchone() == (FAST,)
    async with aopen_checkpointer(sqlite_url) as asaver, aopen_store(sqlite_url) as astore:
        for conn in (asaver.conn, astore.conn):
            async with conn.execute("PRAGMA secure_delete") as cur:
                assert await cur.fetchone() == (FAST,)


def _prune_log_bytes(url: str, secure_delete: str | None = None) -> int:
    """What pruning a thread of 40 big checkpoints writes to the write-ahead log.

    ``secure_delete`` overrides the level `open_checkpointer` set; None keeps it.
    """
    path = Path(url.removeprefix("sqlite:///"))
    log = path.with_name(path.name + "-wal")
    with open_checkpointer(url) as saver:
        saver.conn.execute("PRAGMA wal_autocheckpoint=0")
        if secure_delete is not None:
            saver.conn.execute(f"PRAGMA secure_delete={secure_delete}")
        graph = build_blob_graph(saver)
        for _ in range(40):
            graph.invoke({"blob": uuid.uuid4().hex * 256}, config("t"))  # ~8 KB each
        before = log.stat().st_size
        prune_thread(saver, "t")
        return log.stat().st_size - before


def test_pruning_frees_pages_without_writing_them_again(tmp_path: Path) -> None:
    # Many builds zero every freed page (SECURE_DELETE), which writes it again.
    opened = _prune_log_bytes(f"sqlite:///{tmp_path / 'opened.db'}")
    zeroed = _prune_log_bytes(f"sqlite:///{tmp_path / 'zeroed.db'}", "ON")
    assert opened * 4 < zeroed, (opened, zeroed)


def test_sqlite_file_shrinks_after_deleting_a_big_thread(sqlite_url: str) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    with open_checkpointer(sqlite_url) as saver:
        graph = build_blob_graph(saver)
        graph.invoke({"blob": "small"}, config("survivor"))
        for turn in range(200):
            blob = f"{turn:04d}" + uuid.uuid4().hex * 64  # ~2 KB, incompressible
            graph.invoke({"blob": blob}, config("big"))
        before = database_bytes(path)

        delete_thread(saver, "big")

        after = database_bytes(path)
        assert after < before / 2, (before, after)
        assert list_threads(saver) == ["survivor"]
        assert graph.get_state(config("survivor")).values == {"blob": "small"}


async def test_sqlite_file_shrinks_after_async_delete(sqlite_url: str) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    async with aopen_checkpointer(sqlite_url) as saver:
        graph = build_blob_graph(saver)
        for turn in range(100):
            await graph.ainvoke({"blob": uuid.uuid4().hex * 64}, config(f"big-{turn % 2}"))
        before = database_bytes(path)
        await adelete_thread(saver, "big-0")
        await adelete_thread(saver, "big-1")
        after = database_bytes(path)
    assert after < before / 2, (before, after)


async def test_sync_helpers_on_an_async_saver_inside_its_loop_say_what_to_do(
    sqlite_url: str,
) -> None:
    async with aopen_checkpointer(sqlite_url) as saver:
        with pytest.raises(asyncio.InvalidStateError, match="alist_threads"):
            list_threads(saver)
        # From another thread, the sync helpers work on an async saver.
        await arun_turns(build_graph(saver), "t", "hello")
        assert await asyncio.to_thread(list_threads, saver) == ["t"]
        await asyncio.to_thread(delete_thread, saver, "t")
        assert await alist_threads(saver) == []


# --- a thread survives its process ---

CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from langchain_core.messages import HumanMessage
from memorygraph.checkpointers import open_checkpointer
from test_checkpointers import build_graph, config
with open_checkpointer(sys.argv[2]) as saver:
    build_graph(saver).invoke({"messages": [HumanMessage("hello")]}, config(sys.argv[3]))
"""


@pytest.mark.parametrize(
    "kind",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ],
)
def test_a_thread_resumes_in_a_new_process(
    kind: str,
    request: pytest.FixtureRequest,
    warnings_log: pytest.LogCaptureFixture,
    serde_events: list[SerdeEvent],
) -> None:
    url: str = request.getfixturevalue(f"{kind}_url")
    thread_id = new_thread()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(TESTS_DIR), url, thread_id],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    with open_checkpointer(url) as saver:
        graph = build_graph(saver)
        first = graph.get_state(config(thread_id)).values
        assert [message.content for message in first["messages"]] == ["hello", "echo 1: hello"]
        assert first["fact"] == expected_fact(1)
        run_turns(graph, thread_id, "again")
        assert_two_turns(graph.get_state(config(thread_id)).values)
    assert_no_serde_complaints(warnings_log, serde_events)


def test_graph_on_a_users_default_saver_loads_records_without_complaint(
    warnings_log: pytest.LogCaptureFixture, serde_events: list[SerdeEvent]
) -> None:
    from langchain_core.messages import HumanMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.store.memory import InMemoryStore

    from memorygraph import MemoryContext, create_memory_graph

    saver = InMemorySaver()  # LangGraph's permissive default serializer
    graph = create_memory_graph(checkpointer=saver, store=InMemoryStore())
    cfg = {"configurable": {"thread_id": "users-own-saver"}}
    for text in ("hi", "again"):
        graph.invoke(
            {"messages": [HumanMessage(text)]},
            cfg,
            context=MemoryContext(tenant_id="acme", user_id="ana"),
        )
    assert graph.get_state(cfg).values["context_package"].to_messages()[-1].content == "again"
    assert_no_serde_complaints(warnings_log, serde_events)
    assert saver.serde is not graph.checkpointer.serde  # the user's saver is left as it was
