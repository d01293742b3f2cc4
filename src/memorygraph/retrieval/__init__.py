"""Recall archived turns for the request: BM25, embeddings, or both fused.

The summarize node folds old turns into the store's transcript archive; recall
brings back the ones the current request needs, with the turns around them
and their dates, as ``recalled`` items for the packer.

- `Retriever`: the protocol; `LexicalRetriever` (BM25, always available),
  `EmbeddingRetriever` (any LangChain `Embeddings`, or the store's semantic
  index), `HybridRetriever` (a weighted sum of several).
- `MiniLMEmbeddings`: all-MiniLM-L6-v2, offline, with the ``[embeddings]`` extra.
- `default_retriever`: what ``MemoryConfig.recall`` picks.
- `recall_items` / `arecall_items`: the request in, candidate items out.
- `Transcript` / `load_transcript`: the process's copy of a thread's archive;
  `transcript_cache()` bounds the copies and drops forgotten ones.
"""

from memorygraph.retrieval.base import Retriever, Scores
from memorygraph.retrieval.defaults import default_retriever
from memorygraph.retrieval.embedding import EmbeddingRetriever
from memorygraph.retrieval.hybrid import HybridRetriever
from memorygraph.retrieval.lexical import LexicalRetriever
from memorygraph.retrieval.minilm import MiniLMEmbeddings, minilm_available
from memorygraph.retrieval.passages import Passage, expand_hits
from memorygraph.retrieval.recall import arecall_items, passage_items, rank_turns, recall_items
from memorygraph.retrieval.transcript import (
    Transcript,
    TranscriptCache,
    aload_transcript,
    load_transcript,
    transcript_cache,
)

__all__ = [
    "EmbeddingRetriever",
    "HybridRetriever",
    "LexicalRetriever",
    "MiniLMEmbeddings",
    "Passage",
    "Retriever",
    "Scores",
    "Transcript",
    "TranscriptCache",
    "aload_transcript",
    "arecall_items",
    "default_retriever",
    "expand_hits",
    "load_transcript",
    "minilm_available",
    "passage_items",
    "rank_turns",
    "recall_items",
    "transcript_cache",
]
