"""MemoryMiddleware in a LangChain create_agent agent, on real SQLite files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any, get_type_hints

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.types import Command

from memorygraph import ContextPackage, MemoryConfig, MemoryContext, MemoryMiddleware, MemoryState
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.errors import ConfigError, IdentityError
from memorygraph.graph import MemoryAgentState
from memorygraph.store.audit import read_audit
from tests.fakes import RecordingChatModel
from tests.unit.graph.test_dropin import assert_tool_calls_intact

ANA = MemoryContext(tenant_id="acme", user_id="ana")
BOB = MemoryContext(tenant_id="globex", user_id="ana")  # same user id, another tenant
SYSTEM = "You are a travel agent."


@tool
def weather(city: str) -> str:
    """Today's weather in a city."""
    return f"Sunny and 24 degrees in {city}."


def agent_model() -> RecordingChatModel:
    """Parallel weather calls for a weather question, then an answer from the tool results."""
    count = iter(range(10_000))

    def respond(messages: Sequence[BaseMessage]) -> AIMessage:
        n = next(count)
        usage = {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
        if isinstance(messages[-1], ToolMessage):
            return AIMessage(f"Both sunny (answer {n}).", id=f"answer-{n}", usage_metadata=usage)
        request = [m for m in messages if m.type == "human"][-1].text
        if "weather" not in request.lower():
            return AIMessage(f"Noted (answer {n}).", id=f"answer-{n}", usage_metadata=usage)
        return AIMessage(
            "",
            id=f"calls-{n}",
            usage_metadata=usage,
            tool_calls=[
                {"name": "weather", "args": {"city": "Lisbon"}, "id": f"call-{n}-a"},
                {"name": "weather", "args": {"city": "Porto"}, "id": f"call-{n}-b"},
            ],
        )

    return RecordingChatModel(respond=respond)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def make_agent(
    stack: ExitStack, url: str, model: RecordingChatModel, config: MemoryConfig | None = None
) -> Any:
    return create_agent(
        model,
        [weather],
        system_prompt=SYSTEM,
        middleware=[MemoryMiddleware(config=config or MemoryConfig())],
        checkpointer=stack.enter_context(open_checkpointer(url)),
        store=stack.enter_context(open_store(url)),
        context_schema=MemoryContext,
    )


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def test_state_schema_has_memorygraphs_keys_and_reducers() -> None:
    ours = get_type_hints(MemoryAgentState, include_extras=True)
    theirs = get_type_hints(MemoryState, include_extras=True)
    for key in set(theirs) - {"messages"}:
        assert ours[key] == theirs[key], key


def test_thirty_turns_of_a_tool_calling_agent(stack: ExitStack, sqlite_url: str) -> None:
    model = agent_model()
    config = MemoryConfig(summarize_at_messages=12, keep_messages=6)
    agent = make_agent(stack, sqlite_url, model, config)
    first = thread()
    agent.invoke({"messages": [HumanMessage("I'm a vegetarian.")]}, first, context=ANA)
    lengths = []
    tool_turns = 0
    for turn in range(1, 30):
        asks_weather = turn % 2 == 1
        tool_turns += asks_weather
        text = f"What's the weather in Lisbon and Porto, day {turn}?" if asks_weather else "ok"
        before = len(model.calls)
        out = agent.invoke({"messages": [HumanMessage(text)]}, first, context=ANA)
        # One tool round per tool turn: calls, then the answer from the results.
        assert len(model.calls) - before == (2 if asks_weather else 1)
        assert out["messages"][-1].content.startswith("Both sunny" if asks_weather else "Noted")
        lengths.append(len(out["messages"]))

    # The model was sent the package (the agent's prompt as its policy), never the history.
    for sent in model.calls:
        assert_tool_calls_intact(sent)
        assert sent[0].type == "system" and SYSTEM in sent[0].text
    values = agent.get_state(first).values
    assert model.calls[-1] == values["context_package"].to_messages()
    assert values["summary"] is not None and values["summary"].covered_turns == 98
    assert max(lengths) <= 12 + 4 and lengths[-1] < 30
    assert_tool_calls_intact(values["messages"])
    # The events that asked for a summary refresh were consumed by it.
    assert values["summary"].version > 1 and not values.get("memory_events")
    assert values["usage"].calls == len(model.calls) == 30 + tool_turns

    # Audited before each call, in the store, with the agent's identity.
    audit = read_audit(agent.store, "acme", "ana", thread_id=first["configurable"]["thread_id"])
    assert len(audit) == len(model.calls)

    # A new thread of the same user knows the fact; another tenant's thread does not.
    ask = {"messages": [HumanMessage("Dinner ideas for a vegetarian diet like mine?")]}
    agent.invoke(ask, thread(), context=ANA)
    assert any("user diet: vegetarian" in m.text for m in model.calls[-1])
    agent.invoke(ask, thread(), context=BOB)
    assert all("user diet" not in m.text for m in model.calls[-1])


def test_approval_interrupts_and_resumes(stack: ExitStack, sqlite_url: str) -> None:
    model = agent_model()
    agent = make_agent(stack, sqlite_url, model)
    cfg = thread()
    agent.invoke(
        {"messages": [HumanMessage("Please remember: I'm allergic to penicillin.")]},
        cfg,
        context=ANA,
    )
    paused = agent.get_state(cfg)
    assert paused.next == ("memorygraph.before_model",) and not model.calls
    (interrupt,) = [i for task in paused.tasks for i in task.interrupts]
    assert interrupt.value["type"] == "memorygraph.approval"
    ids = [candidate["id"] for candidate in interrupt.value["candidates"]]
    out = agent.invoke(Command(resume={"approve": ids}), cfg, context=ANA)
    assert out["messages"][-1].content.startswith("Noted")
    assert out["pending"] == [] and len(model.calls) == 1
    facts = agent.store.search(("memorygraph", "acme", "ana", "facts"))
    assert any("penicillin" in str(item.value) for item in facts)
    # The next thread of the same user is told.
    ask = {"messages": [HumanMessage("Which antibiotics suit my allergy?")]}
    agent.invoke(ask, thread(), context=ANA)
    assert any("penicillin" in m.text for m in model.calls[-1])


def test_a_rejection_keeps_the_fact_out_of_durable_memory(stack: ExitStack) -> None:
    model = agent_model()
    agent = make_agent(stack, "memory", model)
    cfg = thread()
    agent.invoke(
        {"messages": [HumanMessage("Please remember: I'm allergic to penicillin.")]},
        cfg,
        context=ANA,
    )
    (interrupt,) = [i for task in agent.get_state(cfg).tasks for i in task.interrupts]
    ids = [candidate["id"] for candidate in interrupt.value["candidates"]]
    agent.invoke(Command(resume={"reject": ids}), cfg, context=ANA)
    facts = agent.store.search(("memorygraph", "acme", "ana", "facts"))
    assert not any("penicillin" in str(item.value) for item in facts)


async def test_async_agent(stack: ExitStack) -> None:
    model = agent_model()
    agent = make_agent(stack, "memory", model)
    cfg = thread()
    out = await agent.ainvoke(
        {"messages": [HumanMessage("What's the weather in Lisbon and Porto?")]}, cfg, context=ANA
    )
    assert out["messages"][-1].content.startswith("Both sunny")
    assert len(model.calls) == 2
    assert isinstance(out["context_package"], ContextPackage)
    assert model.calls[-1] == out["context_package"].to_messages()
    await agent.ainvoke(
        {"messages": [HumanMessage("Please remember: I'm allergic to penicillin.")]},
        cfg,
        context=ANA,
    )
    state = await agent.aget_state(cfg)
    (interrupt,) = [i for task in state.tasks for i in task.interrupts]
    ids = [candidate["id"] for candidate in interrupt.value["candidates"]]
    out = await agent.ainvoke(Command(resume={"approve": ids}), cfg, context=ANA)
    assert out["messages"][-1].content.startswith("Noted")


def test_missing_identity_is_refused(stack: ExitStack) -> None:
    model = agent_model()
    agent = make_agent(stack, "memory", model)
    with pytest.raises(IdentityError, match="tenant_id is missing"):
        agent.invoke({"messages": [HumanMessage("hi")]}, thread())
    assert not model.calls
    # Identity from configurable works as well.
    cfg = {"configurable": {**thread()["configurable"], "tenant_id": "acme", "user_id": "ana"}}
    out = agent.invoke({"messages": [HumanMessage("hi")]}, cfg)
    assert out["context_package"].tenant_id == "acme"


def test_a_thread_of_another_tenant_is_refused(stack: ExitStack) -> None:
    model = agent_model()
    agent = make_agent(stack, "memory", model)
    cfg = thread()
    agent.invoke({"messages": [HumanMessage("hi")]}, cfg, context=ANA)
    with pytest.raises(IdentityError, match="belongs to another tenant or user"):
        agent.invoke({"messages": [HumanMessage("hi")]}, cfg, context=BOB)
    assert len(model.calls) == 1


def test_memory_events_are_consumed_by_the_summary_step(stack: ExitStack) -> None:
    model = agent_model()
    agent = make_agent(stack, "memory", model)
    cfg = thread()
    seen: list[str] = []
    for text in ("I'm a vegetarian.", "I'm not vegetarian any more."):
        for chunk in agent.stream(
            {"messages": [HumanMessage(text)]}, cfg, context=ANA, stream_mode="updates"
        ):
            seen += (chunk.get("memorygraph.before_agent") or {}).get("memory_events", [])
    assert "correction" in seen  # raised by the extraction step...
    assert not agent.get_state(cfg).values.get("memory_events")  # ...and consumed


def test_composes_with_human_in_the_loop(stack: ExitStack) -> None:
    """Memory asks before the model, HumanInTheLoopMiddleware after it; each resume is its own."""
    from langchain.agents.middleware import HumanInTheLoopMiddleware

    model = agent_model()
    agent = create_agent(
        model,
        [weather],
        middleware=[MemoryMiddleware(), HumanInTheLoopMiddleware(interrupt_on={"weather": True})],
        checkpointer=stack.enter_context(open_checkpointer("memory")),
        store=stack.enter_context(open_store("memory")),
        context_schema=MemoryContext,
    )
    cfg = thread()
    text = "Please remember: I'm allergic to penicillin. What's the weather in Lisbon and Porto?"
    agent.invoke({"messages": [HumanMessage(text)]}, cfg, context=ANA)

    def waiting() -> dict[str, Any]:
        (interrupt,) = [i for task in agent.get_state(cfg).tasks for i in task.interrupts]
        value: dict[str, Any] = interrupt.value
        return value

    memory = waiting()
    assert memory["type"] == "memorygraph.approval" and not model.calls
    ids = [candidate["id"] for candidate in memory["candidates"]]
    agent.invoke(Command(resume={"approve": ids}), cfg, context=ANA)
    review = waiting()
    assert [r["name"] for r in review["action_requests"]] == ["weather", "weather"]
    out = agent.invoke(
        Command(resume={"decisions": [{"type": "approve"}, {"type": "approve"}]}), cfg, context=ANA
    )
    assert out["messages"][-1].content.startswith("Both sunny")
    assert len(model.calls) == 2 and model.calls[-1] == out["context_package"].to_messages()


def test_records_loaded_as_plain_data_are_refused_with_what_to_do(stack: ExitStack) -> None:
    """A saver that loads memorygraph's records as dicts would pack them wrongly."""
    agent = make_agent(stack, "memory", agent_model())
    cfg = thread()
    agent.invoke({"messages": [HumanMessage("hi")]}, cfg, context=ANA)
    package = agent.get_state(cfg).values["context_package"]
    agent.update_state(cfg, {"context_package": package.model_dump(mode="json")})
    with pytest.raises(ConfigError, match="register_types"):
        agent.invoke({"messages": [HumanMessage("again")]}, cfg, context=ANA)
