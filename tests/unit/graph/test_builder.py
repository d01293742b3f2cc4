"""The memory graph end to end, on memory, SQLite and the real PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.store.base import BaseStore, Op, Result
from langgraph.store.memory import InMemoryStore

from memorygraph import (
    ContextBudgetExceeded,
    ContextPackage,
    MemoryConfig,
    MemoryContext,
    MemoryState,
    create_memory_graph,
)
from memorygraph.checkpointers import memorygraph_serializer, open_checkpointer, open_store
from memorygraph.errors import IdentityError, InvalidMessageError
from memorygraph.graph import MemoryGraph
from tests.fakes import RecordingChatModel

ANA = MemoryContext(tenant_id="acme", user_id="ana")


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def open_graph(stack: ExitStack, url: str, model: Any = None, **kwargs: Any) -> MemoryGraph:
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    return create_memory_graph(model, checkpointer=checkpointer, store=store, **kwargs)


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def test_contract_turn_on_every_backend(backend_url: str, stack: ExitStack) -> None:
    model = RecordingChatModel()
    graph = open_graph(stack, backend_url, model)
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("Hi, I'm Ana.")]}, cfg, context=ANA)
    graph.invoke({"messages": [HumanMessage("What's my name?")]}, cfg, context=ANA)
    values = graph.get_state(cfg).values
    package = values["context_package"]
    assert isinstance(package, ContextPackage)
    assert model.calls[-1] == package.to_messages()
    assert [m.type for m in values["messages"]] == ["human", "ai", "human", "ai"]
    assert package.to_messages()[-1].content == "What's my name?"
    assert [i.id for i in package.items if i.kind == "recent_turn"] == [
        values["messages"][0].id,
        values["messages"][1].id,
    ]
    assert values["usage"].calls == 2 and values["usage"].input_tokens == 20
    assert package.tenant_id == "acme" and package.thread_id == cfg["configurable"]["thread_id"]


def test_without_a_model_the_graph_remembers_and_packs(backend_url: str, stack: ExitStack) -> None:
    graph = open_graph(stack, backend_url)
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("note this"), AIMessage("noted")]}, cfg, context=ANA)
    values = graph.get_state(cfg).values
    assert [m.content for m in values["messages"]] == ["note this", "noted"]
    rendered = values["context_package"].to_messages()
    assert [m.content for m in rendered[-2:]] == ["note this", "noted"]
    assert "call_model" not in graph.nodes


def test_audit_record_is_written_before_the_model_is_called(
    backend_url: str, stack: ExitStack
) -> None:
    store: BaseStore = stack.enter_context(open_store(backend_url))
    seen: list[list[str]] = []

    def respond(messages: Any) -> AIMessage:
        records = store.search(("memorygraph", "acme", "ana", "audit"), limit=100)
        seen.append([r.value["package_id"] for r in records])
        return AIMessage("ok")

    checkpointer = stack.enter_context(open_checkpointer(backend_url))
    graph = create_memory_graph(
        RecordingChatModel(respond=respond), checkpointer=checkpointer, store=store
    )
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("hello")]}, cfg, context=ANA)
    package = graph.get_state(cfg).values["context_package"]
    assert package.id in seen[0]
    record = store.get(
        ("memorygraph", "acme", "ana", "audit"), f"{cfg['configurable']['thread_id']}:{package.id}"
    )
    assert record is not None
    assert record.value["included_ids"] == package.included_ids
    assert record.value["model"] == "recording-fake"
    assert record.value["prompt_version"] == "memorygraph-v1"


def test_reply_is_stored_without_reasoning(stack: ExitStack) -> None:
    reply = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": "secret chain"},
            {"type": "text", "text": "Hi"},
        ],
        additional_kwargs={"reasoning_content": "secret chain"},
    )
    graph = open_graph(stack, "memory", RecordingChatModel(replies=[reply]))
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("hello")]}, cfg, context=ANA)
    stored = graph.get_state(cfg).values["messages"][-1]
    assert "secret chain" not in repr(stored)
    assert stored.text == "Hi"


BAD_INPUTS = [
    pytest.param(
        {"messages": [{"role": "wizard", "content": "x"}]},
        None,
        InvalidMessageError,
        id="unknown-role",
    ),
    pytest.param({"messages": [42]}, None, InvalidMessageError, id="non-message"),
    pytest.param(
        {"messages": [HumanMessage("hi")]},
        {"configurable": {"thread_id": ""}},
        IdentityError,
        id="empty-thread-id",
    ),
    pytest.param(
        {"messages": [HumanMessage("hi")]},
        {"configurable": {"thread_id": "  "}},
        IdentityError,
        id="blank-thread-id",
    ),
    pytest.param(
        {"messages": [HumanMessage("word " * 5000)]},
        None,
        ContextBudgetExceeded,
        id="request-over-budget",
    ),
]


@pytest.mark.parametrize(("payload", "override", "error"), BAD_INPUTS)
def test_bad_input_raises_and_leaves_state_unchanged(
    backend_url: str, stack: ExitStack, payload: dict[str, Any], override: Any, error: type
) -> None:
    graph = open_graph(
        stack, backend_url, RecordingChatModel(), config=MemoryConfig(token_budget=2000)
    )
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("first turn")]}, cfg, context=ANA)
    before = graph.get_state(cfg)
    history = len(list(graph.get_state_history(cfg)))
    with pytest.raises(error):
        graph.invoke(payload, override or cfg, context=ANA)
    after = graph.get_state(cfg)
    assert after.values == before.values
    assert after.config == before.config
    assert len(list(graph.get_state_history(cfg))) == history


def test_missing_tenant_is_refused_before_anything_is_written(stack: ExitStack) -> None:
    graph = open_graph(stack, "memory")
    cfg = thread()
    with pytest.raises(IdentityError, match="tenant_id is missing"):
        graph.invoke({"messages": [HumanMessage("hi")]}, cfg)
    assert graph.get_state(cfg).values == {}


def test_identity_from_configurable_when_no_context(stack: ExitStack) -> None:
    graph = open_graph(stack, "memory")
    cfg = {"configurable": {"thread_id": "t1", "tenant_id": "acme", "user_id": "bob"}}
    graph.invoke({"messages": [HumanMessage("hi")]}, cfg)
    assert graph.get_state(cfg).values["context_package"].user_id == "bob"


def test_same_state_and_request_give_the_same_package_id(stack: ExitStack) -> None:
    ids = []
    for _ in range(2):
        graph = open_graph(stack, "memory")
        cfg = {"configurable": {"thread_id": "same"}}
        for i in range(3):
            graph.invoke({"messages": [HumanMessage(f"turn {i}", id=f"h{i}")]}, cfg, context=ANA)
        ids.append(graph.get_state(cfg).values["context_package"].id)
    assert ids[0] == ids[1]


async def test_async_turns(backend_url: str, stack: ExitStack) -> None:
    graph = open_graph(stack, "memory", RecordingChatModel())
    cfg = thread()
    await graph.ainvoke({"messages": [HumanMessage("hi")]}, cfg, context=ANA)
    with pytest.raises(InvalidMessageError):
        await graph.ainvoke({"messages": [7]}, cfg, context=ANA)
    state = await graph.aget_state(cfg)
    assert [m.type for m in state.values["messages"]] == ["human", "ai"]


def test_graph_shape(snapshot: Any) -> None:
    graph = create_memory_graph(RecordingChatModel())
    assert graph.get_graph().draw_mermaid() == snapshot


RESUME_SCRIPT = textwrap.dedent(
    """
    import sys
    from langchain_core.messages import HumanMessage
    from memorygraph import MemoryContext, create_memory_graph
    from memorygraph.checkpointers import open_checkpointer, open_store
    url, thread = sys.argv[1], sys.argv[2]
    with open_checkpointer(url) as saver, open_store(url) as store:
        graph = create_memory_graph(checkpointer=saver, store=store)
        graph.invoke({"messages": [HumanMessage("from the first process", id="p1")]},
                     {"configurable": {"thread_id": thread}},
                     context=MemoryContext(tenant_id="acme", user_id="ana"))
    """
)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_resume_in_a_new_process(
    backend: str, request: pytest.FixtureRequest, stack: ExitStack
) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    thread_id = f"t-{uuid.uuid4()}"
    subprocess.run([sys.executable, "-c", RESUME_SCRIPT, url, thread_id], check=True, timeout=120)
    graph = open_graph(stack, url)
    cfg = {"configurable": {"thread_id": thread_id}}
    graph.invoke({"messages": [HumanMessage("from the second process", id="p2")]}, cfg, context=ANA)
    values = graph.get_state(cfg).values
    assert [m.id for m in values["messages"]] == ["p1", "p2"]
    assert values["context_package"].included_ids.count("p1") == 1


def messages_of(package: ContextPackage) -> list[BaseMessage]:
    return package.to_messages()


async def test_the_memory_graph_as_a_node_of_a_parent_graph(
    backend_url: str, stack: ExitStack
) -> None:
    """Identity comes from the parent's ``context=``; the parent's saver keeps the thread.

    The second turn runs async where the saver has async methods (LangGraph's
    SqliteSaver and PostgresSaver are sync-only).
    """
    model = RecordingChatModel()
    parent = StateGraph(MemoryState, context_schema=MemoryContext)
    parent.add_node("memory", create_memory_graph(model))
    parent.add_edge(START, "memory")
    graph = parent.compile(
        checkpointer=stack.enter_context(open_checkpointer(backend_url)),
        store=stack.enter_context(open_store(backend_url)),
    )
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("My name is Ana.")]}, cfg, context=ANA)
    second = {"messages": [HumanMessage("What is my name?")]}
    if backend_url == "memory":
        await graph.ainvoke(second, cfg, context=ANA)
    else:
        graph.invoke(second, cfg, context=ANA)
    values = graph.get_state(cfg).values
    assert [m.type for m in values["messages"]] == ["human", "ai", "human", "ai"]
    assert any(f.key == "name" and f.value == "Ana" for f in values["facts"])
    assert "Ana" in "".join(str(m.content) for m in values["context_package"].to_messages())
    assert len(model.calls) == 2
    with pytest.raises(IdentityError):  # and without an identity, still refused
        graph.invoke({"messages": [HumanMessage("hi")]}, thread())


class _AsyncOnlyStore(InMemoryStore):
    """A store whose sync methods fail: an async run must not block on them."""

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        raise AssertionError("a sync store call in an async run")


async def test_an_async_run_reads_and_writes_the_store_asynchronously() -> None:
    store = _AsyncOnlyStore()
    model = RecordingChatModel()
    config = MemoryConfig(summarize_at_messages=6, keep_messages=2, audit_full_content=True)
    graph = create_memory_graph(
        model,
        checkpointer=InMemorySaver(serde=memorygraph_serializer()),
        store=store,
        config=config,
    )
    cfg = thread()
    said = ["My name is Ana.", "I adopted a cat called Miso.", "We hiked in the Alps."]
    for text in [*said, "Tell me about the weather.", "What is my cat called?"]:
        await graph.ainvoke({"messages": [HumanMessage(text)]}, cfg, context=ANA)
    values = (await graph.aget_state(cfg)).values
    assert values["summary"].covered_turns == 5  # folded into the archive
    kinds = {item.kind.value for item in values["context_package"].items}
    assert "recalled" in kinds  # and recalled from it
    assert any("Miso" in item.content for item in values["context_package"].items)
