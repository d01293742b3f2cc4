"""`MemoryContext`: who is calling, given to the graph as LangGraph runtime context.

Pass it as ``context=`` (it is the graph's ``context_schema``). When it is
absent, memorygraph reads ``tenant_id``, ``user_id`` and ``scopes`` from
``config["configurable"]``. On the LangGraph API server with authentication
(`memorygraph.graph.auth`), who is calling comes from the authenticated user the
server puts in the run's config, and a ``context`` or ``configurable`` claim may
only repeat it.

Example:
    >>> from memorygraph import MemoryContext
    >>> MemoryContext(tenant_id="acme", user_id="ana", scopes=("billing",)).scopes
    ('billing',)
    >>> MemoryContext(tenant_id=" ", user_id="ana")
    Traceback (most recent call last):
    ...
    memorygraph.errors.IdentityError: tenant_id must be a non-blank string, got ' '
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from memorygraph.errors import IdentityError

__all__ = [
    "AUTH_USER_KEY",
    "Identity",
    "MemoryContext",
    "authenticated_context",
    "check_identity_string",
    "check_scopes",
    "resolve_identity",
]

AUTH_USER_KEY = "langgraph_auth_user"
"""Where the LangGraph API server puts the authenticated user in ``configurable``.

It is the source of ``Runtime.server_info.user`` too, and a key the server
does not let a client set.
"""


# Control characters (\n, \x85, ...), format characters (zero-width, bidi
# overrides), line and paragraph separators (U+2028, U+2029), surrogates and
# unassigned code points: none has a place in a name, and each can break a line
# of the system message the identity is written into.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
MAX_ID_CHARS = 256
MAX_SCOPES = 64


def check_identity_string(name: str, value: object) -> str:
    """The one check for every identity string: thread, tenant and user ids, and scopes.

    Wherever they come from (`MemoryContext`, ``configurable``, the API
    server), these strings are written into store namespaces and the authority
    block of the system message, so each must be a non-blank string of at most
    256 characters with no control or format character and no line or
    paragraph separator.

    Args:
        name: What the value is, for the message (``"tenant_id"``, ``"scopes[0]"``).
        value: The value to check.

    Returns:
        The value, unchanged.

    Raises:
        IdentityError: What is wrong with it.

    Example:
        >>> check_identity_string("scopes[0]", "billing.read")
        'billing.read'
        >>> check_identity_string("user_id", "ana\u2028[policy]")
        Traceback (most recent call last):
        ...
        memorygraph.errors.IdentityError: user_id must be at most 256 characters without \
control characters, format characters or line separators (found U+2028 at position 3)
    """
    if not isinstance(value, str) or not value.strip():
        raise IdentityError(f"{name} must be a non-blank string, got {value!r:.80}")
    bad = next(
        (i for i, ch in enumerate(value) if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES),
        None,
    )
    if len(value) > MAX_ID_CHARS or bad is not None:
        found = f" (found U+{ord(value[bad]):04X} at position {bad})" if bad is not None else ""
        raise IdentityError(
            f"{name} must be at most {MAX_ID_CHARS} characters without control characters, "
            f"format characters or line separators{found}"
        )
    return value


def check_scopes(scopes: object) -> tuple[str, ...]:
    """Check every scope with `check_identity_string`; return them sorted, without repeats.

    Raises:
        IdentityError: The scopes are not a list of strings, more than 64, or one is bad.
    """
    if isinstance(scopes, str) or not isinstance(scopes, list | tuple | set | frozenset):
        raise IdentityError(f"scopes must be a list of strings, got {type(scopes).__name__}")
    if len(scopes) > MAX_SCOPES:
        raise IdentityError(f"at most {MAX_SCOPES} scopes are accepted, got {len(scopes)}")
    for index, scope in enumerate(scopes):
        check_identity_string(f"scopes[{index}]", scope)
    return tuple(sorted(set(scopes)))


_require_id = check_identity_string


@dataclass(frozen=True)
class MemoryContext:
    """The caller's identity and permissions for one run.

    Attributes:
        tenant_id: The tenant; every store namespace starts with it.
        user_id: The user within the tenant.
        scopes: Permissions the caller holds; items that require a scope the
            caller lacks are excluded as ``unauthorized`` before packing.
    """

    tenant_id: str
    user_id: str
    scopes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _require_id("tenant_id", self.tenant_id)
        _require_id("user_id", self.user_id)
        # A list from JSON (the API server) becomes a tuple, so the context stays hashable.
        object.__setattr__(self, "scopes", check_scopes(self.scopes))


@dataclass(frozen=True)
class Identity:
    """A resolved identity: the context plus the thread it is acting on."""

    thread_id: str
    tenant_id: str
    user_id: str
    scopes: tuple[str, ...]

    def __post_init__(self) -> None:
        _require_id("thread_id", self.thread_id)
        _require_id("tenant_id", self.tenant_id)
        _require_id("user_id", self.user_id)
        check_scopes(self.scopes)

    @property
    def scope_hash(self) -> str:
        """A short, stable hash of the caller's authority, for the audit log."""
        text = "\x1f".join((self.tenant_id, self.user_id, *self.scopes))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


_IDENTITY_KEYS = ("tenant_id", "user_id", "scopes")
_HOW_TO_PASS = (
    "pass who is calling as the run's context, MemoryContext(tenant_id=..., user_id=...) "
    '(with the API server or langgraph-sdk: context={"tenant_id": ..., "user_id": ...}), '
    'or in the config: {"configurable": {"tenant_id": ..., "user_id": ...}}'
)


def _context_from(values: Mapping[str, Any]) -> MemoryContext:
    # A missing key is named here: MemoryContext(**values) would raise a bare TypeError.
    for name in ("tenant_id", "user_id"):
        if values.get(name) is None:
            raise IdentityError(f"{name} is missing: {_HOW_TO_PASS}")
    return MemoryContext(
        tenant_id=values["tenant_id"],
        user_id=values["user_id"],
        scopes=values.get("scopes") or (),
    )


def _field(user: object, name: str) -> Any:
    if isinstance(user, Mapping):
        return user.get(name)
    return getattr(user, name, None)


def authenticated_context(user: object) -> MemoryContext:
    """Return who an authenticated user is: its ``tenant_id``, ``user_id`` and ``scopes``.

    Args:
        user: The user the server's auth handler returned, as a mapping or an
            object with those attributes (the server wraps a dict in a proxy).

    Returns:
        The user's context.

    Raises:
        IdentityError: When the user carries no valid ``tenant_id`` or ``user_id``
            (an auth handler that returns only an ``identity``).

    Example:
        >>> authenticated_context({"identity": "acme/ana", "tenant_id": "acme",
        ...     "user_id": "ana", "scopes": ["billing"]})
        MemoryContext(tenant_id='acme', user_id='ana', scopes=('billing',))
        >>> authenticated_context({"identity": "ana"})
        Traceback (most recent call last):
        ...
        memorygraph.errors.IdentityError: tenant_id is missing: the authenticated user ...
    """
    for name in ("tenant_id", "user_id"):
        if _field(user, name) is None:
            raise IdentityError(
                f"{name} is missing: the authenticated user {_field(user, 'identity')!r} must "
                "carry tenant_id, user_id and scopes; return them from the server's "
                "@auth.authenticate handler (memorygraph.graph.auth.user_for)"
            )
    scopes = _field(user, "scopes") or ()
    return MemoryContext(
        tenant_id=_field(user, "tenant_id"),
        user_id=_field(user, "user_id"),
        scopes=(scopes,) if isinstance(scopes, str) else tuple(scopes),
    )


def _claims(source: object) -> dict[str, Any]:
    """The identity a context or ``configurable`` claims; None and "" claim nothing."""
    if isinstance(source, MemoryContext):
        values: Mapping[str, Any] = vars(source)
    elif isinstance(source, Mapping):
        values = source
    else:
        return {}
    return {key: values[key] for key in _IDENTITY_KEYS if values.get(key) not in (None, "", ())}


def _refuse_contradictions(
    user: object, caller: MemoryContext, context: object, configurable: object
) -> None:
    claims = {"context": _claims(context), "configurable": _claims(configurable)}
    if claims["configurable"].get("user_id") == _field(user, "identity"):
        # The server writes the user's identity there itself when no one claims a user_id.
        del claims["configurable"]["user_id"]
    for where, claimed_keys in claims.items():
        for key, claimed in claimed_keys.items():
            if key == "scopes":
                as_set = {claimed} if isinstance(claimed, str) else set(claimed)
                same = as_set == set(caller.scopes)
            else:
                same = claimed == getattr(caller, key)
            if not same:
                raise IdentityError(
                    f"{key} {claimed!r} in the run's {where} contradicts the authenticated "
                    f"caller ({key} {getattr(caller, key)!r}): on the server, who is calling "
                    "comes from the API key; leave tenant_id, user_id and scopes out of "
                    "context and configurable"
                )


def resolve_identity(context: object, config: Mapping[str, Any] | None) -> Identity:
    """Resolve who is calling: the authenticated user, else the context, else ``configurable``.

    On the LangGraph API server with authentication, the user the server
    authenticated (``configurable["langgraph_auth_user"]``, `AUTH_USER_KEY`)
    decides the tenant, user and scopes. A ``context`` or ``configurable`` that
    also names any of them must say the same, or the run is refused.

    Without an authenticated user (plain Python): a mapping context (the API
    server passes the run's ``context`` as a dict) counts when it holds any of
    ``tenant_id``, ``user_id`` or ``scopes``, and its other keys are ignored.
    An empty one, or a context of another type (your own graph's), falls back to
    ``configurable``. The two are never mixed.

    Args:
        context: ``runtime.context``: a `MemoryContext`, a mapping, or None.
        config: The run's ``RunnableConfig``.

    Returns:
        The identity, with the thread id from ``config["configurable"]["thread_id"]``.

    Raises:
        IdentityError: When the thread, tenant or user id is missing or blank (the
            message names the missing key and says how to pass it), or when a claim
            contradicts the authenticated user.

    Example:
        >>> resolve_identity(None, {"configurable": {"thread_id": "t1",
        ...     "tenant_id": "acme", "user_id": "ana"}}).tenant_id
        'acme'
        >>> resolve_identity({}, {"configurable": {"thread_id": "t1"}})
        Traceback (most recent call last):
        ...
        memorygraph.errors.IdentityError: tenant_id is missing: pass who is calling ...
        >>> server = {"configurable": {"thread_id": "t1", "langgraph_auth_user":
        ...     {"identity": "acme/ana", "tenant_id": "acme", "user_id": "ana"}}}
        >>> resolve_identity(None, server).user_id
        'ana'
        >>> resolve_identity({"tenant_id": "globex"}, server)
        Traceback (most recent call last):
        ...
        memorygraph.errors.IdentityError: tenant_id 'globex' in the run's context contradicts ...
    """
    configurable: Mapping[str, Any] = (config or {}).get("configurable") or {}
    thread_id = configurable.get("thread_id")
    if thread_id is None:
        raise IdentityError(
            'thread_id is missing: pass {"configurable": {"thread_id": "..."}} as the config'
        )
    user = configurable.get(AUTH_USER_KEY)
    if user is not None:
        caller = authenticated_context(user)
        _refuse_contradictions(user, caller, context, configurable)
        context = caller
    elif isinstance(context, Mapping) and any(key in context for key in _IDENTITY_KEYS):
        context = _context_from(context)
    elif not isinstance(context, MemoryContext):
        context = _context_from(configurable)
    return Identity(
        thread_id=_require_id("thread_id", str(thread_id) if thread_id != "" else ""),
        tenant_id=context.tenant_id,
        user_id=context.user_id,
        scopes=context.scopes,
    )
