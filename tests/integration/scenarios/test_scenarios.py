"""Multi-turn eval scenarios, run through the real graph on every backend.

Each file in ``tests/integration/scenarios/`` is one conversation. A turn sends the user's
words (after the assistant's previous reply, when the scenario gives one), or
answers a pending approval, then checks the context package of that turn:

.. code-block:: yaml

    name: ...
    identity: {tenant: acme, user: ana}      # the default caller
    config: {stale_after: {likes: P180D}}    # MemoryConfig overrides
    turns:
      - assistant: "the previous reply"      # optional
        user: "what the user says"
        at: -400d                            # optional: when it was said
        thread: second                       # optional: another thread (default: main)
        as: {tenant: acme, user: bob}        # optional: another caller
        repeat: 200                          # optional: "{i}" in user is the turn number
        error: IdentityError                 # optional: the turn must raise this, change nothing
        resume: {approve: [allergy]}         # instead of user: answer the approval,
                                             # naming candidates by their fact key
        expect:
          facts: ["lives_in: Porto"]         # substrings of included fact items
          no_facts: ["Lisbon"]
          memory: ["allergy: peanuts"]       # fact items that came from durable memory
          package_has: [...]                 # substrings of the rendered messages
          package_lacks: [...]
          turns_lack: [...]                  # substrings of no recent-turn item
          stale: ["likes: jazz"]             # fact items labelled "may be stale"
          task: "..."                        # substring of the task-state item
          clarification: true                # a CRITICAL clarification item is present
          resolved: ["Hotel Ume"]            # a back-reference resolved to this
          interrupt: [allergy]               # the turn paused for these candidates
          store_has: ["allergy: peanuts"]    # durable facts of the caller
          store_lacks: ["allergy"]

Tenants get a fresh suffix per run, because the PostgreSQL database is shared.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.types import Command

import memorygraph.errors
from memorygraph import ContextPackage, MemoryConfig, MemoryContext, Priority
from memorygraph.graph import MemoryGraph
from memorygraph.store.facts import load_facts
from tests.memory_kit import open_graph, rendered

SCENARIOS = sorted(Path(__file__).parent.glob("*.yaml"))
KNOWN_EXPECTATIONS = {
    "facts",
    "no_facts",
    "memory",
    "package_has",
    "package_lacks",
    "stale",
    "task",
    "clarification",
    "resolved",
    "interrupt",
    "store_has",
    "store_lacks",
    "turns_lack",
}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    assert data["name"] == path.stem, f"{path.name}: name must match the file name"
    for turn in data["turns"]:
        unknown = set(turn.get("expect", {})) - KNOWN_EXPECTATIONS
        assert not unknown, f"{path.name}: unknown expectations {unknown}"
    return data


@dataclass
class Run:
    graph: MemoryGraph
    suffix: str
    default: dict[str, str]
    threads: dict[str, str] = field(default_factory=dict)
    last_interrupt: dict[str, Any] | None = None
    turn: int = 0

    def context(self, who: dict[str, str] | None) -> MemoryContext:
        who = {**self.default, **(who or {})}
        return MemoryContext(tenant_id=f"{who['tenant']}{self.suffix}", user_id=who["user"])

    def config(self, name: str) -> dict[str, Any]:
        thread_id = self.threads.setdefault(name, f"{name}-{uuid.uuid4()}")
        return {"configurable": {"thread_id": thread_id}}


def when(spec: str) -> str:
    if spec.startswith("-") and spec.endswith("d"):
        return (datetime.now(UTC) - timedelta(days=int(spec[1:-1]))).isoformat()
    return datetime.fromisoformat(spec).isoformat()


def send(run: Run, turn: dict[str, Any], index: int) -> dict[str, Any]:
    cfg, context = run.config(turn.get("thread", "main")), run.context(turn.get("as"))
    if "resume" in turn:
        assert run.last_interrupt is not None, "resume without a pending approval"
        by_key: dict[str, list[str]] = {}
        for candidate in run.last_interrupt["candidates"]:
            by_key.setdefault(candidate["key"], []).append(candidate["id"])
        decision = {
            "approve": [i for k in turn["resume"].get("approve", []) for i in by_key[k]],
            "reject": [i for k in turn["resume"].get("reject", []) for i in by_key[k]],
            "edit": {by_key[k][0]: v for k, v in turn["resume"].get("edit", {}).items()},
        }
        return run.graph.invoke(Command(resume=decision), cfg, context=context)
    messages: list[BaseMessage] = []
    if "assistant" in turn:
        messages.append(AIMessage(turn["assistant"]))
    extra = {"created_at": when(turn["at"])} if "at" in turn else {}
    messages.append(HumanMessage(turn["user"].format(i=index), additional_kwargs=extra))
    return run.graph.invoke({"messages": messages}, cfg, context=context)


def mentions(text: str, words: str) -> bool:
    """Whether ``words`` start at a word boundary in ``text`` ("likes" is not in "dislikes")."""
    return re.search(rf"(?<!\w){re.escape(words)}", text) is not None


def facts_of(package: ContextPackage, *, durable: bool | None = None) -> list[str]:
    return [
        item.content
        for item in package.items
        if item.kind == "fact"
        and (durable is None or item.metadata.get("durable", False) == durable)
    ]


def check(run: Run, turn: dict[str, Any], result: dict[str, Any], where: str) -> None:
    expect: dict[str, Any] = turn.get("expect", {})
    interrupts = result.get("__interrupt__") or []
    run.last_interrupt = interrupts[0].value if interrupts else None
    if "interrupt" in expect:
        keys = sorted(c["key"] for c in run.last_interrupt["candidates"]) if interrupts else []
        assert keys == sorted(expect["interrupt"]), f"{where}: interrupt {keys}"
    cfg = run.config(turn.get("thread", "main"))
    state = run.graph.get_state(cfg)
    check_store(run, turn, where)
    if interrupts:
        # Paused before packing: only the interrupt and durable memory can be checked.
        assert state.next == ("approve",), where
        assert set(expect) <= {"interrupt", "store_has", "store_lacks"}, where
        return
    check_package(state.values, expect, where)


def check_package(values: dict[str, Any], expect: dict[str, Any], where: str) -> None:
    package: ContextPackage = values["context_package"]
    facts, text = facts_of(package), rendered(package)
    for wanted in expect.get("facts", []):
        assert any(wanted in f for f in facts), f"{where}: no fact with {wanted!r} in {facts}"
    for unwanted in expect.get("no_facts", []):
        assert not any(mentions(f, unwanted) for f in facts), f"{where}: {unwanted!r} in {facts}"
    for wanted in expect.get("memory", []):
        durable = facts_of(package, durable=True)
        assert any(wanted in f for f in durable), f"{where}: {wanted!r} not from memory: {durable}"
    for wanted in expect.get("package_has", []):
        assert wanted in text, f"{where}: {wanted!r} not in the package"
    for unwanted in expect.get("package_lacks", []):
        assert unwanted not in text, f"{where}: {unwanted!r} is in the package"
    check_items(values, package, expect, where)


def check_items(
    values: dict[str, Any], package: ContextPackage, expect: dict[str, Any], where: str
) -> None:
    text = rendered(package)
    turns = [i.content for i in package.items if i.kind == "recent_turn"]
    for unwanted in expect.get("turns_lack", []):
        assert not any(unwanted in t for t in turns), f"{where}: {unwanted!r} in recent turns"
    stale = [i.content for i in package.items if i.kind == "fact" and "stale_since" in i.metadata]
    for wanted in expect.get("stale", []):
        assert any(wanted in f for f in stale), f"{where}: {wanted!r} not labelled stale"
        assert "(may be stale, observed " in text
    if "task" in expect:
        task = [i.content for i in package.items if i.id == "task"]
        assert task and expect["task"] in task[0], f"{where}: task is {task}"
    if "clarification" in expect:
        asks = [i for i in package.items if i.kind == "clarification"]
        assert bool(asks) == expect["clarification"], f"{where}: clarification items {asks}"
        assert all(i.priority is Priority.CRITICAL for i in asks)
    for wanted in expect.get("resolved", []):
        refs = [r for r in values.get("references") or [] if not r.requires_clarification]
        assert any(r.entity_id == wanted for r in refs), f"{where}: resolved {refs}"
        assert any(wanted in i.content for i in package.items if i.id == "references")


def check_store(run: Run, turn: dict[str, Any], where: str) -> None:
    expect: dict[str, Any] = turn.get("expect", {})
    context = run.context(turn.get("as"))
    assert run.graph.store is not None
    facts = load_facts(run.graph.store, context.tenant_id, context.user_id)
    durable = [f"{f.key}: {f.value}" for f in facts]
    for wanted in expect.get("store_has", []):
        assert wanted in durable, f"{where}: {wanted!r} not in durable memory {durable}"
    for unwanted in expect.get("store_lacks", []):
        assert not any(mentions(f, unwanted) for f in durable), (
            f"{where}: {unwanted!r} in {durable}"
        )


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path, backend_url: str, stack: ExitStack) -> None:
    scenario = load(path)
    config = MemoryConfig(**scenario.get("config", {}))
    run = Run(
        graph=open_graph(stack, backend_url, config=config),
        suffix=uuid.uuid4().hex[:10],
        default=scenario.get("identity", {"tenant": "acme", "user": "ana"}),
    )
    for number, turn in enumerate(scenario["turns"], start=1):
        where = f"{path.stem} turn {number}"
        result: dict[str, Any] = {}
        if "error" in turn:
            # A refused turn: it raises that memorygraph error and changes nothing.
            cfg = run.config(turn.get("thread", "main"))
            before = run.graph.get_state(cfg).values
            with pytest.raises(getattr(memorygraph.errors, turn["error"])):
                send(run, turn, 1)
            assert run.graph.get_state(cfg).values == before, where
            continue
        for index in range(1, int(turn.get("repeat", 1)) + 1):
            result = send(run, turn, index)
        check(run, turn, result, where)


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 12
    names = {p.stem for p in SCENARIOS}
    assert {
        "user_corrects_prior_assumption",
        "changed_preference",
        "stale_preference",
        "sensitive_fact_waits_then_rejected",
        "cross_user_read_attempt",
        "cross_tenant_read_attempt",
        "ambiguous_reference",
        "decision_survives_200_turns",
    } <= names
