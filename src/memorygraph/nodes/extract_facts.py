"""`extract_facts`: read the turns after the watermark and propose facts.

The extractors (rule-based and LLM) arrive with the facts issue; until then the
node is wired into the graph and advances nothing, so graphs built today keep
their shape when extraction lands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["extract_facts"]


def extract_facts(state: Mapping[str, Any]) -> dict[str, Any]:
    """Node: extract facts from new turns (no extractor is configured yet).

    Args:
        state: Any state with ``messages``.

    Returns:
        The keys it changed: none yet.
    """
    return {}
