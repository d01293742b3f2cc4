"""The `Retriever` protocol: how relevant is each archived turn to a request.

A retriever scores every turn of a `Transcript` for one query. Scores are
relative: the best turn for the query scores 1.0, a turn that shares nothing
with it about 0, so that scores from several retrievers can be added
(`HybridRetriever`). Retrievers that need I/O (an embedding model behind an
API, a store's vector index) implement both `score` and `ascore`.

Example:
    >>> import numpy as np
    >>> class Shortest:
    ...     name = "shortest"
    ...     def score(self, transcript, query, *, store=None):
    ...         lengths = np.array([len(t.content) for t in transcript.turns], dtype=float)
    ...         return lengths.min() / lengths
    ...     async def ascore(self, transcript, query, *, store=None):
    ...         return self.score(transcript, query, store=store)
    >>> isinstance(Shortest(), Retriever)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

    from memorygraph.retrieval.transcript import Transcript

__all__ = ["Retriever", "Scores", "normalize_max", "normalize_zscore"]

Scores = npt.NDArray[np.float64]
"""One relevance score per turn of a transcript, in the transcript's order."""


@runtime_checkable
class Retriever(Protocol):
    """Scores the turns of a transcript against a query.

    Attributes:
        name: A short, stable name, recorded with each recalled item.
    """

    name: str

    def score(
        self, transcript: Transcript, query: str, *, store: BaseStore | None = None
    ) -> Scores:
        """Return one score per turn, 1.0 for the best match, about 0 for none.

        Args:
            transcript: The thread's archived turns.
            query: The current request.
            store: The store the transcript was read from, for retrievers that
                use its semantic index.
        """
        ...

    async def ascore(
        self, transcript: Transcript, query: str, *, store: BaseStore | None = None
    ) -> Scores:
        """Async twin of `score`."""
        ...


def normalize_max(scores: npt.ArrayLike) -> Scores:
    """Scale non-negative scores so that the best is 1.0 (all zeros stay zeros).

    Example:
        >>> normalize_max([0.0, 2.0, 4.0]).tolist()
        [0.0, 0.5, 1.0]
        >>> normalize_max([0.0, 0.0]).tolist()
        [0.0, 0.0]
    """
    values = np.asarray(scores, dtype=np.float64)
    top = float(values.max()) if values.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def normalize_zscore(scores: npt.ArrayLike) -> Scores:
    """Standardize similarities, then scale so the best is 1.0.

    Cosine similarities of sentence embeddings sit in a narrow band whose
    level depends on the query; how far a turn stands above the others is
    what carries the signal.

    Example:
        >>> normalize_zscore([0.1, 0.2, 0.4]).round(3).tolist()
        [-0.8, -0.2, 1.0]
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.size < 2:
        return np.ones_like(values)
    spread = float(values.std())
    if spread == 0.0:
        return np.zeros_like(values)
    standard: Scores = (values - values.mean()) / spread
    return standard / float(standard.max())
