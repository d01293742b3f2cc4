"""A graph that persists threads needs a store, or its threads would grow without limit."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.store.memory import InMemoryStore

from memorygraph import MemoryConfig, MemoryContext, add_memory, create_memory_graph
from memorygraph.errors import ConfigError

ANA = MemoryContext(tenant_id="acme", user_id="ana")
FOLDING = MemoryConfig(summarize_at_messages=4, keep_messages=2)


def test_create_memory_graph_refuses_a_checkpointer_without_a_store() -> None:
    with pytest.raises(ConfigError) as refused:
        create_memory_graph(checkpointer=InMemorySaver())
    assert "open_store" in str(refused.value) and "grow without limit" in str(refused.value)
    # Packing only (nothing persists), or a store too: both build.
    create_memory_graph()
    graph = create_memory_graph(checkpointer=InMemorySaver(), store=InMemoryStore(), config=FOLDING)
    cfg: Any = {"configurable": {"thread_id": "t"}}
    for i in range(10):
        graph.invoke({"messages": [HumanMessage(f"turn {i}")]}, cfg, context=ANA)
    assert len(graph.get_state(cfg).values["messages"]) <= 4  # bounded


def builder() -> StateGraph[Any, Any, Any, Any]:
    graph = StateGraph(MessagesState)
    graph.add_node("agent", lambda state: {"messages": [AIMessage("ok")]})
    graph.add_edge(START, "agent")
    return add_memory(graph, before="agent", config=FOLDING)


def test_add_memory_refuses_a_run_with_a_saver_and_no_store_before_writing() -> None:
    saver = InMemorySaver()
    graph = builder().compile(checkpointer=saver)
    cfg: Any = {"configurable": {"thread_id": "t"}}
    with pytest.raises(ConfigError, match="no store"):
        graph.invoke({"messages": [HumanMessage("hi")]}, cfg, context=ANA)
    assert list(saver.list(cfg)) == []
    bounded = builder().compile(checkpointer=saver, store=InMemoryStore())
    for i in range(10):
        bounded.invoke({"messages": [HumanMessage(f"turn {i}")]}, cfg, context=ANA)
    assert len(bounded.get_state(cfg).values["messages"]) <= 6  # of 20


async def test_add_memory_refuses_an_async_run_with_a_saver_and_no_store() -> None:
    graph = builder().compile(checkpointer=InMemorySaver())
    cfg: Any = {"configurable": {"thread_id": "t"}}
    with pytest.raises(ConfigError, match="no store"):
        await graph.ainvoke({"messages": [HumanMessage("hi")]}, cfg, context=ANA)
