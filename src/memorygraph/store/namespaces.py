"""Store namespaces. Every one starts with ``("memorygraph", tenant_id, ...)``.

A namespace cannot be built without a tenant, so a read across tenants is
impossible by construction.

Example:
    >>> facts_namespace("acme", "ana")
    ('memorygraph', 'acme', 'ana', 'facts')
    >>> facts_namespace("", "ana")
    Traceback (most recent call last):
    ...
    memorygraph.errors.InvalidNamespaceError: tenant_id must be a non-blank string without \
control characters or dots, and not '*', got ''
"""

from __future__ import annotations

from memorygraph.errors import InvalidNamespaceError

__all__ = [
    "ROOT",
    "archive_namespace",
    "audit_namespace",
    "facts_namespace",
    "restricted_audit_namespace",
    "tenant_namespace",
    "threads_namespace",
    "user_namespace",
]

ROOT = "memorygraph"


def _part(name: str, value: object) -> str:
    # LangGraph stores join namespace parts with dots, so a dot inside one part
    # could make two different namespaces collide. A part that is exactly "*" is
    # a wildcard to `list_namespaces`: tenant "*" would list every tenant.
    if (
        not isinstance(value, str)
        or not value.strip()
        or "." in value
        or value == "*"
        or any(ch < " " or ch == "\x7f" for ch in value)
    ):
        raise InvalidNamespaceError(
            f"{name} must be a non-blank string without control characters or dots, and not "
            f"'*', got {value!r}"
        )
    return value


def tenant_namespace(tenant_id: str) -> tuple[str, ...]:
    """Everything one tenant owns."""
    return (ROOT, _part("tenant_id", tenant_id))


def user_namespace(tenant_id: str, user_id: str) -> tuple[str, ...]:
    """Everything one user of a tenant owns."""
    return (*tenant_namespace(tenant_id), _part("user_id", user_id))


def facts_namespace(tenant_id: str, user_id: str) -> tuple[str, ...]:
    """A user's durable facts."""
    return (*user_namespace(tenant_id, user_id), "facts")


def audit_namespace(tenant_id: str, user_id: str) -> tuple[str, ...]:
    """A user's audit records, one per model call."""
    return (*user_namespace(tenant_id, user_id), "audit")


def archive_namespace(tenant_id: str, user_id: str, thread_id: str) -> tuple[str, ...]:
    """The transcript archive of one thread: every turn folded out of the window."""
    return (*user_namespace(tenant_id, user_id), "archive", _part("thread_id", thread_id))


def restricted_audit_namespace(tenant_id: str, user_id: str) -> tuple[str, ...]:
    """Full, unredacted package content and the inputs to replay it; written only when configured.

    A sibling of `audit_namespace`, not a child: a search of the general audit
    namespace (a prefix search) never returns restricted records.
    """
    return (*user_namespace(tenant_id, user_id), "restricted_audit")


def threads_namespace(tenant_id: str, user_id: str) -> tuple[str, ...]:
    """The threads a user owns, one item per thread id (what `forget_user` deletes)."""
    return (*user_namespace(tenant_id, user_id), "threads")
