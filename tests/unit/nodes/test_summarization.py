"""Summaries: triggers, folding that never splits tool calls, the archive, invariants."""

from __future__ import annotations

import logging
import uuid
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.runtime import Runtime
from langgraph.store.memory import InMemoryStore
from pydantic import ValidationError

from memorygraph import (
    MemoryConfig,
    MemoryContext,
    SessionSummary,
    TokenCounter,
    create_memory_graph,
)
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.context import Identity
from memorygraph.nodes.summarization import (
    asummarize_messages,
    make_summarize,
    plan_fold,
    summarize_messages,
    summary_due,
)
from memorygraph.packing import build_package
from memorygraph.store.archive import archive_digest, read_archive, to_archived
from memorygraph.summarizers import ExtractiveSummarizer, LLMSummarizer
from tests.fakes import RecordingChatModel
from tests.unit.nodes.test_packer import assert_tool_calls_intact, histories

COUNTER = TokenCounter()
ANA = MemoryContext(tenant_id="acme", user_id="ana")


def chat(turns: int, words: int = 10, prefix: str = "") -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for i in range(turns):
        messages.append(
            HumanMessage(f"{prefix}question {i} " + "lorem " * words, id=f"{prefix}h{i}")
        )
        messages.append(AIMessage(f"answer {i} " + "ipsum " * words, id=f"{prefix}a{i}"))
    return messages


# --- triggers and the fold plan ---------------------------------------------------------


def test_no_trigger_no_fold() -> None:
    plan = plan_fold(chat(3), config=MemoryConfig(), counter=COUNTER)
    assert plan.fold == [] and plan.trigger is None


def test_token_pressure_folds_oldest_and_keeps_the_newest_within_targets() -> None:
    config = MemoryConfig(token_budget=1000, output_reserve=0, summarize_at_messages=None)
    messages = chat(20, words=20)
    plan = plan_fold(messages, config=config, counter=COUNTER)
    assert plan.trigger == "token_pressure"
    kept = messages[len(plan.fold) :]
    assert messages[: len(plan.fold)] == plan.fold
    assert COUNTER.count_messages(kept) <= config.keep_tokens * config.available_tokens + 60
    assert len(kept) <= config.keep_messages


def test_turn_threshold() -> None:
    config = MemoryConfig(summarize_at_messages=10, keep_messages=4)
    plan = plan_fold(chat(6), config=config, counter=COUNTER)
    assert plan.trigger == "turn_threshold"
    assert [m.id for m in plan.fold] == [m.id for m in chat(6)[:8]]


@pytest.mark.parametrize("event", ["correction", "task_change", "approval"])
def test_events_trigger_a_refresh(event: str) -> None:
    config = MemoryConfig(keep_messages=2)
    plan = plan_fold(chat(3), config=config, counter=COUNTER, events=[event])
    assert plan.trigger == event and len(plan.fold) == 4
    quiet = MemoryConfig(keep_messages=2, refresh_on=frozenset())
    assert plan_fold(chat(3), config=quiet, counter=COUNTER, events=[event]).fold == []


def test_the_current_request_and_its_tool_calls_are_never_folded() -> None:
    call = AIMessage("", id="c", tool_calls=[{"name": "f", "args": {}, "id": "x"}])
    messages = [
        *chat(5),
        HumanMessage("now " * 300, id="req"),
        call,
        ToolMessage("r " * 300, tool_call_id="x", id="t"),
    ]
    config = MemoryConfig(token_budget=800, output_reserve=0, keep_messages=1)
    plan = plan_fold(messages, config=config, counter=COUNTER)
    assert plan.trigger == "token_pressure"
    assert {"req", "c", "t"}.isdisjoint(m.id for m in plan.fold)
    assert len(plan.fold) == 10


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.integers(300, 3000), st.integers(1, 12))
def test_property_folding_never_splits_tool_calls(
    messages: list[BaseMessage], budget: int, keep: int
) -> None:
    config = MemoryConfig(
        token_budget=budget, output_reserve=0, keep_messages=keep, summarize_at_messages=keep + 1
    )
    plan = plan_fold(messages, config=config, counter=COUNTER)
    folded, kept = messages[: len(plan.fold)], messages[len(plan.fold) :]
    assert folded == plan.fold
    assert_tool_calls_intact(folded + [HumanMessage("end", id="end")])
    assert_tool_calls_intact(kept)
    who = Identity(thread_id="t", tenant_id="a", user_id="u", scopes=())
    rendered = build_package({"messages": kept}, identity=who, config=MemoryConfig()).to_messages()
    assert_tool_calls_intact(rendered)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    histories(),
    st.integers(300, 3000),
    st.integers(1, 12),
    st.lists(st.sampled_from(["correction", "task_change", "approval"]), max_size=2),
)
def test_property_summary_due_is_whether_summarize_changes_the_state(
    messages: list[BaseMessage], budget: int, keep: int, events: list[str]
) -> None:
    # The ready-made graph skips `summarize` when it is not due: that must never
    # skip a fold, an archive or the consumption of the memory events.
    config = MemoryConfig(
        token_budget=budget, output_reserve=0, keep_messages=keep, summarize_at_messages=keep + 1
    )
    state = {"messages": messages, "memory_events": events}
    node = make_summarize(config)
    runtime = Runtime(context=ANA, store=InMemoryStore())
    update = node.run(state, {"configurable": {"thread_id": "t"}}, runtime)
    assert summary_due(state, config=config, counter=COUNTER) == bool(update)


# --- the summary -----------------------------------------------------------------------


def test_summary_bookkeeping_is_exact() -> None:
    config = MemoryConfig(summarize_at_messages=6, keep_messages=2)
    first = summarize_messages(chat(4), previous=None, config=config, counter=COUNTER)
    assert first.summary is not None
    assert first.summary.covered_turn_ids == [m.id for m in first.folded]
    assert first.summary.version == 1 and first.summary.covered_turns == 6
    later = chat(8)[6:]
    second = summarize_messages(later, previous=first.summary, config=config, counter=COUNTER)
    assert second.summary is not None
    assert second.summary.version == 2
    assert second.summary.covered_turns == 6 + len(second.folded)
    assert second.summary.last_updated_turn_id == second.folded[-1].id


def test_extractive_summary_keeps_what_matters_with_turn_ids() -> None:
    turns = [
        HumanMessage("I want to plan a trip to Japan. Let's go with Kyoto first.", id="h1"),
        AIMessage("Let's go with Tokyo instead, it's cheaper.", id="a1"),
        HumanMessage("Don't assume I have a rail pass. Is the museum open on Mondays?", id="h2"),
        HumanMessage(
            "No, I meant start in Osaka. Case C-1042 and licensee ACME-77 matter.", id="h3"
        ),
        HumanMessage(
            "This is urgent: the deadline is Friday. Let's work on the budget now.", id="h4"
        ),
    ]
    summary = ExtractiveSummarizer().summarize(None, turns, max_items=10)
    assert summary.user_goal == "I want to plan a trip to Japan. [turn h1]"
    assert summary.confirmed_decisions == [
        "No, I meant start in Osaka. [turn h3; corrects: Let's go with Kyoto first.]"
    ]
    assert not any("Tokyo" in d for d in summary.confirmed_decisions)  # the model's words
    assert summary.rejected_assumptions == ["Don't assume I have a rail pass. [turn h2]"]
    assert summary.open_questions == ["Is the museum open on Mondays? [turn h2]"]
    assert summary.important_entities == {"C-1042": "C-1042", "licensee": "ACME-77"}
    assert summary.active_task == "Let's work on the budget now. [turn h4]"
    assert summary.risk_notes == ["This is urgent: the deadline is Friday. [turn h4]"]


def test_summary_lists_stay_bounded() -> None:
    turns = [HumanMessage(f"We decided on item {i}.", id=f"h{i}") for i in range(50)]
    summary = ExtractiveSummarizer().summarize(None, turns, max_items=5)
    assert len(summary.confirmed_decisions) == 5
    assert summary.confirmed_decisions[-1].startswith("We decided on item 49.")


def test_rejected_assumptions_are_never_confirmed() -> None:
    with pytest.raises(ValidationError):
        SessionSummary(
            confirmed_decisions=["the user is an admin"],
            rejected_assumptions=["The user is an admin"],
        )


def draft_reply(**fields: Any) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": "SummaryDraft", "args": fields, "id": "call-1"}])


def test_llm_summarizer_uses_structured_output() -> None:
    model = RecordingChatModel(
        replies=[
            draft_reply(
                user_goal="Plan Japan [turn h1]", confirmed_decisions=["Start in Osaka [turn h3]"]
            )
        ]
    )
    config = MemoryConfig(summarize_at_messages=4, keep_messages=2)
    update = summarize_messages(
        chat(3), previous=None, config=config, counter=COUNTER, summarizer=LLMSummarizer(model)
    )
    assert update.summary is not None
    assert update.summary.confirmed_decisions == ["Start in Osaka [turn h3]"]
    assert update.summary.covered_turn_ids == ["h0", "a0", "h1", "a1"]
    prompt = model.calls[0][-1].content
    assert "NEW TURNS" in prompt and "[turn h0]" in prompt and "[turn h2]" not in prompt


def test_llm_summary_that_breaks_an_invariant_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    model = RecordingChatModel(
        replies=[
            draft_reply(confirmed_decisions=["assume admin"], rejected_assumptions=["assume admin"])
        ]
    )
    turns = [HumanMessage("We decided to ship on Monday.", id="h1"), AIMessage("ok", id="a1")]
    with caplog.at_level(logging.WARNING):
        summary = LLMSummarizer(model).summarize(None, turns, max_items=5)
    assert summary.confirmed_decisions == ["We decided to ship on Monday. [turn h1]"]
    assert "failed validation" in caplog.text


async def test_async_twin_matches_sync() -> None:
    config = MemoryConfig(summarize_at_messages=6, keep_messages=2)
    sync = summarize_messages(chat(5), previous=None, config=config, counter=COUNTER)
    asyn = await asummarize_messages(chat(5), previous=None, config=config, counter=COUNTER)
    assert sync.summary == asyn.summary and sync.folded == asyn.folded


def test_each_fold_chains_the_archive_digest_on_from_the_last() -> None:
    config = MemoryConfig(summarize_at_messages=4, keep_messages=2)
    messages, summary, folded = chat(12), None, []
    for end in range(2, len(messages) + 1, 2):
        update = summarize_messages(
            [m for m in messages[:end] if m.id not in {f.id for f in folded}],
            previous=summary,
            config=config,
            counter=COUNTER,
        )
        if update.folded:
            folded += update.folded
            summary = update.summary
    assert summary is not None and summary.version > 1
    whole = to_archived(folded, start_seq=0, summary_version=1)
    assert summary.archive_digest == archive_digest(None, whole)


def test_a_summary_from_before_digests_gets_none_to_chain_on() -> None:
    old = SessionSummary(
        covered_turns=4, version=2, last_updated_turn_id="a1", covered_turn_ids=["a1"]
    )
    config = MemoryConfig(summarize_at_messages=4, keep_messages=2)
    update = summarize_messages(chat(5), previous=old, config=config, counter=COUNTER)
    assert update.summary is not None and update.folded
    assert update.summary.archive_digest is None
    fresh = summarize_messages(chat(5), previous=None, config=config, counter=COUNTER)
    assert fresh.summary is not None and fresh.summary.archive_digest is not None


# --- through the graph ----------------------------------------------------------------------


def test_archive_plus_window_is_the_whole_thread(backend_url: str) -> None:
    config = MemoryConfig(summarize_at_messages=12, keep_messages=6)
    cfg = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}
    with ExitStack() as stack:
        saver = stack.enter_context(open_checkpointer(backend_url))
        store = stack.enter_context(open_store(backend_url))
        graph = create_memory_graph(
            RecordingChatModel(), checkpointer=saver, store=store, config=config
        )
        sent: list[str] = []
        for i in range(25):
            text = f"turn {i}" + (" café ☕ \U0001f600 naïve" if i % 7 == 3 else "")
            graph.invoke({"messages": [HumanMessage(text, id=f"u{i}")]}, cfg, context=ANA)
        values = graph.get_state(cfg).values
        archive = read_archive(store, ("acme", "ana", cfg["configurable"]["thread_id"]))
    sent = [m.id for m in [*[t for t in archive], *values["messages"]]]
    users = [i for i in sent if i.startswith("u")]
    assert users == [f"u{i}" for i in range(25)]
    assert len(sent) == 50 and len(set(sent)) == 50
    assert [t.seq for t in archive] == list(range(len(archive)))
    assert len(values["messages"]) <= 12
    assert values["summary"].covered_turns == len(archive)
    assert {t.summary_version for t in archive} == set(range(1, values["summary"].version + 1))
    # what recall checks its copy of the archive against: the turns as stored
    assert values["summary"].archive_digest == archive_digest(None, archive)


def test_a_checkpointer_without_a_store_is_refused_and_without_either_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from memorygraph.errors import ConfigError

    config = MemoryConfig(summarize_at_messages=4, keep_messages=2)
    # Persisted but never folded would grow without limit: refused, saying what to open.
    with pytest.raises(ConfigError, match=r"no store.*open_store\(url\)"):
        create_memory_graph(checkpointer=InMemorySaver(), config=config)
    # Nothing persists without a checkpointer: it runs, folds nothing, and warns once.
    graph = create_memory_graph(config=config)
    cfg = {"configurable": {"thread_id": "t"}}
    turns = [HumanMessage(f"turn {i}") for i in range(6)]
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            out = graph.invoke({"messages": turns}, cfg, context=ANA)
    assert len(out["messages"]) == 6
    assert caplog.text.count("needs a store") == 1


def test_an_early_decision_survives_1000_turns() -> None:
    store = InMemoryStore()
    from langgraph.checkpoint.memory import InMemorySaver

    graph = create_memory_graph(checkpointer=InMemorySaver(), store=store)
    cfg = {"configurable": {"thread_id": "long"}}
    graph.invoke(
        {"messages": [HumanMessage("We decided to keep the ledger in PostgreSQL.")]},
        cfg,
        context=ANA,
    )
    for i in range(1000):
        graph.invoke(
            {"messages": [HumanMessage(f"turn {i}: small talk about the weather " * 3)]},
            cfg,
            context=ANA,
        )
    values = graph.get_state(cfg).values
    assert len(values["messages"]) <= MemoryConfig().summarize_at_messages
    assert values["summary"].version > 10
    context = values["context_package"].to_messages()[1].content
    assert "We decided to keep the ledger in PostgreSQL." in context
