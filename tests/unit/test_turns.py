"""The message window: split once per turn, one definition of the current request."""

from __future__ import annotations

from unittest import mock

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

import memorygraph.turns as turns
from memorygraph import MemoryConfig, MemoryContext, create_memory_graph
from memorygraph.nodes.extraction import new_turns
from memorygraph.nodes.summarization import plan_fold
from memorygraph.packing import package
from memorygraph.tokens import TokenCounter
from memorygraph.turns import message_window

ANA = MemoryContext(tenant_id="acme", user_id="ana")


def test_every_node_of_a_turn_shares_one_split_of_the_window() -> None:
    """Extraction, folding and packing read one split; the preflight counts the input alone."""
    package._INSTRUCTIONS.clear()
    graph = create_memory_graph(checkpointer=InMemorySaver(), store=InMemoryStore())
    cfg = {"configurable": {"thread_id": "t1"}}
    splits: list[int] = []
    real = turns.split_turn

    def counting(messages: list[BaseMessage]) -> object:
        splits.append(len(messages))
        return real(messages)

    with mock.patch.object(turns, "split_turn", counting):
        for turn in range(4):
            splits.clear()
            graph.invoke({"messages": [HumanMessage(f"Note {turn}.")]}, cfg, context=ANA)
            # [the caller's instructions alone, counted once (the preflight's
            # `fits_at_a_glance`), then the thread's window once]
            assert splits == ([0] if turn == 0 else []) + [turn + 1]


def test_a_list_changed_in_place_is_split_again() -> None:
    messages: list[BaseMessage] = [HumanMessage("a", id="h1")]
    assert message_window(messages).request is messages[0]
    messages.append(HumanMessage("b", id="h2"))
    assert message_window(messages).request is messages[1]
    messages[-1] = AIMessage("c", id="a1")
    assert message_window(messages).request is messages[0]


@pytest.mark.parametrize("has_request", [True, False], ids=["request", "no-human-message"])
def test_the_current_request_is_the_same_for_every_reader(has_request: bool) -> None:
    call = AIMessage("", id="a2", tool_calls=[{"name": "f", "args": {}, "id": "c1"}])
    window: list[BaseMessage] = [AIMessage("hello", id="a1")]
    window += [HumanMessage("q", id="h1")] if has_request else []
    window += [call, ToolMessage("r", tool_call_id="c1", id="t1")]
    split = message_window(window)
    assert (split.request.id if split.request else None) == ("h1" if has_request else None)
    assert split.request_index == (1 if has_request else len(window))
    # extraction, when its watermark is gone, reads from the request on (nothing without one)
    assert [m.id for m in new_turns(window, "gone")] == (["h1", "a2", "t1"] if has_request else [])


def test_a_window_without_a_human_message_still_folds() -> None:
    """With no request, no turn is held back as the request's: the keep targets decide."""
    window: list[BaseMessage] = [AIMessage(f"update {i}", id=f"a{i}") for i in range(30)]
    config = MemoryConfig(summarize_at_messages=10, keep_messages=4)
    plan = plan_fold(window, config=config, counter=TokenCounter())
    assert [m.id for m in plan.fold] == [f"a{i}" for i in range(26)]
    with_request = [*window[:-1], HumanMessage("q", id="h")]
    plan = plan_fold(with_request, config=config, counter=TokenCounter())
    assert [m.id for m in plan.fold] == [f"a{i}" for i in range(26)]
