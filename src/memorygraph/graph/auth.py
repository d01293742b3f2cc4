"""Who may call the LangGraph API server, and what each caller may reach.

``langgraph.json`` points its ``auth`` section at `auth`, a `langgraph_sdk.Auth`
that the server runs on every request:

* **Authentication.** Every request carries an API key in the ``x-api-key``
  header (what ``langgraph_sdk.get_client(api_key=...)`` sends). The keys come
  from the environment variable ``MEMORYGRAPH_API_KEYS``, a JSON object mapping
  each key to the caller it stands for::

      {"key-of-ana": {"tenant_id": "acme", "user_id": "ana", "scopes": ["billing"]}}

  A request without a key, or with a key not in the object, gets 401. The
  server refuses to start when the variable is unset or malformed (a
  `ConfigError` saying how to set it): there is no default key.
* **Identity.** The authenticated user carries ``tenant_id``, ``user_id`` and
  ``scopes``; LangGraph hands it to every run, and
  `memorygraph.context.resolve_identity` takes the run's identity from it,
  refusing a ``context`` or ``configurable`` claim that says otherwise.
* **Resources.** Threads, runs, crons and assistants a caller creates are tagged
  with its tenant and user (metadata ``owner_tenant_id`` and ``owner_user_id``)
  and every read, search, update, delete and run is filtered to the caller's
  own. The graph's own assistants (created by the server) are readable by all.
  The store API reaches only the caller's own namespaces,
  ``("memorygraph", tenant, user, ...)``, and only to read: runs write memory,
  the API does not (a fact written there would skip extraction and approval,
  and the audit log is append-only). The restricted audit namespace is read
  only by a caller holding the `RESTRICTED_AUDIT_SCOPE` scope. Anything the
  rules above do not name is refused (a default-deny handler).

To use a real identity provider instead, write an ``Auth`` of your own whose
authenticator returns the same fields (docs/server-auth.md has a JWT example),
reuse the resource rules with `add_resource_rules`, and point ``auth.path`` in
``langgraph.json`` at it.

Example:
    >>> callers = load_api_keys('{"k1": {"tenant_id": "acme", "user_id": "ana"}}')
    >>> callers[key_digest("k1")]
    MemoryContext(tenant_id='acme', user_id='ana', scopes=())
    >>> load_api_keys('{"k1": {"tenant_id": "acme"}}')
    Traceback (most recent call last):
    ...
    memorygraph.errors.ConfigError: MEMORYGRAPH_API_KEYS: entry 1: user_id is missing
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from langgraph_sdk import Auth

from memorygraph.context import AUTH_USER_KEY, MemoryContext, authenticated_context
from memorygraph.errors import ConfigError, IdentityError, InvalidNamespaceError
from memorygraph.store.namespaces import ROOT, user_namespace

__all__ = [
    "API_KEYS_ENV",
    "OWNER_TENANT",
    "OWNER_USER",
    "RESTRICTED_AUDIT_SCOPE",
    "add_resource_rules",
    "key_digest",
    "load_api_keys",
    "server_auth",
    "user_for",
]

API_KEYS_ENV = "MEMORYGRAPH_API_KEYS"
"""The environment variable holding the server's API keys (a JSON object)."""

RESTRICTED_AUDIT_SCOPE = "memorygraph:restricted_audit"
"""The scope that lets a caller read its own restricted audit namespace through the store API."""

OWNER_TENANT = "owner_tenant_id"
"""The metadata key that tags a thread, cron or assistant with its owner's tenant."""

OWNER_USER = "owner_user_id"
"""The metadata key that tags a thread, cron or assistant with its owner's user."""

_RESTRICTED = "restricted_audit"
_WRITTEN_BY_RUNS = (
    "the store API is read-only: memory is written by runs, and deleted with "
    "memorygraph's forget functions"
)
_HOW_TO_SET = (
    f"set {API_KEYS_ENV} to a JSON object mapping each API key to its caller, e.g. "
    f'{API_KEYS_ENV}=\'{{"a-long-random-key": {{"tenant_id": "acme", "user_id": "ana", '
    '"scopes": []}}\' (see the README, "Serving memorygraph")'
)


def key_digest(key: str | bytes) -> bytes:
    """Return the SHA-256 digest keys are looked up by (no key is compared character by character).

    Args:
        key: An API key, as text or as the header's bytes.

    Returns:
        The 32-byte digest.
    """
    data = key.encode("utf-8") if isinstance(key, str) else key
    return hashlib.sha256(data).digest()


def load_api_keys(text: str | None) -> dict[bytes, MemoryContext]:
    """Parse ``MEMORYGRAPH_API_KEYS``: each key's digest to the caller it stands for.

    Args:
        text: The variable's value, or None when it is unset.

    Returns:
        The callers, keyed by `key_digest` of their API key.

    Raises:
        ConfigError: When the value is missing, is not a non-empty JSON object of
            objects, or a caller lacks a valid ``tenant_id`` or ``user_id``. The
            message names the entry by its position, never by its key.

    Example:
        >>> load_api_keys(None)
        Traceback (most recent call last):
        ...
        memorygraph.errors.ConfigError: MEMORYGRAPH_API_KEYS is not set: the server ...
    """
    if text is None or not text.strip():
        raise ConfigError(
            f"{API_KEYS_ENV} is not set: the server accepts no request without an API "
            f"key; {_HOW_TO_SET}"
        )
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{API_KEYS_ENV} is not valid JSON ({exc.msg}); {_HOW_TO_SET}") from None
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{API_KEYS_ENV} must be a non-empty JSON object; {_HOW_TO_SET}")
    callers: dict[bytes, MemoryContext] = {}
    for number, (key, caller) in enumerate(entries.items(), start=1):
        where = f"{API_KEYS_ENV}: entry {number}"  # never the key itself
        if not key.strip():
            raise ConfigError(f"{where}: an API key must not be blank")
        if not isinstance(caller, dict):
            raise ConfigError(f"{where}: must map to an object with tenant_id, user_id, scopes")
        scopes = caller.get("scopes", [])
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ConfigError(f"{where}: scopes must be a list of strings")
        missing = [name for name in ("tenant_id", "user_id") if caller.get(name) is None]
        if missing:
            raise ConfigError(f"{where}: {missing[0]} is missing")
        try:
            context = authenticated_context(caller)
            user_namespace(context.tenant_id, context.user_id)  # no dots, not "*"
        except (IdentityError, InvalidNamespaceError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        callers[key_digest(key)] = context
    return callers


def user_for(context: MemoryContext) -> dict[str, Any]:
    """Return the authenticated user the server keeps for a caller.

    ``identity`` names the caller in the server's logs; memorygraph reads the
    separate ``tenant_id``, ``user_id`` and ``scopes`` fields, never ``identity``.
    ``display_name`` is the user id, which the server also copies into the
    ``configurable`` of a state update.

    Args:
        context: The caller.

    Returns:
        A ``MinimalUserDict`` with memorygraph's fields added.

    Example:
        >>> user_for(MemoryContext(tenant_id="acme", user_id="ana"))["identity"]
        'acme/ana'
    """
    return {
        "identity": f"{context.tenant_id}/{context.user_id}",
        "display_name": context.user_id,
        "is_authenticated": True,
        "permissions": list(context.scopes),
        "tenant_id": context.tenant_id,
        "user_id": context.user_id,
        "scopes": list(context.scopes),
    }


def _caller(ctx: Auth.types.AuthContext) -> MemoryContext:
    """The caller behind a request; 403 for a user without memorygraph's fields."""
    try:
        return authenticated_context(ctx.user)
    except IdentityError as exc:
        raise Auth.exceptions.HTTPException(status_code=403, detail=str(exc)) from None


def _owner(ctx: Auth.types.AuthContext) -> dict[str, str]:
    caller = _caller(ctx)
    return {OWNER_TENANT: caller.tenant_id, OWNER_USER: caller.user_id}


def _tag(value: Mapping[str, Any], owner: Mapping[str, str]) -> None:
    """Stamp the owner into a value's metadata, in place (the server keeps that dict)."""
    metadata = value.get("metadata")
    if isinstance(metadata, dict):
        metadata.update(owner)
    else:
        value["metadata"] = dict(owner)  # type: ignore[index]


def _forbidden(detail: str) -> Auth.exceptions.HTTPException:
    return Auth.exceptions.HTTPException(status_code=403, detail=detail)


def _own_namespace(
    caller: MemoryContext, namespace: tuple[str, ...], action: str
) -> tuple[str, ...]:
    """Check a store namespace (a prefix for search) against the caller's own; return it.

    A prefix of the caller's own namespace (``()``, ``("memorygraph",)``,
    ``("memorygraph", tenant)``) is narrowed to ``("memorygraph", tenant, user)``
    for a search; anything that leaves it is refused. Without the restricted
    scope, a search must also name a namespace below the user's, so it cannot
    reach the restricted audit namespace.
    """
    own = (ROOT, caller.tenant_id, caller.user_id)
    if action == "search" and own[: len(namespace)] == namespace:
        namespace = own
    if namespace[:3] != own:
        raise _forbidden(f"namespace {list(namespace)} is outside your own, {list(own)}")
    may_read_restricted = RESTRICTED_AUDIT_SCOPE in caller.scopes
    if len(namespace) > 3 and namespace[3] == _RESTRICTED and not may_read_restricted:
        raise _forbidden(f"the restricted audit needs the {RESTRICTED_AUDIT_SCOPE!r} scope")
    if len(namespace) == 3 and not may_read_restricted:
        raise _forbidden(
            f"search one of your namespaces, {list(own)} followed by 'facts', 'threads', "
            f"'audit' or 'archive' (a search of {list(own)} itself would reach the "
            f"restricted audit, which needs the {RESTRICTED_AUDIT_SCOPE!r} scope)"
        )
    return namespace


async def _deny(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Refuse what no other rule names."""
    return False


def _run_cron_as_caller(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Keep the caller in a cron's run payload, so its scheduled runs are the caller's.

    The scheduler starts a cron's runs with the user it finds in the payload's
    ``configurable``, else with a bare user named by the cron's ``user_id``, which
    carries no tenant: memorygraph would refuse those runs.
    """
    payload = value.get("payload")
    if ctx.resource != "crons" or not isinstance(payload, dict):
        return
    config = payload.get("config")
    if not isinstance(config, dict):
        config = payload["config"] = {}
    configurable = config.get("configurable")
    if not isinstance(configurable, dict):
        configurable = config["configurable"] = {}
    configurable[AUTH_USER_KEY] = user_for(_caller(ctx))


async def _tag_owner(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Stamp the caller as the owner; an existing thread, cron or assistant must be theirs."""
    owner = _owner(ctx)
    _tag(value, owner)
    _run_cron_as_caller(ctx, value)
    return owner


async def _only_own(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Reach only the caller's own threads (and their runs), crons and assistants."""
    owner = _owner(ctx)
    if ctx.action == "update" and isinstance(value.get("metadata"), dict):
        value["metadata"].update(owner)  # an update cannot hand it to someone else
    if ctx.action == "update":
        _run_cron_as_caller(ctx, value)
    return owner


async def _own_or_system(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any]:
    """The graph's own assistants (created by the server), and the caller's."""
    return {"$or": [_owner(ctx), {"created_by": "system"}]}


async def _read_store(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Store reads reach only ``("memorygraph", tenant, user, ...)``."""
    caller = _caller(ctx)
    namespace = tuple(value.get("namespace") or ())
    if ctx.action != "list_namespaces":
        value["namespace"] = _own_namespace(caller, namespace, ctx.action)
        return
    # Namespace names only: a prefix of the caller's own is narrowed to it.
    own = (ROOT, caller.tenant_id, caller.user_id)
    if own[: len(namespace)] == namespace:
        namespace = own
    elif namespace[:3] != own:
        raise _forbidden(f"namespace {list(namespace)} is outside your own, {list(own)}")
    value["namespace"] = namespace


async def _no_store_writes(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Memory is written by runs, not through the store API."""
    raise _forbidden(_WRITTEN_BY_RUNS)


def add_resource_rules(target: Auth) -> Auth:
    """Register memorygraph's resource rules on an ``Auth``: owners, filters, the store.

    Use it with an authenticator of your own (an identity provider) whose users
    carry ``tenant_id``, ``user_id`` and ``scopes`` (see `user_for`).

    Args:
        target: The ``Auth`` to register the handlers on; it must have none yet.

    Returns:
        ``target``, for chaining.

    Example:
        >>> from langgraph_sdk import Auth
        >>> mine = add_resource_rules(Auth())
        >>> @mine.authenticate
        ... async def authenticate(authorization: str) -> dict[str, object]:
        ...     claims = await verify(authorization)  # your identity provider
        ...     return user_for(MemoryContext(claims["org"], claims["sub"]))
    """
    owned = ["threads", "crons"]
    target.on(_deny)
    target.on(resources=owned, actions=["create", "create_run"])(_tag_owner)
    target.on(resources=owned, actions=["read", "update", "delete", "search"])(_only_own)
    target.on.assistants.create(_tag_owner)
    target.on(resources="assistants", actions=["read", "search"])(_own_or_system)
    target.on(resources="assistants", actions=["update", "delete"])(_only_own)
    target.on.store(actions=["get", "search", "list_namespaces"])(_read_store)
    target.on.store(actions=["put", "delete"])(_no_store_writes)
    return target


@functools.cache
def server_auth() -> Auth:
    """Build the server's ``Auth`` from ``MEMORYGRAPH_API_KEYS``, once.

    ``langgraph.json`` names it as this module's ``auth`` attribute, which is
    built on first access (PEP 562): importing the module needs no keys, the
    server's start does.

    Returns:
        The ``Auth`` with the API-key authenticator and `add_resource_rules`.

    Raises:
        ConfigError: When ``MEMORYGRAPH_API_KEYS`` is unset or malformed.
    """
    callers = load_api_keys(os.environ.get(API_KEYS_ENV))
    built = Auth()

    @built.authenticate
    async def authenticate(headers: dict[bytes, bytes]) -> Auth.types.MinimalUserDict:
        """The caller whose API key is in ``x-api-key``; 401 without a valid one."""
        key = headers.get(b"x-api-key")
        if not key:
            raise Auth.exceptions.HTTPException(
                status_code=401, detail="missing API key: send it in the x-api-key header"
            )
        caller = callers.get(key_digest(key))
        if caller is None:
            raise Auth.exceptions.HTTPException(status_code=401, detail="invalid API key")
        return user_for(caller)  # type: ignore[return-value]

    return add_resource_rules(built)


def __getattr__(name: str) -> Any:
    """``auth``, the server's ``Auth`` (``langgraph.json``: ``"auth": {"path": ...:auth}``)."""
    if name == "auth":
        return server_auth()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
