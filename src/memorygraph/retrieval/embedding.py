"""`EmbeddingRetriever`: semantic similarity between the request and each archived turn.

Two ways to get the vectors, both through LangChain's `Embeddings` interface:

* **The store's semantic index.** A LangGraph store built with an index
  (``InMemoryStore(index={"embed": ..., "dims": ...})``, or PostgreSQL with
  pgvector) embeds each turn's text as the archive is written, and the
  retriever asks the store to search (``EmbeddingRetriever()``).
* **Any `Embeddings` object** (``EmbeddingRetriever(OpenAIEmbeddings())``, or
  the offline `memorygraph.retrieval.MiniLMEmbeddings`). Each turn is embedded
  once, when it first appears in the transcript; the vectors are kept with
  the process's copy of the transcript.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from memorygraph.records import ArchivedTurn
    >>> from memorygraph.retrieval.transcript import Transcript
    >>> transcript = Transcript(("acme", "ana", "t1"))
    >>> transcript.extend([
    ...     ArchivedTurn(id=f"m{i}", seq=i, role="human", content=text,
    ...                  created_at="2024-03-01T10:00:00", summary_version=1)
    ...     for i, text in enumerate(["a cat", "a dog", "a bird"])])
    >>> retriever = EmbeddingRetriever(DeterministicFakeEmbedding(size=16))
    >>> scores = retriever.score(transcript, "a dog")
    >>> int(scores.argmax())  # the fake embeds equal texts equally
    1
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from memorygraph.retrieval.base import Scores, normalize_zscore
from memorygraph.store.namespaces import archive_namespace

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langgraph.store.base import BaseStore, SearchItem

    from memorygraph.records import ArchivedTurn
    from memorygraph.retrieval.transcript import Transcript

__all__ = ["EmbeddingRetriever", "embedding_text"]

_WINDOW_CACHE = 512
"""Pending turns whose vectors are kept per transcript (a working window holds fewer)."""


def embedding_text(turn: ArchivedTurn) -> str:
    """The text embedded for a turn: the speaker, then what was said.

    Example:
        >>> from memorygraph.records import ArchivedTurn
        >>> embedding_text(ArchivedTurn(id="m", seq=0, role="human", speaker="Ana",
        ...     content="hi", created_at="2024-01-01", summary_version=1))
        'Ana: hi'
    """
    return f"{turn.speaker}: {turn.content}" if turn.speaker else turn.content


@dataclass
class _Vectors:
    owner: Any  # the Embeddings object the vectors came from
    matrix: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))


def _unit(rows: Any) -> npt.NDArray[np.float64]:
    matrix = np.asarray(rows, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: npt.NDArray[np.float64] = matrix / np.where(norms == 0, 1.0, norms)
    return unit


class EmbeddingRetriever:
    """Cosine similarity of sentence embeddings, from an `Embeddings` object or the store.

    Args:
        embeddings: The model; None to use the store's own semantic index.
        batch_size: Turns embedded per call when the transcript grows.
    """

    name = "embeddings"

    def __init__(self, embeddings: Embeddings | None = None, *, batch_size: int = 64) -> None:
        self.embeddings = embeddings
        self.batch_size = batch_size
        # Vectors are kept per model: retrievers sharing a model share its vectors.
        self._key = f"embedding:{id(embeddings)}"

    # --- vectors kept with the transcript --------------------------------------------

    def _pending(self, transcript: Transcript) -> tuple[_Vectors, list[str]]:
        with transcript.lock:
            vectors = transcript.derived.get(self._key)
            if not isinstance(vectors, _Vectors) or vectors.owner is not self.embeddings:
                vectors = transcript.derived[self._key] = _Vectors(self.embeddings)
            done = vectors.matrix.shape[0]
            return vectors, [embedding_text(t) for t in transcript.turns[done:]]

    def _append(self, transcript: Transcript, vectors: _Vectors, start: int, rows: Any) -> None:
        with transcript.lock:
            if vectors.matrix.shape[0] != start or not len(rows):
                return  # another request embedded them first
            new = _unit(rows)
            vectors.matrix = new if start == 0 else np.vstack([vectors.matrix, new])

    def _vectors(self, transcript: Transcript) -> npt.NDArray[np.float64]:
        assert self.embeddings is not None
        settled = transcript.settled
        vectors, texts = self._pending(settled)
        start = vectors.matrix.shape[0]
        for offset in range(0, len(texts), self.batch_size):
            batch = texts[offset : offset + self.batch_size]
            self._append(settled, vectors, start + offset, self.embeddings.embed_documents(batch))
        cache, missing = self._window(transcript)
        if missing:
            self._keep(settled, cache, missing, self.embeddings.embed_documents(missing))
        return self._stack(transcript, vectors.matrix, cache)

    async def _avectors(self, transcript: Transcript) -> npt.NDArray[np.float64]:
        assert self.embeddings is not None
        settled = transcript.settled
        vectors, texts = self._pending(settled)
        start = vectors.matrix.shape[0]
        for offset in range(0, len(texts), self.batch_size):
            batch = texts[offset : offset + self.batch_size]
            rows = await self.embeddings.aembed_documents(batch)
            self._append(settled, vectors, start + offset, rows)
        cache, missing = self._window(transcript)
        if missing:
            self._keep(settled, cache, missing, await self.embeddings.aembed_documents(missing))
        return self._stack(transcript, vectors.matrix, cache)

    # --- turns not archived yet (`Transcript.with_pending`) --------------------------

    def _window(self, transcript: Transcript) -> tuple[dict[str, Any], list[str]]:
        # Pending turns are embedded once each, by text, and kept beside the
        # archive's vectors until the cache holds `_WINDOW_CACHE` of them.
        texts = [embedding_text(turn) for turn in transcript.turns[transcript.archived :]]
        with transcript.lock:
            cache: dict[str, Any] = transcript.settled.derived.setdefault(f"{self._key}:window", {})
            missing = list(dict.fromkeys(text for text in texts if text not in cache))
        return cache, missing

    def _keep(
        self, settled: Transcript, cache: dict[str, Any], texts: list[str], rows: Any
    ) -> None:
        with settled.lock:
            cache.update(zip(texts, _unit(rows), strict=True))
            while len(cache) > _WINDOW_CACHE:
                cache.pop(next(iter(cache)))

    def _stack(
        self, transcript: Transcript, archived: npt.NDArray[np.float64], cache: dict[str, Any]
    ) -> npt.NDArray[np.float64]:
        pending = [cache[embedding_text(turn)] for turn in transcript.turns[transcript.archived :]]
        head = archived[: transcript.archived]
        return np.vstack([head, *pending]) if pending else head

    # --- scoring ------------------------------------------------------------------

    def score(
        self, transcript: Transcript, query: str, *, store: BaseStore | None = None
    ) -> Scores:
        """Score every turn against the query (see `Retriever.score`).

        Raises:
            ValueError: With no `Embeddings` object, when the store has no
                semantic index.
        """
        if not len(transcript):
            return np.zeros(0)
        if self.embeddings is None:
            store = _indexed(store)
            namespace = archive_namespace(*transcript.thread)
            found = store.search(namespace, query=query, limit=transcript.archived)
            return _from_search(found, transcript.archived, len(transcript))
        matrix = self._vectors(transcript)
        query_vector = _unit(self.embeddings.embed_query(query))[0]
        return normalize_zscore(matrix @ query_vector)

    async def ascore(
        self, transcript: Transcript, query: str, *, store: BaseStore | None = None
    ) -> Scores:
        """Async twin of `score`."""
        if not len(transcript):
            return np.zeros(0)
        if self.embeddings is None:
            store = _indexed(store)
            namespace = archive_namespace(*transcript.thread)
            found = await store.asearch(namespace, query=query, limit=transcript.archived)
            return _from_search(found, transcript.archived, len(transcript))
        matrix, query_vector = await asyncio.gather(
            self._avectors(transcript), self.embeddings.aembed_query(query)
        )
        return normalize_zscore(matrix @ _unit(query_vector)[0])


def _indexed(store: BaseStore | None) -> BaseStore:
    if store is None or not getattr(store, "index_config", None):
        raise ValueError(
            "EmbeddingRetriever() without an Embeddings object searches the store's semantic "
            "index, and this store has none; pass embeddings=..., or build the store with "
            "index={'embed': ..., 'dims': ...}"
        )
    return store


def _from_search(found: list[SearchItem], archived: int, size: int) -> Scores:
    # Turns the store did not return (or could not score) get the lowest score
    # seen; so do pending turns, which the store's index does not hold yet.
    similarity = np.full(size, np.nan)
    for item in found:
        try:
            seq = int(item.key)
        except ValueError:
            continue
        if 0 <= seq < archived and item.score is not None:
            similarity[seq] = item.score
    if np.all(np.isnan(similarity)):
        return np.zeros(size)
    similarity = np.where(np.isnan(similarity), np.nanmin(similarity), similarity)
    return normalize_zscore(similarity)
