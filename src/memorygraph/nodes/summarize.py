"""`summarize`: fold old turns into a structured `SessionSummary`.

The summarizers arrive with the summaries issue; until then the node is wired
into the graph and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["summarize"]


def summarize(state: Mapping[str, Any]) -> dict[str, Any]:
    """Node: refresh the summary when a trigger fires (no summarizer is configured yet).

    Args:
        state: Any state with ``messages``.

    Returns:
        The keys it changed: none yet.
    """
    return {}
