"""The vocabulary every other module shares: trust levels, priorities, item kinds, render order.

It imports nothing of memorygraph's, so records, rendering and packing can all
depend on it without depending on each other.

Example:
    >>> from memorygraph.kinds import RENDER_ORDER, ItemKind, Priority
    >>> RENDER_ORDER[ItemKind.POLICY] < RENDER_ORDER[ItemKind.REQUEST]
    True
    >>> Priority.CRITICAL > Priority.HIGH
    True
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal

__all__ = ["RENDER_ORDER", "ExclusionReason", "ItemKind", "Priority", "TrustLevel"]


class TrustLevel(StrEnum):
    """Who asserted a piece of context (docs/architecture.md, "Facts")."""

    USER_CLAIMED = "user_claimed"
    SYSTEM_VERIFIED = "system_verified"
    MODEL_INFERRED = "model_inferred"
    TOOL_OBSERVED = "tool_observed"


class Priority(IntEnum):
    """How much an item matters when the budget is tight. CRITICAL never drops."""

    CRITICAL = 100
    HIGH = 80
    MEDIUM = 50
    LOW = 20


class ItemKind(StrEnum):
    """The kinds of context item, declared in the order they are rendered.

    The order (docs/architecture.md, "Rendering"): role and policy, authority and scope,
    task state, the current request, confirmed facts, evidence (the summary and
    recalled turns), tool results, recent turns, and the output contract last.
    """

    POLICY = "policy"
    AUTHORITY = "authority"
    TASK_STATE = "task_state"
    REQUEST = "request"
    CLARIFICATION = "clarification"
    FACT = "fact"
    SUMMARY = "summary"
    RECALLED = "recalled"
    TOOL_RESULT = "tool_result"
    RECENT_TURN = "recent_turn"
    OUTPUT_CONTRACT = "output_contract"


RENDER_ORDER: dict[ItemKind, int] = {kind: index for index, kind in enumerate(ItemKind)}
"""The position of each kind in a rendered package."""

ExclusionReason = Literal["over_budget", "unauthorized", "stale", "superseded", "duplicate"]
