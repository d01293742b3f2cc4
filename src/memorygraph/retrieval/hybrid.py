"""`HybridRetriever`: lexical and semantic scores, fused by a weighted sum.

BM25 finds the turns that share the request's rare words (names, places,
"pottery"); embeddings find the ones that say the same thing in other words
("destress" / "stress relief"). Each retriever's scores are already relative
(the best turn scores 1.0), so they add up: a weighted sum keeps how strongly
each one prefers a turn, which rank fusion (RRF) throws away (the comparison
is in benchmarks/README.md).

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from memorygraph.retrieval import EmbeddingRetriever, LexicalRetriever
    >>> hybrid = HybridRetriever(
    ...     (LexicalRetriever(), 1.0), (EmbeddingRetriever(DeterministicFakeEmbedding(size=8)), 0.5)
    ... )
    >>> hybrid.name
    'bm25+embeddings'
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np

from memorygraph.retrieval.base import Retriever, Scores

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

    from memorygraph.retrieval.transcript import Transcript

__all__ = ["HybridRetriever"]


class HybridRetriever:
    """Adds the scores of several retrievers, each with a weight.

    Args:
        *parts: ``(retriever, weight)`` pairs.

    Raises:
        ValueError: With no parts, or a negative weight.
    """

    def __init__(self, *parts: tuple[Retriever, float]) -> None:
        if not parts:
            raise ValueError("HybridRetriever needs at least one (retriever, weight) pair")
        if any(weight < 0 for _, weight in parts):
            raise ValueError("HybridRetriever weights must be >= 0")
        self.parts = parts
        self.name = "+".join(retriever.name for retriever, _ in parts)

    def score(
        self, transcript: Transcript, query: str, *, store: BaseStore | None = None
    ) -> Scores:
        """The weighted sum of the parts' scores (see `Retriever.score`)."""
        total = np.zeros(len(transcript))
        for retriever, weight in self.parts:
            total += weight * retriever.score(transcript, query, store=store)
        return total

    def coverage(self, transcript: Transcript, query: str) -> float | None:
        """The best coverage among the parts that measure it (`LexicalRetriever.coverage`).

        Returns:
            The coverage, or None when no part measures it (recall is then not gated).
        """
        measured = [
            gauge(transcript, query)
            for gauge in (getattr(retriever, "coverage", None) for retriever, _ in self.parts)
            if callable(gauge)
        ]
        values = [float(value) for value in measured if value is not None]
        return max(values) if values else None

    async def ascore(
        self, transcript: Transcript, query: str, *, store: BaseStore | None = None
    ) -> Scores:
        """Async twin of `score`; the parts run concurrently."""
        scored = await asyncio.gather(
            *(retriever.ascore(transcript, query, store=store) for retriever, _ in self.parts)
        )
        total = np.zeros(len(transcript))
        for (_, weight), scores in zip(self.parts, scored, strict=True):
            total += weight * scores
        return total
