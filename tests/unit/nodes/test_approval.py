"""approve: the payload, good and bad resume values, idempotent writes, other processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.store.base import PutOp
from langgraph.types import Command

from memorygraph import MemoryConfig, MemoryContext, MemoryState, create_memory_graph
from memorygraph.checkpointers import aopen_checkpointer, aopen_store, memorygraph_serializer
from memorygraph.errors import ResumeValueError
from memorygraph.nodes.approval import make_approve, parse_resume
from memorygraph.nodes.extraction import candidate_for
from memorygraph.records import Fact, MemoryCandidate
from memorygraph.store.facts import aload_facts, load_facts
from memorygraph.store.namespaces import facts_namespace
from tests.memory_kit import CountingStore, fact_lines, open_graph, say, thread, who

ALLERGY = "I'm allergic to peanuts and I like jazz."


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def pending_ids(result: dict[str, Any]) -> list[str]:
    [interrupt] = result["__interrupt__"]
    return [candidate["id"] for candidate in interrupt.value["candidates"]]


def stored(graph: Any, context: MemoryContext) -> dict[str, str]:
    return {f.key: f.value for f in load_facts(graph.store, context.tenant_id, context.user_id)}


def test_the_interrupt_payload_is_documented_and_json_safe(stack: ExitStack) -> None:
    graph, cfg, ana = open_graph(stack, "memory"), thread(), who()
    result = say(graph, cfg, ana, "I'm allergic to peanuts. Email me at ana@example.org.")
    [interrupt] = result["__interrupt__"]
    payload = interrupt.value
    assert payload["type"] == "memorygraph.approval"
    assert json.loads(json.dumps(payload)) == payload
    by_key = {c["key"]: c for c in payload["candidates"]}
    assert set(by_key) == {"allergy", "email"}
    assert by_key["allergy"]["sensitivity"] == "sensitive"
    assert by_key["email"]["reason"] == "personal data (email) needs consent"
    assert payload["reasons"] == {c["id"]: c["reason"] for c in payload["candidates"]}
    for candidate in payload["candidates"]:
        assert set(candidate["checks"]) == {
            "relevance",
            "stability",
            "consent",
            "sensitivity",
            "source",
            "expiry",
            "scope",
        }
    schema = payload["response_schema"]
    assert set(schema["properties"]) == {"approve", "reject", "edit"}
    assert sorted(schema["properties"]["approve"]["items"]["enum"]) == sorted(
        c["id"] for c in payload["candidates"]
    )
    assert interrupt.response_schema == schema  # surfaced by LangGraph as well
    assert graph.get_state(cfg).next == ("approve",)


def test_approve_on_every_backend(backend_url: str, stack: ExitStack) -> None:
    graph, cfg, ana = open_graph(stack, backend_url), thread(), who()
    ids = pending_ids(say(graph, cfg, ana, ALLERGY))
    assert stored(graph, ana) == {"likes": "jazz"}
    result = graph.invoke(Command(resume={"approve": ids}), cfg, context=ana)
    assert "__interrupt__" not in result and result["pending"] == []
    assert stored(graph, ana) == {"likes": "jazz", "allergy": "peanuts"}
    # A later thread of the same user sees it when it is relevant.
    package = say(graph, thread(), ana, "Which restaurant is safe for dinner?")["context_package"]
    assert "user allergy: peanuts" in fact_lines(package)
    durable = next(i for i in package.items if i.content == "user allergy: peanuts")
    assert durable.source.startswith("memory:") and durable.metadata["durable"] is True


def test_reject_keeps_the_fact_in_the_thread_only(backend_url: str, stack: ExitStack) -> None:
    graph, cfg, ana = open_graph(stack, backend_url), thread(), who()
    ids = pending_ids(say(graph, cfg, ana, ALLERGY))
    graph.invoke(Command(resume={"reject": ids}), cfg, context=ana)
    assert stored(graph, ana) == {"likes": "jazz"}
    allergy = next(f for f in graph.get_state(cfg).values["facts"] if f.key == "allergy")
    assert allergy.scope == "thread" and allergy.status == "active"
    # Said again in the same thread, it is not proposed again.
    again = say(graph, cfg, ana, "As I said, I'm allergic to peanuts.")
    assert "__interrupt__" not in again
    elsewhere = say(graph, thread(), ana, "Which restaurant is safe for dinner?")
    assert "peanuts" not in " ".join(fact_lines(elsewhere["context_package"]))


def test_edit_writes_the_edited_value(stack: ExitStack) -> None:
    graph, cfg, ana = open_graph(stack, "memory"), thread(), who()
    [cid] = pending_ids(say(graph, cfg, ana, "Email me at ana@exmaple.org."))
    graph.invoke(Command(resume={"edit": {cid: "ana@example.org"}}), cfg, context=ana)
    assert stored(graph, ana) == {"email": "ana@example.org"}
    emails = [(f.value, f.status) for f in graph.get_state(cfg).values["facts"]]
    assert emails == [("ana@exmaple.org", "superseded"), ("ana@example.org", "active")]
    item = graph.store.get(
        facts_namespace(ana.tenant_id, "ana"),  # type: ignore[union-attr]
        graph.get_state(cfg).values["facts"][-1].id,
    )
    assert item is not None
    assert item.value["candidate_id"] == cid and item.value["approved_by"] == "human"


BAD_VALUES: list[Any] = [
    "yes",
    None,
    {},
    {"approve": ["cand-unknown"]},
    {"approve": ["{id}", "{id}"]},
    {"approve": ["{id}"], "reject": ["{id}"]},
    {"edit": {"{id}": "  "}},
    {"approve": ["{id}"], "maybe": []},
    {"approve": "{id}"},
]


def _fill(value: Any, cid: str) -> Any:
    return json.loads(json.dumps(value).replace("{id}", cid))


@pytest.mark.parametrize("bad", BAD_VALUES, ids=[json.dumps(v) for v in BAD_VALUES])
def test_a_malformed_resume_writes_nothing_and_the_thread_stays_resumable(
    bad: Any, stack: ExitStack
) -> None:
    store = CountingStore()
    graph, cfg, ana = open_graph(stack, "memory", store=store), thread(), who()
    [cid] = pending_ids(say(graph, cfg, ana, "I'm allergic to peanuts."))
    puts_before = list(store.puts)
    with pytest.raises(ResumeValueError, match="invalid approval response") as caught:
        graph.invoke(Command(resume=_fill(bad, cid)), cfg, context=ana)
    assert cid in str(caught.value) and "resume again" in str(caught.value)
    assert store.puts == puts_before
    state = graph.get_state(cfg)
    assert state.next == ("approve",) and [c.id for c in state.values["pending"]] == [cid]
    graph.invoke(Command(resume={"approve": [cid]}), cfg, context=ana)
    assert stored(graph, ana) == {"allergy": "peanuts"}


def test_writes_happen_once_although_the_node_runs_twice(stack: ExitStack) -> None:
    store = CountingStore()
    graph, cfg, ana = open_graph(stack, "memory", store=store), thread(), who()
    ids = pending_ids(say(graph, cfg, ana, ALLERGY))
    namespace = facts_namespace(ana.tenant_id, "ana")
    allergy_key = next(
        c.fact.id for c in graph.get_state(cfg).values["pending"] if c.fact.key == "allergy"
    )
    assert (namespace, allergy_key) not in store.puts  # nothing before the interrupt
    graph.invoke(Command(resume={"approve": ids}), cfg, context=ana)
    assert store.puts.count((namespace, allergy_key)) == 1
    # Resuming again, or approving the same candidate from another thread, writes nothing.
    graph.invoke(Command(resume={"approve": ids}), cfg, context=ana)
    other = thread()
    say(graph, other, ana, "I'm allergic to peanuts.")
    assert store.puts.count((namespace, allergy_key)) == 1


def test_the_node_in_a_graph_of_your_own_emits_the_approval_event() -> None:
    fact = Fact(id="f-1", key="allergy", value="peanuts", scope="user", sensitivity="sensitive")
    candidate = candidate_for(fact, config=MemoryConfig())
    builder = StateGraph(MemoryState)
    builder.add_node("approve", make_approve())
    builder.add_edge(START, "approve")
    graph = builder.compile(
        checkpointer=InMemorySaver(serde=memorygraph_serializer()), store=CountingStore()
    )
    cfg = thread()
    ana = who()
    graph.invoke({"messages": [], "pending": [candidate]}, cfg, context=ana)
    graph.invoke(Command(resume={"approve": [candidate.id]}), cfg, context=ana)
    values = graph.get_state(cfg).values
    assert values["memory_events"] == ["approval"] and values["pending"] == []


def test_parse_resume_explains_what_is_wrong() -> None:
    pending = [
        MemoryCandidate(id="c1", fact=Fact(id="f1", key="a", value="x")),
        MemoryCandidate(id="c2", fact=Fact(id="f2", key="b", value="y")),
    ]
    with pytest.raises(ResumeValueError, match=r"\['c2'\] are not decided"):
        parse_resume({"approve": ["c1"]}, pending)
    with pytest.raises(ResumeValueError, match="named more than once"):
        parse_resume({"approve": ["c1", "c2"], "reject": ["c2"]}, pending)
    decision = parse_resume({"approve": ["c1"], "edit": {"c2": "z"}}, pending)
    assert decision.approve == ["c1"] and decision.edit == {"c2": "z"}


async def test_async_interrupt_and_resume(backend_url: str) -> None:
    async with AsyncExitStack() as stack:
        checkpointer = await stack.enter_async_context(aopen_checkpointer(backend_url))
        store = await stack.enter_async_context(aopen_store(backend_url))
        graph = create_memory_graph(checkpointer=checkpointer, store=store)
        cfg, ana = thread(), who()
        result = await graph.ainvoke({"messages": [HumanMessage(ALLERGY)]}, cfg, context=ana)
        ids = pending_ids(result)
        with pytest.raises(ResumeValueError):
            await graph.ainvoke(Command(resume={"reject": []}), cfg, context=ana)
        await graph.ainvoke(Command(resume={"approve": ids}), cfg, context=ana)
        facts = await aload_facts(store, ana.tenant_id, "ana")
        assert {f.key: f.value for f in facts} == {"likes": "jazz", "allergy": "peanuts"}


PROCESS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from langchain_core.messages import HumanMessage
    from langgraph.types import Command
    from memorygraph import MemoryContext, create_memory_graph
    from memorygraph.checkpointers import open_checkpointer, open_store

    url, thread_id, tenant, step = sys.argv[1:5]
    context = MemoryContext(tenant_id=tenant, user_id="ana")
    cfg = {"configurable": {"thread_id": thread_id}}
    with open_checkpointer(url) as checkpointer, open_store(url) as store:
        graph = create_memory_graph(checkpointer=checkpointer, store=store)
        if step == "ask":
            result = graph.invoke(
                {"messages": [HumanMessage("I'm allergic to peanuts.")]}, cfg, context=context
            )
            candidates = result["__interrupt__"][0].value["candidates"]
            print(json.dumps([c["id"] for c in candidates]))
        else:
            graph.invoke(Command(resume={"approve": json.loads(step)}), cfg, context=context)
            print(json.dumps(graph.get_state(cfg).values["pending"]))
    """
)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_interrupt_raised_in_one_process_is_resumed_in_another(
    backend: str, request: pytest.FixtureRequest, stack: ExitStack
) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    ana, thread_id = who(), thread()["configurable"]["thread_id"]

    def run(step: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-c", PROCESS_SCRIPT, url, thread_id, ana.tenant_id, step],
            check=True,
            timeout=180,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    ids = run("ask")
    assert len(ids) == 1
    graph = open_graph(stack, url)
    assert graph.get_state({"configurable": {"thread_id": thread_id}}).next == ("approve",)
    assert stored(graph, ana) == {}
    assert run(json.dumps(ids)) == []
    assert stored(graph, ana) == {"allergy": "peanuts"}


def test_a_user_who_moves_on_is_asked_again_next_turn_then_not_blocked(stack: ExitStack) -> None:
    graph, cfg, ana = open_graph(stack, "memory"), thread(), who()
    [first] = pending_ids(say(graph, cfg, ana, "I'm allergic to peanuts."))
    # A new turn instead of a resume: the question comes back with it.
    moved_on = say(graph, cfg, ana, "Anyway, what should we cook tonight?")
    (asked,) = moved_on["__interrupt__"][0].value["candidates"]
    assert asked["id"] == first and asked["asked_before"] is True
    # Answering it settles the question, and the turn is then packed and answered.
    done = graph.invoke(Command(resume={"approve": [first]}), cfg, context=ana)
    assert "__interrupt__" not in done and done["pending"] == []
    assert done["context_package"].to_messages()[-1].content == (
        "Anyway, what should we cook tonight?"
    )
    assert stored(graph, ana) == {"allergy": "peanuts"}


def test_a_user_who_moves_on_twice_is_not_blocked_and_is_asked_with_the_next_one(
    stack: ExitStack,
) -> None:
    graph, cfg, ana = open_graph(stack, "memory"), thread(), who()
    [first] = pending_ids(say(graph, cfg, ana, "I'm allergic to peanuts."))
    assert pending_ids(say(graph, cfg, ana, "Anyway, what should we cook?")) == [first]
    moved_on = say(graph, cfg, ana, "Something quick, please.")
    assert "__interrupt__" not in moved_on
    assert moved_on["context_package"].to_messages()[-1].content == "Something quick, please."
    assert [c.id for c in moved_on["pending"]] == [first] and moved_on["pending"][0].asked
    assert stored(graph, ana) == {}
    # The next candidate brings the waiting one back, and one answer settles both.
    again = pending_ids(say(graph, cfg, ana, "My email is ana@example.org."))
    assert first in again and len(again) == 2
    graph.invoke(Command(resume={"approve": again}), cfg, context=ana)
    assert stored(graph, ana) == {"allergy": "peanuts", "email": "ana@example.org"}
    assert graph.get_state(cfg).values["pending"] == []


class CrashAfterFactWrite(CountingStore):
    """Fails once, right after the first batch that writes a fact: a crash mid-node."""

    crashed = False

    def batch(self, ops: Any) -> Any:
        ops = list(ops)
        result = super().batch(ops)
        if not self.crashed and any(
            isinstance(op, PutOp) and op.namespace[-1] == "facts" for op in ops
        ):
            self.crashed = True
            raise RuntimeError("the process died after writing")
        return result


def test_a_node_rerun_after_a_crash_does_not_write_again(stack: ExitStack) -> None:
    store = CrashAfterFactWrite()
    graph, cfg, ana = open_graph(stack, "memory", store=store), thread(), who()
    ids = pending_ids(say(graph, cfg, ana, "I'm allergic to peanuts."))
    with pytest.raises(RuntimeError, match="died"):
        graph.invoke(Command(resume={"approve": ids}), cfg, context=ana)
    assert graph.get_state(cfg).next == ("approve",)  # the run did not finish
    graph.invoke(None, cfg, context=ana)  # retry: LangGraph runs approve again
    namespace = facts_namespace(ana.tenant_id, "ana")
    [key] = [k for ns, k in store.puts if ns == namespace]
    assert store.puts.count((namespace, key)) == 1
    assert stored(graph, ana) == {"allergy": "peanuts"}
    assert graph.get_state(cfg).values["pending"] == []
