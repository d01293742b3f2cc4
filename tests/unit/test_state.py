"""The state reducers refuse bad input with a clear InvalidMessageError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, RemoveMessage, ToolMessage

from memorygraph import Fact
from memorygraph.errors import InvalidMessageError
from memorygraph.records import TokenUsage
from memorygraph.state import MAX_MESSAGE_CHARS, add_turns, add_usage, merge_facts, trim_facts


def test_accepts_messages_tuples_dicts_and_strings() -> None:
    merged = add_turns(
        [], [HumanMessage("a", id="1"), ("ai", "b"), {"role": "user", "content": "c"}, "d"]
    )
    assert [m.type for m in merged] == ["human", "ai", "human", "human"]
    assert all(m.id for m in merged)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([42], "is int, not a chat message"),
        ([object()], "not a chat message"),
        ([{"role": "wizard", "content": "x"}], "unknown role 'wizard'"),
        ([ChatMessage(role="wizard", content="x")], "unknown role 'wizard'"),
        ([("wizard", "x")], "role human, ai, system or tool"),
        ([HumanMessage("\ud800")], "not valid UTF-8"),
        ([HumanMessage("x" * (MAX_MESSAGE_CHARS + 1))], "more than the"),
        ([ToolMessage("42", tool_call_id="nope")], "no matching AI tool call"),
        ([RemoveMessage(id="missing")], "missing"),
    ],
)
def test_refuses_bad_input(bad: list[object], match: str) -> None:
    with pytest.raises(InvalidMessageError, match=match):
        add_turns([HumanMessage("keep", id="k")], bad)


def test_tool_result_with_its_call_is_accepted() -> None:
    call = AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "c1"}], id="a")
    merged = add_turns([call], [ToolMessage("ok", tool_call_id="c1", id="t")])
    assert [m.id for m in merged] == ["a", "t"]


def test_invalid_message_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        add_turns([], [42])


def test_merge_facts_replaces_by_id_in_place() -> None:
    a, b = Fact(id="a", key="k", value="1"), Fact(id="b", key="k", value="2")
    newer = a.model_copy(update={"status": "superseded"})
    assert merge_facts([a, b], [newer]) == [newer, b]
    assert merge_facts(None, None) == []


def test_usage_adds_up() -> None:
    total = add_usage(
        TokenUsage(input_tokens=3, calls=1), TokenUsage(input_tokens=4, output_tokens=1, calls=1)
    )
    assert total == TokenUsage(input_tokens=7, output_tokens=1, calls=2)
    assert add_usage(None, None) == TokenUsage()


def _history(count: int, *, start: int = 0) -> list[Fact]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Fact(
            id=f"old{i}",
            key="favourite_colour",
            value=f"colour {i}",
            status="superseded",
            observed_at=base + timedelta(days=i),
        )
        for i in range(start, start + count)
    ]


def test_trim_facts_keeps_every_active_fact_and_the_newest_history() -> None:
    active = [Fact(id=f"a{i}", key="likes", value=f"thing {i}") for i in range(5)]
    history = _history(10)
    facts = [*history[:5], *active, *history[5:]]
    kept = trim_facts(facts, history_limit=3)
    assert [f.id for f in kept] == ["a0", "a1", "a2", "a3", "a4", "old7", "old8", "old9"]
    assert trim_facts(facts, history_limit=10) == facts
    assert [f.status for f in trim_facts(facts, history_limit=0)] == ["active"] * 5


def test_trim_facts_counts_a_superseded_fact_from_when_it_was_replaced() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    early = Fact(id="early", key="lives_in", value="Paris", observed_at=base)
    middle = Fact(id="middle", key="likes", value="jazz", observed_at=base + timedelta(days=1))
    late = Fact(id="late", key="lives_in", value="Lyon", observed_at=base + timedelta(days=9))
    replaced_late = early.model_copy(update={"status": "superseded", "superseded_by": "late"})
    replaced_early = middle.model_copy(update={"status": "superseded"})
    kept = trim_facts([replaced_late, replaced_early, late], history_limit=1)
    assert [f.id for f in kept] == ["early", "late"]


def test_a_rejected_fact_that_still_guards_is_kept_past_the_limit() -> None:
    guarded = Fact(id="r1", key="assumption", value="it was intentional", status="rejected")
    marker = Fact(id="d1", key="do_not_assume", value="it was intentional")
    unguarded = Fact(id="r2", key="assumption", value="the user is a minor", status="rejected")
    kept = trim_facts([guarded, unguarded, marker, *_history(3)], history_limit=0)
    # r1 is covered by the active do_not_assume fact; r2 is the only thing refusing
    # "the user is a minor" when the model says it again, so it stays.
    assert [f.id for f in kept] == ["r2", "d1"]
