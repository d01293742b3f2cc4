"""Long-term memory over LangGraph's `BaseStore`: namespaces, facts, archive, audit."""

from memorygraph.store.namespaces import (
    archive_namespace,
    audit_namespace,
    facts_namespace,
    tenant_namespace,
    user_namespace,
)

__all__ = [
    "archive_namespace",
    "audit_namespace",
    "facts_namespace",
    "tenant_namespace",
    "user_namespace",
]
