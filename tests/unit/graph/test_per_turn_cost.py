"""What keeps a turn cheap, and what it must not change.

A turn reads its thread once (the preflight's read answers LangGraph's), the
nodes share one token counter, a package's enums are saved as plain values but
load back as members with the same id, and a memory step runs as one callback
run per node.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.store.memory import InMemoryStore

from memorygraph import MemoryConfig, MemoryContext, create_memory_graph
from memorygraph.checkpointers import memorygraph_serializer, open_checkpointer
from memorygraph.records import ContextPackage, ItemKind, Priority
from memorygraph.store.namespaces import facts_namespace
from memorygraph.tokens import TokenCounter, shared_counter
from tests.fakes import RecordingChatModel, SearchCountingStore

WHO = MemoryContext(tenant_id="acme", user_id="ana")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every read of SQLiteSaver.get_tuple that reaches the database, by config."""
    seen: list[dict[str, Any]] = []
    original = SqliteSaver.get_tuple

    def get_tuple(self: SqliteSaver, config: Any) -> Any:
        seen.append(dict(config.get("configurable") or {}))
        return original(self, config)

    monkeypatch.setattr(SqliteSaver, "get_tuple", get_tuple)
    yield seen


def test_a_turn_reads_its_thread_once(tmp_path: Path, reads: list[dict[str, Any]]) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path / 'c.db'}") as saver:
        graph = create_memory_graph(RecordingChatModel(), checkpointer=saver, store=InMemoryStore())
        cfg = {"configurable": {"thread_id": "t1"}}
        for turn in range(3):
            graph.invoke({"messages": [HumanMessage(f"turn {turn}")]}, cfg, context=WHO)
        assert len(reads) == 3
        # Reads outside a run still go to the database.
        values = graph.get_state(cfg).values
        assert len(reads) == 4
        assert [m.content for m in values["messages"]][-2:] == ["turn 2", "reply 3"]


def test_the_nodes_share_one_counter() -> None:
    assert shared_counter("o200k_base") is shared_counter("o200k_base")
    assert shared_counter("cl100k_base") is not shared_counter("o200k_base")
    assert isinstance(shared_counter(model="gpt-4o"), TokenCounter)


def test_a_message_is_tokenized_once_across_turns() -> None:
    graph = create_memory_graph(
        RecordingChatModel(), checkpointer=InMemorySaver(), store=InMemoryStore()
    )
    counter = shared_counter("o200k_base")
    cfg = {"configurable": {"thread_id": "t-count"}}
    for turn in range(2):
        graph.invoke({"messages": [HumanMessage(f"turn {turn}", id=f"h{turn}")]}, cfg, context=WHO)
    # Loaded again from the checkpoint: new objects, the same messages. All but the
    # last reply (which came after this turn's packing) were counted by the nodes.
    seen = graph.get_state(cfg).values["messages"][:-1]
    misses = counter.cache_info().misses
    counter.count_messages(seen)
    assert counter.cache_info().misses == misses


def test_item_enums_are_saved_as_values_and_load_as_members() -> None:
    graph = create_memory_graph(RecordingChatModel(), store=InMemoryStore())
    cfg = {"configurable": {"thread_id": "t-enum"}}
    out = graph.invoke({"messages": [HumanMessage("Hi, I'm Ana.")]}, cfg, context=WHO)
    package: ContextPackage = out["context_package"]
    dumped = package.items[0].model_dump()
    assert type(dumped["kind"]) is str and type(dumped["priority"]) is int
    assert dumped["kind"] == package.items[0].kind
    serde = memorygraph_serializer()
    loaded = serde.loads_typed(serde.dumps_typed(package))
    assert loaded == package and loaded.id == package.id
    assert all(isinstance(item.kind, ItemKind) for item in loaded.items)
    assert all(isinstance(item.priority, Priority) for item in loaded.items)
    assert loaded.items[0].priority.name == package.items[0].priority.name


class _Runs(BaseCallbackHandler):
    def __init__(self) -> None:
        self.names: list[str] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.names.append(str(kwargs.get("name")))


def test_each_node_is_one_run() -> None:
    # summarize folds from the third turn on (summarize_at_messages=4)
    config = MemoryConfig(summarize_at_messages=4, keep_messages=2)
    graph = create_memory_graph(
        RecordingChatModel(), checkpointer=InMemorySaver(), store=InMemoryStore(), config=config
    )
    seen = []
    for turn in range(3):
        runs = _Runs()
        cfg = {"configurable": {"thread_id": "t-runs"}, "callbacks": [runs]}
        graph.invoke({"messages": [HumanMessage(f"hello {turn}")]}, cfg, context=WHO)
        for node in ("extract_facts", "pack_context", "call_model"):
            assert runs.names.count(node) == 1, (node, runs.names)
        seen.append(runs.names.count("summarize"))
    assert seen == [0, 0, 1]


def test_a_turn_with_nothing_to_summarize_skips_the_node_and_its_checkpoint() -> None:
    saver = InMemorySaver()
    puts: list[int] = []
    put = saver.put

    def counted(*args: Any, **kwargs: Any) -> Any:
        puts.append(1)
        return put(*args, **kwargs)

    saver.put = counted  # type: ignore[method-assign]
    graph = create_memory_graph(RecordingChatModel(), checkpointer=saver, store=InMemoryStore())
    cfg = {"configurable": {"thread_id": "t-puts"}}
    graph.invoke({"messages": [HumanMessage("hello")]}, cfg, context=WHO)
    # the input, the start, then extract_facts, pack_context and call_model
    assert len(puts) == 5
    assert graph.get_state(cfg).values["context_package"].to_messages()[-1].content == "hello"


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_run_reads_the_users_facts_once_unless_it_writes_them(asynchronous: bool) -> None:
    store = SearchCountingStore()
    graph = create_memory_graph(RecordingChatModel(), checkpointer=InMemorySaver(), store=store)
    cfg = {"configurable": {"thread_id": f"t-facts-{asynchronous}"}}
    facts = facts_namespace("acme", "ana")

    async def turn(text: str) -> int:
        before = store.searches.count(facts)
        update = {"messages": [HumanMessage(text)]}
        if asynchronous:
            await graph.ainvoke(update, cfg, context=WHO)
        else:
            graph.invoke(update, cfg, context=WHO)
        return store.searches.count(facts) - before

    assert await turn("Hello there.") == 1  # extract_facts reads; pack_context ranks the same
    # extract_facts writes a fact: pack_context reads again, and packs it.
    assert await turn("I live in Lisbon.") == 2
    assert store.search(facts)[0].value["value"] == "Lisbon"
    assert await turn("What is new?") == 1
