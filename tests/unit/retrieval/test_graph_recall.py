"""Recall in the memory graph: folded turns come back when a later request needs them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from memorygraph import MemoryConfig, MemoryContext, create_memory_graph
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.records import ItemKind

ANA = MemoryContext(tenant_id="acme", user_id="ana")
FOLD_OFTEN = {"summarize_at_messages": 6, "keep_messages": 2}
SMALL_TALK = [
    "The weather is grey again.",
    "I had soup for lunch.",
    "The train was late this morning.",
    "I watered the plants.",
    "My neighbour is painting the fence.",
    "I need new running shoes.",
]


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def say(graph: Any, cfg: dict[str, Any], text: str, when: str | None = None, who: Any = ANA) -> Any:
    kwargs = {"created_at": when} if when else {}
    graph.invoke(
        {"messages": [HumanMessage(text, name="Ana", additional_kwargs=kwargs)]}, cfg, context=who
    )
    return graph.get_state(cfg).values


def recalled(values: dict[str, Any]) -> list[Any]:
    return [i for i in values["context_package"].items if i.kind is ItemKind.RECALLED]


def context_text(values: dict[str, Any]) -> str:
    return "\n".join(str(m.content) for m in values["context_package"].to_messages())


def test_a_folded_turn_comes_back_with_its_date(backend_url: str, stack: ExitStack) -> None:
    graph = create_memory_graph(
        checkpointer=stack.enter_context(open_checkpointer(backend_url)),
        store=stack.enter_context(open_store(backend_url)),
        config=MemoryConfig(**FOLD_OFTEN),
    )
    cfg = thread()
    say(graph, cfg, "My sister Marta lives in Valparaiso.", "1:56 pm on 8 May, 2023")
    for text in SMALL_TALK:
        values = say(graph, cfg, text, "3:00 pm on 20 June, 2023")
    assert values["summary"].covered_turns == 5
    assert "Valparaiso" not in [m.content for m in values["messages"]]
    values = say(graph, cfg, "Where does Marta live?")
    (item, *_) = sorted(recalled(values), key=lambda i: i.rank)
    assert "Ana: My sister Marta lives in Valparaiso." in item.content
    text = context_text(values)
    assert "[recalled | user_claimed | Mon 8 May 2023, 13:56]" in text
    assert "> Ana: My sister Marta lives in Valparaiso." in text


def test_newly_folded_turns_are_found_after_more_folds() -> None:
    graph = create_memory_graph(
        checkpointer=InMemorySaver(), store=InMemoryStore(), config=MemoryConfig(**FOLD_OFTEN)
    )
    cfg = thread()
    for text in SMALL_TALK:
        say(graph, cfg, text)
    first = say(graph, cfg, "Did I mention the plants?")
    assert any("watered the plants" in i.content for i in recalled(first))
    say(graph, cfg, "I booked a flight to Reykjavik for March.")
    for text in SMALL_TALK:
        say(graph, cfg, text + " Again.")
    later = say(graph, cfg, "Where is my flight to?")
    assert later["summary"].covered_turns > first["summary"].covered_turns
    assert any("Reykjavik" in i.content for i in recalled(later))


def test_another_threads_users_or_tenants_archive_is_never_recalled() -> None:
    store = InMemoryStore()
    graph = create_memory_graph(
        checkpointer=InMemorySaver(), store=store, config=MemoryConfig(**FOLD_OFTEN)
    )
    # A code no id can hold by chance: a bare "7731" once matched inside a
    # random uuid the summary names ("up to ba07731c-...").
    code = "quokka-7731"
    secret = f"The vault code is {code}, keep it between us."
    owner = thread()
    say(graph, owner, secret)
    for text in SMALL_TALK:
        say(graph, owner, text)
    assert any(code in i.content for i in recalled(say(graph, owner, "What is the vault code?")))
    others = [
        (thread(), ANA),  # the same user, another thread
        (thread(), MemoryContext(tenant_id="acme", user_id="bo")),
        (thread(), MemoryContext(tenant_id="globex", user_id="ana")),
    ]
    for cfg, who in others:
        for text in SMALL_TALK:
            say(graph, cfg, text, who=who)
        values = say(graph, cfg, "What is the vault code?", who=who)
        assert values["summary"].covered_turns > 0  # they have archives of their own
        assert "quokka" not in context_text(values)
    # The owner's thread as another user: still nothing (the thread id alone is not a key).
    bo = MemoryContext(tenant_id="acme", user_id="bo")
    stranger = {"configurable": {"thread_id": owner["configurable"]["thread_id"] + "-x"}}
    assert "quokka" not in context_text(say(graph, stranger, "What is the vault code?", who=bo))


def test_a_new_process_recalls_from_the_same_database(tmp_path: Any, stack: ExitStack) -> None:
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    cfg = thread()
    with open_checkpointer(url) as saver, open_store(url) as store:
        first = create_memory_graph(
            checkpointer=saver, store=store, config=MemoryConfig(**FOLD_OFTEN)
        )
        say(first, cfg, "Our wifi password is heron-42.")
        for text in SMALL_TALK:
            say(first, cfg, text)
    # Another process: new savers, a new store object, so an empty in-process copy.
    saver = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    second = create_memory_graph(checkpointer=saver, store=store, config=MemoryConfig(**FOLD_OFTEN))
    values = say(second, cfg, "What is the wifi password?")
    assert any("heron-42" in i.content for i in recalled(values))


def test_a_short_thread_gives_recalls_share_to_the_recent_turns() -> None:
    config = MemoryConfig(token_budget=1200, output_reserve=200)
    graph = create_memory_graph(checkpointer=InMemorySaver(), store=InMemoryStore(), config=config)
    cfg = thread()
    for i in range(12):
        values = say(graph, cfg, f"Turn {i}: " + "some words about my day " * 4)
    package = values["context_package"]
    assert values.get("summary") is None or not values["summary"].covered_turns
    assert recalled(values) == []
    spent = package.tokens_by_kind()
    # Recent turns got more than their own share: the shares nobody used flowed to them.
    assert spent["recent_turn"] > config.share_budget("recent_turn")


def test_recall_off_recalls_nothing() -> None:
    graph = create_memory_graph(
        checkpointer=InMemorySaver(),
        store=InMemoryStore(),
        config=MemoryConfig(recall="off", **FOLD_OFTEN),
    )
    cfg = thread()
    say(graph, cfg, "Our wifi password is heron-42.")
    for text in SMALL_TALK:
        say(graph, cfg, text)
    assert recalled(say(graph, cfg, "What is the wifi password?")) == []


WINDOW_CONFIG = MemoryConfig(token_budget=1000, output_reserve=100)
FILLER = "Filler line {}: the weather is grey again and the train was late."
WIFI = ("Our wifi password is heron-42.", "2024-05-02T09:30:00")
MORE_CHAT = [f"More chat {i}: I watered the plants and need new running shoes." for i in range(12)]


def test_a_window_turn_the_recent_turns_cannot_show_is_recalled(
    backend_url: str, stack: ExitStack
) -> None:
    # After the first fold, the recent-turn share of a long thread's package is
    # small; the turns of the window it cannot show are ranked with the archive.
    graph = create_memory_graph(
        checkpointer=stack.enter_context(open_checkpointer(backend_url)),
        store=stack.enter_context(open_store(backend_url)),
        config=WINDOW_CONFIG,
    )
    cfg = thread()
    values = say(graph, cfg, FILLER.format(0))
    while not values.get("summary") or not values["summary"].covered_turns:
        values = say(graph, cfg, FILLER.format(len(values["messages"])))
    say(graph, cfg, *WIFI)
    for text in MORE_CHAT:
        say(graph, cfg, text)
    values = say(graph, cfg, "What is the wifi password?")
    assert_window_turn_recalled(values)


async def test_async_runs_recall_the_window_too() -> None:
    graph = create_memory_graph(
        checkpointer=InMemorySaver(), store=InMemoryStore(), config=WINDOW_CONFIG
    )
    cfg = thread()

    async def asay(text: str, when: str | None = None) -> dict[str, Any]:
        kwargs = {"created_at": when} if when else {}
        message = HumanMessage(text, name="Ana", additional_kwargs=kwargs)
        await graph.ainvoke({"messages": [message]}, cfg, context=ANA)
        return (await graph.aget_state(cfg)).values

    values = await asay(FILLER.format(0))
    while not values.get("summary") or not values["summary"].covered_turns:
        values = await asay(FILLER.format(len(values["messages"])))
    await asay(*WIFI)
    for text in MORE_CHAT:
        await asay(text)
    assert_window_turn_recalled(await asay("What is the wifi password?"))


def assert_window_turn_recalled(values: dict[str, Any]) -> None:
    package = values["context_package"]
    assert any("heron-42" in str(m.content) for m in values["messages"])  # still in the window
    recent = [i for i in package.items if i.kind is ItemKind.RECENT_TURN]
    assert recent and not any("heron-42" in i.content for i in recent)
    (hit,) = [i for i in recalled(values) if "heron-42" in i.content]
    assert hit.metadata["date"] == "Thu 2 May 2024, 09:30"
    assert "[recalled | user_claimed | Thu 2 May 2024, 09:30]" in context_text(values)
    # Shown once: recall never repeats a turn the recent turns show.
    assert context_text(values).count("More chat 11") == 1
