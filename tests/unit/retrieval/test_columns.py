"""The archive's index built with NumPy scores every word of every turn as bm25s does."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorygraph.retrieval.columns import Columns, Postings
from tests.unit.retrieval.kit import by_word_and_turn

WORDS = [f"w{i}" for i in range(40)]


def ours(docs: list[list[str]], k1: float, b: float) -> Columns:
    vocabulary: dict[str, int] = {}
    ids = [
        np.array([vocabulary.setdefault(w, len(vocabulary)) for w in doc], dtype=np.int64)
        for doc in docs
    ]
    return Postings.of(ids).columns(vocabulary, k1=k1, b=b)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), max_size=50), min_size=1, max_size=40).filter(any),
    st.sampled_from([(1.5, 0.75), (1.2, 0.5), (2.0, 1.0), (0.9, 0.0)]),
)
def test_the_scores_are_bm25s_scores_bit_for_bit(
    docs: list[list[str]], params: tuple[float, float]
) -> None:
    k1, b = params
    reference = bm25s.BM25(k1=k1, b=b)
    reference.index(docs, show_progress=False)
    reference_columns = Columns(reference.scores, reference.vocab_dict)
    built = ours(docs, k1, b)
    assert by_word_and_turn(built) == by_word_and_turn(reference_columns)
    assert built.mean_length == float(np.mean([len(doc) for doc in docs]))
    # A word's column lists its turns in order, and its length is its document frequency.
    for column in range(len(built.vocab_dict)):
        start, end = built.scores["indptr"][column : column + 2]
        turns = built.scores["indices"][start:end]
        assert list(turns) == sorted(set(turns))
        word = next(w for w, c in built.vocab_dict.items() if c == column)
        assert end - start == sum(word in doc for doc in docs)


def test_turns_without_words_index_to_empty_columns() -> None:
    built = ours([[], []], 1.5, 0.75)
    assert built.scores["num_docs"] == 2 and len(built.scores["data"]) == 0
    vocabulary = {"tea": 0}
    unused = Postings.of([np.array([], dtype=np.int64)]).columns(vocabulary, k1=1.5, b=0.75)
    assert unused.scores["indptr"].tolist() == [0, 0]


def layout_bytes(columns: Columns) -> tuple[bytes, bytes, bytes, int, float]:
    scores = columns.scores
    return (
        scores["data"].tobytes(),
        scores["indices"].tobytes(),
        scores["indptr"].tobytes(),
        scores["num_docs"],
        columns.mean_length,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 30), max_size=30), min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6)), max_size=12),
)
def test_postings_grown_and_replaced_in_steps_score_as_built_at_once(
    first: list[list[int]], steps: list[tuple[int, int]]
) -> None:
    # Each step drops a few of the last documents and appends others, as the
    # lexical index does when a fold archives turns.
    vocabulary = {f"w{i}": i for i in range(31)}
    docs = [np.array(doc, dtype=np.int64) for doc in first]
    postings = Postings.of(docs)
    for drop, add in steps:
        start = max(len(docs) - drop, 0)
        new = [np.array([(start + i * 7 + j) % 31 for j in range(i + 2)]) for i in range(add)]
        docs = docs[:start] + new
        postings.replace(start, new)
        grown = postings.columns(vocabulary, k1=1.5, b=0.75)
        once = Postings.of(docs).columns(vocabulary, k1=1.5, b=0.75)
        assert layout_bytes(grown) == layout_bytes(once)


def test_postings_refuse_a_start_past_the_last_document() -> None:
    postings = Postings.of([np.array([0, 1])])
    with pytest.raises(ValueError, match=r"start must be in \[0, 1\], got 2"):
        postings.replace(2, [np.array([0])])
