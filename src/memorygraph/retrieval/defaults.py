"""`default_retriever`: the retriever ``MemoryConfig.recall`` names, for a given store.

``auto`` (the default) uses the best that is at hand, without any setting:

1. the store's semantic index, when the store was built with one, fused with BM25;
2. else the ``[embeddings]`` extra's local all-MiniLM-L6-v2, fused with BM25;
3. else BM25 alone.

Example:
    >>> from langgraph.store.memory import InMemoryStore
    >>> default_retriever(InMemoryStore(), "lexical").name
    'bm25'
    >>> default_retriever(InMemoryStore(), "off") is None
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memorygraph.retrieval.base import Retriever
from memorygraph.retrieval.embedding import EmbeddingRetriever
from memorygraph.retrieval.hybrid import HybridRetriever
from memorygraph.retrieval.lexical import LexicalRetriever
from memorygraph.retrieval.minilm import minilm_available, shared_minilm

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

__all__ = ["EMBEDDING_WEIGHT", "default_retriever"]

EMBEDDING_WEIGHT = 0.7
"""The weight of embedding scores next to BM25's 1.0 in the hybrid.

The average of two z-scored similarities (the request with and without the
speakers' names) spreads less than one score, so it weighs more than half of
BM25's; how the weight was chosen is in benchmarks/README.md ("LoCoMo recall")."""

_LEXICAL = LexicalRetriever()
_STORE_INDEX = EmbeddingRetriever()
_HYBRIDS: dict[str, Retriever] = {}


def default_retriever(store: BaseStore | None, recall: str = "auto") -> Retriever | None:
    """Return the retriever for a ``MemoryConfig.recall`` setting.

    Args:
        store: The graph's store; its semantic index is used when it has one.
        recall: ``auto``, ``lexical`` or ``off``.

    Returns:
        The retriever, or None for ``off``. The same objects are returned on
        every call, so what they derive from a transcript is kept.
    """
    if recall == "off":
        return None
    if recall == "lexical":
        return _LEXICAL
    if getattr(store, "index_config", None):
        key = "store"
        if key not in _HYBRIDS:
            _HYBRIDS[key] = HybridRetriever((_LEXICAL, 1.0), (_STORE_INDEX, EMBEDDING_WEIGHT))
        return _HYBRIDS[key]
    if minilm_available():
        key = "minilm"
        if key not in _HYBRIDS:
            embeddings = EmbeddingRetriever(shared_minilm())
            _HYBRIDS[key] = HybridRetriever((_LEXICAL, 1.0), (embeddings, EMBEDDING_WEIGHT))
        return _HYBRIDS[key]
    return _LEXICAL
