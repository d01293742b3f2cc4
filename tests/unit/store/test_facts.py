"""Durable facts in the store, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore

from memorygraph import MemoryConfig
from memorygraph.admin import asweep_expired, forget_user
from memorygraph.checkpointers import aopen_store, open_store
from memorygraph.errors import InvalidNamespaceError
from memorygraph.records import Fact
from memorygraph.retrieval.facts import rank_facts
from memorygraph.store.facts import (
    aload_facts,
    aput_facts,
    asearch_facts,
    load_facts,
    put_facts,
    search_facts,
    shared_fact_reads,
)
from memorygraph.store.namespaces import facts_namespace
from tests.fakes import SearchCountingStore

NOW = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture
def store(backend_url: str) -> Iterator[BaseStore]:
    with open_store(backend_url) as opened:
        yield opened


def tenant() -> str:
    return f"acme{uuid.uuid4().hex[:12]}"


def fact(key: str, value: str, **fields: object) -> Fact:
    return Fact(
        id=f"f-{key}-{value}".replace(" ", "_"),
        key=key,
        value=value,
        scope="user",
        observed_at=NOW,
        **fields,
    )  # type: ignore[arg-type]


def test_writes_are_idempotent(store: BaseStore) -> None:
    org = tenant()
    jazz = fact("likes", "jazz")
    assert put_facts(store, org, "ana", [jazz, jazz], approved_by="policy") == [jazz.id]
    first = store.get(facts_namespace(org, "ana"), jazz.id)
    assert put_facts(store, org, "ana", [jazz], approved_by="policy") == []
    again = store.get(facts_namespace(org, "ana"), jazz.id)
    assert first is not None and again is not None and again.updated_at == first.updated_at
    changed = jazz.model_copy(update={"status": "superseded", "superseded_by": "f-x"})
    assert put_facts(store, org, "ana", [changed], approved_by="policy") == [jazz.id]
    assert load_facts(store, org, "ana") == []


def test_other_users_and_tenants_see_nothing(store: BaseStore) -> None:
    org, other_org = tenant(), tenant()
    put_facts(store, org, "ana", [fact("email", "ana@example.org")], approved_by="human")
    assert [f.value for f in search_facts(store, org, "ana", "what is my email?")] == [
        "ana@example.org"
    ]
    for owner, user in ((org, "bob"), (org, "an"), (other_org, "ana")):
        assert search_facts(store, owner, user, "what is ana's email?") == []
        assert load_facts(store, owner, user) == []
    with pytest.raises(InvalidNamespaceError):
        load_facts(store, org, "ana.facts")  # a dot could forge another namespace
    with pytest.raises(InvalidNamespaceError):
        load_facts(store, "", "ana")


def test_expired_and_inactive_facts_are_not_loaded(store: BaseStore) -> None:
    org = tenant()
    facts = [
        fact("likes", "jazz"),
        fact("plan", "trip to Rome", expires_at=NOW - timedelta(days=1)),
        fact("lives_in", "Lisbon", status="superseded", superseded_by="f-x"),
    ]
    put_facts(store, org, "ana", facts, approved_by="policy")
    assert [f.value for f in load_facts(store, org, "ana", now=NOW)] == ["jazz"]


def test_ranking_is_lexical_and_leaves_irrelevant_facts_out() -> None:
    facts = [
        fact("likes", "jazz"),
        fact("allergy", "peanuts", sensitivity="sensitive"),
        fact("lives_in", "Lisbon"),
        fact("name", "Ana"),
        fact("works_at", "Acme"),
    ]
    ranked = rank_facts(facts, "Recommend a restaurant for dinner", limit=5)
    assert [f.key for f in ranked] == ["allergy", "likes", "name"]
    assert [f.key for f in rank_facts(facts, "Where do I live?", limit=5)] == ["lives_in", "name"]
    assert [f.key for f in rank_facts(facts, "Where do I live?", limit=1)] == ["lives_in"]
    assert rank_facts(facts, "any jazz tonight?", limit=5)[0].value == "jazz"


async def test_async_twins(backend_url: str) -> None:
    org = tenant()
    async with aopen_store(backend_url) as store:
        jazz = fact("likes", "jazz")
        assert await aput_facts(store, org, "ana", [jazz], approved_by="policy") == [jazz.id]
        assert await aput_facts(store, org, "ana", [jazz], approved_by="policy") == []
        assert await asearch_facts(store, org, "ana", "jazz") == [jazz]
        assert await asearch_facts(store, org, "bob", "jazz") == []


def reads(store: SearchCountingStore, org: str) -> int:
    return store.searches.count(facts_namespace(org, "ana"))


def test_a_shared_read_is_read_once_and_forgotten_on_every_write() -> None:
    store, org = SearchCountingStore(), tenant()
    jazz, tea = fact("likes", "jazz"), fact("drinks", "tea")
    put_facts(store, org, "ana", [jazz], approved_by="policy")
    load_facts(store, org, "ana"), load_facts(store, org, "ana")
    assert reads(store, org) == 2  # outside a scope every read reads
    with shared_fact_reads():
        assert load_facts(store, org, "ana") == [jazz]
        assert search_facts(store, org, "ana", "jazz tonight?") == [jazz]
        assert reads(store, org) == 3
        put_facts(store, org, "ana", [tea], approved_by="policy")  # its own write
        assert {f.id for f in load_facts(store, org, "ana")} == {jazz.id, tea.id}
        assert reads(store, org) == 4
        # Expiry is decided at each use, on the list kept.
        later = NOW + timedelta(days=3)
        expiring = fact("mood", "tired", expires_at=NOW + timedelta(days=1))
        put_facts(store, org, "ana", [expiring], approved_by="policy")
        assert expiring in load_facts(store, org, "ana", now=NOW)
        assert expiring not in load_facts(store, org, "ana", now=later)
        assert reads(store, org) == 5
        # Another limit, another user, another store: read apart.
        load_facts(store, org, "ana", limit=1)
        load_facts(store, org, "bob")
        other = SearchCountingStore()
        assert load_facts(other, org, "ana") == []
        assert reads(store, org) == 6 and reads(other, org) == 1
        forget_user(InMemorySaver(), store, org, "ana")  # deleting forgets too
        assert load_facts(store, org, "ana") == []
    load_facts(store, org, "ana")
    assert reads(store, org) == 8  # the scope has ended


async def test_a_shared_read_async() -> None:
    store, org = SearchCountingStore(), tenant()
    jazz, tea = fact("likes", "jazz"), fact("drinks", "tea")
    await aput_facts(store, org, "ana", [jazz], approved_by="policy")
    with shared_fact_reads():
        assert await aload_facts(store, org, "ana") == [jazz]
        assert await asearch_facts(store, org, "ana", "jazz") == [jazz]
        assert reads(store, org) == 1
        await aput_facts(store, org, "ana", [tea], approved_by="policy")
        assert len(await aload_facts(store, org, "ana")) == 2
        assert reads(store, org) == 2
        swept = MemoryConfig(facts_ttl=timedelta(days=1))
        assert await asweep_expired(store, swept, now=datetime.now(UTC) + timedelta(days=2)) > 0
        assert await aload_facts(store, org, "ana") == []
