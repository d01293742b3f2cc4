"""Retention: durable facts and audit records expire after a configured time.

Two mechanisms, so that retention holds on every backend:

* **The store's own TTL**, where the backend has one (`SqliteStore`,
  `PostgresStore`): memorygraph writes facts and audit records with
  ``ttl=`` (`memorygraph.store.retention.ttl_minutes`), and the store's
  ``sweep_ttl()`` (or its background sweeper, ``store.start_ttl_sweeper()``)
  deletes them when they expire.
* **memorygraph's own sweep**, for every backend, and the only one for
  `InMemoryStore`, whose ``put(ttl=...)`` raises ``NotImplementedError``:
  `sweep_expired` deletes the facts and audit records whose last write is older
  than ``MemoryConfig.facts_ttl`` / ``audit_ttl``. It also catches records
  written before a TTL was configured, or by code that did not pass one.

Run `sweep_expired` on a schedule (a cron job, or ``memorygraph sweep``).
Expiry takes effect when a sweep runs: until then an expired record can still
be read.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph import MemoryConfig
    >>> store = InMemoryStore()
    >>> store.put(("memorygraph", "acme", "ana", "facts"), "f1", {"value": "tea"})
    >>> config = MemoryConfig(facts_ttl=timedelta(days=30))
    >>> sweep_expired(store, config)
    0
    >>> sweep_expired(store, config, now=datetime.now(UTC) + timedelta(days=31))
    1
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from langgraph.store.base import BaseStore

from memorygraph.config import MemoryConfig
from memorygraph.store.facts import forget_shared_reads
from memorygraph.store.namespaces import ROOT, tenant_namespace

__all__ = ["asweep_expired", "sweep_expired"]

_PAGE = 500
_DEPTH = 4  # ("memorygraph", tenant, user, kind)
# Namespace suffix -> the MemoryConfig field that sets its retention.
_RETAINED = (("facts", "facts_ttl"), ("audit", "audit_ttl"), ("restricted_audit", "audit_ttl"))


def _retention(config: MemoryConfig) -> list[tuple[str, timedelta]]:
    rules = []
    for suffix, field in _RETAINED:
        ttl: timedelta | None = getattr(config, field)
        if ttl is not None:
            rules.append((suffix, ttl))
    return rules


def _prefix(tenant_id: str | None) -> tuple[str, ...]:
    return tenant_namespace(tenant_id) if tenant_id is not None else (ROOT,)


def _owned(namespace: tuple[str, ...], suffix: str) -> bool:
    # ("memorygraph", tenant, user, suffix) exactly: a thread named "facts" has an
    # archive namespace that ends with "facts" too, and is not retained by this rule.
    # (The callers also compare the prefix literally: list_namespaces reads "*" as
    # a wildcard, and a namespace part is never "*", but a second check is cheap.)
    return len(namespace) == _DEPTH and namespace[-1] == suffix


def _namespaces(
    store: BaseStore, prefix: tuple[str, ...], suffix: str
) -> Iterator[tuple[str, ...]]:
    offset = 0
    while True:
        page = store.list_namespaces(prefix=prefix, suffix=(suffix,), limit=_PAGE, offset=offset)
        yield from (ns for ns in page if _owned(ns, suffix) and ns[: len(prefix)] == prefix)
        if len(page) < _PAGE:
            return
        offset += _PAGE


def _expired_keys(store: BaseStore, namespace: tuple[str, ...], cutoff: datetime) -> list[str]:
    keys: list[str] = []
    offset = 0
    while True:
        page = store.search(namespace, limit=_PAGE, offset=offset)
        keys += [
            item.key
            for item in page
            if item.namespace == namespace and _aware(item.updated_at) < cutoff
        ]
        if len(page) < _PAGE:
            return keys
        offset += _PAGE


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def sweep_expired(
    store: BaseStore,
    config: MemoryConfig,
    *,
    tenant_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Delete durable facts and audit records older than their configured TTL.

    First the store's own sweep (``store.sweep_ttl()``) runs, where there is
    one; then memorygraph's sweep deletes every fact (``facts_ttl``) and audit
    record (``audit_ttl``) last written before ``now - ttl``.

    Args:
        store: The LangGraph store.
        config: The retention settings (``facts_ttl``, ``audit_ttl``).
        tenant_id: Sweep only this tenant; all tenants by default.
        now: The time that decides expiry (default: now, UTC).

    Returns:
        How many records memorygraph's own sweep deleted (what the store's own
        sweep deleted is not counted).
    """
    native = getattr(store, "sweep_ttl", None)
    if store.supports_ttl and callable(native) and not inspect.iscoroutinefunction(native):
        native()
    moment = now or datetime.now(UTC)
    deleted = 0
    for suffix, ttl in _retention(config):
        for namespace in list(_namespaces(store, _prefix(tenant_id), suffix)):
            for key in _expired_keys(store, namespace, moment - ttl):
                store.delete(namespace, key)
                deleted += 1
    forget_shared_reads()
    return deleted


async def _anamespaces(
    store: BaseStore, prefix: tuple[str, ...], suffix: str
) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    offset = 0
    while True:
        page = await store.alist_namespaces(
            prefix=prefix, suffix=(suffix,), limit=_PAGE, offset=offset
        )
        found += [ns for ns in page if _owned(ns, suffix) and ns[: len(prefix)] == prefix]
        if len(page) < _PAGE:
            return found
        offset += _PAGE


async def _aexpired_keys(
    store: BaseStore, namespace: tuple[str, ...], cutoff: datetime
) -> list[str]:
    keys: list[str] = []
    offset = 0
    while True:
        page = await store.asearch(namespace, limit=_PAGE, offset=offset)
        keys += [
            item.key
            for item in page
            if item.namespace == namespace and _aware(item.updated_at) < cutoff
        ]
        if len(page) < _PAGE:
            return keys
        offset += _PAGE


async def asweep_expired(
    store: BaseStore,
    config: MemoryConfig,
    *,
    tenant_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Async twin of `sweep_expired`.

    Example:
        >>> import asyncio
        >>> from langgraph.store.memory import InMemoryStore
        >>> from memorygraph import MemoryConfig
        >>> asyncio.run(asweep_expired(InMemoryStore(), MemoryConfig()))
        0
    """
    native = getattr(store, "sweep_ttl", None)
    if store.supports_ttl and callable(native):
        if inspect.iscoroutinefunction(native):
            await native()
        else:
            await asyncio.to_thread(native)
    moment = now or datetime.now(UTC)
    deleted = 0
    for suffix, ttl in _retention(config):
        for namespace in await _anamespaces(store, _prefix(tenant_id), suffix):
            for key in await _aexpired_keys(store, namespace, moment - ttl):
                await store.adelete(namespace, key)
                deleted += 1
    forget_shared_reads()
    return deleted
