"""memorygraph: memory for LangGraph agents.

Per-thread state in a LangGraph checkpointer, durable facts, structured
summaries, and one deterministic, budgeted, auditable context package for
every model call.
"""

from memorygraph.admin import (
    ForgetReport,
    aforget_tenant,
    aforget_thread,
    aforget_user,
    asweep_expired,
    forget_tenant,
    forget_thread,
    forget_user,
    sweep_expired,
)
from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext
from memorygraph.errors import (
    BackendError,
    ConfigError,
    ContextBudgetExceeded,
    CorruptStateError,
    EncodingError,
    IdentityError,
    InvalidMessageError,
    InvalidNamespaceError,
    MemoryGraphError,
    ReplayError,
    ResumeValueError,
    ThreadBusyError,
)
from memorygraph.graph import (
    MemoryAgentState,
    MemoryGraph,
    MemoryMiddleware,
    add_memory,
    build_memory_graph,
    create_memory_graph,
)
from memorygraph.records import (
    AuditRecord,
    ContextItem,
    ContextPackage,
    ExcludedItem,
    Fact,
    ItemKind,
    MemoryCandidate,
    Priority,
    ResolvedReference,
    SessionSummary,
    TaskState,
    TokenUsage,
    TrustLevel,
)
from memorygraph.state import MemoryState, context_messages
from memorygraph.tokens import TokenCounter

__version__ = "0.1.0"

__all__ = [
    "AuditRecord",
    "BackendError",
    "ConfigError",
    "ContextBudgetExceeded",
    "ContextItem",
    "ContextPackage",
    "CorruptStateError",
    "EncodingError",
    "ExcludedItem",
    "Fact",
    "ForgetReport",
    "IdentityError",
    "InvalidMessageError",
    "InvalidNamespaceError",
    "ItemKind",
    "MemoryAgentState",
    "MemoryCandidate",
    "MemoryConfig",
    "MemoryContext",
    "MemoryGraph",
    "MemoryGraphError",
    "MemoryMiddleware",
    "MemoryState",
    "Priority",
    "ReplayError",
    "ResolvedReference",
    "ResumeValueError",
    "SessionSummary",
    "TaskState",
    "ThreadBusyError",
    "TokenCounter",
    "TokenUsage",
    "TrustLevel",
    "__version__",
    "add_memory",
    "aforget_tenant",
    "aforget_thread",
    "aforget_user",
    "asweep_expired",
    "build_memory_graph",
    "context_messages",
    "create_memory_graph",
    "forget_tenant",
    "forget_thread",
    "forget_user",
    "sweep_expired",
]
