"""How recalled items are packed and rendered: shares, the second pass, chronology."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from memorygraph import ContextItem, MemoryConfig, Priority, TokenCounter
from memorygraph.context import Identity
from memorygraph.nodes.pack_context import build_package, pack_items
from memorygraph.records import ItemKind

WHO = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=())
COUNTER = TokenCounter()


def item(kind: str, rank: int, tokens: int, **metadata: object) -> ContextItem:
    return ContextItem(
        id=f"{kind}-{rank}",
        kind=kind,
        content=f"{kind} {rank}",
        priority=Priority.HIGH,
        tokens=tokens,
        source="test",
        rank=rank,
        metadata=metadata,
    )


def test_the_second_pass_serves_the_larger_share_first() -> None:
    config = MemoryConfig(
        token_budget=1000, output_reserve=0, shares={"fact": 0.1, "recalled": 0.3}
    )
    facts = [item("fact", i, 50) for i in range(10)]
    recalls = [item("recalled", i, 50) for i in range(10)]
    included, _ = pack_items([*facts, *recalls], config=config)
    kinds = [i.kind for i in included]
    # First pass: 100 tokens of facts, 300 of recall; the rest goes to recall first.
    assert kinds.count(ItemKind.RECALLED) == 10
    assert kinds.count(ItemKind.FACT) == 10 - (1000 - 500 - 500) // 50


def test_with_equal_shares_the_second_pass_is_unchanged() -> None:
    config = MemoryConfig(token_budget=400, output_reserve=0, shares={"fact": 0.1, "summary": 0.1})
    parts = [item("fact", i, 40) for i in range(5)] + [item("summary", 0, 210)]
    included, excluded = pack_items(parts, config=config)
    assert [i.id for i in included if i.kind is ItemKind.FACT] == [f"fact-{i}" for i in range(5)]
    assert [e.item.id for e in excluded] == ["summary-0"]


def test_recalled_items_render_in_the_order_they_were_said_under_one_header() -> None:
    date = "Mon 8 May 2023, 13:56"
    late = item("recalled", 0, 30, date=date, session=0, seq=9, end=9)
    early = item("recalled", 1, 30, date=date, session=0, seq=2, end=3)
    other = item("recalled", 2, 30, date="Tue 9 May 2023", session=1, seq=20, end=20)
    package = build_package(
        {"messages": [HumanMessage("what happened?", id="q")]},
        identity=WHO,
        config=MemoryConfig(),
        counter=COUNTER,
        extra_items=[late, other, early],
    )
    assert [i.id for i in package.items if i.kind is ItemKind.RECALLED] == [
        "recalled-1",
        "recalled-0",
        "recalled-2",
    ]
    context = str(package.to_messages()[1].content)
    assert context.count("[recalled |") == 2
    assert f"[recalled | {date}]\n> recalled 1\n> ...\n> recalled 0" in context
    assert "[recalled | Tue 9 May 2023]\n> recalled 2" in context
