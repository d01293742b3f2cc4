"""Thread ownership: which tenant and user each thread belongs to.

A checkpointer knows threads only by id, so "every thread of this user" cannot
be answered from it. The ``pack_context`` node therefore registers the thread
the first time it packs for it, in ``("memorygraph", tenant, user, "threads")``,
one item per thread id. `memorygraph.admin.forget_user` and ``forget_tenant``
read this registry to find the checkpoints to delete.

A thread is registered only through a graph that has a store. A thread run
without a store has no registry entry; forget it by id with ``forget_thread``.

Example:
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph.context import Identity
    >>> store = InMemoryStore()
    >>> register_thread(store, Identity("t1", "acme", "ana", ()))
    True
    >>> register_thread(store, Identity("t1", "acme", "ana", ()))
    False
    >>> register_thread(store, Identity("t2", "acme", "bob", ()))
    True
    >>> owned_threads(store, "acme"), owned_threads(store, "acme", "ana")
    ([('ana', 't1'), ('bob', 't2')], [('ana', 't1')])
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import BaseStore

from memorygraph.context import Identity
from memorygraph.store.namespaces import tenant_namespace, threads_namespace

__all__ = ["aowned_threads", "aregister_thread", "owned_threads", "register_thread"]

_PAGE = 1000
_DEPTH = 4  # ("memorygraph", tenant, user, "threads")


def _value(identity: Identity) -> dict[str, Any]:
    return {
        "thread_id": identity.thread_id,
        "tenant_id": identity.tenant_id,
        "user_id": identity.user_id,
        "first_seen": datetime.now(UTC).isoformat(),
    }


def register_thread(store: BaseStore, identity: Identity) -> bool:
    """Record that the identity's user owns its thread (once; later calls only read).

    Returns:
        Whether the thread was newly registered.
    """
    namespace = threads_namespace(identity.tenant_id, identity.user_id)
    if store.get(namespace, identity.thread_id, refresh_ttl=False) is not None:
        return False
    store.put(namespace, identity.thread_id, _value(identity), index=False)
    return True


async def aregister_thread(store: BaseStore, identity: Identity) -> bool:
    """Async twin of `register_thread`."""
    namespace = threads_namespace(identity.tenant_id, identity.user_id)
    if await store.aget(namespace, identity.thread_id, refresh_ttl=False) is not None:
        return False
    await store.aput(namespace, identity.thread_id, _value(identity), index=False)
    return True


def _owned(namespace: Sequence[str]) -> bool:
    # ("memorygraph", tenant, user, "threads") exactly: the archive of a thread
    # named "threads" ends with "threads" too.
    return len(namespace) == _DEPTH and namespace[-1] == "threads"


def _pairs(namespace: tuple[str, ...], items: Sequence[Any]) -> list[tuple[str, str]]:
    return [(namespace[2], item.key) for item in items if item.namespace == namespace]


def _user_namespaces(store: BaseStore, tenant_id: str) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    offset = 0
    while True:
        page = store.list_namespaces(
            prefix=tenant_namespace(tenant_id), suffix=("threads",), limit=_PAGE, offset=offset
        )
        found += [ns for ns in page if _owned(ns) and ns[:2] == tenant_namespace(tenant_id)]
        if len(page) < _PAGE:
            return found
        offset += _PAGE


async def _auser_namespaces(store: BaseStore, tenant_id: str) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    offset = 0
    while True:
        page = await store.alist_namespaces(
            prefix=tenant_namespace(tenant_id), suffix=("threads",), limit=_PAGE, offset=offset
        )
        found += [ns for ns in page if _owned(ns) and ns[:2] == tenant_namespace(tenant_id)]
        if len(page) < _PAGE:
            return found
        offset += _PAGE


def owned_threads(
    store: BaseStore, tenant_id: str, user_id: str | None = None
) -> list[tuple[str, str]]:
    """Return the registered ``(user_id, thread_id)`` pairs of a tenant, or of one user.

    Args:
        store: The LangGraph store.
        tenant_id: The tenant.
        user_id: Only this user's threads, when given.

    Returns:
        The pairs, sorted.
    """
    namespaces = (
        [threads_namespace(tenant_id, user_id)]
        if user_id is not None
        else _user_namespaces(store, tenant_id)
    )
    found: list[tuple[str, str]] = []
    for namespace in namespaces:
        offset = 0
        while True:
            page = store.search(namespace, limit=_PAGE, offset=offset, refresh_ttl=False)
            found += _pairs(namespace, page)
            if len(page) < _PAGE:
                break
            offset += _PAGE
    return sorted(set(found))


async def aowned_threads(
    store: BaseStore, tenant_id: str, user_id: str | None = None
) -> list[tuple[str, str]]:
    """Async twin of `owned_threads`."""
    namespaces = (
        [threads_namespace(tenant_id, user_id)]
        if user_id is not None
        else await _auser_namespaces(store, tenant_id)
    )
    found: list[tuple[str, str]] = []
    for namespace in namespaces:
        offset = 0
        while True:
            page = await store.asearch(namespace, limit=_PAGE, offset=offset, refresh_ttl=False)
            found += _pairs(namespace, page)
            if len(page) < _PAGE:
                break
            offset += _PAGE
    return sorted(set(found))
