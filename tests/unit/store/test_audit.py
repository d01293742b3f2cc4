"""The audit trail: its fields (docs/architecture.md), append-only, redacted, and replayable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage

from memorygraph import MemoryConfig, MemoryContext, create_memory_graph
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.cli import EXIT_ERROR, EXIT_OK, main
from memorygraph.context import Identity
from memorygraph.errors import ReplayError
from memorygraph.nodes.model import record_audit
from memorygraph.packing import build_package
from memorygraph.records import AuditRecord
from memorygraph.redact import redact
from memorygraph.store import audit as audit_module
from memorygraph.store.audit import read_audit, rebuild_package, replay_package
from memorygraph.store.namespaces import audit_namespace, restricted_audit_namespace
from tests.fakes import RecordingChatModel

PII = {
    "email": "ana.silva@example.org",
    "phone": "+351 912 345 678",
    "card": "4111 1111 1111 1111",
    "ssn": "078-05-1120",
    "nino": "QQ 12 34 56 C",
}
SENSITIVE_TURN = (
    f"Reach me at {PII['email']} or {PII['phone']}; card {PII['card']}, "
    f"SSN {PII['ssn']}, NINO {PII['nino']}."
)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def open_graph(stack: ExitStack, url: str, config: MemoryConfig, model: Any = None) -> Any:
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    graph = create_memory_graph(
        model or RecordingChatModel(), checkpointer=checkpointer, store=store, config=config
    )
    return graph, store


def fresh() -> tuple[MemoryContext, dict[str, Any]]:
    context = MemoryContext(tenant_id=f"acme{uuid.uuid4().hex[:8]}", user_id="ana")
    return context, {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def test_every_model_call_leaves_one_record_with_the_trace_fields(
    backend_url: str, stack: ExitStack
) -> None:
    config = MemoryConfig(
        summarize_at_messages=6, keep_messages=4, token_budget=700, output_reserve=100
    )
    graph, store = open_graph(stack, backend_url, config)
    context, cfg = fresh()
    packages = []
    for n in range(5):
        graph.invoke(
            {"messages": [HumanMessage(f"turn {n} " + "word " * 100)]}, cfg, context=context
        )
        packages.append(graph.get_state(cfg).values["context_package"])
    records = read_audit(
        store, context.tenant_id, context.user_id, thread_id=cfg["configurable"]["thread_id"]
    )
    assert [r.package_id for r in records] == [p.id for p in packages]
    who = Identity(cfg["configurable"]["thread_id"], context.tenant_id, "ana", ())
    summary = graph.get_state(cfg).values.get("summary")
    last, package = records[-1], packages[-1]
    assert last.included_ids == package.included_ids
    assert [i for i, _ in last.excluded] == package.excluded_ids
    assert any(reason == "over_budget" for record in records for _, reason in record.excluded)
    assert (last.budget, last.total_tokens) == (700, package.total_tokens)
    assert last.prompt_version == config.prompt_version
    assert last.model == "recording-fake"
    assert summary is not None and last.summary_version == summary.version
    assert last.policy_scope_hash == who.scope_hash
    assert (last.thread_id, last.tenant_id, last.user_id) == (
        cfg["configurable"]["thread_id"],
        context.tenant_id,
        "ana",
    )


def test_the_audit_is_append_only(stack: ExitStack) -> None:
    store = stack.enter_context(open_store("memory"))
    who = Identity("t1", "acme", "ana", ())
    package = build_package(
        {"messages": [HumanMessage("hi", id="h1")]}, identity=who, config=MemoryConfig()
    )
    first = record_audit(package, identity=who, model="m", summary_version=None, store=store)
    stored = store.get(audit_namespace("acme", "ana"), f"t1:{package.id}")
    assert stored is not None
    # The same call again (LangGraph re-runs a node after a crash): nothing is rewritten.
    again = record_audit(package, identity=who, model="other", summary_version=3, store=store)
    assert again.created_at >= first.created_at
    after = store.get(audit_namespace("acme", "ana"), f"t1:{package.id}")
    assert (
        after is not None and after.value == stored.value and after.updated_at == stored.updated_at
    )
    assert read_audit(store, "acme", "ana") == [AuditRecord.model_validate(stored.value)]
    # The module offers appending and reading, and nothing that updates or deletes.
    public = set(audit_module.__all__)
    assert not {name for name in public if any(w in name for w in ("update", "delete", "edit"))}


def test_the_general_trace_is_redacted_and_full_content_is_only_where_configured(
    backend_url: str, stack: ExitStack
) -> None:
    for full in (False, True):
        config = MemoryConfig(audit_full_content=full, approve_personal=False)
        graph, store = open_graph(stack, backend_url, config)
        context, cfg = fresh()
        graph.invoke({"messages": [HumanMessage(SENSITIVE_TURN)]}, cfg, context=context)
        (record,) = read_audit(store, context.tenant_id, "ana")
        general = repr(record) + repr(
            [i.value for i in store.search(audit_namespace(context.tenant_id, "ana"), limit=100)]
        )
        for value in PII.values():
            assert value not in general
        assert "[email]" in general and "[card]" in general and "[national-id]" in general
        restricted = store.search(restricted_audit_namespace(context.tenant_id, "ana"), limit=100)
        if not full:
            assert restricted == []
            continue
        (item,) = restricted
        assert item.key == record.package_id
        assert all(value in repr(item.value) for value in PII.values())


def test_ids_only_when_content_is_off(stack: ExitStack) -> None:
    graph, store = open_graph(stack, "memory", MemoryConfig(audit_content="none"))
    context, cfg = fresh()
    graph.invoke({"messages": [HumanMessage("hello there")]}, cfg, context=context)
    (record,) = read_audit(store, context.tenant_id, "ana")
    assert record.redacted_content == {} and record.included_ids


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_replay_rebuilds_a_logged_package_with_the_same_id(
    kind: str, stack: ExitStack, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'replay.db'}" if kind == "sqlite" else None
    url = url or request.getfixturevalue("postgres_url")
    config = MemoryConfig(
        audit_full_content=True,
        approve_personal=False,
        summarize_at_messages=4,
        keep_messages=2,
        stale_after={"lives_in": __import__("datetime").timedelta(seconds=1)},
    )
    graph, store = open_graph(stack, url, config)
    context, cfg = fresh()
    texts = ["My name is Ana.", "I live in Lisbon.", "I like jazz.", "Call me at +1 202 555 0143."]
    for text in texts + ["Where do I live?", "What do I like?"]:
        graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=context)
    records = read_audit(store, context.tenant_id, "ana")
    assert len(records) == 6
    # More turns, new facts and time passing since: replay reads none of it again.
    other = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}
    graph.invoke({"messages": [HumanMessage("I moved to Porto.")]}, other, context=context)
    for record in records:
        assert replay_package(store, context.tenant_id, "ana", record.package_id).id == (
            record.package_id
        )
    args = ["--db", url, "--tenant", context.tenant_id, "--user", "ana"]
    assert main(["replay", "--package", records[-1].package_id, *args]) == EXIT_OK
    assert main(["replay", "--package", "no-such-package", *args]) == EXIT_ERROR


def test_replay_shows_a_tampered_record(
    stack: ExitStack, capsys: pytest.CaptureFixture[str]
) -> None:
    store = stack.enter_context(open_store("memory"))
    who = Identity("t1", "acme", "ana", ())
    config = MemoryConfig(audit_full_content=True)
    state = {
        "messages": [
            HumanMessage("hi", id="h1"),
            AIMessage("yo", id="a1"),
            HumanMessage("q", id="h2"),
        ]
    }
    now = datetime(2026, 1, 1, tzinfo=UTC)
    package = build_package(state, identity=who, config=config, now=now)
    audit_module.record_package_inputs(
        store, package, state=state, identity=who, config=config, now=now
    )
    record = dict(store.get(restricted_audit_namespace("acme", "ana"), package.id).value)  # type: ignore[union-attr]
    assert rebuild_package(record).id == package.id
    record["state"]["messages"]["messages"][1]["data"]["content"] = "edited later"
    assert rebuild_package(record).id != package.id
    with pytest.raises(ReplayError, match="no restricted audit record"):
        replay_package(store, "acme", "bob", package.id)
    with pytest.raises(ReplayError, match="malformed"):
        rebuild_package({"package_id": "x"})


emails = st.from_regex(
    r"[a-z][a-z0-9._+-]{0,10}@[a-z0-9-]{1,10}\.(com|org|pt|co\.uk)", fullmatch=True
)
cards = st.lists(st.integers(0, 9), min_size=16, max_size=16).map(
    lambda d: " ".join("".join(map(str, d[i : i + 4])) for i in range(0, 16, 4))
)
phones = st.from_regex(r"\+[1-9][0-9]{0,2} [0-9]{3} [0-9]{3} [0-9]{3,4}", fullmatch=True)
ssns = st.from_regex(r"[0-8][0-9]{2}-[0-9]{2}-[0-9]{4}", fullmatch=True)
words = st.text(alphabet="abcdefghij ,.;:!?", max_size=20)


@settings(max_examples=200, deadline=None)
@given(secret=st.one_of(emails, cards, phones, ssns), before=words, after=words)
def test_redaction_removes_every_generated_identifier(secret: str, before: str, after: str) -> None:
    redacted = redact(f"{before} {secret} {after}")
    assert secret not in redacted
    digits = "".join(ch for ch in secret if ch.isdigit())
    assert len(digits) < 7 or digits not in "".join(ch for ch in redacted if ch.isdigit())
