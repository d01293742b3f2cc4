"""How recalled items are packed and rendered: shares, the second pass, chronology."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from memorygraph import ContextItem, MemoryConfig, Priority, TokenCounter
from memorygraph.context import Identity
from memorygraph.packing import adapt_shares, build_package, pack_items
from memorygraph.records import ItemKind, SessionSummary

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


def test_the_summary_goes_in_whenever_it_fits_beside_the_critical_items() -> None:
    # The summary's share (40 tokens) is far below its size: it still goes in
    # first, and the facts give way instead.
    config = MemoryConfig(token_budget=400, output_reserve=0, shares={"fact": 0.1, "summary": 0.1})
    parts = [item("fact", i, 40) for i in range(5)] + [item("summary", 0, 210)]
    included, excluded = pack_items(parts, config=config)
    assert [i.id for i in included if i.kind is ItemKind.SUMMARY] == ["summary-0"]
    assert [i.id for i in included if i.kind is ItemKind.FACT] == [f"fact-{i}" for i in range(4)]
    assert [e.item.id for e in excluded] == ["fact-4"]
    # One token more than the room left after the summary: the summary is out.
    too_big = [item("summary", 0, 401)]
    _, excluded = pack_items(too_big, config=config)
    assert [(e.item.id, e.reason) for e in excluded] == [("summary-0", "over_budget")]


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


def test_shares_stay_as_configured_without_an_archive() -> None:
    config = MemoryConfig()
    assert adapt_shares(config, archived=0, window=30) == config.shares
    pinned = MemoryConfig(recall_share_max=0.2)  # at the configured recall share: off
    assert adapt_shares(pinned, archived=600, window=30) == pinned.shares


def test_recall_grows_with_the_archive_and_the_others_pay_in_proportion() -> None:
    config = MemoryConfig()
    small = adapt_shares(config, archived=20, window=20)
    large = adapt_shares(config, archived=2000, window=20)
    base = config.shares
    assert base["recalled"] < small["recalled"] < large["recalled"] <= config.recall_share_max
    for kind in base:
        if kind != "recalled":
            assert large[kind] < small[kind] < base[kind]
            assert large[kind] / base[kind] == pytest.approx(large["fact"] / base["fact"])
    assert sum(large.values()) == pytest.approx(sum(base.values()))


def test_a_long_archive_gives_recall_the_budget_the_window_does_not_hold() -> None:
    weather = "the weather today is grey and wet again, " * 6
    history = [HumanMessage(f"message {i}: {weather}", id=f"h{i}") for i in range(20)]
    recalls = [
        item("recalled", i, 40, date="Mon 8 May 2023", session=i, seq=i, end=i) for i in range(40)
    ]
    config = MemoryConfig(token_budget=1500, output_reserve=0)

    def recalled_tokens(archived: int) -> int:
        state = {
            "messages": [*history, HumanMessage("what happened?", id="q")],
            "summary": SessionSummary(covered_turns=archived),
        }
        package = build_package(
            state, identity=WHO, config=config, counter=COUNTER, extra_items=recalls
        )
        return package.tokens_by_kind().get("recalled", 0)

    # Without an archive the window keeps its 30 %; with a long one, recall takes
    # most of that (the window's newest turns still go in, within their share).
    assert recalled_tokens(600) >= recalled_tokens(0) + 200


def turn(message_id: str, rank: int, tokens: int) -> ContextItem:
    return ContextItem(
        id=message_id,
        kind="recent_turn",
        content=message_id,
        priority=Priority.MEDIUM,
        tokens=tokens,
        source=f"turn:{message_id}",
        rank=rank,
    )


def window_recall(message_id: str, rank: int, tokens: int) -> ContextItem:
    return item("recalled", rank, tokens, turn_ids=[message_id]).model_copy(
        update={"id": f"recall-{message_id}"}
    )


def test_a_window_turn_the_recent_turns_show_is_not_recalled_too() -> None:
    config = MemoryConfig(
        token_budget=1000, output_reserve=0, shares={"recent_turn": 0.1, "recalled": 0.3}
    )
    recent = [turn(f"w{i}", 4 - i, 50) for i in range(5)]  # w4 is the newest
    recalls = [window_recall("w4", 0, 50), window_recall("w1", 1, 50)]
    included, excluded = pack_items([*recent, *recalls], config=config)
    ids = {i.id for i in included}
    assert {"w4", "w3", "recall-w1"} <= ids
    assert "recall-w4" not in ids
    assert ("recall-w4", "duplicate") in {(e.item.id, e.reason) for e in excluded}


def test_recent_turns_stop_where_a_recalled_window_turn_already_shows() -> None:
    config = MemoryConfig(
        token_budget=1000, output_reserve=0, shares={"recent_turn": 0.1, "recalled": 0.3}
    )
    recent = [turn(f"w{i}", 4 - i, 50) for i in range(5)]
    included, excluded = pack_items([*recent, window_recall("w1", 0, 50)], config=config)
    # First pass: w4, w3 (the share) and the recalled w1; second pass: w2, then
    # w1 is shown already and w0 would leave a gap.
    assert [i.id for i in included if i.kind is ItemKind.RECENT_TURN] == ["w2", "w3", "w4"]
    reasons = {e.item.id: e.reason for e in excluded}
    assert reasons == {"w1": "duplicate", "w0": "over_budget"}
