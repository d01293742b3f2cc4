"""Durable facts and audit records expire: the store's TTL where it has one, our sweep elsewhere."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from memorygraph import MemoryConfig, MemoryContext, create_memory_graph
from memorygraph.admin import asweep_expired, sweep_expired
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.store.archive import read_archive
from memorygraph.store.audit import read_audit
from memorygraph.store.facts import load_facts
from memorygraph.store.namespaces import restricted_audit_namespace
from tests.fakes import RecordingChatModel

TTL = MemoryConfig(
    facts_ttl=timedelta(days=30),
    audit_ttl=timedelta(days=7),
    audit_full_content=True,
    approve_personal=False,
    summarize_at_messages=4,
    keep_messages=2,
)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def remember(stack: ExitStack, url: str, thread: str = "t1") -> tuple[BaseStore, MemoryContext]:
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    graph = create_memory_graph(
        RecordingChatModel(), checkpointer=checkpointer, store=store, config=TTL
    )
    context = MemoryContext(tenant_id=f"acme{uuid.uuid4().hex[:8]}", user_id="ana")
    cfg = {"configurable": {"thread_id": f"{thread}-{context.tenant_id}"}}
    for text in ["My name is Ana.", "I like jazz.", "I live in Lisbon.", "Thanks!"]:
        assert "__interrupt__" not in graph.invoke(
            {"messages": [HumanMessage(text)]}, cfg, context=context
        )
    return store, context


def counts(store: BaseStore, context: MemoryContext) -> tuple[int, int, int]:
    t, u = context.tenant_id, context.user_id
    restricted = store.search(restricted_audit_namespace(t, u), limit=1000)
    return len(load_facts(store, t, u)), len(read_audit(store, t, u)), len(restricted)


def test_in_memory_store_has_no_ttl_so_our_sweep_expires(stack: ExitStack) -> None:
    store, context = remember(stack, "memory")
    assert isinstance(store, InMemoryStore) and not store.supports_ttl
    facts, audit, restricted = counts(store, context)
    assert facts and audit and restricted
    now = datetime.now(UTC)
    assert sweep_expired(store, TTL, now=now + timedelta(days=1)) == 0
    # After 8 days the audit (7 days) is gone, the facts (30 days) are not.
    assert sweep_expired(store, TTL, now=now + timedelta(days=8)) == audit + restricted
    assert counts(store, context) == (facts, 0, 0)
    assert sweep_expired(store, TTL, now=now + timedelta(days=31)) == facts
    assert counts(store, context) == (0, 0, 0)
    # The transcript archive is not retained by these rules: it is forgotten, not expired.
    tenant, user = context.tenant_id, context.user_id
    assert read_archive(store, (tenant, user, f"t1-{tenant}"))


def _expire_rows(path_or_url: str, kind: str, tenant: str) -> int:
    """Move the store's own expiry into the past, as if the TTL had run out."""
    sql = (
        "UPDATE store SET expires_at = {past} "
        "WHERE prefix LIKE {pattern} AND expires_at IS NOT NULL"
    )
    if kind == "sqlite":
        with sqlite3.connect(path_or_url) as conn:
            statement = sql.format(past="datetime('now', '-1 day')", pattern="?")
            return conn.execute(statement, (f"memorygraph.{tenant}.%",)).rowcount
    import psycopg

    with psycopg.connect(path_or_url, autocommit=True) as conn:
        statement = sql.format(past="now() - interval '1 day'", pattern="%s")
        return conn.execute(statement, (f"memorygraph.{tenant}.%",)).rowcount


def _expiring(path_or_url: str, kind: str, tenant: str) -> dict[str, float]:
    query = "SELECT prefix, ttl_minutes FROM store WHERE prefix LIKE {p} AND expires_at IS NOT NULL"
    pattern = f"memorygraph.{tenant}.%"
    if kind == "sqlite":
        with sqlite3.connect(path_or_url) as conn:
            rows = conn.execute(query.format(p="?"), (pattern,)).fetchall()
    else:
        import psycopg

        with psycopg.connect(path_or_url, autocommit=True) as conn:
            rows = conn.execute(query.format(p="%s"), (pattern,)).fetchall()
    return {prefix.rsplit(".", 1)[-1]: float(ttl) for prefix, ttl in rows}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sqlite_and_postgres_expire_through_the_stores_own_ttl(
    kind: str, stack: ExitStack, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "sqlite":
        target = str(tmp_path / "ttl.db")
        url = f"sqlite:///{target}"
    else:
        url = target = request.getfixturevalue("postgres_url")
    store, context = remember(stack, url)
    assert store.supports_ttl
    # Facts and audit records were written with the store's TTL, in minutes.
    ttl = _expiring(target, kind, context.tenant_id)
    assert ttl == {"facts": 30 * 24 * 60, "audit": 7 * 24 * 60, "restricted_audit": 7 * 24 * 60}
    assert all(counts(store, context))
    assert _expire_rows(target, kind, context.tenant_id) > 0
    # The store's own sweep deletes them; ours finds nothing left to do.
    assert sweep_expired(store, TTL, tenant_id=context.tenant_id) == 0
    assert counts(store, context) == (0, 0, 0)


async def test_async_sweep_on_the_memory_store(stack: ExitStack) -> None:
    store, context = remember(stack, "memory")
    assert await asweep_expired(store, TTL, now=datetime.now(UTC) + timedelta(days=40)) > 0
    assert counts(store, context) == (0, 0, 0)


def test_the_sweep_keeps_to_its_tenant_and_to_retained_namespaces() -> None:
    store = InMemoryStore()
    old = {"value": "x"}
    for tenant in ("acme", "other"):
        store.put(("memorygraph", tenant, "ana", "facts"), "f1", old)
        store.put(("memorygraph", tenant, "ana", "audit"), "a1", old)
    # A thread named "facts" has an archive namespace ending in "facts": not a fact.
    store.put(("memorygraph", "acme", "ana", "archive", "facts"), "0000000000", old)
    store.put(("memorygraph", "acme", "ana", "threads"), "facts", old)
    later = datetime.now(UTC) + timedelta(days=400)
    config = MemoryConfig(facts_ttl=timedelta(days=1), audit_ttl=timedelta(days=1))
    assert sweep_expired(store, config, tenant_id="acme", now=later) == 2
    left = {(item.namespace, item.key) for item in store.search(("memorygraph",), limit=100)}
    assert left == {
        (("memorygraph", "other", "ana", "facts"), "f1"),
        (("memorygraph", "other", "ana", "audit"), "a1"),
        (("memorygraph", "acme", "ana", "archive", "facts"), "0000000000"),
        (("memorygraph", "acme", "ana", "threads"), "facts"),
    }


def test_without_ttls_nothing_expires(stack: ExitStack) -> None:
    store, context = remember(stack, "memory")
    before = counts(store, context)
    far = datetime.now(UTC) + timedelta(days=10_000)
    assert sweep_expired(store, MemoryConfig(), now=far) == 0
    assert counts(store, context) == before


def test_the_memory_store_refuses_ttl_and_memorygraph_never_passes_one() -> None:
    """FIELD_NOTES: InMemoryStore.put(ttl=...) raises; with TTLs set, writes still work."""
    with pytest.raises(NotImplementedError):
        InMemoryStore().put(("a",), "k", {"v": 1}, ttl=5)
    with ExitStack() as stack:
        store, context = remember(stack, "memory")
        assert all(counts(store, context))
