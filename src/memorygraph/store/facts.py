"""Durable facts in a LangGraph `BaseStore`, under ``("memorygraph", tenant, user, "facts")``.

Each fact is one store item keyed by its id, its value the fact's JSON plus the
candidate id it was approved under and who approved it. Writes are idempotent:
an item that already holds the same content is not written again, so a node
that LangGraph re-runs (on resume) cannot duplicate a write.

Reads take only the caller's namespace, which `facts_namespace` cannot build
without a tenant and a user, so another user's or tenant's facts are out of
reach by construction.

A fact's history is its status: when a thread supersedes or rejects a durable
fact, the same item is rewritten with ``status`` and ``superseded_by`` (the
latest status, not a log of changes), and stays until ``facts_ttl`` or
forgetting removes it. Reads return only active facts. This is why a thread may
trim old history from its own state (`memorygraph.state.trim_facts`) without
losing anything durable.

Example:
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph.records import Fact
    >>> store = InMemoryStore()
    >>> fact = Fact(id="f1", key="likes", value="jazz", scope="user")
    >>> put_facts(store, "acme", "ana", [fact], approved_by="policy")
    ['f1']
    >>> put_facts(store, "acme", "ana", [fact], approved_by="policy")  # already there
    []
    >>> [f.value for f in search_facts(store, "acme", "ana", "any jazz concerts tonight?")]
    ['jazz']
    >>> search_facts(store, "acme", "bob", "jazz")
    []
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.store.base import BaseStore, GetOp, Item, PutOp

from memorygraph.inputs import clean_value
from memorygraph.records import Fact
from memorygraph.store.namespaces import facts_namespace
from memorygraph.store.retention import ttl_minutes

__all__ = [
    "ALWAYS_RELEVANT_KEYS",
    "SOURCE_THREAD",
    "aload_facts",
    "aput_facts",
    "asearch_facts",
    "load_facts",
    "put_facts",
    "rank_facts",
    "search_facts",
]

ALWAYS_RELEVANT_KEYS = frozenset({"name", "preferred_name"})
"""Keys relevant to every request: how to address the user."""

_FIELDS = frozenset(Fact.model_fields)
SOURCE_THREAD = "source_thread_id"
"""The stored field naming the thread a durable fact was learned in."""
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are be can could did do does for from had has have how i in is it me my of on "
    "or our please should the this to was we what when where which who why will with would "
    "you your".split()
)
# Words a request uses when a fact with that key is relevant, though the fact's
# own text does not contain them ("where do I live?" -> lives_in).
_HINTS: dict[str, str] = {
    "name": "name called who",
    "preferred_name": "name call called who",
    "lives_in": "live living home city where based located move",
    "from": "from origin hometown where",
    "address": "address home live where",
    "works_at": "work job company employer office where",
    "occupation": "job work profession occupation career",
    "likes": "like love enjoy favourite favorite prefer recommend suggest suggestion gift",
    "dislikes": "dislike hate avoid like recommend suggest suggestion",
    "preference": "prefer preference like recommend suggest",
    "favourite": "favourite favorite like prefer",
    "diet": "diet food eat eating meal restaurant dinner lunch breakfast recipe cook menu",
    "allergy": "allergy allergic food eat eating meal restaurant dinner lunch breakfast recipe "
    "cook menu safe",
    "health": "health medical condition doctor",
    "medication": "medication medicine pill doctor",
    "plan": "plan trip travel when schedule holiday vacation",
    "email": "email mail contact reach address",
    "phone": "phone number call contact reach text",
    "family": "family",
}


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.casefold()) if w not in _STOP]


def _document(fact: Fact) -> set[str]:
    base = fact.key.split(":", 1)[0]
    hints = _HINTS.get(base) or _HINTS.get(base.split("_", 1)[0], "")
    key_words = fact.key.replace("_", " ").replace(":", " ")
    return set(_terms(f"{key_words} {hints} {fact.value}"))


def rank_facts(facts: Sequence[Fact], query: str, *, limit: int) -> list[Fact]:
    """Rank facts by lexical relevance to ``query``; irrelevant facts are left out.

    A fact scores the summed inverse document frequency of the query words its
    key, value and key hints contain. Facts whose key is in
    `ALWAYS_RELEVANT_KEYS` are kept with the smallest positive score.

    Args:
        facts: The candidates.
        query: The current request.
        limit: The most facts to return.

    Returns:
        The relevant facts, best first (ties by key, then id: deterministic).
    """
    documents = [(fact, _document(fact)) for fact in facts]
    wanted = set(_terms(query))
    count = len(documents)
    frequency = {term: sum(term in doc for _, doc in documents) for term in wanted}
    scored: list[tuple[float, Fact]] = []
    for fact, doc in documents:
        score = sum(math.log(1 + count / frequency[t]) for t in wanted if t in doc)
        if score == 0 and fact.key in ALWAYS_RELEVANT_KEYS:
            score = 1e-6
        if score > 0:
            scored.append((score, fact))
    scored.sort(key=lambda pair: (-pair[0], pair[1].key, pair[1].id))
    return [fact for _, fact in scored[:limit]]


def _value(
    fact: Fact, candidate_id: str | None, approved_by: str, thread_id: str | None
) -> dict[str, Any]:
    value = {
        **clean_value(fact.model_dump(mode="json")),
        "candidate_id": candidate_id,
        "approved_by": approved_by,
    }
    if thread_id is not None:
        # Message ids are the caller's and may repeat across threads: the
        # thread named here is what `forget_thread` matches.
        value[SOURCE_THREAD] = thread_id
    return value


def _fact(item: Item) -> Fact:
    return Fact.model_validate({k: v for k, v in item.value.items() if k in _FIELDS})


def _puts(
    namespace: tuple[str, ...],
    facts: Sequence[Fact],
    current: Iterable[Item | None],
    candidate_ids: Mapping[str, str],
    approved_by: str,
    ttl: float | None = None,
    thread_id: str | None = None,
) -> list[PutOp]:
    stored = {item.key: item.value for item in current if item is not None}
    ops: list[PutOp] = []
    seen: set[str] = set()
    for fact in facts:
        value = _value(fact, candidate_ids.get(fact.id), approved_by, thread_id)
        if stored.get(fact.id) == value or fact.id in seen:
            continue
        seen.add(fact.id)
        ops.append(PutOp(namespace, fact.id, value, index=False, ttl=ttl))
    return ops


def put_facts(
    store: BaseStore,
    tenant_id: str,
    user_id: str,
    facts: Sequence[Fact],
    *,
    approved_by: str,
    candidate_ids: Mapping[str, str] | None = None,
    ttl: timedelta | None = None,
    thread_id: str | None = None,
) -> list[str]:
    """Write facts to the user's durable memory, skipping the ones already there.

    Args:
        store: The LangGraph store.
        tenant_id: The tenant.
        user_id: The user.
        facts: The facts, each stored under its id.
        approved_by: ``policy`` (no approval needed) or ``human``; recorded.
        candidate_ids: The candidate id each fact was approved under, by fact id.
        ttl: How long to keep the facts (``MemoryConfig.facts_ttl``), through the
            store's own TTL where it has one; `memorygraph.admin.sweep_expired`
            enforces it everywhere.
        thread_id: The thread the facts were learned in, stored with each as
            ``source_thread_id`` (`memorygraph.forget_thread` removes a thread's
            facts by it).

    Returns:
        The ids actually written (empty when everything was already stored).
    """
    if not facts:
        return []
    namespace = facts_namespace(tenant_id, user_id)
    current = store.batch([GetOp(namespace, fact.id) for fact in facts])
    minutes = ttl_minutes(store, ttl)
    ops = _puts(namespace, facts, current, candidate_ids or {}, approved_by, minutes, thread_id)  # type: ignore[arg-type]
    if ops:
        store.batch(ops)
    return [op.key for op in ops]


async def aput_facts(
    store: BaseStore,
    tenant_id: str,
    user_id: str,
    facts: Sequence[Fact],
    *,
    approved_by: str,
    candidate_ids: Mapping[str, str] | None = None,
    ttl: timedelta | None = None,
    thread_id: str | None = None,
) -> list[str]:
    """Async twin of `put_facts`."""
    if not facts:
        return []
    namespace = facts_namespace(tenant_id, user_id)
    current = await store.abatch([GetOp(namespace, fact.id) for fact in facts])
    minutes = ttl_minutes(store, ttl)
    ops = _puts(namespace, facts, current, candidate_ids or {}, approved_by, minutes, thread_id)  # type: ignore[arg-type]
    if ops:
        await store.abatch(ops)
    return [op.key for op in ops]


def _usable(facts: Iterable[Fact], now: datetime | None) -> list[Fact]:
    moment = now or datetime.now(UTC)
    return [f for f in facts if f.status == "active" and not f.is_expired(moment)]


def load_facts(
    store: BaseStore,
    tenant_id: str,
    user_id: str,
    *,
    limit: int = 500,
    now: datetime | None = None,
) -> list[Fact]:
    """Return the user's active, unexpired durable facts (at most ``limit``).

    Example:
        >>> from langgraph.store.memory import InMemoryStore
        >>> load_facts(InMemoryStore(), "acme", "ana")
        []
    """
    namespace = facts_namespace(tenant_id, user_id)
    items = store.search(namespace, filter={"status": "active"}, limit=limit)
    return _usable((_fact(item) for item in items if item.namespace == namespace), now)


async def aload_facts(
    store: BaseStore,
    tenant_id: str,
    user_id: str,
    *,
    limit: int = 500,
    now: datetime | None = None,
) -> list[Fact]:
    """Async twin of `load_facts`."""
    namespace = facts_namespace(tenant_id, user_id)
    items = await store.asearch(namespace, filter={"status": "active"}, limit=limit)
    return _usable((_fact(item) for item in items if item.namespace == namespace), now)


def search_facts(
    store: BaseStore,
    tenant_id: str,
    user_id: str,
    query: str,
    *,
    limit: int = 8,
    scan: int = 500,
    now: datetime | None = None,
) -> list[Fact]:
    """Return the user's durable facts relevant to ``query``, best first.

    Args:
        store: The LangGraph store.
        tenant_id: The caller's tenant.
        user_id: The caller's user id.
        query: The current request.
        limit: The most facts to return.
        scan: The most facts to read and rank.
        now: The time that decides expiry (default: now).

    Returns:
        Active, unexpired facts ranked by `rank_facts`.
    """
    facts = load_facts(store, tenant_id, user_id, limit=scan, now=now)
    return rank_facts(facts, query, limit=limit)


async def asearch_facts(
    store: BaseStore,
    tenant_id: str,
    user_id: str,
    query: str,
    *,
    limit: int = 8,
    scan: int = 500,
    now: datetime | None = None,
) -> list[Fact]:
    """Async twin of `search_facts`."""
    facts = await aload_facts(store, tenant_id, user_id, limit=scan, now=now)
    return rank_facts(facts, query, limit=limit)
