"""A run from a named checkpoint (a fork) keeps the thread's history; other runs prune it."""

from __future__ import annotations

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from memorygraph import MemoryConfig, MemoryContext, create_memory_graph

ANA = MemoryContext(tenant_id="acme", user_id="ana")


def test_forks_of_the_final_checkpoint_do_not_delete_it() -> None:
    graph = create_memory_graph(
        checkpointer=InMemorySaver(), store=InMemoryStore(), config=MemoryConfig()
    )
    cfg = {"configurable": {"thread_id": "t1"}}
    graph.invoke({"messages": [HumanMessage("I live in Porto.")]}, cfg, context=ANA)
    final = graph.get_state(cfg).config
    assert len(list(graph.get_state_history(cfg))) == 1  # pruned to the latest
    answers = []
    for question in ("Where do I live?", "Where do I work?"):
        graph.invoke({"messages": [HumanMessage(question)]}, final, context=ANA)
        forked = graph.get_state(final)
        assert forked.values["messages"][-1].content == "I live in Porto."  # still there
        answers.append(graph.get_state(cfg).values["context_package"].to_messages()[-1].content)
    assert answers == ["Where do I live?", "Where do I work?"]
    # A plain run (no checkpoint_id) prunes again.
    graph.invoke({"messages": [HumanMessage("Thanks.")]}, cfg, context=ANA)
    assert len(list(graph.get_state_history(cfg))) == 1


async def test_async_forks_do_not_prune_either() -> None:
    graph = create_memory_graph(
        checkpointer=InMemorySaver(), store=InMemoryStore(), config=MemoryConfig()
    )
    cfg = {"configurable": {"thread_id": "t1"}}
    await graph.ainvoke({"messages": [HumanMessage("I live in Porto.")]}, cfg, context=ANA)
    final = (await graph.aget_state(cfg)).config
    await graph.ainvoke({"messages": [HumanMessage("Where?")]}, final, context=ANA)
    await graph.ainvoke({"messages": [HumanMessage("Why?")]}, final, context=ANA)
    assert (await graph.aget_state(final)).values["messages"][-1].content == "I live in Porto."
