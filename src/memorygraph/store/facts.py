"""Durable facts in a LangGraph `BaseStore`, under ``("memorygraph", tenant, user, "facts")``.

Each fact is one store item keyed by its id, its value the fact's JSON plus the
candidate id it was approved under and who approved it. Writes are idempotent:
an item that already holds the same content is not written again, so a node
that LangGraph re-runs (on resume) cannot duplicate a write.

Reads take only the caller's namespace, which `facts_namespace` cannot build
without a tenant and a user, so another user's or tenant's facts are out of
reach by construction.

A run of the ready-made graph reads the user's durable facts once
(`shared_fact_reads`): ``extract_facts`` reads them, and ``pack_context`` ranks
the same list, unless the run has written facts in between.

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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.store.base import BaseStore, GetOp, Item, PutOp

from memorygraph.inputs import clean_value
from memorygraph.records import Fact
from memorygraph.retrieval.facts import rank_facts
from memorygraph.store.namespaces import facts_namespace
from memorygraph.store.retention import ttl_minutes

__all__ = [
    "SOURCE_THREAD",
    "aload_facts",
    "aput_facts",
    "asearch_facts",
    "forget_shared_reads",
    "load_facts",
    "put_facts",
    "search_facts",
    "shared_fact_reads",
]

_FIELDS = frozenset(Fact.model_fields)
SOURCE_THREAD = "source_thread_id"
"""The stored field naming the thread a durable fact was learned in."""


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
        try:
            store.batch(ops)
        finally:
            forget_shared_reads()
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
        try:
            await store.abatch(ops)
        finally:
            forget_shared_reads()
    return [op.key for op in ops]


# --- one read per run ----------------------------------------------------------------

# (store id, namespace, limit) -> (the store, its active facts as read)
_Reads = dict[tuple[int, tuple[str, ...], int], tuple[BaseStore, list[Fact]]]
_SHARED: ContextVar[_Reads | None] = ContextVar("memorygraph_fact_reads", default=None)


@contextmanager
def shared_fact_reads() -> Iterator[None]:
    """Within the block, read each user's durable facts from a store once, until written.

    `memorygraph.MemoryGraph` runs each run in one: ``extract_facts`` and
    ``pack_context`` both need the user's facts, and the second would read
    the same rows again a few milliseconds later. The list is kept as read
    (expiry is still decided at each use, by its ``now``), and forgotten as
    soon as this process writes or deletes facts (`put_facts`, forgetting,
    sweeping), so a run always sees its own writes. Another process's write
    that lands during the run is seen by the next run, as it would be had it
    landed just after the first read.

    Example:
        >>> from langgraph.store.memory import InMemoryStore
        >>> from memorygraph.records import Fact
        >>> store = InMemoryStore()
        >>> with shared_fact_reads():
        ...     before = load_facts(store, "acme", "ana")
        ...     _ = put_facts(store, "acme", "ana", [Fact(id="f1", key="likes", value="jazz",
        ...                                              scope="user")], approved_by="policy")
        ...     after = load_facts(store, "acme", "ana")
        >>> len(before), len(after)
        (0, 1)
    """
    _SHARED.set({})  # set, not reset by token: a generator may end in another context
    try:
        yield
    finally:
        _SHARED.set(None)


def forget_shared_reads() -> None:
    """Drop what `shared_fact_reads` kept: facts were written or deleted."""
    shared = _SHARED.get()
    if shared is not None:
        shared.clear()


def _shared(store: BaseStore, namespace: tuple[str, ...], limit: int) -> list[Fact] | None:
    shared = _SHARED.get()
    hit = shared.get((id(store), namespace, limit)) if shared is not None else None
    return hit[1] if hit is not None and hit[0] is store else None


def _keep(store: BaseStore, namespace: tuple[str, ...], limit: int, facts: list[Fact]) -> None:
    shared = _SHARED.get()
    if shared is not None:
        shared[(id(store), namespace, limit)] = (store, facts)


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
    facts = _shared(store, namespace, limit)
    if facts is None:
        items = store.search(namespace, filter={"status": "active"}, limit=limit)
        facts = [_fact(item) for item in items if item.namespace == namespace]
        _keep(store, namespace, limit, facts)
    return _usable(facts, now)


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
    facts = _shared(store, namespace, limit)
    if facts is None:
        items = await store.asearch(namespace, filter={"status": "active"}, limit=limit)
        facts = [_fact(item) for item in items if item.namespace == namespace]
        _keep(store, namespace, limit, facts)
    return _usable(facts, now)


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
        Active, unexpired facts ranked by `memorygraph.retrieval.facts.rank_facts`.
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
