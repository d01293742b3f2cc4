"""A thread belongs to whoever started it, from its first write, on every backend.

A first turn that pauses for approval writes no package, which is where the
owner used to be read from: another tenant could then take the thread over.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from memorygraph import MemoryContext, add_memory, create_memory_graph
from memorygraph.checkpointers import memorygraph_serializer, open_checkpointer, open_store
from memorygraph.errors import IdentityError
from memorygraph.graph import MemoryGraph
from tests.fakes import RecordingChatModel


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def open_graph(stack: ExitStack, url: str, model: RecordingChatModel) -> MemoryGraph:
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    return create_memory_graph(model, checkpointer=checkpointer, store=store)


def _paused(graph: MemoryGraph) -> tuple[dict[str, Any], MemoryContext, str]:
    cfg = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}
    owner = MemoryContext(tenant_id=f"acme{uuid.uuid4().hex[:8]}", user_id="ana")
    # An email in the first message pauses for approval under approve_personal.
    result = graph.invoke(
        {"messages": [HumanMessage("My email is ana.secret@example.org, remember it.")]},
        cfg,
        context=owner,
    )
    (candidate,) = result["__interrupt__"][0].value["candidates"]
    assert graph.get_state(cfg).values.get("context_package") is None  # nothing packed yet
    return cfg, owner, candidate["id"]


def test_a_thread_paused_on_its_first_turn_belongs_to_its_starter(
    backend_url: str, stack: ExitStack
) -> None:
    model = RecordingChatModel()
    graph = open_graph(stack, backend_url, model)
    cfg, owner, candidate = _paused(graph)
    before = graph.get_state(cfg)
    history = len(list(graph.get_state_history(cfg)))
    intruders = [
        MemoryContext(tenant_id="other", user_id="ana"),
        MemoryContext(tenant_id=owner.tenant_id, user_id="bob"),
    ]
    for intruder in intruders:
        with pytest.raises(IdentityError, match="belongs to another tenant or user"):
            graph.invoke({"messages": [HumanMessage("what did they say?")]}, cfg, context=intruder)
        with pytest.raises(IdentityError, match="belongs to another tenant or user"):
            graph.invoke(Command(resume={"approve": [candidate]}), cfg, context=intruder)
        # Through the API server's way of passing identity too.
        with pytest.raises(IdentityError):
            graph.invoke(
                {"messages": [HumanMessage("hi")]},
                {
                    "configurable": {
                        **cfg["configurable"],
                        "tenant_id": intruder.tenant_id,
                        "user_id": intruder.user_id,
                    }
                },
            )
    assert model.calls == []  # no intruder's model was sent the owner's words
    after = graph.get_state(cfg)
    assert (after.values, after.next) == (before.values, before.next)
    assert len(list(graph.get_state_history(cfg))) == history
    # The owner carries on.
    out = graph.invoke(Command(resume={"approve": [candidate]}), cfg, context=owner)
    assert out["messages"][-1].content == "reply 1"
    graph.invoke({"messages": [HumanMessage("and now?")]}, cfg, context=owner)
    assert len(model.calls) == 2


def test_ownership_holds_for_async_runs() -> None:
    async def scenario() -> None:
        model = RecordingChatModel()
        graph = create_memory_graph(model, checkpointer=InMemorySaver(), store=InMemoryStore())
        cfg = {"configurable": {"thread_id": "t-async"}}
        owner = MemoryContext(tenant_id="acme", user_id="ana")
        result = await graph.ainvoke(
            {"messages": [HumanMessage("My email is ana@example.org.")]}, cfg, context=owner
        )
        assert "__interrupt__" in result
        with pytest.raises(IdentityError):
            await graph.ainvoke(
                {"messages": [HumanMessage("hi")]},
                cfg,
                context=MemoryContext(tenant_id="evil", user_id="ana"),
            )
        assert model.calls == []

    asyncio.run(scenario())


def test_add_memory_graphs_own_their_threads_from_the_first_write() -> None:
    def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [model.invoke(state["context_package"].to_messages())]}

    model = RecordingChatModel()
    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    graph = add_memory(builder, before="agent").compile(
        checkpointer=InMemorySaver(serde=memorygraph_serializer()), store=InMemoryStore()
    )
    cfg = {"configurable": {"thread_id": "t-dropin"}}
    owner = MemoryContext(tenant_id="acme", user_id="ana")
    result = graph.invoke(
        {"messages": [HumanMessage("My email is ana@example.org.")]}, cfg, context=owner
    )
    (candidate,) = result["__interrupt__"][0].value["candidates"]
    intruder = MemoryContext(tenant_id="evil", user_id="ana")
    with pytest.raises(IdentityError):
        graph.invoke({"messages": [HumanMessage("hi")]}, cfg, context=intruder)
    with pytest.raises(IdentityError):
        graph.invoke(Command(resume={"approve": [candidate["id"]]}), cfg, context=intruder)
    assert model.calls == []
    graph.invoke(Command(resume={"approve": [candidate["id"]]}), cfg, context=owner)
    assert len(model.calls) == 1
