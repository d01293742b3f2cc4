"""The one error tree of memorygraph.

Every error that memorygraph raises on purpose derives from `MemoryGraphError`,
and each subclass also derives from the builtin that matches it, so callers can
catch either::

    Exception
    └── MemoryGraphError
        ├── ConfigError (ValueError)              a MemoryConfig value is out of range
        ├── IdentityError (ValueError)            thread_id / tenant_id / user_id missing or blank
        ├── InvalidMessageError (ValueError)      unknown role, non-message, orphan tool result
        ├── InvalidNamespaceError (ValueError)    a store namespace without a tenant
        ├── ResumeValueError (ValueError)         a malformed `Command(resume=...)` value
        ├── ContextBudgetExceeded (ValueError)    critical context does not fit the budget
        ├── EncodingError (RuntimeError)          a bundled token encoding is missing or corrupt
        ├── BackendError (RuntimeError)           a database cannot be opened, or failed in a run
        ├── CorruptStateError (RuntimeError)      a thread's stored checkpoint cannot be loaded
        ├── ThreadBusyError (RuntimeError)        another run held the thread for too long
        ├── ToolRoundsExceeded (RuntimeError)     one turn called tools more than max_tool_rounds
        └── ReplayError (RuntimeError)            a logged package cannot be rebuilt for replay

Example:
    >>> from memorygraph import ContextBudgetExceeded, MemoryGraphError
    >>> issubclass(ContextBudgetExceeded, MemoryGraphError)
    True
    >>> issubclass(ContextBudgetExceeded, ValueError)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "BackendError",
    "ConfigError",
    "ContextBudgetExceeded",
    "CorruptStateError",
    "EncodingError",
    "IdentityError",
    "InvalidMessageError",
    "InvalidNamespaceError",
    "MemoryGraphError",
    "ReplayError",
    "ResumeValueError",
    "ThreadBusyError",
    "ToolRoundsExceeded",
]


class MemoryGraphError(Exception):
    """The root of every error memorygraph raises on purpose."""


class ConfigError(MemoryGraphError, ValueError):
    """A configuration value is out of range or inconsistent."""


class IdentityError(MemoryGraphError, ValueError):
    """A thread, tenant or user id is missing or blank."""


class InvalidMessageError(MemoryGraphError, ValueError):
    """A message cannot be accepted into a thread."""


class InvalidNamespaceError(MemoryGraphError, ValueError):
    """A store namespace would not be scoped to a tenant."""


class ResumeValueError(MemoryGraphError, ValueError):
    """The value given to `Command(resume=...)` does not match the interrupt's schema."""


class ContextBudgetExceeded(MemoryGraphError, ValueError):
    """Critical context items do not fit the token budget.

    Attributes:
        item_ids: The ids of the critical items that did not fit.
        needed: Tokens the critical items need.
        available: Tokens available for context (budget minus output reserve).
    """

    def __init__(self, item_ids: Sequence[str], *, needed: int, available: int) -> None:
        self.item_ids = list(item_ids)
        self.needed = needed
        self.available = available
        super().__init__(
            f"critical context needs {needed} tokens but only {available} are available "
            f"(items: {', '.join(self.item_ids)}); raise MemoryConfig.token_budget, lower "
            "output_reserve, or shorten the request"
        )


class EncodingError(MemoryGraphError, RuntimeError):
    """A token encoding cannot be loaded from the bundled files."""


class BackendError(MemoryGraphError, RuntimeError):
    """A checkpointer or store cannot be opened from its URL, or its database failed in a run."""


class CorruptStateError(MemoryGraphError, RuntimeError):
    """A thread's stored checkpoint cannot be loaded back as it was saved.

    Raised instead of starting the thread afresh, which would silently drop its
    history. The message names the thread; restore the database from a backup,
    or forget the thread (`memorygraph.forget_thread`) to start it again.

    Attributes:
        thread_id: The thread whose checkpoint is damaged.
    """

    def __init__(self, thread_id: str, detail: str) -> None:
        self.thread_id = thread_id
        super().__init__(
            f"the stored state of thread {thread_id!r} is corrupt ({detail}); memorygraph "
            "will not start the thread afresh: restore the database from a backup, or "
            "forget the thread to start it again"
        )


class ThreadBusyError(MemoryGraphError, RuntimeError):
    """Another run on the same thread did not end in time; a thread takes one turn at a time."""


class ToolRoundsExceeded(MemoryGraphError, RuntimeError):
    """One user turn called tools more often than ``MemoryConfig.max_tool_rounds`` allows.

    Raised before the model is called again, so a model that keeps calling
    tools stops here instead of at LangGraph's recursion limit. The thread stays
    readable: every tool call and result so far is in its state, and the next
    user message starts a new turn.

    Attributes:
        rounds: The tool rounds the turn had made.
        limit: The configured ``max_tool_rounds``.
    """

    def __init__(self, rounds: int, limit: int) -> None:
        self.rounds = rounds
        self.limit = limit
        super().__init__(
            f"this turn has called tools {rounds} times, more than "
            f"MemoryConfig.max_tool_rounds={limit}; the model is probably looping: check that "
            "your tools return what the model needs, or raise MemoryConfig.max_tool_rounds"
        )


class ReplayError(MemoryGraphError, RuntimeError):
    """A logged context package cannot be rebuilt from its restricted audit record."""


def validation_message(exc: ValidationError) -> str:
    """Return a pydantic validation error as one readable line per problem."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
