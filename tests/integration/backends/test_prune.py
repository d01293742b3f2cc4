"""Checkpoint retention: `prune_thread`, `aprune_thread` and ``keep_checkpoints``."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from memorygraph import MemoryConfig, MemoryContext
from memorygraph import create_memory_graph as _create_memory_graph
from memorygraph.checkpointers import (
    aopen_checkpointer,
    aprune_thread,
    open_checkpointer,
    open_store,
    prune_thread,
)
from memorygraph.checkpointers.backends import memory as memory_backend
from memorygraph.errors import BackendError, IdentityError
from memorygraph.graph import MemoryGraph
from memorygraph.graph._lock import prune_target
from tests.fakes import RecordingChatModel

ANA = MemoryContext(tenant_id="acme", user_id="ana")
Graph = CompiledStateGraph[Any, Any, Any, Any]


def new_config() -> RunnableConfig:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def thread_of(cfg: RunnableConfig) -> str:
    thread_id: str = cfg["configurable"]["thread_id"]
    return thread_id


def checkpoints(saver: BaseCheckpointSaver[Any], cfg: RunnableConfig) -> list[CheckpointTuple]:
    """Every checkpoint of the thread, in every namespace."""
    return list(saver.list({"configurable": {"thread_id": thread_of(cfg)}}))


async def acheckpoints(
    saver: BaseCheckpointSaver[Any], cfg: RunnableConfig
) -> list[CheckpointTuple]:
    return [item async for item in saver.alist({"configurable": {"thread_id": thread_of(cfg)}})]


def namespaces(saver: BaseCheckpointSaver[Any], cfg: RunnableConfig) -> list[str]:
    return sorted(item.config["configurable"]["checkpoint_ns"] for item in checkpoints(saver, cfg))


# --- a plain chat graph ---


def reply(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(f"echo: {state['messages'][-1].content}")]}


def chat_graph(saver: BaseCheckpointSaver[Any]) -> Graph:
    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    return builder.compile(checkpointer=saver)


def chat(graph: Graph, cfg: RunnableConfig, *texts: str) -> None:
    for text in texts:
        graph.invoke({"messages": [HumanMessage(text)]}, cfg)


def contents(messages: Sequence[BaseMessage]) -> list[str]:
    return [str(message.content) for message in messages]


CHAT = ["hello", "echo: hello", "again", "echo: again", "third", "echo: third"]


def test_prune_keeps_one_checkpoint_with_the_values(backend_url: str) -> None:
    pruned, other = new_config(), new_config()
    with open_checkpointer(backend_url) as saver:
        graph = chat_graph(saver)
        chat(graph, pruned, "hello", "again", "third")
        chat(graph, other, "hello", "again", "third")
        assert len(checkpoints(saver, pruned)) == 9
        latest = graph.get_state(pruned)

        prune_thread(saver, thread_of(pruned))

        history = list(graph.get_state_history(pruned))
        assert len(history) == 1
        assert history[0].config == latest.config
        assert history[0].parent_config is None
        assert contents(history[0].values["messages"]) == CHAT
        assert len(checkpoints(saver, other)) == 9
        assert contents(graph.get_state(other).values["messages"]) == CHAT

        prune_thread(saver, thread_of(pruned))  # idempotent
        assert len(checkpoints(saver, pruned)) == 1
        chat(graph, pruned, "fourth")
        assert contents(graph.get_state(pruned).values["messages"])[-2:] == [
            "fourth",
            "echo: fourth",
        ]
        prune_thread(saver, thread_of(pruned))
        assert len(checkpoints(saver, pruned)) == 1
        if backend_url != "memory":
            with open_checkpointer(backend_url) as fresh:
                state = chat_graph(fresh).get_state(pruned)
                assert len(state.values["messages"]) == 8
                assert len(checkpoints(fresh, pruned)) == 1


def test_pruning_an_unknown_thread_does_nothing(backend_url: str) -> None:
    with open_checkpointer(backend_url) as saver:
        prune_thread(saver, "no-such-thread")
        assert checkpoints(saver, {"configurable": {"thread_id": "no-such-thread"}}) == []


async def test_aprune_thread_on_async_savers(backend_url: str) -> None:
    pruned, other = new_config(), new_config()
    async with aopen_checkpointer(backend_url) as saver:
        graph = chat_graph(saver)
        for cfg in (pruned, other):
            for text in ("hello", "again", "third"):
                await graph.ainvoke({"messages": [HumanMessage(text)]}, cfg)

        await aprune_thread(saver, thread_of(pruned))

        assert len([s async for s in graph.aget_state_history(pruned)]) == 1
        assert contents((await graph.aget_state(pruned)).values["messages"]) == CHAT
        assert len(await acheckpoints(saver, other)) == 9
        # The sync twin drives an async saver from another thread.
        await asyncio.to_thread(prune_thread, saver, thread_of(other))
        assert len(await acheckpoints(saver, other)) == 1


async def test_aprune_thread_drives_sync_savers(backend_url: str) -> None:
    cfg = new_config()
    with open_checkpointer(backend_url) as saver:
        chat(chat_graph(saver), cfg, "hello", "again", "third")
        await aprune_thread(saver, thread_of(cfg))
        assert len(checkpoints(saver, cfg)) == 1
        assert contents(chat_graph(saver).get_state(cfg).values["messages"]) == CHAT


async def test_sync_prune_inside_the_async_savers_loop_says_what_to_do(sqlite_url: str) -> None:
    async with aopen_checkpointer(sqlite_url) as saver:
        with pytest.raises(asyncio.InvalidStateError, match="aprune_thread"):
            prune_thread(saver, "t")


@pytest.mark.parametrize("blank", ["", " ", "\t\n"])
async def test_blank_thread_id_is_an_identity_error(backend_url: str, blank: str) -> None:
    with open_checkpointer(backend_url) as saver, pytest.raises(IdentityError, match="thread_id"):
        prune_thread(saver, blank)
    async with aopen_checkpointer(backend_url) as asaver:
        with pytest.raises(IdentityError, match="thread_id"):
            await aprune_thread(asaver, blank)


# --- interrupts and subgraphs ---


def ask(state: MessagesState) -> dict[str, Any]:
    answer = interrupt("go on?")
    return {"messages": [AIMessage(f"answer: {answer}")]}


def nested_graph(saver: BaseCheckpointSaver[Any]) -> Graph:
    """A subgraph call that interrupts, then a ``checkpointer=True`` subgraph."""
    asking = StateGraph(MessagesState)
    asking.add_node("reply", reply)
    asking.add_node("ask", ask)
    asking.add_edge(START, "reply")
    asking.add_edge("reply", "ask")
    asking.add_edge("ask", END)
    keeping = StateGraph(MessagesState)
    keeping.add_node("reply", reply)
    keeping.add_edge(START, "reply")
    parent = StateGraph(MessagesState)
    parent.add_node("asking", asking.compile())
    parent.add_node("keeping", keeping.compile(checkpointer=True))
    parent.add_edge(START, "asking")
    parent.add_edge("asking", "keeping")
    parent.add_edge("keeping", END)
    return parent.compile(checkpointer=saver)


def test_an_interrupted_thread_resumes_after_pruning(backend_url: str) -> None:
    cfg = new_config()
    with open_checkpointer(backend_url) as saver:
        graph = nested_graph(saver)
        for turn in range(2):
            graph.invoke({"messages": [HumanMessage(f"turn {turn}")]}, cfg)
            prune_thread(saver, thread_of(cfg))

            # The root and the interrupted call keep their latest checkpoint, with
            # the interrupt among its pending writes; so does the kept subgraph.
            kept = namespaces(saver, cfg)
            calls = [ns for ns in kept if ns.startswith("asking:")]
            assert kept == sorted(["", *calls, *(["keeping"] if turn else [])])
            assert len(calls) == 1
            state = graph.get_state(cfg)
            assert state.next == ("asking",)
            assert [i.value for i in state.interrupts] == ["go on?"]

            result = graph.invoke(Command(resume=f"yes {turn}"), cfg)

            assert contents(result["messages"])[-4:] == [
                f"turn {turn}",
                f"echo: turn {turn}",
                f"answer: yes {turn}",
                f"echo: answer: yes {turn}",
            ]
            prune_thread(saver, thread_of(cfg))
            # The finished call goes with the root checkpoint it started from.
            assert namespaces(saver, cfg) == ["", "keeping"]
            assert graph.get_state(cfg).next == ()
        assert len(graph.get_state(cfg).values["messages"]) == 8


# --- DeltaChannel and other savers ---


def extend(state: list[str] | None, writes: Sequence[list[str]]) -> list[str]:
    return [*(state or []), *(item for write in writes for item in write)]


class DeltaState(TypedDict):
    items: Annotated[list[str], DeltaChannel(extend)]


def test_a_thread_with_a_delta_channel_is_refused_and_left_intact(backend_url: str) -> None:
    cfg = new_config()
    builder = StateGraph(DeltaState)
    builder.add_node("add", lambda state: {"items": ["x"]})
    builder.add_edge(START, "add")
    with open_checkpointer(backend_url) as saver:
        graph = builder.compile(checkpointer=saver)
        for turn in range(3):
            graph.invoke({"items": [str(turn)]}, cfg)
        before = len(checkpoints(saver, cfg))
        with pytest.raises(BackendError, match="DeltaChannel.*keep_checkpoints='all'"):
            prune_thread(saver, thread_of(cfg))
        assert len(checkpoints(saver, cfg)) == before
        assert graph.get_state(cfg).values == {"items": ["0", "x", "1", "x", "2", "x"]}


class NoPruneSaver(BaseCheckpointSaver[str]):
    """A saver of another kind (it keeps its checkpoints in an InMemorySaver), without prune."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = InMemorySaver()

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.inner.get_tuple(config)

    def list(self, config: RunnableConfig | None, **kwargs: Any) -> Iterator[CheckpointTuple]:
        return self.inner.list(config, **kwargs)

    def put(self, config: RunnableConfig, *args: Any) -> RunnableConfig:
        return self.inner.put(config, *args)

    def put_writes(self, config: RunnableConfig, *args: Any) -> None:
        self.inner.put_writes(config, *args)

    def get_next_version(self, current: str | None, channel: None) -> str:
        return self.inner.get_next_version(current, channel)


class PruningSaver(NoPruneSaver):
    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.pruned: list[tuple[list[str], str]] = []
        self.error = error

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        if self.error is not None:
            raise self.error
        self.pruned.append((list(thread_ids), strategy))


async def test_other_savers_prune_with_their_own_prune() -> None:
    with pytest.raises(BackendError, match="NoPruneSaver cannot prune.*keep_checkpoints='all'"):
        prune_thread(NoPruneSaver(), "t")
    with pytest.raises(BackendError, match="NoPruneSaver cannot prune"):
        await aprune_thread(NoPruneSaver(), "t")
    saver = PruningSaver()
    prune_thread(saver, "t")
    await aprune_thread(saver, "u")  # no aprune of its own: prune in a worker thread
    assert saver.pruned == [(["t"], "keep_latest"), (["u"], "keep_latest")]
    refusing = PruningSaver(NotImplementedError("not for this thread"))
    with pytest.raises(BackendError, match="PruningSaver cannot prune thread 't'"):
        prune_thread(refusing, "t")


# --- the memory graph prunes after each run ---


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def memory_graph(
    stack: ExitStack, url: str, model: RecordingChatModel, **config: Any
) -> tuple[MemoryGraph, BaseCheckpointSaver[Any]]:
    saver = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    graph = _create_memory_graph(
        model, checkpointer=saver, store=store, config=MemoryConfig(**config)
    )
    return graph, saver


def say(graph: MemoryGraph, cfg: RunnableConfig, text: str) -> dict[str, Any]:
    result: dict[str, Any] = graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=ANA)
    return result


def test_the_memory_graph_keeps_one_checkpoint_per_thread(
    backend_url: str, stack: ExitStack
) -> None:
    model = RecordingChatModel()
    pruning, saver = memory_graph(stack, backend_url, model)
    keeping = _create_memory_graph(
        model, checkpointer=saver, store=pruning.store, config=MemoryConfig(keep_checkpoints="all")
    )
    pruned, kept = new_config(), new_config()
    for turn in range(4):
        say(pruning, pruned, f"pruned {turn}")
        say(keeping, kept, f"kept {turn}")
        assert len(list(pruning.get_state_history(pruned))) == 1
        assert len(checkpoints(saver, pruned)) == 1
    values = pruning.get_state(pruned).values
    assert contents(values["messages"]) == [
        text for turn in range(4) for text in (f"pruned {turn}", f"reply {2 * turn + 1}")
    ]
    assert values["context_package"].to_messages()[-1].content == "pruned 3"
    # The other thread, run with keep_checkpoints="all", keeps its whole history.
    assert len(list(keeping.get_state_history(kept))) >= 4 * 5
    assert len(keeping.get_state(kept).values["messages"]) == 8


async def test_the_memory_graph_prunes_after_async_runs(backend_url: str) -> None:
    cfg = new_config()
    async with aopen_checkpointer(backend_url) as saver:
        graph = _create_memory_graph(
            RecordingChatModel(), checkpointer=saver, store=InMemoryStore()
        )
        for turn in range(3):
            await graph.ainvoke({"messages": [HumanMessage(f"turn {turn}")]}, cfg, context=ANA)
            assert len(await acheckpoints(saver, cfg)) == 1
        state = await graph.aget_state(cfg)
        assert contents(state.values["messages"])[-2:] == ["turn 2", "reply 3"]


def interrupting_model() -> RecordingChatModel:
    """A model whose first call asks a human through `interrupt()`, inside call_model."""
    model = RecordingChatModel()

    def respond(messages: Sequence[BaseMessage]) -> AIMessage:
        answer = interrupt("may I answer?")
        return AIMessage(f"allowed: {answer}")

    model.respond = respond
    return model


def test_the_memory_graph_prunes_an_interrupted_run_and_resumes(
    backend_url: str, stack: ExitStack
) -> None:
    graph, saver = memory_graph(stack, backend_url, interrupting_model())
    cfg = new_config()
    say(graph, cfg, "hello")
    assert len(checkpoints(saver, cfg)) == 1
    state = graph.get_state(cfg)
    assert state.next == ("call_model",)
    assert [i.value for i in state.interrupts] == ["may I answer?"]

    result = graph.invoke(Command(resume="yes"), cfg, context=ANA)

    assert contents(result["messages"]) == ["hello", "allowed: yes"]
    assert len(checkpoints(saver, cfg)) == 1
    assert graph.get_state(cfg).next == ()


def test_a_failed_run_prunes_nothing(backend_url: str, stack: ExitStack) -> None:
    model = RecordingChatModel()
    graph, saver = memory_graph(stack, backend_url, model)
    cfg = new_config()
    say(graph, cfg, "hello")

    def fail(messages: Sequence[BaseMessage]) -> AIMessage:
        raise RuntimeError("provider down")

    model.respond = fail
    with pytest.raises(RuntimeError, match="provider down"):
        say(graph, cfg, "again")
    # The input and the nodes before the failure stay, to resume from.
    assert len(checkpoints(saver, cfg)) > 1
    assert contents(graph.get_state(cfg).values["messages"]) == ["hello", "reply 1", "again"]

    model.respond = None
    graph.invoke(None, cfg, context=ANA)  # resume from where it failed
    assert len(checkpoints(saver, cfg)) == 1
    assert contents(graph.get_state(cfg).values["messages"])[-2:] == ["again", "reply 3"]


def test_a_stream_closed_early_prunes_nothing(stack: ExitStack) -> None:
    graph, saver = memory_graph(stack, "memory", RecordingChatModel())
    cfg = new_config()
    say(graph, cfg, "hello")
    for _ in graph.stream({"messages": [HumanMessage("again")]}, cfg, context=ANA):
        break
    assert len(checkpoints(saver, cfg)) > 1


def test_a_graph_without_its_own_saver_prunes_nothing() -> None:
    # The LangGraph API server lends its saver through the config.
    saver = InMemorySaver()
    graph = _create_memory_graph(RecordingChatModel())
    cfg: RunnableConfig = {
        "configurable": {"thread_id": "t", CONFIG_KEY_CHECKPOINTER: saver},
    }
    graph.invoke({"messages": [HumanMessage("hello")]}, cfg, context=ANA)
    graph.invoke({"messages": [HumanMessage("again")]}, cfg, context=ANA)
    assert len(checkpoints(saver, cfg)) > 1


def test_prune_target_only_for_root_runs_of_a_graph_with_a_saver() -> None:
    saver = InMemorySaver()
    root: RunnableConfig = {"configurable": {"thread_id": 42}}
    target = prune_target(saver, root, "latest")
    assert target is not None
    assert (target.checkpointer, target.thread_id) == (saver, "42")
    assert prune_target(saver, root, "all") is None
    assert prune_target(None, root, "latest") is None
    assert prune_target(True, root, "latest") is None
    assert prune_target(saver, None, "latest") is None
    call = {"configurable": {"thread_id": "t", "checkpoint_ns": "node:1234"}}
    assert prune_target(saver, call, "latest") is None
    lent = {"configurable": {"thread_id": "t", CONFIG_KEY_CHECKPOINTER: saver}}
    assert prune_target(saver, lent, "latest") is None


def test_the_api_servers_saver_is_left_alone() -> None:
    # `langgraph dev` and the platform attach their saver to a copy of the graph:
    # only the saver the graph was created with is pruned, whatever its module.
    for module in ("langgraph_runtime_inmem.checkpoint", "some.other.saver"):
        server_saver = type("InMemorySaver", (InMemorySaver,), {"__module__": module})()
        graph = _create_memory_graph(RecordingChatModel()).copy(
            update={"checkpointer": server_saver}
        )
        cfg = new_config()
        say(graph, cfg, "hello")
        say(graph, cfg, "again")
        assert len(checkpoints(server_saver, cfg)) > 1


def test_a_saver_that_cannot_prune_fails_the_run_before_it_starts() -> None:
    model = RecordingChatModel()
    saver = NoPruneSaver()
    graph = _create_memory_graph(model, checkpointer=saver, store=InMemoryStore())
    cfg = new_config()
    with pytest.raises(BackendError, match="NoPruneSaver cannot prune"):
        say(graph, cfg, "hello")
    assert model.calls == []
    assert checkpoints(saver, cfg) == []
    keeping = _create_memory_graph(
        model,
        checkpointer=saver,
        store=InMemoryStore(),
        config=MemoryConfig(keep_checkpoints="all"),
    )
    say(keeping, cfg, "hello")
    assert len(model.calls) == 1


def test_a_database_error_while_pruning_is_logged_and_the_run_kept(
    stack: ExitStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    graph, saver = memory_graph(stack, "memory", RecordingChatModel())
    cfg = new_config()

    def locked(*args: Any) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(memory_backend, "prune_memory", locked)
    caplog.set_level(logging.WARNING, logger="memorygraph.graph._lock")

    result = say(graph, cfg, "hello")

    assert contents(result["messages"]) == ["hello", "reply 1"]
    assert len(checkpoints(saver, cfg)) > 1
    assert "database is locked" in caplog.text
    assert "the next run retries" in caplog.text


# --- bounded storage ---


class BlobState(TypedDict):
    blob: str


def blob_graph(saver: BaseCheckpointSaver[Any]) -> Graph:
    builder = StateGraph(BlobState)
    builder.add_node("keep", lambda state: {"blob": state["blob"].upper()})
    builder.add_edge(START, "keep")
    return builder.compile(checkpointer=saver)


def sqlite_bytes(saver: BaseCheckpointSaver[Any], path: Path) -> int:
    """The database file's size once the WAL is written back into it."""
    assert isinstance(saver, SqliteSaver)
    with saver.lock:
        saver.conn.commit()
        saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return path.stat().st_size


def grow(tmp_path: Path, *, prune: bool) -> tuple[int, int]:
    """Sizes after 100 and 300 turns of a ~1 KB state, incompressible."""
    path = tmp_path / f"grow-{prune}.db"
    sizes = []
    with open_checkpointer(f"sqlite:///{path}") as saver:
        graph = blob_graph(saver)
        cfg = new_config()
        for turn in range(1, 301):
            graph.invoke({"blob": uuid.uuid4().hex * 32}, cfg)
            if prune:
                prune_thread(saver, thread_of(cfg))
            if turn in (100, 300):
                sizes.append(sqlite_bytes(saver, path))
        assert len(checkpoints(saver, cfg)) == (1 if prune else 900)
    return sizes[0], sizes[1]


@pytest.mark.slow
def test_sqlite_file_stays_bounded_when_pruned(tmp_path: Path) -> None:
    at_100, at_300 = grow(tmp_path, prune=True)
    assert at_300 < 1.5 * at_100, (at_100, at_300)
    unpruned_100, unpruned_300 = grow(tmp_path, prune=False)
    assert unpruned_300 > 2 * unpruned_100, (unpruned_100, unpruned_300)
    assert at_300 < unpruned_300 / 20, (at_300, unpruned_300)


def test_in_memory_saver_drops_old_writes_and_blobs() -> None:
    saver = InMemorySaver()
    graph = chat_graph(saver)
    cfg = new_config()

    def entries() -> tuple[int, int]:
        thread_id = thread_of(cfg)
        return (
            sum(key[0] == thread_id for key in saver.writes),
            sum(key[0] == thread_id for key in saver.blobs),
        )

    sizes = []
    for turn in range(12):
        chat(graph, cfg, f"turn {turn}")
        prune_thread(saver, thread_of(cfg))
        sizes.append(entries())
    assert sizes[2:] == [sizes[2]] * 10
    assert sizes[-1][0] == 0  # a finished run leaves no pending write
    assert len(graph.get_state(cfg).values["messages"]) == 24
