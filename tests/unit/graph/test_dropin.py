"""memorygraph dropped into a user's own graph: a ReAct agent on MessagesState with a ToolNode."""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command

from memorygraph import (
    ContextBudgetExceeded,
    ContextPackage,
    MemoryConfig,
    MemoryContext,
    MemoryState,
    add_memory,
    build_memory_graph,
    context_messages,
)
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.errors import ConfigError
from tests.fakes import RecordingChatModel

ANA = MemoryContext(tenant_id="acme", user_id="ana")
MEMORY_NODES = set(build_memory_graph().nodes)  # whatever the memory graph wires
FACTS = ("memorygraph", "acme", "ana", "facts")


@tool
def weather(city: str) -> str:
    """Today's weather in a city."""
    return f"Sunny and 24 degrees in {city}."


class AgentState(MessagesState):
    """A user's state: MessagesState plus keys of their own."""

    mood: str
    agent_runs: Annotated[int, operator.add]


def tool_calling_model() -> RecordingChatModel:
    """Calls the weather tool for two cities at once (parallel calls), then answers."""
    count = iter(range(1000))

    def respond(messages: Sequence[BaseMessage]) -> AIMessage:
        n = next(count)
        if isinstance(messages[-1], ToolMessage):
            return AIMessage(f"Both sunny (answer {n}).", id=f"answer-{n}")
        return AIMessage(
            "",
            id=f"calls-{n}",
            tool_calls=[
                {"name": "weather", "args": {"city": "Lisbon"}, "id": f"call-{n}-a"},
                {"name": "weather", "args": {"city": "Porto"}, "id": f"call-{n}-b"},
            ],
        )

    return RecordingChatModel(respond=respond)


def react_builder(model: RecordingChatModel, state: type[Any] = AgentState) -> StateGraph[Any]:
    """The user's graph, exactly as they had it, except that the agent sends the package."""

    def agent(state: AgentState) -> dict[str, Any]:
        package: ContextPackage = state["context_package"]  # type: ignore[typeddict-item]
        return {"messages": [model.invoke(package.to_messages())], "agent_runs": 1}

    builder = StateGraph(state)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder


def assert_tool_calls_intact(messages: Sequence[BaseMessage]) -> None:
    """Every tool call is answered right after it, and every result follows its call."""
    index = 0
    while index < len(messages):
        message = messages[index]
        assert not isinstance(message, ToolMessage), f"orphan tool result at {index}: {message}"
        if isinstance(message, AIMessage) and message.tool_calls:
            wanted = {call["id"] for call in message.tool_calls}
            results = messages[index + 1 : index + 1 + len(wanted)]
            assert all(isinstance(m, ToolMessage) for m in results), (index, results)
            assert {m.tool_call_id for m in results if isinstance(m, ToolMessage)} == wanted
            index += len(wanted)
        index += 1


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def compile_on(stack: ExitStack, builder: StateGraph[Any], url: str = "memory") -> Any:
    return builder.compile(
        checkpointer=stack.enter_context(open_checkpointer(url)),
        store=stack.enter_context(open_store(url)),
    )


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def test_react_agent_with_memory_keeps_tool_calls_through_summaries(
    stack: ExitStack, sqlite_url: str
) -> None:
    model = tool_calling_model()
    builder = react_builder(model)
    config = MemoryConfig(summarize_at_messages=10, keep_messages=4)
    builder = add_memory(builder, before="agent", config=config)
    graph = compile_on(stack, builder, sqlite_url)
    cfg = thread()
    turns = 6
    for turn in range(turns):
        out = graph.invoke(
            {
                "messages": [HumanMessage(f"Weather in Lisbon and Porto, day {turn}?")],
                "mood": "sunny",
            },
            cfg,
            context=ANA,
        )
        assert out["messages"][-1].content.startswith("Both sunny")

    # Two model calls per turn; each one was sent exactly what memorygraph packed,
    # with every tool call followed by its results, the parallel ones included.
    assert len(model.calls) == 2 * turns
    for sent in model.calls:
        assert_tool_calls_intact(sent)
        assert sent[0].type == "system" and "[policy]" in sent[0].text
    values = graph.get_state(cfg).values
    assert model.calls[-1] == values["context_package"].to_messages()
    last_request = [m for m in model.calls[-1] if m.type == "human"][-1]
    assert last_request.content == f"Weather in Lisbon and Porto, day {turns - 1}?"

    # The window was folded by summarize (through the public node), and what is
    # left in the thread still pairs every call with its results.
    assert values["summary"] is not None and values["summary"].covered_turns == 21
    assert len(values["messages"]) < 5 * turns
    assert_tool_calls_intact(values["messages"])

    # The user's keys are theirs alone.
    assert values["mood"] == "sunny"
    assert values["agent_runs"] == 2 * turns


def test_memory_nodes_write_only_memory_keys(stack: ExitStack) -> None:
    model = tool_calling_model()
    builder = react_builder(model)
    builder = add_memory(builder, before="agent")
    graph = compile_on(stack, builder)
    cfg = thread()
    written: dict[str, set[str]] = {}
    for chunk in graph.stream(
        {"messages": [HumanMessage("Weather?")], "mood": "curious"},
        cfg,
        context=ANA,
        stream_mode="updates",
    ):
        for node, update in chunk.items():
            written.setdefault(node, set()).update(update or {})
    memory_keys = set(MemoryState.__annotations__)
    for node in MEMORY_NODES & set(written):
        assert written[node] <= memory_keys - {"mood", "agent_runs"}, node
    assert "context_package" in written["pack_context"]
    assert "mood" not in set().union(*(written[n] for n in MEMORY_NODES & set(written)))
    assert graph.get_state(cfg).values["mood"] == "curious"


def test_tool_results_reach_the_model_through_the_package(stack: ExitStack) -> None:
    model = tool_calling_model()
    builder = react_builder(model)
    builder = add_memory(builder, before="agent")
    graph = compile_on(stack, builder)
    graph.invoke({"messages": [HumanMessage("Weather?")]}, thread(), context=ANA)
    after_tools = model.calls[1]
    assert [m.type for m in after_tools[-4:]] == ["human", "ai", "tool", "tool"]
    assert "Sunny and 24 degrees in Porto." in after_tools[-1].text
    # The tool results were packed: the package the agent saw lists them.
    edges = {(e.source, e.target) for e in graph.get_graph().edges}
    assert ("tools", "extract_facts") in edges and ("pack_context", "agent") in edges
    assert ("__start__", "extract_facts") in edges and ("__start__", "agent") not in edges


def test_memory_state_and_a_node_annotated_with_messages_state(stack: ExitStack) -> None:
    """The graph on MemoryState (validating reducer); a node typed with a narrower schema."""
    seen: list[ContextPackage] = []

    class Narrow(MessagesState):
        pass

    def agent(state: Narrow) -> dict[str, Any]:
        seen.append(state["context_package"])  # type: ignore[typeddict-item]
        return {"messages": [AIMessage("ok")]}

    for schema in (MemoryState, AgentState):
        builder = StateGraph(schema)
        builder.add_node("agent", agent, input_schema=Narrow if schema is AgentState else None)
        builder.add_edge(START, "agent")
        builder.add_edge("agent", END)
        builder = add_memory(builder, before="agent")
        graph = compile_on(stack, builder)
        out = graph.invoke({"messages": [HumanMessage("hi")]}, thread(), context=ANA)
        assert out["messages"][-1].content == "ok"
        assert isinstance(seen[-1], ContextPackage) and out["context_package"] == seen[-1]
    assert len(seen) == 2


def test_conditional_edges_into_the_model_are_redirected(stack: ExitStack) -> None:
    calls: list[str] = []

    def route_with_map(state: MessagesState) -> str:
        return "go"

    def route_without_map(state: MessagesState):  # type: ignore[no-untyped-def]
        # No annotation and no path map: the destinations are known only at run time.
        return ["agent"] if len(state["messages"]) == 1 else END

    def agent(state: dict[str, Any]) -> dict[str, Any]:
        calls.append(state["context_package"].id)
        return {"messages": [AIMessage("done")]}

    for route, path_map in ((route_with_map, {"go": "agent"}), (route_without_map, None)):
        builder = StateGraph(MessagesState)
        builder.add_node("start", lambda state: {})
        builder.add_node("agent", agent)
        builder.add_edge(START, "start")
        builder.add_conditional_edges("start", route, path_map)
        builder = add_memory(builder, before="agent")
        graph = compile_on(stack, builder)
        out = graph.invoke({"messages": [HumanMessage("hi")]}, thread(), context=ANA)
        assert isinstance(out["context_package"], ContextPackage)
        assert out["messages"][-1].content == "done"
    assert len(calls) == 2


def test_misuse_is_explained() -> None:
    def agent(state: MessagesState) -> dict[str, Any]:
        return {}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    with pytest.raises(ValueError, match="no node 'model'"):
        add_memory(builder, before="model")
    with pytest.raises(ValueError, match="no edge leads to 'agent'"):
        add_memory(builder, before="agent")

    taken = StateGraph(MessagesState)
    taken.add_node("agent", agent)
    taken.add_node("summarize", agent)
    taken.add_edge(START, "agent")
    with pytest.raises(ValueError, match="are taken"):
        add_memory(taken, before="agent")

    class Clash(MessagesState):
        facts: list[str]

    clash = StateGraph(Clash)
    clash.add_node("agent", agent)
    clash.add_edge(START, "agent")
    with pytest.raises(ValueError, match="'facts' key clashes"):
        add_memory(clash, before="agent")

    from typing_extensions import TypedDict

    class Plain(TypedDict):
        text: str

    plain = StateGraph(Plain)
    plain.add_node("agent", lambda state: {})
    plain.add_edge(START, "agent")
    with pytest.raises(ValueError, match="`messages` key"):
        add_memory(plain, before="agent")


def test_routing_literal_unchanged() -> None:
    """A conditional edge that never leads to the model is left exactly as it was."""

    def route(state: MessagesState) -> Literal["tools", "__end__"]:
        return "__end__"

    builder = StateGraph(MessagesState)
    builder.add_node("agent", lambda state: {})
    builder.add_node("tools", lambda state: {})
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route)
    builder.add_edge("tools", "agent")
    before = dict(builder.branches["agent"])
    graph = add_memory(builder, before="agent")
    assert builder.branches["agent"] == before  # the user's builder is left as it was
    assert {k: b.ends for k, b in graph.branches["agent"].items()} == {
        k: b.ends for k, b in before.items()
    }
    assert ("tools", "extract_facts") in graph.edges and ("tools", "agent") in builder.edges


def test_two_unmapped_conditional_edges_from_one_node_keep_their_names(stack: ExitStack) -> None:
    def to_agent(state: MessagesState):  # type: ignore[no-untyped-def]
        return "agent"

    def nowhere(state: MessagesState):  # type: ignore[no-untyped-def]
        return []

    builder = StateGraph(MessagesState)
    builder.add_node("start", lambda state: {})
    builder.add_node("agent", lambda state: {"messages": [AIMessage("done")]})
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", to_agent)
    builder.add_conditional_edges("start", nowhere)
    graph = add_memory(builder, before="agent")
    assert set(graph.branches["start"]) == {"to_agent", "nowhere"}
    out = compile_on(stack, graph).invoke({"messages": [HumanMessage("hi")]}, thread(), context=ANA)
    assert out["messages"][-1].content == "done" and out["context_package"] is not None


def test_the_readme_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    (example,) = [block for block in blocks if "with_memory = add_memory(builder" in block]
    assert example.count("\n") < 50
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md (drop-in)", "exec"), {})
    # The model's answer, through the tool the request names.
    out = capsys.readouterr().out
    assert "['ai', 'tool', 'ai'] (offline model) The tools said: Sunny in Lisbon." in out
    assert (tmp_path / "agent.db").exists()


def test_approvals_pause_the_users_graph_and_resume(stack: ExitStack) -> None:
    model = tool_calling_model()
    builder = react_builder(model)
    builder = add_memory(builder, before="agent")
    graph = compile_on(stack, builder)
    cfg = thread()
    graph.invoke(
        {"messages": [HumanMessage("Please remember: I'm allergic to penicillin.")]},
        cfg,
        context=ANA,
    )
    paused = graph.get_state(cfg)
    assert paused.next == ("approve",) and not model.calls  # the model waits for the human
    (interrupt,) = [i for task in paused.tasks for i in task.interrupts]
    ids = [candidate["id"] for candidate in interrupt.value["candidates"]]
    out = graph.invoke(Command(resume={"approve": ids}), cfg, context=ANA)
    assert out["messages"][-1].content.startswith("Both sunny")
    assert any("penicillin" in str(item.value) for item in graph.store.search(FACTS))


def test_a_state_that_declares_the_package_for_type_checkers(stack: ExitStack) -> None:
    class Typed(MessagesState):
        context_package: ContextPackage

    def agent(state: Typed) -> dict[str, Any]:
        return {"messages": [AIMessage(f"{len(state['context_package'].to_messages())}")]}

    builder = StateGraph(Typed)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder = add_memory(builder, before="agent")
    out = compile_on(stack, builder).invoke(
        {"messages": [HumanMessage("hi")]}, thread(), context=ANA
    )
    assert out["messages"][-1].content == "2"


def over_budget_graph(stack: ExitStack, url: str) -> tuple[Any, RecordingChatModel]:
    model = tool_calling_model()
    builder = react_builder(model)
    builder = add_memory(builder, before="agent", config=MemoryConfig(token_budget=2000))
    return compile_on(stack, builder, url), model


OVER_BUDGET = {"messages": [HumanMessage("word " * 5000)], "mood": "verbose"}


def test_a_request_over_budget_is_refused_before_anything_is_written(
    stack: ExitStack, backend_url: str
) -> None:
    graph, model = over_budget_graph(stack, backend_url)
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("Weather?")], "mood": "calm"}, cfg, context=ANA)
    before = graph.get_state(cfg)
    history = [snapshot.config for snapshot in graph.get_state_history(cfg)]
    calls = len(model.calls)

    with pytest.raises(ContextBudgetExceeded):
        graph.invoke(OVER_BUDGET, cfg, context=ANA)

    after = graph.get_state(cfg)
    assert after.values == before.values and after.config == before.config
    assert [snapshot.config for snapshot in graph.get_state_history(cfg)] == history
    assert len(model.calls) == calls
    # The thread goes on as if the refused request had never been sent.
    graph.invoke({"messages": [HumanMessage("And tomorrow?")]}, cfg, context=ANA)
    assert graph.get_state(cfg).values["mood"] == "calm"


async def test_a_request_over_budget_is_refused_before_anything_is_written_async(
    stack: ExitStack,
) -> None:
    graph, model = over_budget_graph(stack, "memory")
    cfg = thread()
    with pytest.raises(ContextBudgetExceeded):
        await graph.ainvoke(OVER_BUDGET, cfg, context=ANA)
    assert (await graph.aget_state(cfg)).values == {}
    assert [snapshot async for snapshot in graph.aget_state_history(cfg)] == []
    assert not model.calls


def test_the_graph_keeps_its_checks_when_copied(stack: ExitStack) -> None:
    graph, _ = over_budget_graph(stack, "memory")
    configured = graph.with_config(tags=["mine"])  # with_config copies the graph
    cfg = thread()
    with pytest.raises(ContextBudgetExceeded):
        configured.invoke(OVER_BUDGET, cfg, context=ANA)
    assert list(configured.get_state_history(cfg)) == []


@pytest.mark.parametrize("own_saver", [False, True], ids=["parents-saver", "own-saver"])
def test_a_graph_with_memory_runs_as_a_subgraph(stack: ExitStack, own_saver: bool) -> None:
    """Inside another graph's run the context comes from that run, not ``context=``."""

    def agent(state: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [AIMessage(f"{len(state['context_package'].to_messages())}")]}

    inner = StateGraph(MessagesState)
    inner.add_node("agent", agent)
    inner.add_edge(START, "agent")
    inner = add_memory(inner, before="agent")
    outer = StateGraph(MessagesState, context_schema=MemoryContext)
    saver = stack.enter_context(open_checkpointer("memory")) if own_saver else None
    outer.add_node("assistant", inner.compile(checkpointer=saver))
    outer.add_edge(START, "assistant")
    graph = compile_on(stack, outer)
    out = graph.invoke({"messages": [HumanMessage("hi")]}, thread(), context=ANA)
    assert out["messages"][-1].content == "2"


def test_a_compiled_graph_is_refused_with_what_to_pass_instead() -> None:
    builder = react_builder(tool_calling_model())
    with pytest.raises(
        TypeError,
        match=r"uncompiled StateGraph, got a CompiledStateGraph.*"
        r"MemoryMiddleware",
    ):
        add_memory(builder.compile(), before="agent")  # type: ignore[arg-type]


def test_a_model_node_without_memory_is_told_so() -> None:
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(str(len(context_messages(state))))]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    # The mistake: add_memory's graph is dropped and the user's builder compiled.
    add_memory(builder, before="agent")
    with pytest.raises(ConfigError, match="no context_package in the state"):
        builder.compile().invoke({"messages": [HumanMessage("hi")]})
    out = (
        add_memory(builder, before="agent")
        .compile()
        .invoke(
            {"messages": [HumanMessage("hi")]},
            {"configurable": {"thread_id": "t"}},
            context=ANA,
        )
    )
    assert out["messages"][-1].content == "2"


def test_an_edge_that_waits_for_several_nodes_waits_for_them_before_memory(
    stack: ExitStack,
) -> None:
    # add_edge([a, b], agent): the agent (and memory before it) runs once, after both.
    class Joined(MessagesState):
        seen: Annotated[list[str], operator.add]

    def step(name: str) -> Any:
        return lambda state: {"seen": [name]}

    def agent(state: Joined) -> dict[str, Any]:
        return {"messages": [AIMessage(f"after {sorted(state['seen'])}")], "seen": ["agent"]}

    builder = StateGraph(Joined)
    builder.add_node("a", step("a"))
    builder.add_node("slow", step("slow"))
    builder.add_node("b", step("b"))
    builder.add_node("agent", agent)
    builder.add_edge(START, "a")
    builder.add_edge(START, "slow")
    builder.add_edge("slow", "b")
    builder.add_edge(["a", "b"], "agent")
    graph = compile_on(stack, add_memory(builder, before="agent"))
    out = graph.invoke({"messages": [HumanMessage("hi")]}, thread(), context=ANA)
    assert out["seen"] == ["a", "slow", "b", "agent"]
    assert out["messages"][-1].content == "after ['a', 'b', 'slow']"
    assert out["context_package"].included_ids[-1] == "output_contract"
    drawn = {(e.source, e.target) for e in graph.get_graph().edges}
    assert {("a", "extract_facts"), ("b", "extract_facts")} <= drawn
    assert ("a", "agent") not in drawn


def test_the_guard_is_given_to_the_graph_langgraph_compiled() -> None:
    """``adopt`` retypes the compiled graph in place: nothing of LangGraph's is copied."""
    from langgraph.graph.state import CompiledStateGraph

    from memorygraph.graph.builder import MemoryGraph, adopt

    compiled = build_memory_graph().compile()
    nodes, channels = compiled.nodes, compiled.channels
    graph = adopt(compiled, MemoryGraph, MemoryConfig(token_budget=1234))
    assert graph is compiled
    assert graph.nodes is nodes and graph.channels is channels
    assert type(graph) is MemoryGraph and graph.memory_config.token_budget == 1234

    class Other(CompiledStateGraph):  # type: ignore[type-arg]
        memory_config: MemoryConfig

    with pytest.raises(TypeError, match="Other does not extend MemoryGraph"):
        adopt(graph, Other, MemoryConfig())  # a sibling class could lack what the graph has


SRC = Path(__file__).resolve().parents[2] / "src" / "memorygraph"
PRIVATE_USES = re.compile(
    r"langgraph\._internal|\bwaiting_edges\b|\._add_schema\b|BranchSpec|vars\(compiled\)"
    r"|\.__dict__\b|\.compile\s*=\s"
)


def test_memorygraph_uses_langgraph_through_public_apis_only() -> None:
    """No LangGraph internals, no writes to a builder's private parts, no copied graphs."""
    offending = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE_USES.search(line) and not line.lstrip().startswith("#")
    ]
    assert offending == []
