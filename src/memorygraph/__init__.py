"""memorygraph: memory for LangGraph agents.

Per-thread state in a LangGraph checkpointer, durable facts, structured
summaries, and one deterministic, budgeted, auditable context package for
every model call.
"""

from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext
from memorygraph.errors import (
    BackendError,
    ConfigError,
    ContextBudgetExceeded,
    EncodingError,
    IdentityError,
    InvalidMessageError,
    InvalidNamespaceError,
    MemoryGraphError,
    ResumeValueError,
)
from memorygraph.graph import MemoryGraph, build_memory_graph, create_memory_graph
from memorygraph.records import (
    AuditRecord,
    ContextItem,
    ContextPackage,
    ExcludedItem,
    Fact,
    ItemKind,
    MemoryCandidate,
    Priority,
    SessionSummary,
    TaskState,
    TokenUsage,
    TrustLevel,
)
from memorygraph.state import MemoryState
from memorygraph.tokens import TokenCounter

__version__ = "0.1.0"

__all__ = [
    "AuditRecord",
    "BackendError",
    "ConfigError",
    "ContextBudgetExceeded",
    "ContextItem",
    "ContextPackage",
    "EncodingError",
    "ExcludedItem",
    "Fact",
    "IdentityError",
    "InvalidMessageError",
    "InvalidNamespaceError",
    "ItemKind",
    "MemoryCandidate",
    "MemoryConfig",
    "MemoryContext",
    "MemoryGraph",
    "MemoryGraphError",
    "MemoryState",
    "Priority",
    "ResumeValueError",
    "SessionSummary",
    "TaskState",
    "TokenCounter",
    "TokenUsage",
    "TrustLevel",
    "__version__",
    "build_memory_graph",
    "create_memory_graph",
]
