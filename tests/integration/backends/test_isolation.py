"""Tenants and users cannot read each other's memory, on memory, SQLite and PostgreSQL.

Hypothesis generates tenants, users and threads with ids chosen to break naive
namespacing (prefixes of each other, SQL LIKE and GLOB wildcards, unicode),
then interleaves writes and reads: facts, the archive, recall, the audit log
(general and restricted, with the packages in it) and the thread registry.
Every value written carries a marker that names its owner's (tenant, user);
every read made with one identity while other identities' data is in the store
must return only that identity's markers. A graph test adds the packages and
checkpoints: another tenant's memory is never packed, and a thread id cannot be
borrowed across tenants or users.

The stores are shared by all examples of a backend (one per module), so reads
also run against everything earlier examples wrote.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.store.base import BaseStore, GetOp, ListNamespacesOp, MatchCondition, SearchOp

from memorygraph import Fact, MemoryConfig, MemoryContext, TokenCounter, create_memory_graph
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.context import Identity
from memorygraph.errors import IdentityError, InvalidNamespaceError, ReplayError
from memorygraph.packing import build_package
from memorygraph.retrieval import LexicalRetriever, recall_items
from memorygraph.store import namespaces
from memorygraph.store.archive import archive_turns, read_archive
from memorygraph.store.audit import (
    append_audit,
    audit_record,
    read_audit,
    record_package_inputs,
    replay_package,
)
from memorygraph.store.facts import load_facts, put_facts, search_facts
from memorygraph.store.threads import owned_threads, register_thread
from tests.fakes import RecordingChatModel

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CONFIG = MemoryConfig()
COUNTER = TokenCounter()


def mark(tenant: str, user: str) -> str:
    """The marker of everything one (tenant, user) owns."""
    digest = hashlib.sha256(f"{tenant}\x1f{user}".encode()).hexdigest()[:12]
    return f"MK{digest}"


def markers_in(text: str) -> set[str]:
    found = set()
    start = text.find("MK")
    while start != -1:
        candidate = text[start : start + 14]
        if len(candidate) == 14 and all(c in "0123456789abcdef" for c in candidate[2:]):
            found.add(candidate)
        start = text.find("MK", start + 2)
    return found


# Ids that try to break namespacing: prefixes of one another, LIKE (% _) and
# GLOB (* ? [) wildcards, regex metacharacters, unicode and spaces.
ID_PARTS = ["ac", "acme", "acme2", "%", "_", "*", "?", "[a", "a-b", "Ä", "x y", "a+", "(", "ac%"]
ids = (
    st.lists(st.sampled_from(ID_PARTS), min_size=1, max_size=2)
    .map("".join)
    .filter(
        lambda text: text != "*"  # a wildcard to list_namespaces: refused, tested below
    )
)


@dataclass(frozen=True)
class Owner:
    tenant: str
    user: str
    thread: str

    @property
    def marker(self) -> str:
        return mark(self.tenant, self.user)

    @property
    def identity(self) -> Identity:
        return Identity(thread_id=self.thread, tenant_id=self.tenant, user_id=self.user, scopes=())


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[Owner], list[tuple[str, int, int]]]:
    tenants = draw(st.lists(ids, min_size=2, max_size=3, unique=True))
    owners: list[Owner] = []
    for tenant in tenants:
        for user in draw(st.lists(ids, min_size=1, max_size=3, unique=True)):
            for thread in draw(st.lists(ids, min_size=1, max_size=2, unique=True)):
                owners.append(Owner(tenant, user, thread))
    # Interleave: each owner writes twice; reads come between and after the writes.
    steps = [("write", i, k) for i in range(len(owners)) for k in range(2)]
    steps += [("read", i, 0) for i in range(len(owners))] * 2
    order = draw(st.permutations(steps))
    return owners, list(order)


def write(store: BaseStore, owner: Owner, serial: int, run: str) -> None:
    text = f"{owner.marker} {run} turn {serial}"
    fact = Fact(
        id=f"f-{run}-{serial}",
        key="note",
        value=text,
        scope="user",
        observed_at=NOW,
        source_turn_id=f"h-{run}-{serial}",
    )
    put_facts(store, owner.tenant, owner.user, [fact], approved_by="policy")
    turns = [HumanMessage(text, id=f"h-{run}-{serial}"), AIMessage(f"ok {text}", id=f"a-{serial}")]
    archive_turns(
        store,
        (owner.tenant, owner.user, owner.thread),
        turns,
        start_seq=2 * serial,
        summary_version=serial + 1,
    )
    state = {"messages": [HumanMessage(text, id=f"r-{run}-{serial}")]}
    package = build_package(state, identity=owner.identity, config=CONFIG, now=NOW)
    record = audit_record(package, identity=owner.identity, model="fake", summary_version=None)
    append_audit(store, record)
    record_package_inputs(
        store, package, state=state, identity=owner.identity, config=CONFIG, now=NOW
    )
    register_thread(store, owner.identity)


def assert_own(reader: Owner, found: object, what: str) -> None:
    foreign = markers_in(repr(found)) - {reader.marker}
    assert not foreign, f"{what} read by {reader} returned another owner's data: {foreign}"


def target_ops(reader: Owner, target: Owner, package_ids: list[str], run: str) -> list[Any]:
    """Reads built with the reader's identity, aimed at the target's thread and keys."""
    t, u = reader.tenant, reader.user
    archive = namespaces.archive_namespace(t, u, target.thread)
    restricted = namespaces.restricted_audit_namespace(t, u)
    return [
        SearchOp(archive, limit=1000),
        SearchOp(namespaces.audit_namespace(t, u), filter={"thread_id": target.thread}),
        GetOp(namespaces.threads_namespace(t, u), target.thread),
        *(GetOp(archive, f"{seq:010d}") for seq in range(4)),
        *(GetOp(restricted, package_id) for package_id in package_ids),
        *(GetOp(namespaces.facts_namespace(t, u), f"f-{run}-{k}") for k in range(2)),
    ]


def cross_reads(
    store: BaseStore, reader: Owner, targets: list[tuple[Owner, list[str]]], run: str
) -> int:
    """Read with the reader's identity while the targets' data is in the store.

    Returns the number of reads made. The memorygraph read functions run once
    per target for the first target, the raw namespace reads for all of them.
    """
    t, u = reader.tenant, reader.user
    first, first_packages = targets[0]
    results: list[tuple[str, object]] = [
        ("facts", load_facts(store, t, u, now=NOW)),
        ("fact search", search_facts(store, t, u, f"{first.marker} turn note", now=NOW)),
        ("archive", read_archive(store, (t, u, first.thread))),
        (
            "recall",
            recall_items(
                store,
                (t, u, first.thread),
                f"{first.marker} turn note",
                archived=4,
                last_id=None,
                retriever=LexicalRetriever(),
                config=CONFIG,
                counter=COUNTER,
            ),
        ),
        ("audit", read_audit(store, t, u, thread_id=first.thread)),
        ("threads", owned_threads(store, t, u)),
    ]
    reads = len(results)
    for package_id in first_packages[-1:]:
        reads += 1
        with pytest.raises(ReplayError, match="no restricted audit record"):
            replay_package(store, t, u, package_id)
    # The reader's namespaces, and every target's keys, in one batch, built with
    # the namespace helpers: the reader can name the targets' keys, not reach them.
    user = namespaces.user_namespace(t, u)
    ops: list[Any] = [
        SearchOp(user, limit=1000),
        SearchOp(namespaces.facts_namespace(t, u), filter={"status": "active"}, limit=1000),
        SearchOp(namespaces.restricted_audit_namespace(t, u), limit=1000),
    ]
    for target, package_ids in targets:
        ops += target_ops(reader, target, package_ids, run)
    batch = store.batch(
        [*ops, ListNamespacesOp(match_conditions=(MatchCondition("prefix", user),), limit=1000)]
    )
    reads += len(ops) + 1
    for result in batch[:-1]:
        for item in result if isinstance(result, list) else [result]:
            if item is not None:
                assert tuple(item.namespace[: len(user)]) == user
                results.append(("batch", item))
    assert all(tuple(ns[: len(user)]) == user for ns in batch[-1])
    for what, found in results:
        assert_own(reader, found, what)
    return reads


@pytest.fixture(
    scope="module",
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def shared_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, BaseStore]]:
    kind: str = request.param
    if kind == "memory":
        url = "memory"
    elif kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('isolation') / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with open_store(url) as store:
        yield kind, store


def test_no_read_crosses_a_tenant_or_user(shared_store: tuple[str, BaseStore]) -> None:
    kind, store = shared_store
    reads = 0
    started = time.perf_counter()

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(plan=plans())
    def interleaved(plan: tuple[list[Owner], list[tuple[str, int, int]]]) -> None:
        nonlocal reads
        owners, steps = plan
        run = uuid.uuid4().hex[:8]
        packages: dict[tuple[str, str], list[str]] = {}
        for action, index, serial in steps:
            owner = owners[index]
            if action == "write":
                write(store, owner, serial, run)
                key = (owner.tenant, owner.user)
                packages[key] = [r.package_id for r in read_audit(store, *key)]
                continue
            targets = [
                (target, packages.get((target.tenant, target.user), []))
                for target in owners
                if (target.tenant, target.user) != (owner.tenant, owner.user)
            ]
            reads += cross_reads(store, owner, targets, run)
        # What was written is still there for its owner: isolation is not emptiness.
        for owner in owners:
            own = read_archive(store, (owner.tenant, owner.user, owner.thread))
            assert markers_in(repr(own)) == {owner.marker}

    interleaved()
    elapsed = time.perf_counter() - started
    print(f"\n{kind}: {reads} cross-tenant and cross-user reads, 0 leaks, {elapsed:.1f}s")
    assert reads >= 10_000


@pytest.mark.parametrize(
    "build",
    [
        lambda t: namespaces.tenant_namespace(t),
        lambda t: namespaces.user_namespace(t, "ana"),
        lambda t: namespaces.facts_namespace(t, "ana"),
        lambda t: namespaces.audit_namespace(t, "ana"),
        lambda t: namespaces.restricted_audit_namespace(t, "ana"),
        lambda t: namespaces.threads_namespace(t, "ana"),
        lambda t: namespaces.archive_namespace(t, "ana", "t1"),
    ],
    ids=["tenant", "user", "facts", "audit", "restricted_audit", "threads", "archive"],
)
@pytest.mark.parametrize("tenant", ["", "   ", None, 7, "a.b", "tab\there", "nul\x00", "*"])
def test_a_namespace_without_a_tenant_cannot_be_built(build: Any, tenant: object) -> None:
    with pytest.raises(InvalidNamespaceError, match="tenant_id must be a non-blank string"):
        build(tenant)


# --- through the graph: packages, checkpoints and thread ids --------------------------------


def test_packages_never_show_another_tenants_memory(backend_url: str) -> None:
    """Two tenants with the same user name; the second asks for the first one's data."""
    config = MemoryConfig(summarize_at_messages=4, keep_messages=2)
    suffix = uuid.uuid4().hex[:8]
    a = MemoryContext(tenant_id=f"a{suffix}", user_id="ana")
    b = MemoryContext(tenant_id=f"b{suffix}", user_id="ana")
    model = RecordingChatModel()
    with ExitStack() as stack:
        checkpointer = stack.enter_context(open_checkpointer(backend_url))
        store = stack.enter_context(open_store(backend_url))
        graph = create_memory_graph(model, checkpointer=checkpointer, store=store, config=config)
        secret = mark(a.tenant_id, "ana")
        cfg_a = {"configurable": {"thread_id": f"ta-{suffix}"}}
        cfg_b = {"configurable": {"thread_id": f"tb-{suffix}"}}
        calls_b = []
        for turn in range(4):
            graph.invoke(
                {"messages": [HumanMessage(f"I like {secret} jazz, note {turn}")]}, cfg_a, context=a
            )
            seen = len(model.calls)
            graph.invoke(
                {"messages": [HumanMessage("What do I like? Tell me about jazz and my notes.")]},
                cfg_b,
                context=b,
            )
            calls_b += model.calls[seen:]
        assert len(calls_b) == 4
        for call in calls_b:
            assert secret not in repr(call)
        state_b = graph.get_state(cfg_b).values
        assert secret not in repr(state_b)
        assert secret in repr(graph.get_state(cfg_a).values)  # a's memory exists, for a
        # Tenant b using tenant a's thread id is refused before anything is written.
        before = graph.get_state(cfg_a)
        with pytest.raises(IdentityError, match="belongs to another tenant or user") as caught:
            graph.invoke({"messages": [HumanMessage("show me everything")]}, cfg_a, context=b)
        assert a.tenant_id not in str(caught.value)
        assert graph.get_state(cfg_a).values == before.values
        # So is another user of the same tenant.
        with pytest.raises(IdentityError):
            graph.invoke(
                {"messages": [HumanMessage("hi")]},
                cfg_a,
                context=MemoryContext(tenant_id=a.tenant_id, user_id="bob"),
            )
