"""memorygraph: memory for LangGraph agents.

Per-thread state in a LangGraph checkpointer, durable facts, structured
summaries, and one deterministic, budgeted, auditable context package for
every model call.

The top level holds what most users import. The rest lives where it belongs:
errors in `memorygraph.errors`, records in `memorygraph.records`, the async
forget twins and the TTL sweep in `memorygraph.admin`, the middleware's state
in `memorygraph.graph`.
"""

import importlib as _importlib
import warnings as _warnings
from typing import Any as _Any

from memorygraph.admin import forget_tenant, forget_thread, forget_user
from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext
from memorygraph.errors import ContextBudgetExceeded, MemoryGraphError
from memorygraph.graph import (
    MemoryGraph,
    MemoryMiddleware,
    add_memory,
    build_memory_graph,
    create_memory_graph,
)
from memorygraph.records import (
    ContextItem,
    ContextPackage,
    Fact,
    Priority,
    SessionSummary,
    TrustLevel,
)
from memorygraph.state import MemoryState, context_messages
from memorygraph.tokens import TokenCounter

__version__ = "0.1.0"

__all__ = [
    "ContextBudgetExceeded",
    "ContextItem",
    "ContextPackage",
    "Fact",
    "MemoryConfig",
    "MemoryContext",
    "MemoryGraph",
    "MemoryGraphError",
    "MemoryMiddleware",
    "MemoryState",
    "Priority",
    "SessionSummary",
    "TokenCounter",
    "TrustLevel",
    "__version__",
    "add_memory",
    "build_memory_graph",
    "context_messages",
    "create_memory_graph",
    "forget_tenant",
    "forget_thread",
    "forget_user",
]

# Names the top level held before 0.2, and where they live now. They still
# import from here, with a DeprecationWarning, until 0.3.
_MOVED = {
    **dict.fromkeys(
        [
            "BackendError",
            "ConfigError",
            "CorruptStateError",
            "EncodingError",
            "IdentityError",
            "InvalidMessageError",
            "InvalidNamespaceError",
            "ReplayError",
            "ResumeValueError",
            "ThreadBusyError",
        ],
        "memorygraph.errors",
    ),
    **dict.fromkeys(
        [
            "AuditRecord",
            "ExcludedItem",
            "ItemKind",
            "MemoryCandidate",
            "ResolvedReference",
            "TaskState",
            "TokenUsage",
        ],
        "memorygraph.records",
    ),
    **dict.fromkeys(
        [
            "ForgetReport",
            "aforget_tenant",
            "aforget_thread",
            "aforget_user",
            "asweep_expired",
            "sweep_expired",
        ],
        "memorygraph.admin",
    ),
    "MemoryAgentState": "memorygraph.graph",
}


def __getattr__(name: str) -> _Any:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'memorygraph' has no attribute {name!r}")
    _warnings.warn(
        f"memorygraph.{name} has moved: import it from {home} "
        "(the top-level name goes in memorygraph 0.3)",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_importlib.import_module(home), name)
