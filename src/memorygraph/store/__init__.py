"""Long-term memory over LangGraph's `BaseStore`: namespaces, facts, archive, audit."""

from memorygraph.store.facts import (
    aload_facts,
    aput_facts,
    asearch_facts,
    load_facts,
    put_facts,
    search_facts,
)
from memorygraph.store.namespaces import (
    archive_namespace,
    audit_namespace,
    facts_namespace,
    tenant_namespace,
    user_namespace,
)

__all__ = [
    "aload_facts",
    "aput_facts",
    "archive_namespace",
    "asearch_facts",
    "audit_namespace",
    "facts_namespace",
    "load_facts",
    "put_facts",
    "search_facts",
    "tenant_namespace",
    "user_namespace",
]
