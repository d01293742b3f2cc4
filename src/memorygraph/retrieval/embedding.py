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

A request that names one of the thread's speakers is also embedded without
the names, and the similarities to both are averaged (`queries`).

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
import re
import string
from collections.abc import Sequence
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

__all__ = ["EmbeddingRetriever", "embedding_text", "queries"]

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


def queries(transcript: Transcript, query: str) -> list[str]:
    """The texts a request is embedded as: itself, and without the speakers it names.

    Every turn is embedded with its speaker's name, so a request that names a
    speaker is close to all of that speaker's turns alike; recall already
    favours that speaker's turns (`memorygraph.retrieval.recall.rank_turns`).
    The request without the names is close to the turns about its topic. The
    similarities to both are averaged (benchmarks/README.md, "LoCoMo recall").

    Example:
        >>> from memorygraph.records import ArchivedTurn
        >>> from memorygraph.retrieval.transcript import Transcript
        >>> transcript = Transcript(("acme", "ana", "t1"))
        >>> transcript.extend([ArchivedTurn(id="m0", seq=0, role="human", speaker="Melanie",
        ...     content="I went camping", created_at="2024-03-01T10:00", summary_version=1)])
        >>> queries(transcript, "What activities does Melanie's family enjoy?")
        ["What activities does Melanie's family enjoy?", 'What activities does family enjoy?']
        >>> queries(transcript, "Where did we go?")
        ['Where did we go?']
    """
    names = transcript.named_in(query)
    if not names:
        return [query]
    pattern = r"\b(?:" + "|".join(re.escape(name) for name in names) + r")(?:'s|s')?\b"
    bare = " ".join(re.sub(pattern, " ", query).split())
    return [query, bare] if bare.strip(string.punctuation + " ") else [query]


def _mean_zscores(similarities: Sequence[Scores]) -> Scores:
    mean: Scores = np.mean([normalize_zscore(scores) for scores in similarities], axis=0)
    return mean


@dataclass
class _Vectors:
    owner: Any  # the Embeddings object the vectors came from
    matrix: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))


@dataclass
class _Need:
    """What one request needs embedded (`EmbeddingRetriever._plan`)."""

    vectors: _Vectors  # the archive's vectors
    start: int  # how many archived turns they covered when planned
    archived: list[str]  # texts of the archived turns after those
    window: list[str]  # texts of the pending turns
    cache: dict[str, Any]  # pending turns' vectors by text, kept with the archive
    known: dict[str, Any]  # vectors the cache already held for these texts
    wanted: list[str]  # texts to embed, each once


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

    def _plan(self, transcript: Transcript) -> _Need:
        # What this request needs embedded: archived turns not embedded yet and
        # window turns not kept yet, each text once. A turn embedded while it
        # was in the window is not embedded again when it is archived.
        settled = transcript.settled
        with settled.lock:
            vectors = settled.derived.get(self._key)
            if not isinstance(vectors, _Vectors) or vectors.owner is not self.embeddings:
                vectors = settled.derived[self._key] = _Vectors(self.embeddings)
            start = vectors.matrix.shape[0]
            archived = [embedding_text(turn) for turn in settled.turns[start:]]
            window = [embedding_text(turn) for turn in transcript.turns[transcript.archived :]]
            cache: dict[str, Any] = settled.derived.setdefault(f"{self._key}:window", {})
            known = {text: cache[text] for text in {*archived, *window} if text in cache}
        wanted = list(dict.fromkeys(t for t in [*archived, *window] if t not in known))
        return _Need(vectors, start, archived, window, cache, known, wanted)

    def _finish(self, transcript: Transcript, need: _Need, rows: list[Any]) -> Any:
        settled = transcript.settled
        known = need.known | dict(zip(need.wanted, _unit(rows) if rows else [], strict=True))
        with settled.lock:
            vectors = need.vectors
            if need.archived and vectors.matrix.shape[0] == need.start:  # else: done meanwhile
                new = np.array([known[text] for text in need.archived])
                vectors.matrix = new if need.start == 0 else np.vstack([vectors.matrix, new])
            for text in need.window:  # kept newest last; the oldest go first
                need.cache.pop(text, None)
                need.cache[text] = known[text]
            while len(need.cache) > _WINDOW_CACHE:
                need.cache.pop(next(iter(need.cache)))
            head = vectors.matrix[: transcript.archived]
        pending = [known[text] for text in need.window]
        return np.vstack([head, *pending]) if pending else head

    def _vectors(self, transcript: Transcript) -> npt.NDArray[np.float64]:
        assert self.embeddings is not None
        need = self._plan(transcript)
        rows: list[Any] = []
        for offset in range(0, len(need.wanted), self.batch_size):
            rows += self.embeddings.embed_documents(need.wanted[offset : offset + self.batch_size])
        matrix: npt.NDArray[np.float64] = self._finish(transcript, need, rows)
        return matrix

    async def _avectors(self, transcript: Transcript) -> npt.NDArray[np.float64]:
        assert self.embeddings is not None
        need = self._plan(transcript)
        rows: list[Any] = []
        for offset in range(0, len(need.wanted), self.batch_size):
            batch = need.wanted[offset : offset + self.batch_size]
            rows += await self.embeddings.aembed_documents(batch)
        matrix: npt.NDArray[np.float64] = self._finish(transcript, need, rows)
        return matrix

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
        texts = queries(transcript, query)
        if self.embeddings is None:
            store = _indexed(store)
            namespace = archive_namespace(*transcript.thread)
            found = [
                store.search(namespace, query=text, limit=transcript.archived) for text in texts
            ]
            return _mean_zscores(
                [_from_search(f, transcript.archived, len(transcript)) for f in found]
            )
        matrix = self._vectors(transcript)
        vectors = [_unit(self.embeddings.embed_query(text))[0] for text in texts]
        return _mean_zscores([matrix @ vector for vector in vectors])

    async def ascore(
        self, transcript: Transcript, query: str, *, store: BaseStore | None = None
    ) -> Scores:
        """Async twin of `score`."""
        if not len(transcript):
            return np.zeros(0)
        texts = queries(transcript, query)
        if self.embeddings is None:
            store = _indexed(store)
            namespace = archive_namespace(*transcript.thread)
            found = await asyncio.gather(
                *(store.asearch(namespace, query=text, limit=transcript.archived) for text in texts)
            )
            return _mean_zscores(
                [_from_search(f, transcript.archived, len(transcript)) for f in found]
            )
        matrix, *vectors = await asyncio.gather(
            self._avectors(transcript), *(self.embeddings.aembed_query(text) for text in texts)
        )
        return _mean_zscores([matrix @ _unit(vector)[0] for vector in vectors])


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
    filled: Scores = np.where(np.isnan(similarity), np.nanmin(similarity), similarity)
    return filled
