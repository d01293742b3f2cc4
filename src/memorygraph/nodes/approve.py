"""`approve`: ask a human about durable-memory candidates through `interrupt()`.

The approval flow arrives with the facts issue; the routing is in place now:
`needs_approval` sends the graph here only when ``pending`` is not empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["approve", "needs_approval"]


def needs_approval(state: Mapping[str, Any]) -> Literal["approve", "summarize"]:
    """Route to ``approve`` when candidates wait for a human, else to ``summarize``."""
    return "approve" if state.get("pending") else "summarize"


def approve(state: Mapping[str, Any]) -> dict[str, Any]:
    """Node: nothing to approve until extraction proposes candidates.

    Args:
        state: Any state with ``pending``.

    Returns:
        The keys it changed: none yet.
    """
    return {}
