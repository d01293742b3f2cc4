"""A tool-calling agent gets one tool round per turn: its own tool results are never packed away.

The model here behaves like a real one: it calls its tools (two at once) when it
is asked about the weather and does not see the results, and answers when the
last thing it was sent is a tool result. A packer that drops the turn in
progress for budget makes it call the same tools again, turn after turn.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from memorygraph import (
    ContextPackage,
    MemoryConfig,
    MemoryContext,
    TokenCounter,
    add_memory,
    create_memory_graph,
)
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.errors import ToolRoundsExceeded
from memorygraph.packing.truncation import TRUNCATION_MARKER
from tests.fakes import RecordingChatModel

ANA = MemoryContext(tenant_id="acme", user_id="ana")
COUNTER = TokenCounter()
TURNS = 40


def report(city: str, tokens: int) -> str:
    """A weather report of about ``tokens`` tokens."""
    lines = [f"Weather report for {city}."]
    hour = 0
    while COUNTER.count_text(" ".join(lines)) < tokens:
        lines.append(f"At {hour % 24:02d}:00 it is {12 + hour % 9} degrees, wind {hour % 7} km/h.")
        hour += 1
    return " ".join(lines)


def weather_tool(tokens: int) -> Any:
    @tool
    def weather(city: str) -> str:
        """Today's weather in a city, hour by hour."""
        return report(city, tokens)

    return weather


def looping_model() -> RecordingChatModel:
    """Calls two tools at once for a weather question, until it sees a tool result."""
    count = iter(range(100_000))

    def respond(messages: Sequence[BaseMessage]) -> AIMessage:
        n = next(count)
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return AIMessage(f"Here is the weather (answer {n}).", id=f"answer-{n}")
        if isinstance(last, HumanMessage) and "weather" in str(last.content):
            return AIMessage(
                "",
                id=f"calls-{n}",
                tool_calls=[
                    {"name": "weather", "args": {"city": "Lisbon"}, "id": f"call-{n}-a"},
                    {"name": "weather", "args": {"city": "Porto"}, "id": f"call-{n}-b"},
                ],
            )
        return AIMessage(f"Noted (answer {n}).", id=f"answer-{n}")

    return RecordingChatModel(respond=respond)


def agent_builder(model: RecordingChatModel, tokens: int) -> StateGraph[Any]:
    def agent(state: MessagesState) -> dict[str, Any]:
        package: ContextPackage = state["context_package"]  # type: ignore[typeddict-item]
        return {"messages": [model.invoke(package.to_messages())]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([weather_tool(tokens)]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def rounds_of_last_turn(messages: Sequence[BaseMessage]) -> int:
    last_human = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    return sum(1 for m in messages[last_human + 1 :] if isinstance(m, AIMessage) and m.tool_calls)


def request(turn: int) -> str:
    if turn % 2:
        return f"What's the weather in Lisbon and Porto today? (turn {turn})"
    return f"I am planning day {turn} of the trip, with a museum visit in the morning."


@pytest.mark.slow
@pytest.mark.parametrize("budget", [1500, 4000])
@pytest.mark.parametrize("result_tokens", [25, 215, 415])
def test_every_tool_turn_gets_exactly_one_tool_round(
    stack: ExitStack, sqlite_url: str, budget: int, result_tokens: int
) -> None:
    model = looping_model()
    builder = agent_builder(model, result_tokens)
    graph = add_memory(builder, before="agent", config=MemoryConfig(token_budget=budget)).compile(
        checkpointer=stack.enter_context(open_checkpointer(sqlite_url)),
        store=stack.enter_context(open_store(sqlite_url)),
    )
    cfg: dict[str, Any] = {
        "configurable": {"thread_id": f"t-{uuid.uuid4()}"},
        "recursion_limit": 40,
    }
    truncated = 0
    for turn in range(TURNS):
        calls_before = len(model.calls)
        out = graph.invoke({"messages": [HumanMessage(request(turn))]}, cfg, context=ANA)
        asks_for_tools = turn % 2 == 1
        assert rounds_of_last_turn(out["messages"]) == (1 if asks_for_tools else 0), turn
        assert len(model.calls) - calls_before == (2 if asks_for_tools else 1), turn
        if asks_for_tools:
            # The answering call saw the request and both of its tool results, last.
            sent = model.calls[-1]
            results = [m for m in sent if isinstance(m, ToolMessage)]
            assert {m.tool_call_id for m in results[-2:]} == {
                call["id"] for call in out["messages"][-4].tool_calls
            }
            package: ContextPackage = graph.get_state(cfg).values["context_package"]
            assert package.total_tokens <= MemoryConfig(token_budget=budget).available_tokens
            for item_id, sizes in package.truncated.items():
                truncated += 1
                assert sizes["tokens_after"] < sizes["tokens_before"], item_id
                shown = next(str(m.content) for m in results if m.id == item_id)
                assert TRUNCATION_MARKER.format(cut=sizes["tokens_cut"]) in shown
    # Two 415-token results cannot fit beside the rest of a 1,000-token package whole.
    assert (truncated > 0) == (budget == 1500 and result_tokens == 415)


def test_a_model_that_keeps_calling_tools_stops_at_max_tool_rounds(
    stack: ExitStack, sqlite_url: str
) -> None:
    def always_calls(messages: Sequence[BaseMessage]) -> AIMessage:
        n = len(stubborn.calls)
        return AIMessage(
            "",
            id=f"calls-{n}",
            tool_calls=[{"name": "weather", "args": {"city": "Lisbon"}, "id": f"call-{n}"}],
        )

    stubborn = RecordingChatModel(respond=always_calls)
    builder = agent_builder(stubborn, 25)
    graph = add_memory(builder, before="agent", config=MemoryConfig(max_tool_rounds=3)).compile(
        checkpointer=stack.enter_context(open_checkpointer(sqlite_url)),
        store=stack.enter_context(open_store(sqlite_url)),
    )
    cfg = {"configurable": {"thread_id": "t-loop"}}
    with pytest.raises(ToolRoundsExceeded, match="max_tool_rounds=3") as raised:
        graph.invoke({"messages": [HumanMessage("weather?")]}, cfg, context=ANA)
    assert (raised.value.rounds, raised.value.limit) == (4, 3)
    assert len(stubborn.calls) == 4  # three rounds answered, the fourth is not sent back
    # The thread stays readable, and the next user message starts a new turn.
    messages = graph.get_state(cfg).values["messages"]
    assert rounds_of_last_turn(messages) == 4
    stubborn.respond = lambda messages: AIMessage("Fine.", id="fine")
    out = graph.invoke({"messages": [HumanMessage("never mind")]}, cfg, context=ANA)
    assert out["messages"][-1].content == "Fine."


def test_the_ready_made_graph_stops_a_tool_loop_too() -> None:
    # The ready-made graph has no tools node, but a state that arrives with a
    # runaway turn (a drop-in state, a fork) is refused the same way.
    graph = create_memory_graph(None, config=MemoryConfig(max_tool_rounds=1))
    calls = [
        AIMessage("", id=f"c{i}", tool_calls=[{"name": "f", "args": {}, "id": f"x{i}"}])
        for i in range(2)
    ]
    turn: list[BaseMessage] = [HumanMessage("go", id="h")]
    for index, call in enumerate(calls):
        turn += [call, ToolMessage("ok", tool_call_id=f"x{index}", id=f"r{index}")]
    with pytest.raises(ToolRoundsExceeded, match="max_tool_rounds=1"):
        graph.invoke({"messages": turn}, {"configurable": {"thread_id": "t-ready"}}, context=ANA)
