"""Forget a thread, a user or a whole tenant: checkpoints, facts, archive and audit content.

* `forget_thread` deletes the thread's checkpoints, its transcript archive, its
  audit records (general and restricted), the durable facts that were learned
  from its turns, and its entry in the thread registry.
* `forget_user` deletes every thread the user owns (found in the thread registry,
  `memorygraph.store.threads`), then everything under
  ``("memorygraph", tenant, user)``: facts, archives, audit, registry.
* `forget_tenant` does the same for every user of the tenant, then everything
  under ``("memorygraph", tenant)``.

On SQLite, deleted rows stay in the file as free pages (and in the write-ahead
log) until the file is rewritten, so each call ends with the backends' vacuum
(`memorygraph.checkpointers.backends.vacuum`): ``VACUUM`` and
``PRAGMA wal_checkpoint(TRUNCATE)`` on the checkpointer's and the store's
database files: afterwards the bytes of the ``.db`` and ``-wal`` files hold
nothing of what was forgotten. PostgreSQL removes the rows at once; their old
row versions stay in the table files until autovacuum reuses the space (see
docs/architecture.md). Redis deletes the keys at once; a server that keeps an
append-only file or RDB snapshots gets both rewritten (``BGREWRITEAOF``,
``BGSAVE``), and the call waits for them.

Every function has an async twin (``aforget_thread``, ...).

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph import MemoryContext, create_memory_graph
    >>> saver, store = InMemorySaver(), InMemoryStore()
    >>> graph = create_memory_graph(checkpointer=saver, store=store)
    >>> ana = MemoryContext(tenant_id="acme", user_id="ana")
    >>> for thread in ("t1", "t2"):
    ...     _ = graph.invoke({"messages": [HumanMessage("hi")]},
    ...                      {"configurable": {"thread_id": thread}}, context=ana)
    >>> report = forget_user(saver, store, "acme", "ana")
    >>> report.threads
    ['t1', 't2']
    >>> graph.get_state({"configurable": {"thread_id": "t1"}}).values
    {}
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore, PutOp

from memorygraph.checkpointers import adelete_thread, backends, delete_thread, register_types
from memorygraph.errors import IdentityError
from memorygraph.records import ContextPackage
from memorygraph.retrieval.transcript import transcript_cache
from memorygraph.store.facts import SOURCE_THREAD, forget_shared_reads
from memorygraph.store.namespaces import (
    archive_namespace,
    audit_namespace,
    facts_namespace,
    restricted_audit_namespace,
    tenant_namespace,
    threads_namespace,
    user_namespace,
)
from memorygraph.store.threads import aowned_threads, owned_threads

__all__ = [
    "ForgetReport",
    "aforget_tenant",
    "aforget_thread",
    "aforget_user",
    "forget_tenant",
    "forget_thread",
    "forget_user",
]

logger = logging.getLogger(__name__)

_PAGE = 1000


@dataclass
class ForgetReport:
    """What a forget call deleted.

    Attributes:
        threads: The thread ids whose checkpoints were deleted.
        store_items: How many store items were deleted.
        vacuumed: The SQLite files that were vacuumed, and the Redis servers
            whose append-only file or snapshot was rewritten.
    """

    threads: list[str] = field(default_factory=list)
    store_items: int = 0
    vacuumed: list[str] = field(default_factory=list)


# --- the thread's owner and turns, from its checkpoint ---------------------------------


# The thread's state is read through a copy of the saver that accepts the
# records, as the graph compiled with it does (`register_types`): your own
# saver, given to both, may have LangGraph's permissive or strict serializer.


def _saved_values(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> dict[str, Any]:
    try:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        saved = register_types(checkpointer).get_tuple(config)
    except Exception as exc:  # a corrupt checkpoint must not block its own deletion
        logger.warning("thread %r: checkpoint unreadable while forgetting it (%s)", thread_id, exc)
        return {}
    return dict(saved.checkpoint["channel_values"]) if saved is not None else {}


async def _asaved_values(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> dict[str, Any]:
    try:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        saved = await register_types(checkpointer).aget_tuple(config)
    except Exception as exc:
        logger.warning("thread %r: checkpoint unreadable while forgetting it (%s)", thread_id, exc)
        return {}
    return dict(saved.checkpoint["channel_values"]) if saved is not None else {}


def _owner(
    thread_id: str, values: dict[str, Any], tenant_id: str | None, user_id: str | None
) -> tuple[str, str]:
    package = values.get("context_package")
    if isinstance(package, ContextPackage):
        package = {"tenant_id": package.tenant_id, "user_id": package.user_id}
    if tenant_id is None and isinstance(package, Mapping):  # or plain data, from some savers
        tenant_id, user_id = package.get("tenant_id") or None, user_id or package.get("user_id")
    if tenant_id is None or user_id is None:
        raise IdentityError(
            f"cannot tell which tenant and user own thread {thread_id!r} (it has no saved "
            "context package); pass tenant_id= and user_id= to forget its store content"
        )
    return tenant_id, user_id


def _message_ids(values: dict[str, Any]) -> set[str]:
    messages = values.get("messages") or []
    return {m.id for m in messages if isinstance(m, BaseMessage) and m.id}


# --- store deletion ------------------------------------------------------------------------


def _search_all(
    store: BaseStore, namespace: tuple[str, ...], filter: dict[str, Any] | None = None
) -> list[Any]:
    items: list[Any] = []
    while True:
        page = store.search(
            namespace, filter=filter, limit=_PAGE, offset=len(items), refresh_ttl=False
        )
        items += page
        if len(page) < _PAGE:
            return items


async def _asearch_all(
    store: BaseStore, namespace: tuple[str, ...], filter: dict[str, Any] | None = None
) -> list[Any]:
    items: list[Any] = []
    while True:
        page = await store.asearch(
            namespace, filter=filter, limit=_PAGE, offset=len(items), refresh_ttl=False
        )
        items += page
        if len(page) < _PAGE:
            return items


def _deletes(items: Iterable[Any]) -> list[PutOp]:
    forget_shared_reads()  # facts may be among the items: a run must not rank them again
    return [PutOp(tuple(item.namespace), item.key, None) for item in items]


def _learned_in(value: Mapping[str, Any], thread_id: str, turn_ids: set[str]) -> bool:
    """Whether a stored fact was learned in this thread.

    Its ``source_thread_id`` says so; a fact stored before facts named their
    thread falls back to its message id, which another thread may reuse.
    """
    source = value.get(SOURCE_THREAD)
    if source is not None:
        return bool(source == thread_id)
    return value.get("source_turn_id") in turn_ids


def _thread_items(
    store: BaseStore, tenant_id: str, user_id: str, thread_id: str, turn_ids: set[str]
) -> list[Any]:
    archive = _search_all(store, archive_namespace(tenant_id, user_id, thread_id))
    turn_ids = (
        turn_ids | {item.key for item in archive} | {str(item.value.get("id")) for item in archive}
    )
    by_thread = {"thread_id": thread_id}
    audit = _search_all(store, audit_namespace(tenant_id, user_id), by_thread)
    restricted = _search_all(store, restricted_audit_namespace(tenant_id, user_id), by_thread)
    facts = [
        item
        for item in _search_all(store, facts_namespace(tenant_id, user_id))
        if _learned_in(item.value, thread_id, turn_ids)
    ]
    registry = store.get(threads_namespace(tenant_id, user_id), thread_id, refresh_ttl=False)
    return [*archive, *audit, *restricted, *facts, *([registry] if registry else [])]


async def _athread_items(
    store: BaseStore, tenant_id: str, user_id: str, thread_id: str, turn_ids: set[str]
) -> list[Any]:
    archive = await _asearch_all(store, archive_namespace(tenant_id, user_id, thread_id))
    turn_ids = (
        turn_ids | {item.key for item in archive} | {str(item.value.get("id")) for item in archive}
    )
    by_thread = {"thread_id": thread_id}
    audit = await _asearch_all(store, audit_namespace(tenant_id, user_id), by_thread)
    restricted = await _asearch_all(
        store, restricted_audit_namespace(tenant_id, user_id), by_thread
    )
    facts = [
        item
        for item in await _asearch_all(store, facts_namespace(tenant_id, user_id))
        if _learned_in(item.value, thread_id, turn_ids)
    ]
    namespace = threads_namespace(tenant_id, user_id)
    registry = await store.aget(namespace, thread_id, refresh_ttl=False)
    return [*archive, *audit, *restricted, *facts, *([registry] if registry else [])]


def _delete_prefix(store: BaseStore, prefix: tuple[str, ...]) -> int:
    items = _search_all(store, prefix)
    ops = _deletes(items)
    if ops:
        store.batch(ops)
    return len(ops)


async def _adelete_prefix(store: BaseStore, prefix: tuple[str, ...]) -> int:
    items = await _asearch_all(store, prefix)
    ops = _deletes(items)
    if ops:
        await store.abatch(ops)
    return len(ops)


# --- the API -------------------------------------------------------------------------------


def _check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise IdentityError(f"{name} must be a non-blank string, got {value!r}")
    return value


def forget_thread(
    checkpointer: BaseCheckpointSaver[Any],
    thread_id: str,
    *,
    store: BaseStore | None = None,
    tenant_id: str | None = None,
    user_id: str | None = None,
    vacuum: bool = True,
) -> ForgetReport:
    """Forget one thread: checkpoints, archive, audit records, and facts learned from it.

    Args:
        checkpointer: The saver that holds the thread.
        thread_id: The thread.
        store: The store with its archive, audit and facts; None deletes the
            checkpoints only.
        tenant_id: The thread's tenant. Read from the thread's last context
            package when not given.
        user_id: The thread's user, likewise.
        vacuum: Rewrite SQLite files (and Redis's AOF and snapshot) so the deleted
            bytes are gone from disk.

    Returns:
        What was deleted.

    Raises:
        IdentityError: ``thread_id`` is blank, or a store is given and the
            owner is neither given nor recorded in the thread.
    """
    _check_id("thread_id", thread_id)
    report = ForgetReport(threads=[thread_id])
    if store is not None:
        values = _saved_values(checkpointer, thread_id)
        tenant, user = _owner(thread_id, values, tenant_id, user_id)
        items = _thread_items(store, tenant, user, thread_id, _message_ids(values))
        if items:
            store.batch(_deletes(items))
        transcript_cache().forget(tenant, user, thread_id)
        report.store_items = len(items)
    delete_thread(checkpointer, thread_id, vacuum=False)
    if vacuum:
        report.vacuumed = backends.vacuum(checkpointer, store)
    return report


async def aforget_thread(
    checkpointer: BaseCheckpointSaver[Any],
    thread_id: str,
    *,
    store: BaseStore | None = None,
    tenant_id: str | None = None,
    user_id: str | None = None,
    vacuum: bool = True,
) -> ForgetReport:
    """Async twin of `forget_thread`."""
    _check_id("thread_id", thread_id)
    if backends.sync_only(checkpointer, store):
        return await asyncio.to_thread(
            forget_thread,
            checkpointer,
            thread_id,
            store=store,
            tenant_id=tenant_id,
            user_id=user_id,
            vacuum=vacuum,
        )
    report = ForgetReport(threads=[thread_id])
    if store is not None:
        values = await _asaved_values(checkpointer, thread_id)
        tenant, user = _owner(thread_id, values, tenant_id, user_id)
        items = await _athread_items(store, tenant, user, thread_id, _message_ids(values))
        if items:
            await store.abatch(_deletes(items))
        transcript_cache().forget(tenant, user, thread_id)
        report.store_items = len(items)
    await adelete_thread(checkpointer, thread_id, vacuum=False)
    if vacuum:
        report.vacuumed = await backends.avacuum(checkpointer, store)
    return report


def _prefix(owner: tuple[str] | tuple[str, str]) -> tuple[str, ...]:
    # Everything the store keeps for a tenant, or for one of its users.
    return tenant_namespace(owner[0]) if len(owner) == 1 else user_namespace(*owner)


def _forget_owned(
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    pairs: Sequence[tuple[str, str]],
    owner: tuple[str] | tuple[str, str],
    vacuum: bool,
) -> ForgetReport:
    threads = sorted({thread for _, thread in pairs})
    for thread in threads:
        delete_thread(checkpointer, thread, vacuum=False)
    report = ForgetReport(threads=threads, store_items=_delete_prefix(store, _prefix(owner)))
    transcript_cache().forget(*owner)
    if vacuum:
        report.vacuumed = backends.vacuum(checkpointer, store)
    return report


async def _aforget_owned(
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    pairs: Sequence[tuple[str, str]],
    owner: tuple[str] | tuple[str, str],
    vacuum: bool,
) -> ForgetReport:
    threads = sorted({thread for _, thread in pairs})
    for thread in threads:
        await adelete_thread(checkpointer, thread, vacuum=False)
    report = ForgetReport(threads=threads, store_items=await _adelete_prefix(store, _prefix(owner)))
    transcript_cache().forget(*owner)
    if vacuum:
        report.vacuumed = await backends.avacuum(checkpointer, store)
    return report


def forget_user(
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    tenant_id: str,
    user_id: str,
    *,
    vacuum: bool = True,
) -> ForgetReport:
    """Forget a user: every thread they own, and everything the store keeps for them.

    Args:
        checkpointer: The saver that holds the threads.
        store: The store (its thread registry says which threads are the user's).
        tenant_id: The tenant.
        user_id: The user.
        vacuum: Rewrite SQLite files (and Redis's AOF and snapshot) so the deleted
            bytes are gone from disk.

    Returns:
        What was deleted.

    Raises:
        InvalidNamespaceError: ``tenant_id`` or ``user_id`` is blank.
    """
    pairs = owned_threads(store, tenant_id, user_id)
    return _forget_owned(checkpointer, store, pairs, (tenant_id, user_id), vacuum)


async def aforget_user(
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    tenant_id: str,
    user_id: str,
    *,
    vacuum: bool = True,
) -> ForgetReport:
    """Async twin of `forget_user`."""
    if backends.sync_only(checkpointer, store):
        return await asyncio.to_thread(
            forget_user, checkpointer, store, tenant_id, user_id, vacuum=vacuum
        )
    pairs = await aowned_threads(store, tenant_id, user_id)
    return await _aforget_owned(checkpointer, store, pairs, (tenant_id, user_id), vacuum)


def forget_tenant(
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    tenant_id: str,
    *,
    vacuum: bool = True,
) -> ForgetReport:
    """Forget a tenant: every thread of every user, and everything the store keeps for it.

    Args:
        checkpointer: The saver that holds the threads.
        store: The store (its thread registry says which threads are the tenant's).
        tenant_id: The tenant.
        vacuum: Rewrite SQLite files (and Redis's AOF and snapshot) so the deleted
            bytes are gone from disk.

    Returns:
        What was deleted.

    Raises:
        InvalidNamespaceError: ``tenant_id`` is blank.
    """
    pairs = owned_threads(store, tenant_id)
    return _forget_owned(checkpointer, store, pairs, (tenant_id,), vacuum)


async def aforget_tenant(
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    tenant_id: str,
    *,
    vacuum: bool = True,
) -> ForgetReport:
    """Async twin of `forget_tenant`."""
    if backends.sync_only(checkpointer, store):
        return await asyncio.to_thread(forget_tenant, checkpointer, store, tenant_id, vacuum=vacuum)
    pairs = await aowned_threads(store, tenant_id)
    return await _aforget_owned(checkpointer, store, pairs, (tenant_id,), vacuum)
