"""The archive's BM25 index as word columns: bm25s's Lucene scores, computed at once with NumPy.

`LexicalRetriever` reads an index as bm25s lays it out: for each word (a
column), the turns that hold it and the word's score in each (``data``,
``indices``, ``indptr``: compressed sparse columns), and the vocabulary that
maps a word to its column. bm25s builds that layout with a Python loop per
turn, about 200 ms for a thread of 1,000 turns, and it would have to build it
again every time the archive grows (a fold, about one turn in six).

`Postings` builds the same layout from the turns' word ids in a handful of
NumPy calls, and keeps what it is built from between folds: each turn's
distinct words and their counts, sorted by word and then turn. A fold's new
turns (and the last indexed turn, which may gain a neighbour) are merged into
the sorted pairs rather than sorted with the whole archive again; only the
scores, which depend on every turn (the idf, the mean length), are computed
again, elementwise. The scores are bm25s's own, bit for bit (property tests
compare them, built at once and grown fold by fold): the inverse document
frequency is bm25s's formula in Python floats, kept as ``float32``; the
term-frequency part takes the same operations in the same order and the same
precisions (``float64`` against the ``float32`` counts), and the product is
rounded to ``float32`` as bm25s stores it.

Example:
    >>> vocabulary = {"tea": 0, "kyoto": 1}
    >>> postings = Postings.of([np.array([0, 1]), np.array([0])])
    >>> columns = postings.columns(vocabulary, k1=1.5, b=0.75)
    >>> columns.scores["indptr"].tolist(), columns.scores["indices"].tolist()
    ([0, 2, 3], [0, 1, 0])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Columns", "Postings"]

WordIds = npt.NDArray[np.int64]

_TURN_BITS = 32
_TURN_MASK = (1 << _TURN_BITS) - 1


@dataclass(frozen=True)
class Columns:
    """An index as bm25s lays it out: its scores by word, and its vocabulary.

    Attributes:
        scores: ``data``, ``indices``, ``indptr`` (compressed sparse columns) and ``num_docs``.
        vocab_dict: A word's column.
        mean_length: The documents' mean length, in words.
    """

    scores: dict[str, Any]
    vocab_dict: dict[str, int]
    mean_length: float = 0.0


@dataclass
class Postings:
    """Each document's distinct words and how often it says each, sorted by word, then document.

    What `columns` scores. Documents are numbered in the order they come;
    `replace` changes the last ones and appends more, and costs the new
    documents' words plus one pass over the pairs already held.

    Example:
        >>> postings = Postings.of([np.array([1, 0, 1])])
        >>> postings.replace(1, [np.array([0])])
        >>> len(postings), postings.lengths.tolist(), postings.counts.tolist()
        (2, [3, 1], [1, 1, 2])
    """

    keys: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    counts: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    lengths: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def of(cls, documents: Sequence[WordIds]) -> Postings:
        """The postings of ``documents`` (each one's word ids, repeats included)."""
        postings = cls()
        postings.replace(0, documents)
        return postings

    def __len__(self) -> int:
        return len(self.lengths)

    def replace(self, start: int, documents: Sequence[WordIds]) -> None:
        """Drop the documents from ``start`` on, then append ``documents`` after them.

        Args:
            start: The first document replaced (``len(self)`` to only append).
            documents: The new documents' word ids, repeats included.

        Raises:
            ValueError: When ``start`` is past the last document.
        """
        if not 0 <= start <= len(self):
            raise ValueError(f"start must be in [0, {len(self)}], got {start}")
        if start < len(self):  # the pairs' turn is the key's low bits
            kept = (self.keys & _TURN_MASK) < start
            self.keys, self.counts = self.keys[kept], self.counts[kept]
        sizes = np.array([len(document) for document in documents], dtype=np.int64)
        self.lengths = np.concatenate([self.lengths[:start], sizes])
        if not sizes.any():
            return
        words = np.concatenate([np.asarray(document, dtype=np.int64) for document in documents])
        turns = np.repeat(np.arange(start, start + len(documents), dtype=np.int64), sizes)
        keys, counts = np.unique((words << _TURN_BITS) | turns, return_counts=True)
        # The new pairs are sorted, and so are the kept ones: one merge.
        at = np.searchsorted(self.keys, keys)
        self.keys = np.insert(self.keys, at, keys)
        self.counts = np.insert(self.counts, at, counts.astype(np.int32))

    def columns(self, vocabulary: dict[str, int], *, k1: float, b: float) -> Columns:
        """BM25 (Lucene) scores of every word of every document, by word, as bm25s computes them.

        Args:
            vocabulary: Every word's column; words no document holds get an empty column.
            k1: BM25's term-frequency saturation.
            b: BM25's length normalisation.

        Returns:
            The columns: ``data`` (``float32`` scores), ``indices`` (the documents,
            ascending within a column), ``indptr``, ``num_docs``; and the vocabulary.
        """
        count, width = len(self.lengths), len(vocabulary)
        if count == 0 or not self.lengths.any():
            empty = {
                "data": np.zeros(0, dtype=np.float32),
                "indices": np.zeros(0, dtype=np.int32),
                "indptr": np.zeros(width + 1, dtype=np.int64),
                "num_docs": count,
            }
            return Columns(empty, vocabulary)  # mean length 0
        lengths = self.lengths
        mean_length = lengths.mean()  # as bm25s takes it: the mean of an int64 array
        word_of, document_of = self.keys >> _TURN_BITS, self.keys & _TURN_MASK
        frequencies = np.bincount(word_of, minlength=width)
        rarity = _idf(frequencies, count)
        term = self.counts.astype(np.float32)
        # bm25s: tf / (k1 * ((1 - b) + b * l_d / l_avg) + tf), l_d an int, l_avg a float64
        saturation = term / (k1 * ((1 - b) + b * lengths[document_of] / mean_length) + term)
        indptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(frequencies, out=indptr[1:])
        layout = {
            "data": (rarity[word_of] * saturation).astype(np.float32),
            "indices": document_of.astype(np.int32),
            "indptr": indptr,
            "num_docs": count,
        }
        return Columns(layout, vocabulary, float(mean_length))


def _idf(frequencies: npt.NDArray[np.int64], count: int) -> npt.NDArray[np.float32]:
    """bm25s's Lucene idf per word, ``log(1 + (N - df + 0.5) / (df + 0.5))`` in Python floats.

    Computed once per distinct document frequency (most words share a few small
    ones) with `math.log`, as bm25s computes it, then kept as ``float32``.
    """
    rarity = np.zeros(len(frequencies), dtype=np.float32)
    for frequency in np.unique(frequencies[frequencies > 0]).tolist():
        rarity[frequencies == frequency] = math.log(
            1 + (count - frequency + 0.5) / (frequency + 0.5)
        )
    return rarity
