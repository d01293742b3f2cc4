"""The `Summarizer` protocol: fold turns into a structured `SessionSummary`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from langchain_core.messages import BaseMessage

from memorygraph.records import SessionSummary

__all__ = ["Summarizer"]


@runtime_checkable
class Summarizer(Protocol):
    """Folds the turns leaving the window into the previous summary.

    Implementations fill the content fields (goal, task, decisions, questions,
    rejected assumptions, entities, risks). The caller stamps the bookkeeping
    (covered turn ids, counts, version, trigger) and validates the result.
    """

    def summarize(
        self, previous: SessionSummary | None, turns: Sequence[BaseMessage], *, max_items: int
    ) -> SessionSummary:
        """Return the new summary content."""
        ...

    async def asummarize(
        self, previous: SessionSummary | None, turns: Sequence[BaseMessage], *, max_items: int
    ) -> SessionSummary:
        """Async twin of `summarize`."""
        ...
