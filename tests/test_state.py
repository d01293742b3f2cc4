"""The state reducers refuse bad input with a clear InvalidMessageError."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, RemoveMessage, ToolMessage

from memorygraph import Fact, InvalidMessageError
from memorygraph.records import TokenUsage
from memorygraph.state import MAX_MESSAGE_CHARS, add_turns, add_usage, merge_facts


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
