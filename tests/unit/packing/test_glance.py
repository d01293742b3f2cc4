"""`fits_at_a_glance`: the budget check without a package, never wrong when it says yes."""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from memorygraph import MemoryConfig
from memorygraph.context import Identity
from memorygraph.errors import ContextBudgetExceeded
from memorygraph.packing import build_package
from memorygraph.packing.package import fits_at_a_glance

WHO = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=("billing",))
WORDS = ["plan", "Kyoto", "über", "日本", "🙂", "tea", "3,500", "{json}", "\n", "a" * 40]


def text(runs: list[tuple[str, int]]) -> str:
    return " ".join(word for word, times in runs for _ in range(times))


@st.composite
def requests(draw: st.DrawFn) -> list[BaseMessage]:
    """A request, sometimes after a tool round of the same turn."""
    # runs of words, up to about 1,600 tokens a message: every side of every budget below
    say = st.lists(st.tuples(st.sampled_from(WORDS), st.integers(1, 200)), min_size=1, max_size=4)
    messages: list[BaseMessage] = []
    if draw(st.booleans()):
        call = {"name": "search", "args": {"q": text(draw(say))}, "id": "c1"}
        messages += [
            HumanMessage(text(draw(say)), id="h0"),
            AIMessage("", tool_calls=[call], id="a1"),
            ToolMessage(text(draw(say)), tool_call_id="c1", id="t1"),
        ]
    else:
        messages.append(HumanMessage(text(draw(say)), id="h1"))
    return messages


@settings(max_examples=200, deadline=None)
@given(requests(), st.sampled_from([300, 600, 1200, 4000]))
def test_a_request_that_fits_at_a_glance_is_packed_whole(
    messages: list[BaseMessage], budget: int
) -> None:
    config = MemoryConfig(token_budget=budget, output_reserve=budget // 8)
    if not fits_at_a_glance(messages, identity=WHO, config=config):
        return  # says nothing: the package decides
    event("fits at a glance")
    package = build_package({"messages": messages}, identity=WHO, config=config)
    assert {m.id for m in messages} <= set(package.included_ids)
    assert not package.truncated


def test_a_request_over_the_budget_is_not_waved_through() -> None:
    config = MemoryConfig(token_budget=600, output_reserve=100)
    big = [HumanMessage("word " * 700, id="h1")]
    assert not fits_at_a_glance(big, identity=WHO, config=config)
    with pytest.raises(ContextBudgetExceeded):
        build_package({"messages": big}, identity=WHO, config=config)
    small = [HumanMessage("Plan my week.", id="h2")]
    assert fits_at_a_glance(small, identity=WHO, config=config)


def test_a_message_that_cannot_be_counted_is_left_to_the_package() -> None:
    odd = HumanMessage([{"type": "video", "url": "x"}], id="h1")  # not in the chat format
    assert not fits_at_a_glance([odd], identity=WHO, config=MemoryConfig())
