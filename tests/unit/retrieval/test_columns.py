"""The archive's index built with NumPy scores every word of every turn as bm25s does."""

from __future__ import annotations

import bm25s
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memorygraph.retrieval.columns import Columns, lucene_columns

WORDS = [f"w{i}" for i in range(40)]


def by_word_and_turn(columns: Columns) -> dict[tuple[str, int], bytes]:
    """Every (word, turn) score, as its float32 bytes."""
    names = {column: word for word, column in columns.vocab_dict.items()}
    scores, found = columns.scores, {}
    for column in range(len(scores["indptr"]) - 1):
        for at in range(scores["indptr"][column], scores["indptr"][column + 1]):
            found[(names[column], int(scores["indices"][at]))] = scores["data"][at].tobytes()
    return found


def ours(docs: list[list[str]], k1: float, b: float) -> Columns:
    vocabulary: dict[str, int] = {}
    ids = [
        np.array([vocabulary.setdefault(w, len(vocabulary)) for w in doc], dtype=np.int64)
        for doc in docs
    ]
    return lucene_columns(ids, vocabulary, k1=k1, b=b)


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
    unused = lucene_columns([np.array([], dtype=np.int64)], vocabulary, k1=1.5, b=0.75)
    assert unused.scores["indptr"].tolist() == [0, 0]
