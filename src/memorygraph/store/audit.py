"""The audit log: one record per model call, append-only, and the restricted replay record.

Two namespaces per user (docs/architecture.md, "Reliability, privacy and the audit trail"):

* ``("memorygraph", tenant, user, "audit")``, the **general trace**: an
  `AuditRecord` per package sent to a model, keyed ``"<thread_id>:<package_id>"``,
  with the trace fields and each included item's content *redacted*
  (`memorygraph.redact.redact`). Operators may read it.
* ``("memorygraph", tenant, user, "restricted_audit")``, the **restricted
  record**, written only with ``MemoryConfig(audit_full_content=True)``: the
  full package, and the *recorded state* it was built from, keyed by package id.

**What "recorded state" is.** `build_package` is a pure function of the graph
state (``messages``, ``facts``, ``summary``, ``task``, ...), the caller's
identity, the `MemoryConfig`, the moment ``now`` (which decides staleness and
expiry) and its other keyword arguments: the durable facts the node read from
the store for this request, and any ``extra_items``. The restricted record keeps
exactly those arguments, as JSON; `replay_package` calls `build_package` with
them again, and since the package id is the sha256 of the package's canonical
JSON, an equal id proves a byte-identical package. The store may have changed
since (facts approved, turns archived): replay does not read it again.

Both namespaces are **append-only**: a record is written only when its key is
absent, so a model call that LangGraph runs again after a crash (the same
package, the same key) never rewrites its record, and nothing here updates or
deletes one. Records leave only through retention (`memorygraph.admin.sweep_expired`) or
deletion (`memorygraph.admin`).

Example:
    >>> from datetime import UTC, datetime
    >>> from langchain_core.messages import HumanMessage
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph import MemoryConfig
    >>> from memorygraph.context import Identity
    >>> from memorygraph.packing import build_package
    >>> store, config, now = InMemoryStore(), MemoryConfig(), datetime(2026, 1, 1, tzinfo=UTC)
    >>> who = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=())
    >>> state = {"messages": [HumanMessage("Mail me at ana@example.org", id="h1")]}
    >>> package = build_package(state, identity=who, config=config, now=now)
    >>> record = audit_record(package, identity=who, model="gpt-x", summary_version=None)
    >>> record.redacted_content["h1"]
    'Mail me at [email]'
    >>> append_audit(store, record), append_audit(store, record)  # the second is a no-op
    (True, False)
    >>> _ = record_package_inputs(store, package, state=state, identity=who, config=config,
    ...                           now=now)
    >>> replay_package(store, "acme", "ana", package.id).id == package.id
    True
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from langchain_core.messages import BaseMessage, messages_from_dict, messages_to_dict
from langgraph.store.base import BaseStore
from pydantic import BaseModel, ValidationError

from memorygraph import records
from memorygraph.config import MemoryConfig
from memorygraph.context import Identity
from memorygraph.errors import MemoryGraphError, ReplayError
from memorygraph.packing.package import build_package
from memorygraph.records import AuditRecord, ContextPackage
from memorygraph.redact import redact
from memorygraph.store.namespaces import audit_namespace, restricted_audit_namespace
from memorygraph.store.retention import ttl_minutes

__all__ = [
    "aappend_audit",
    "aread_audit",
    "append_audit",
    "areplay_package",
    "arecord_package_inputs",
    "audit_record",
    "read_audit",
    "rebuild_package",
    "record_package_inputs",
    "replay_package",
]

_PAGE = 1000

# `redact` is a pure function of the text, and a thread's packages repeat most of
# their items from turn to turn (the policy, the recent turns, the facts): each
# text is redacted once while it stays in view.
_redact = functools.lru_cache(maxsize=4096)(redact)
_SKIPPED_KEYS = frozenset({"context_package"})  # the output, not an input


def audit_record(
    package: ContextPackage,
    *,
    identity: Identity,
    model: str | None,
    summary_version: int | None,
    content: Literal["redacted", "none"] = "redacted",
) -> AuditRecord:
    """Build the general-trace record of a package: trace fields, and content redacted.

    Args:
        package: The package about to be sent.
        identity: Who is calling.
        model: The model profile.
        summary_version: The version of the summary in the state, if any.
        content: ``redacted`` keeps each included item's content with personal
            data redacted; ``none`` keeps ids only.

    Returns:
        The record.
    """
    return AuditRecord(
        package_id=package.id,
        thread_id=identity.thread_id,
        tenant_id=identity.tenant_id,
        user_id=identity.user_id,
        included_ids=package.included_ids,
        excluded=[(entry.item.id, entry.reason) for entry in package.excluded],
        budget=package.budget,
        total_tokens=package.total_tokens,
        prompt_version=package.prompt_version,
        model=model,
        summary_version=summary_version,
        policy_scope_hash=identity.scope_hash,
        redacted_content=(
            {item.id: _redact(item.content) for item in package.items}
            if content == "redacted"
            else {}
        ),
    )


def _audit_key(record: AuditRecord) -> str:
    return f"{record.thread_id}:{record.package_id}"


def append_audit(store: BaseStore, record: AuditRecord, *, ttl: timedelta | None = None) -> bool:
    """Append a record to the general trace; a record already there is never rewritten.

    Args:
        store: The LangGraph store.
        record: The record.
        ttl: How long to keep it, through the store's TTL where it has one
            (`memorygraph.admin.sweep_expired` covers the others).

    Returns:
        Whether the record was written (False: it was already there).
    """
    namespace = audit_namespace(record.tenant_id, record.user_id)
    key = _audit_key(record)
    if store.get(namespace, key, refresh_ttl=False) is not None:
        return False
    store.put(
        namespace, key, record.model_dump(mode="json"), index=False, ttl=ttl_minutes(store, ttl)
    )
    return True


async def aappend_audit(
    store: BaseStore, record: AuditRecord, *, ttl: timedelta | None = None
) -> bool:
    """Async twin of `append_audit`."""
    namespace = audit_namespace(record.tenant_id, record.user_id)
    key = _audit_key(record)
    if await store.aget(namespace, key, refresh_ttl=False) is not None:
        return False
    await store.aput(
        namespace, key, record.model_dump(mode="json"), index=False, ttl=ttl_minutes(store, ttl)
    )
    return True


def _records(items: Sequence[Any], namespace: tuple[str, ...], thread_id: str | None) -> list[Any]:
    return [
        AuditRecord.model_validate(item.value)
        for item in items
        if item.namespace == namespace
        and (thread_id is None or item.value.get("thread_id") == thread_id)
    ]


def read_audit(
    store: BaseStore, tenant_id: str, user_id: str, *, thread_id: str | None = None
) -> list[AuditRecord]:
    """Return a user's audit records (of one thread, or all), oldest first.

    Example:
        >>> from langgraph.store.memory import InMemoryStore
        >>> read_audit(InMemoryStore(), "acme", "ana")
        []
    """
    namespace = audit_namespace(tenant_id, user_id)
    found: list[AuditRecord] = []
    offset = 0
    while True:
        page = store.search(namespace, limit=_PAGE, offset=offset, refresh_ttl=False)
        found += _records(page, namespace, thread_id)
        if len(page) < _PAGE:
            return sorted(found, key=lambda r: (r.created_at, r.package_id))
        offset += _PAGE


async def aread_audit(
    store: BaseStore, tenant_id: str, user_id: str, *, thread_id: str | None = None
) -> list[AuditRecord]:
    """Async twin of `read_audit`."""
    namespace = audit_namespace(tenant_id, user_id)
    found: list[AuditRecord] = []
    offset = 0
    while True:
        page = await store.asearch(namespace, limit=_PAGE, offset=offset, refresh_ttl=False)
        found += _records(page, namespace, thread_id)
        if len(page) < _PAGE:
            return sorted(found, key=lambda r: (r.created_at, r.package_id))
        offset += _PAGE


# --- the restricted record ---------------------------------------------------------


def _record_classes() -> dict[str, type[BaseModel]]:
    return {
        name: value
        for name in records.__all__
        if isinstance(value := getattr(records, name), type) and issubclass(value, BaseModel)
    }


def _encode(value: Any) -> dict[str, Any] | None:
    if isinstance(value, BaseModel) and type(value).__name__ in _record_classes():
        return {"record": type(value).__name__, "data": value.model_dump(mode="json")}
    if isinstance(value, list) and value and all(isinstance(v, BaseMessage) for v in value):
        return {"messages": messages_to_dict(value)}
    if isinstance(value, list) and not value:
        return {"json": []}
    if isinstance(value, list) and all(isinstance(v, BaseModel) for v in value):
        names = {type(v).__name__ for v in value}
        if len(names) == 1 and names <= set(_record_classes()):
            return {"records": names.pop(), "data": [v.model_dump(mode="json") for v in value]}
        return None
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return {"json": value}
    return None


def _decode(encoded: Mapping[str, Any]) -> Any:
    classes = _record_classes()
    if "record" in encoded:
        return classes[encoded["record"]].model_validate(encoded["data"])
    if "records" in encoded:
        cls = classes[encoded["records"]]
        return [cls.model_validate(data) for data in encoded["data"]]
    if "messages" in encoded:
        return messages_from_dict(encoded["messages"])
    return encoded["json"]


def _encode_all(values: Mapping[str, Any], skipped: frozenset[str]) -> dict[str, Any]:
    encoded: dict[str, Any] = {}
    for key, value in values.items():
        if key in skipped:
            continue
        packed = _encode(value)
        if packed is not None:
            encoded[key] = packed
    return encoded


def _inputs(
    package: ContextPackage,
    *,
    state: Mapping[str, Any],
    identity: Identity,
    config: MemoryConfig,
    now: datetime,
    build_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    arguments = {key: list(value) for key, value in build_kwargs.items()}
    return {
        "package_id": package.id,
        "thread_id": identity.thread_id,
        "tenant_id": identity.tenant_id,
        "user_id": identity.user_id,
        "scopes": list(identity.scopes),
        "now": now.isoformat(),
        "config": config.model_dump(mode="json"),
        "state": _encode_all(state, _SKIPPED_KEYS),
        "arguments": _encode_all(arguments, frozenset()),
        "package": package.model_dump(mode="json"),
    }


def record_package_inputs(
    store: BaseStore,
    package: ContextPackage,
    *,
    state: Mapping[str, Any],
    identity: Identity,
    config: MemoryConfig,
    now: datetime,
    **build_kwargs: Sequence[Any],
) -> bool:
    """Keep the full package and the state it was built from, for `replay_package`.

    Pass exactly the arguments `build_package` was given: the state, identity,
    config and ``now``, and its other keyword arguments (``extra_items``,
    ``durable_facts``, ...) as ``build_kwargs``. The record goes to the
    restricted namespace, keyed by package id, and is never rewritten.

    Returns:
        Whether the record was written (False: it was already there).
    """
    namespace = restricted_audit_namespace(identity.tenant_id, identity.user_id)
    if store.get(namespace, package.id, refresh_ttl=False) is not None:
        return False
    value = _inputs(
        package, state=state, identity=identity, config=config, now=now, build_kwargs=build_kwargs
    )
    ttl = ttl_minutes(store, config.audit_ttl)
    store.put(namespace, package.id, value, index=False, ttl=ttl)
    return True


async def arecord_package_inputs(
    store: BaseStore,
    package: ContextPackage,
    *,
    state: Mapping[str, Any],
    identity: Identity,
    config: MemoryConfig,
    now: datetime,
    **build_kwargs: Sequence[Any],
) -> bool:
    """Async twin of `record_package_inputs`."""
    namespace = restricted_audit_namespace(identity.tenant_id, identity.user_id)
    if await store.aget(namespace, package.id, refresh_ttl=False) is not None:
        return False
    value = _inputs(
        package, state=state, identity=identity, config=config, now=now, build_kwargs=build_kwargs
    )
    ttl = ttl_minutes(store, config.audit_ttl)
    await store.aput(namespace, package.id, value, index=False, ttl=ttl)
    return True


def rebuild_package(record: Mapping[str, Any]) -> ContextPackage:
    """Build the package again from a restricted record's recorded state.

    Args:
        record: The value `record_package_inputs` stored.

    Returns:
        The rebuilt package. Its id equals ``record["package_id"]`` when the
        package is reproducible.

    Raises:
        ReplayError: The record is malformed or its state cannot be packed.
    """
    try:
        identity = Identity(
            thread_id=record["thread_id"],
            tenant_id=record["tenant_id"],
            user_id=record["user_id"],
            scopes=tuple(record["scopes"]),
        )
        state = {key: _decode(value) for key, value in record["state"].items()}
        arguments = {key: _decode(value) for key, value in record["arguments"].items()}
        return build_package(
            state,
            identity=identity,
            config=MemoryConfig(**record["config"]),
            now=datetime.fromisoformat(record["now"]),
            **arguments,
        )
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        if isinstance(exc, MemoryGraphError):
            raise ReplayError(f"cannot rebuild package {record.get('package_id')}: {exc}") from exc
        raise ReplayError(
            f"the restricted record of package {record.get('package_id')} is malformed "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _missing(tenant_id: str, user_id: str, package_id: str) -> ReplayError:
    return ReplayError(
        f"no restricted audit record for package {package_id} of tenant {tenant_id!r}, "
        f"user {user_id!r}; packages are recorded for replay only with "
        "MemoryConfig(audit_full_content=True)"
    )


def replay_package(
    store: BaseStore, tenant_id: str, user_id: str, package_id: str
) -> ContextPackage:
    """Rebuild a logged package from its recorded state.

    Args:
        store: The LangGraph store.
        tenant_id: The package's tenant.
        user_id: The package's user.
        package_id: The id in the audit trace.

    Returns:
        The rebuilt package: compare its ``id`` with ``package_id``.

    Raises:
        ReplayError: There is no restricted record for the package, or it
            cannot be rebuilt.
    """
    item = store.get(restricted_audit_namespace(tenant_id, user_id), package_id, refresh_ttl=False)
    if item is None:
        raise _missing(tenant_id, user_id, package_id)
    return rebuild_package(item.value)


async def areplay_package(
    store: BaseStore, tenant_id: str, user_id: str, package_id: str
) -> ContextPackage:
    """Async twin of `replay_package`."""
    namespace = restricted_audit_namespace(tenant_id, user_id)
    item = await store.aget(namespace, package_id, refresh_ttl=False)
    if item is None:
        raise _missing(tenant_id, user_id, package_id)
    return rebuild_package(item.value)
