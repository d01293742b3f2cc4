"""Bad input gets a specific MemoryGraphError saying what to fix, and changes nothing.

`tests/unit/graph/test_builder.py::test_bad_input_raises_and_leaves_state_unchanged`
covers an unknown role in a dict, a bare non-message, a blank thread id and an
oversized request; `tests/unit/test_state.py` covers the reducer. This module adds
the rest of issue 7's list, each through the graph on every backend, with the
message checked: tool results without their call, a 5 MB message, invalid
UTF-8 and lone surrogates, other non-messages, missing or blank thread and
tenant ids, ids that cannot name a store namespace, bad budgets, malformed
resume values, and checkpoints corrupted on disk. Then hypothesis fuzzes the
packer and the extractors: nothing but a MemoryGraphError may escape them.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from memorygraph import (
    ContextItem,
    Fact,
    MemoryConfig,
    MemoryContext,
    MemoryGraphError,
    Priority,
    SessionSummary,
    TrustLevel,
    create_memory_graph,
)
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.context import Identity, resolve_identity
from memorygraph.errors import (
    ConfigError,
    CorruptStateError,
    IdentityError,
    InvalidMessageError,
    InvalidNamespaceError,
    ResumeValueError,
)
from memorygraph.graph import MemoryGraph
from memorygraph.nodes.extraction import extract_facts_from
from memorygraph.packing import build_package
from memorygraph.records import TaskState
from tests.fakes import RecordingChatModel

ANA = MemoryContext(tenant_id="acme", user_id="ana")
FIVE_MB = "x" * (5 * 1024 * 1024)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def open_graph(stack: ExitStack, url: str, **kwargs: Any) -> MemoryGraph:
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    return create_memory_graph(
        RecordingChatModel(), checkpointer=checkpointer, store=store, **kwargs
    )


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def snapshot(graph: MemoryGraph, cfg: dict[str, Any]) -> tuple[Any, ...]:
    state = graph.get_state(cfg)
    history = len(list(graph.get_state_history(cfg)))
    return state.values, state.config, state.next, [t.interrupts for t in state.tasks], history


BAD_MESSAGES = [
    pytest.param([("wizard", "x")], "role human, ai, system or tool", id="unknown-role-tuple"),
    pytest.param([ChatMessage(role="root", content="x")], "unknown role 'root'", id="chat-role"),
    pytest.param(
        [ToolMessage("42", tool_call_id="call-nowhere")],
        "no matching AI tool call in the thread; send the AIMessage with the tool_calls first",
        id="tool-result-without-call",
    ),
    pytest.param(
        [{"role": "tool", "content": "42", "tool_call_id": "call-nowhere"}],
        "no matching AI tool call",
        id="tool-result-dict-without-call",
    ),
    pytest.param(
        [HumanMessage(FIVE_MB)],
        "more than the 1,000,000 accepted; store large documents elsewhere",
        id="5MB-message",
    ),
    pytest.param(
        [HumanMessage([{"type": "text", "text": FIVE_MB}])], "more than the", id="5MB-block"
    ),
    pytest.param([HumanMessage("ok \ud800 no")], "not valid UTF-8 text", id="lone-surrogate"),
    pytest.param(
        [HumanMessage(b"caf\xe9 \xff".decode("utf-8", "surrogateescape"))],
        "decode input bytes with errors='replace'",
        id="surrogateescape-bytes",
    ),
    pytest.param(
        [{"role": "user", "content": b"caf\xe9 \xff"}],
        "bytes that are not valid UTF-8",
        id="invalid-utf8-bytes",
    ),
    pytest.param([{"role": "user", "content": b"cafe"}], "decode it to text first", id="bytes"),
    pytest.param([None], "NoneType, not a chat message", id="none"),
    pytest.param([object()], "not a chat message", id="object"),
    pytest.param([3.5], "float, not a chat message", id="float"),
    pytest.param([[("human", "nested")]], "list, not a chat message", id="nested-list"),
    pytest.param([{"content": "no role"}], "unknown role None", id="dict-without-role"),
    pytest.param([("human",)], "must be a (role, content) pair", id="short-tuple"),
    pytest.param([HumanMessage("fine"), 42], r"messages\[1\] is int", id="second-of-two"),
]


def test_bad_messages_are_refused_and_change_nothing(backend_url: str, stack: ExitStack) -> None:
    """One thread per backend, every bad input in turn: each refused, none leaves a trace."""
    graph = open_graph(stack, backend_url, config=MemoryConfig(token_budget=2000))
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("first turn")]}, cfg, context=ANA)
    before = snapshot(graph, cfg)
    for case in BAD_MESSAGES:
        messages, match = case.values
        pattern = str(match).replace("(", r"\(").replace(")", r"\)")
        with pytest.raises(InvalidMessageError, match=pattern):
            graph.invoke({"messages": messages}, cfg, context=ANA)
        assert snapshot(graph, cfg) == before, case.id
    graph.invoke({"messages": [HumanMessage("still works")]}, cfg, context=ANA)


BAD_IDENTITIES = [
    pytest.param({"configurable": {}}, ANA, IdentityError, "thread_id is missing", id="no-thread"),
    pytest.param(None, ANA, IdentityError, "thread_id is missing", id="no-config"),
    pytest.param(
        {"configurable": {"thread_id": "\t"}}, ANA, IdentityError, "non-blank", id="tab-thread"
    ),
    pytest.param(
        "configurable-tenant",
        {"tenant_id": "  ", "user_id": "ana"},
        IdentityError,
        "tenant_id must be a non-blank string",
        id="blank-tenant",
    ),
    pytest.param(
        "configurable-tenant",
        {"tenant_id": "acme", "user_id": ""},
        IdentityError,
        "user_id must be a non-blank string",
        id="blank-user",
    ),
    pytest.param(
        "configurable-tenant",
        {"user_id": "ana"},
        IdentityError,
        "tenant_id is missing",
        id="missing-tenant",
    ),
    pytest.param(
        "same",
        MemoryContext(tenant_id="acme.corp", user_id="ana"),
        InvalidNamespaceError,
        "tenant_id must be a non-blank string without control characters or dots",
        id="dotted-tenant",
    ),
    pytest.param(
        "dotted-thread",
        ANA,
        InvalidNamespaceError,
        "thread_id must be a non-blank string without control characters or dots",
        id="dotted-thread",
    ),
]


def test_bad_identities_are_refused_and_change_nothing(backend_url: str, stack: ExitStack) -> None:
    graph = open_graph(stack, backend_url)
    cfg = thread()
    graph.invoke({"messages": [HumanMessage("first turn")]}, cfg, context=ANA)
    before = snapshot(graph, cfg)
    for case in BAD_IDENTITIES:
        override, context, error, match = case.values
        if override == "configurable-tenant":
            run_cfg: Any = {"configurable": {**cfg["configurable"], **context}}
            context = None
        elif override == "same":
            run_cfg = {"configurable": {"thread_id": f"new-{uuid.uuid4()}"}}
        elif override == "dotted-thread":
            run_cfg = {"configurable": {"thread_id": f"session.{uuid.uuid4()}"}}
        else:
            run_cfg = override
        with pytest.raises(error, match=match):
            graph.invoke({"messages": [HumanMessage("hi")]}, run_cfg, context=context)
        assert snapshot(graph, cfg) == before, case.id
        if override in ("same", "dotted-thread"):
            assert graph.get_state(run_cfg).values == {}  # the new thread was not started


def test_a_blank_tenant_cannot_even_be_named() -> None:
    with pytest.raises(IdentityError, match="tenant_id must be a non-blank string, got ' '"):
        MemoryContext(tenant_id=" ", user_id="ana")
    with pytest.raises(IdentityError, match="thread_id must be a non-blank string"):
        resolve_identity(ANA, {"configurable": {"thread_id": ""}})


@pytest.mark.parametrize(
    ("settings_", "match"),
    [
        ({"token_budget": 0}, "token_budget must be positive, got 0"),
        ({"token_budget": -100}, "token_budget must be positive, got -100"),
        ({"output_reserve": -1}, "output_reserve must be >= 0, got -1"),
        ({"token_budget": 500, "output_reserve": 500}, "must be smaller than token_budget"),
        ({"facts_ttl": timedelta(0)}, "facts_ttl must be positive or None"),
        ({"audit_ttl": timedelta(seconds=-1)}, "audit_ttl must be positive or None"),
        ({"token_budget": "lots"}, "token_budget: Input should be a valid integer"),
    ],
)
def test_zero_or_negative_budgets_are_refused_with_the_field_named(
    settings_: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        MemoryConfig(**settings_)


# --- malformed resume values ------------------------------------------------------------------


def paused_on_approval(
    stack: ExitStack, url: str
) -> tuple[MemoryGraph, dict[str, Any], MemoryContext, str]:
    graph = open_graph(stack, url)
    cfg = thread()
    # A fresh tenant: the PostgreSQL database is shared, and a fact approved by an
    # earlier test would not be asked about again.
    context = MemoryContext(tenant_id=f"acme{uuid.uuid4().hex[:8]}", user_id="ana")
    result = graph.invoke(
        {"messages": [HumanMessage("I'm allergic to peanuts.")]}, cfg, context=context
    )
    (candidate,) = result["__interrupt__"][0].value["candidates"]
    return graph, cfg, context, candidate["id"]


MALFORMED_RESUMES: list[tuple[str, Callable[[str], Any], str]] = [
    ("string", lambda c: "yes", "invalid approval response"),
    ("none", lambda c: None, "invalid approval response"),
    ("unknown-id", lambda c: {"approve": ["cand-unknown"]}, "unknown candidate id"),
    ("not-a-list", lambda c: {"approve": c, "reject": []}, "invalid approval response"),
    ("both", lambda c: {"approve": [c], "reject": [c]}, "invalid approval response"),
    ("nobody", lambda c: {"approve": [], "reject": []}, "invalid approval response"),
    ("extra-key", lambda c: {"approve": [c], "delete": [c]}, "invalid approval response"),
    ("edit-int", lambda c: {"edit": {c: 7}}, "invalid approval response"),
]


def test_malformed_resume_values_are_refused_and_change_nothing(
    backend_url: str, stack: ExitStack
) -> None:
    graph, cfg, context, candidate = paused_on_approval(stack, backend_url)
    before = snapshot(graph, cfg)
    for name, resume, match in MALFORMED_RESUMES:
        with pytest.raises(ResumeValueError, match=match):
            graph.invoke(Command(resume=resume(candidate)), cfg, context=context)
        assert snapshot(graph, cfg) == before, name
    # The thread is still paused on the same question, and a good answer works.
    graph.invoke(Command(resume={"approve": [candidate]}), cfg, context=context)
    assert graph.get_state(cfg).values["pending"] == []


# --- checkpoints corrupted on disk --------------------------------------------------------------


def _rewrite_blob(path: Path, thread_id: str, change: Callable[[bytes], bytes | None]) -> None:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT checkpoint_id, checkpoint FROM checkpoints WHERE thread_id = ?", (thread_id,)
        ).fetchall()
        assert rows
        for checkpoint_id, blob in rows:
            conn.execute(
                "UPDATE checkpoints SET checkpoint = ? WHERE thread_id = ? AND checkpoint_id = ?",
                (change(bytes(blob)), thread_id, checkpoint_id),
            )


def _sql(path: Path, statement: str, thread_id: str) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute(statement, (thread_id,)).rowcount > 0


def _flip(blob: bytes) -> bytes:
    data = bytearray(blob)
    for index in range(16, len(data), 9):
        data[index] ^= 0x5A
    return bytes(data)


def _damage_pages(path: Path, thread_id: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    with path.open("r+b") as file:
        for page in range(1, pages):  # every page but the header page
            file.seek(page * page_size + 8)
            file.write(b"\xde\xad\xbe\xef" * 64)


CORRUPTIONS: dict[str, Callable[[Path, str], None]] = {
    "truncated": lambda p, t: _rewrite_blob(p, t, lambda b: b[: len(b) // 2]),
    "random-bytes": lambda p, t: _rewrite_blob(p, t, lambda b: bytes(255 - x for x in b)),
    "flipped-bits": lambda p, t: _rewrite_blob(p, t, _flip),
    "empty": lambda p, t: _rewrite_blob(p, t, lambda b: b""),
    "null": lambda p, t: _rewrite_blob(p, t, lambda b: None),
    "record-class-renamed": lambda p, t: _rewrite_blob(
        p, t, lambda b: b.replace(b"ContextPackage", b"ContextPackagX")
    ),
    "messages-dropped": lambda p, t: _rewrite_blob(
        p, t, lambda b: b.replace(b"\xa8messages", b"\xa8messagez", 1)
    ),
    "unknown-type": lambda p, t: _sql(
        p, "UPDATE checkpoints SET type = 'bogus' WHERE thread_id = ?", t
    ),
    "metadata": lambda p, t: _sql(
        p, "UPDATE checkpoints SET metadata = x'00ff' WHERE thread_id = ?", t
    ),
    "damaged-pages": _damage_pages,
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupted_sqlite_checkpoint_raises_naming_the_thread(
    sqlite_url: str, tmp_path: Path, corruption: str
) -> None:
    thread_id = f"t-{uuid.uuid4()}"
    cfg = {"configurable": {"thread_id": thread_id}}
    with ExitStack() as stack:
        graph = open_graph(stack, sqlite_url)
        for text in ("My name is Ana.", "I live in Lisbon."):
            graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=ANA)
    path = tmp_path / "memorygraph.db"
    CORRUPTIONS[corruption](path, thread_id)
    with ExitStack() as stack:
        try:
            graph = open_graph(stack, sqlite_url)
        except MemoryGraphError as exc:  # a damaged file may not even open
            assert "cannot open SQLite database" in str(exc)
            return
        with pytest.raises(CorruptStateError, match=f"thread '{thread_id}' is corrupt") as caught:
            graph.invoke({"messages": [HumanMessage("Where do I live?")]}, cfg, context=ANA)
        assert "will not start the thread afresh" in str(caught.value)
        assert caught.value.thread_id == thread_id
        with pytest.raises(CorruptStateError, match=thread_id):
            graph.get_state(cfg)


@pytest.mark.postgres
def test_a_missing_postgres_blob_is_not_a_silent_reset(postgres_url: str) -> None:
    import psycopg

    thread_id = f"t-{uuid.uuid4()}"
    cfg = {"configurable": {"thread_id": thread_id}}
    with ExitStack() as stack:
        graph = open_graph(stack, postgres_url)
        graph.invoke({"messages": [HumanMessage("My name is Ana.")]}, cfg, context=ANA)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        deleted = conn.execute(
            "DELETE FROM checkpoint_blobs WHERE thread_id = %s AND channel = 'messages'",
            (thread_id,),
        ).rowcount
    assert deleted
    with ExitStack() as stack:
        graph = open_graph(stack, postgres_url)
        with pytest.raises(CorruptStateError, match="'messages' has a version but no stored"):
            graph.invoke({"messages": [HumanMessage("Who am I?")]}, cfg, context=ANA)


# --- fuzzing: only MemoryGraphError may escape ------------------------------------------------

text = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(["\n", "\r", "\u2028", "[", "]", ">", "|", "\ud800", "\udfff", "\x00"]),
    ),
    max_size=60,
)
ids = st.one_of(st.text(max_size=8), st.sampled_from(["", " ", "h1", "h1", "c1"]))
# Sentences the rule-based extractor turns into facts, corrections and retractions,
# so that the fuzz reaches reconciliation and not only the parser.
claims = st.sampled_from(
    [
        "My name is Ana.",
        "I live in Lisbon.",
        "Actually, I live in Porto.",
        "I no longer live in Lisbon.",
        "That's wrong.",
        "I like cats.",
        "I don't like cats.",
        "My favourite colour is teal.",
        "We decided to use PostgreSQL.",
    ]
)
said = st.one_of(text, claims)


@st.composite
def messages(draw: st.DrawFn) -> list[BaseMessage]:
    found: list[BaseMessage] = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(["human", "ai", "call", "tool", "system", "chat", "remove"]))
        message_id = draw(st.one_of(st.none(), ids))
        if kind == "human":
            found.append(HumanMessage(draw(said), id=message_id))
        elif kind == "ai":
            found.append(AIMessage(draw(said), id=message_id))
        elif kind == "call":
            calls = [
                {"name": draw(st.sampled_from(["f", "g"])), "args": {"x": draw(text)}, "id": c}
                for c in draw(st.lists(ids, max_size=3))
            ]
            found.append(AIMessage(draw(text), tool_calls=calls, id=message_id))
        elif kind == "tool":
            found.append(ToolMessage(draw(said), tool_call_id=draw(ids), id=message_id))
        elif kind == "system":
            found.append(SystemMessage(draw(said), id=message_id))
        elif kind == "chat":
            found.append(ChatMessage(role=draw(st.text(max_size=6)), content=draw(text)))
        else:
            found.append(RemoveMessage(id=draw(ids) or "x"))
    return found


facts = st.builds(
    Fact,
    id=ids.filter(bool),
    key=text,
    value=text,
    subject=text,
    trust_level=st.sampled_from(TrustLevel),
    observed_at=st.datetimes(timezones=st.just(UTC)),
    expires_at=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    status=st.sampled_from(["active", "superseded", "rejected"]),
    scope=st.sampled_from(["thread", "user", "tenant"]),
)
items = st.builds(
    ContextItem,
    id=ids,
    kind=st.sampled_from(["recalled", "tool_result", "fact", "recent_turn", "summary"]),
    content=text,
    priority=st.sampled_from([Priority.HIGH, Priority.MEDIUM, Priority.LOW]),
    tokens=st.integers(0, 400),
    source=text,
    required_scope=st.one_of(st.none(), st.sampled_from(["hr", "sales"])),
    group=st.one_of(st.none(), st.sampled_from(["g1", "g2"])),
)
summaries = st.one_of(
    st.none(),
    st.builds(
        SessionSummary,
        user_goal=st.one_of(st.none(), text),
        confirmed_decisions=st.lists(text, max_size=3),
        open_questions=st.lists(text, max_size=2),
    ),
)
tasks = st.one_of(st.none(), st.builds(TaskState, task_name=text, current_step=text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=messages(),
    facts=st.lists(facts, max_size=4),
    summary=summaries,
    task=tasks,
    extra=st.lists(items, max_size=3),
    durable=st.lists(facts, max_size=3),
    budget=st.integers(1, 3000),
    reserve=st.integers(0, 600),
    scopes=st.lists(st.sampled_from(["hr", "sales"]), max_size=2),
    now=st.datetimes(timezones=st.just(UTC)),
)
def test_fuzz_the_packer_raises_only_memorygraph_errors(
    messages: list[BaseMessage],
    facts: list[Fact],
    summary: SessionSummary | None,
    task: TaskState | None,
    extra: list[ContextItem],
    durable: list[Fact],
    budget: int,
    reserve: int,
    scopes: list[str],
    now: datetime,
) -> None:
    try:
        config = MemoryConfig(token_budget=budget, output_reserve=reserve)
    except ConfigError:
        return
    who = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=tuple(scopes))
    state = {"messages": messages, "facts": facts, "summary": summary, "task": task}
    try:
        package = build_package(
            state, identity=who, config=config, now=now, extra_items=extra, durable_facts=durable
        )
    except MemoryGraphError:
        return
    assert package.total_tokens <= config.available_tokens
    package.to_messages()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=messages(),
    facts=st.lists(facts, max_size=4),
    durable=st.lists(facts, max_size=3),
    watermark=st.one_of(st.none(), ids),
    now=st.datetimes(timezones=st.just(UTC)),
)
def test_fuzz_the_extractor_raises_only_memorygraph_errors(
    messages: list[BaseMessage],
    facts: list[Fact],
    durable: list[Fact],
    watermark: str | None,
    now: datetime,
) -> None:
    try:
        update = extract_facts_from(
            messages, facts=facts, durable=durable, watermark=watermark, now=now
        )
    except MemoryGraphError:
        return
    # The same input gives the same update (extraction is a pure function of it).
    assert update == extract_facts_from(
        messages, facts=facts, durable=durable, watermark=watermark, now=now
    )
    changed = update.state_update({"messages": messages, "facts": facts})
    assert set(changed) <= {
        "facts",
        "pending",
        "task",
        "references",
        "memory_events",
        "extracted_through",
    }
    ids = [fact.id for fact in update.facts]
    assert len(ids) == len(set(ids))  # one change per fact
    # Trust is capped by who spoke: a new fact is never system_verified, and is at
    # most what the speakers present allow (only the model spoke: model_inferred).
    speakers = {message.type for message in messages}
    allowed = {TrustLevel.MODEL_INFERRED}
    if speakers & {"human", "system"}:
        allowed.add(TrustLevel.USER_CLAIMED)
    if "tool" in speakers:
        allowed.add(TrustLevel.TOOL_OBSERVED)
    known = {fact.id for fact in [*facts, *durable]}
    assert {fact.trust_level for fact in update.facts if fact.id not in known} <= allowed
    # Only retired facts name what superseded them.
    assert all(fact.superseded_by is None for fact in update.facts if fact.status == "active")


def test_a_lone_surrogate_that_got_past_the_reducer_cannot_break_the_packer() -> None:
    """Found by the fuzz: facts from the store, extra items and drop-in states skip the reducer."""
    bad = "caf\ud800e"
    who = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=())
    call = {"name": "f", "args": {"q": bad}, "id": "c1"}
    state = {
        "messages": [
            AIMessage(bad, tool_calls=[call], id="a1"),
            ToolMessage(bad, tool_call_id="c1", id="t1"),
            HumanMessage(bad, id="h1"),
        ],
        "facts": [Fact(id="f1", key="note", value=bad, subject=bad)],
    }
    extra = ContextItem(
        id=bad, kind="recalled", content=bad, priority=Priority.HIGH, tokens=3, source=bad
    )
    package = build_package(
        state,
        identity=who,
        config=MemoryConfig(),
        extra_items=[extra],
        durable_facts=[Fact(id="d1", key="likes", value=bad, scope="user")],
    )
    rendered = "".join(str(m.content) for m in package.to_messages())
    rendered.encode("utf-8")  # sendable
    assert "caf\ufffde" in rendered


class _PrunedOnce(InMemorySaver):
    """Reads a checkpoint whose messages blob is gone, as when another process
    pruned between reading the row and its blobs; the next read is whole."""

    def __init__(self, misses: int) -> None:
        super().__init__()
        self.misses = misses

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        saved = super().get_tuple(config)
        if saved is None or self.misses == 0:
            return saved
        self.misses -= 1
        values = {k: v for k, v in saved.checkpoint["channel_values"].items() if k != "messages"}
        return saved._replace(checkpoint={**saved.checkpoint, "channel_values": values})


@pytest.mark.parametrize("misses", [2, 3])
def test_a_checkpoint_read_while_pruned_is_read_again(misses: int) -> None:
    from memorygraph.graph._guard import load_thread

    saver = _PrunedOnce(misses=0)
    graph = create_memory_graph(RecordingChatModel(), checkpointer=saver, store=InMemoryStore())
    cfg: RunnableConfig = {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}
    graph.invoke({"messages": [HumanMessage("hello")]}, cfg, context=ANA)
    who = resolve_identity(ANA, cfg)
    saver.misses = misses
    if misses < 3:  # two bad reads, then a whole one: the run goes on
        assert [m.type for m in load_thread(saver, cfg, who)["messages"]] == ["human", "ai"]
    else:  # still missing after three reads: damaged, not racing
        with pytest.raises(CorruptStateError, match="no stored value"):
            load_thread(saver, cfg, who)
