"""BM25 over the archive: the right turn first, neighbours in the index, growth."""

from __future__ import annotations

from collections import Counter

import bm25s
import numpy as np
import pytest
import Stemmer
from hypothesis import given, settings
from hypothesis import strategies as st

from memorygraph.records import ArchivedTurn
from memorygraph.retrieval import LexicalRetriever, lexical
from memorygraph.retrieval.lexical import _best_positive, _column_sums, _idf, _Pending, tokenize
from tests.unit.retrieval.kit import by_word_and_turn, transcript_of, turns

CHAT = turns(
    ("Ana", "I adopted a kitten last week, her name is Miso."),
    ("Bo", "So cute! I finally finished the oil painting of the harbour."),
    ("Ana", "Which colours did you use?"),
    ("Bo", "Mostly ultramarine and burnt sienna."),
    ("Ana", "I signed up for a pottery class on Thursdays."),
    ("Bo", "Nice, I am training for the Lisbon marathon."),
)


def best(scores: np.ndarray, k: int = 1) -> list[str]:
    return [CHAT[int(i)].id for i in np.argsort(-scores, kind="stable")[:k]]


def test_tokenize_lowercases_stems_and_drops_stopwords() -> None:
    assert tokenize(["The Paintings were PAINTED"]) == [["paint", "paint"]]
    assert tokenize([]) == []


_WORDS = ["Ana", "moved", "to", "Osaka", "the", "paintings", "were", "PAINTED", "in", "2024", ""]
_TEXTS = st.one_of(
    st.lists(st.sampled_from(_WORDS), max_size=6).map(" ".join),
    st.text(max_size=60),  # any characters: accents, digits, punctuation, underscores
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_TEXTS, max_size=5))
def test_tokenize_gives_bm25s_words_text_by_text(texts: list[str]) -> None:
    stemmer = Stemmer.Stemmer("english")
    expected = (
        bm25s.tokenize(
            texts,
            stopwords="en_plus",
            stemmer=stemmer.stemWords,
            return_ids=False,
            show_progress=False,
        )
        if texts
        else []
    )
    assert tokenize(texts) == expected
    assert tokenize(list(reversed(texts))) == list(reversed(expected))  # now from the cache


def test_tokenize_reads_a_text_again_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    tokenize(["Ana moved to Osaka in spring"])
    calls: list[str] = []
    real = lexical._words

    def counting(text: str) -> tuple[str, ...]:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(lexical, "_words", counting)
    words = tokenize(["Ana moved to Osaka in spring", "a new turn", "a new turn"])
    assert calls == ["a new turn"]
    assert words[0] == ["ana", "move", "osaka", "spring"]
    words[0].append("changed")  # a caller's list is its own
    assert tokenize(["Ana moved to Osaka in spring"]) == [["ana", "move", "osaka", "spring"]]


def _lucene_pending(
    frequency: Counter[str],
    length: float,
    rarity: dict[str, float],
    terms: dict[str, float],
    k1: float,
    b: float,
) -> float:
    # The formula as it was written before its shared parts were taken once.
    return sum(
        weight * rarity[term] * (frequency[term] / (k1 * (1 - b + b * length) + frequency[term]))
        for term, weight in terms.items()
        if term in frequency
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=12), min_size=1, max_size=6
    ),
    st.dictionaries(st.sampled_from("abcdefghij"), st.floats(0.1, 3.0), min_size=1),
    st.sampled_from([(1.5, 0.75), (1.2, 0.3), (0.9, 1.0)]),
)
def test_pending_turns_score_as_the_lucene_formula_bit_for_bit(
    docs: list[list[str]], terms: dict[str, float], k1_b: tuple[float, float]
) -> None:
    k1, b = k1_b
    archive = transcript_of(CHAT)
    retriever = LexicalRetriever(k1=k1, b=b)
    retriever.score(archive, "kitten")  # builds the index
    index = next(iter(archive.derived.values()))
    mean = max(index.mean_length, 1e-9)
    pending = _Pending(
        words=docs, own=docs, documents=[(Counter(doc), len(doc) / mean) for doc in docs]
    )
    scores = retriever._score_pending(index, pending, terms)
    vocabulary = index.bm25.vocab_dict
    rarity = {
        term: _idf(
            int(index.frequencies[vocabulary[term]]) if term in vocabulary else 1, index.size
        )
        for term in terms
    }
    expected = [_lucene_pending(c, rel, rarity, terms, k1, b) for c, rel in pending.documents]
    assert scores.tolist() == expected


def test_the_turn_that_shares_the_rare_words_ranks_first() -> None:
    retriever = LexicalRetriever()
    transcript = transcript_of(CHAT)
    assert best(retriever.score(transcript, "What is the name of Ana's kitten?")) == ["m0"]
    assert best(retriever.score(transcript, "Which marathon is Bo training for?")) == ["m5"]
    assert best(retriever.score(transcript, "When is the pottery class?")) == ["m4"]


def test_scores_are_relative_to_the_best_turn() -> None:
    scores = LexicalRetriever().score(transcript_of(CHAT), "pottery")
    assert scores.max() == 1.0
    assert scores.min() >= 0.0
    assert LexicalRetriever().score(transcript_of(CHAT), "zebra").tolist() == [0.0] * len(CHAT)


def test_an_answer_is_found_through_the_question_before_it() -> None:
    # "ultramarine" is only in the answer; "colours" only in the question before it.
    query = "What colours were used for the harbour painting?"
    with_context = LexicalRetriever().score(transcript_of(CHAT), query)
    without = LexicalRetriever(context=False).score(transcript_of(CHAT), query)
    assert with_context[3] > 0
    assert without[3] == 0


def test_neighbours_do_not_cross_sessions() -> None:
    day_one = turns(("Ana", "Any plans?"), date="2024-03-01T10:00:00")
    day_two = [
        ArchivedTurn(
            id="m1",
            seq=1,
            role="human",
            speaker="Bo",
            content="Fixing my bike.",
            created_at="2024-03-05T10:00:00",
            summary_version=1,
        )
    ]
    transcript = transcript_of(day_one + day_two)
    assert transcript.sessions == [0, 1]
    assert LexicalRetriever().score(transcript, "plans")[1] == 0.0


def test_the_index_grows_with_the_transcript_and_tokenizes_only_new_turns() -> None:
    retriever = LexicalRetriever()
    transcript = transcript_of(CHAT[:3])
    assert retriever.score(transcript, "marathon").tolist() == [0.0, 0.0, 0.0]
    index = transcript.derived[retriever._key]
    first_tokens = index.own[0]
    transcript.extend(CHAT[3:])
    scores = retriever.score(transcript, "marathon")
    assert len(scores) == len(CHAT)
    assert best(scores) == ["m5"]
    assert transcript.derived[retriever._key].own[0] is first_tokens
    assert transcript.derived[retriever._key].size == len(CHAT)


def test_feedback_finds_a_turn_through_the_words_of_the_best_match() -> None:
    # "relax" is only in m0; m4 shares none of the request's words, only m0's
    # "pottery": feedback widens the request with the best turns' words.
    chat = turns(
        ("Ana", "I relax at my pottery class."),
        ("Bo", "Sounds nice."),
        ("Bo", "Work was long today."),
        ("Bo", "Mine too."),
        ("Bo", "My pottery teacher liked the vase."),
    )
    transcript = transcript_of(chat)
    query = "How does Ana relax?"
    plain = LexicalRetriever(feedback=0).score(transcript, query)
    widened = LexicalRetriever().score(transcript, query)
    assert plain[4] == 0.0
    assert widened[4] > 0.0
    assert int(np.argmax(widened)) == 0  # the request's own match still leads
    assert widened[2] < widened[4]  # a turn sharing no word with either stays behind


def test_feedback_weight_must_leave_the_request_a_share() -> None:
    for weight in (-0.1, 1.0):
        with pytest.raises(ValueError, match="feedback"):
            LexicalRetriever(feedback=weight)


def test_an_empty_transcript_scores_nothing() -> None:
    assert LexicalRetriever().score(transcript_of([]), "anything").size == 0


async def test_async_scores_match() -> None:
    transcript = transcript_of(CHAT)
    retriever = LexicalRetriever()
    assert (await retriever.ascore(transcript, "pottery")).tolist() == retriever.score(
        transcript, "pottery"
    ).tolist()


# ------------------------------------------------- turns of the working window


def pending(*said: tuple[str, str], start: int) -> list[ArchivedTurn]:
    return [t.model_copy(update={"id": f"w{t.seq}", "seq": start + t.seq}) for t in turns(*said)]


def test_a_pending_turn_scores_as_the_same_archived_turn_would() -> None:
    # Without neighbours' words, a pending turn saying what an archived turn
    # said is the same document, scored by the same statistics.
    retriever = LexicalRetriever(context=False)
    archive = transcript_of(CHAT)
    both = archive.with_pending(pending(("Ana", CHAT[4].content), start=len(CHAT)), archived=6)
    scores = retriever.score(both, "pottery class on Thursdays")
    assert scores.max() == 1.0
    assert scores[4] == pytest.approx(1.0, rel=1e-6)  # bm25s keeps its scores in float32
    assert scores[6] == pytest.approx(scores[4], rel=1e-6)


def test_a_word_only_the_window_holds_finds_its_pending_turn() -> None:
    archive = transcript_of(CHAT)
    window = pending(("Bo", "The ferry to Tangier leaves at noon."), ("Ana", "ok"), start=len(CHAT))
    scores = LexicalRetriever().score(archive.with_pending(window, archived=6), "Tangier ferry")
    assert best_of(scores) == 6
    assert scores[6] == 1.0
    assert scores[:6].tolist() == [0.0] * 6
    assert scores[7] > 0  # its neighbour's words, as for archived turns


def test_pending_turns_leave_the_archive_index_as_it_was() -> None:
    retriever = LexicalRetriever()
    archive = transcript_of(CHAT)
    before = retriever.score(archive, "marathon").tolist()
    index = archive.derived[retriever._key]
    bm25 = index.bm25
    window = pending(("Bo", "My marathon time was 3:40."), start=len(CHAT))
    both = archive.with_pending(window, archived=6)
    assert len(retriever.score(both, "marathon")) == 7
    assert both.derived == {}  # nothing derived is kept on the request's copy
    assert archive.derived[retriever._key].bm25 is bm25  # not rebuilt
    assert index.size == len(archive) == 6
    assert retriever.score(archive, "marathon").tolist() == before


def test_a_fork_that_archived_fewer_turns_is_scored_on_its_own_turns() -> None:
    # The shared index holds all six turns; this fork archived four, and its
    # window says something else at positions 4 and 5.
    retriever = LexicalRetriever()
    archive = transcript_of(CHAT)
    retriever.score(archive, "marathon")  # the index covers all six
    window = pending(("Ana", "Back to the kitten."), ("Bo", "She is tiny."), start=4)
    fork = archive.with_pending(window, archived=4)
    assert retriever.score(fork, "marathon").tolist() == [0.0] * 6  # m5 is not this fork's
    assert len(retriever.score(archive.with_pending([], archived=4), "marathon")) == 4
    scores = retriever.score(fork, "kitten")
    assert best_of(scores) in (0, 4)
    assert scores[5] > 0  # the window's turns take part in feedback and scoring


def best_of(scores: np.ndarray) -> int:
    return int(np.argmax(scores))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 3.5]), max_size=80),
    st.integers(1, 25),
)
def test_best_positive_is_the_stable_sort_without_sorting_everything(
    scores: list[float], count: int
) -> None:
    # Coverage and feedback read the best turns of a thread of thousands: they
    # partition instead of sorting, and must pick exactly what the sort picked,
    # ties (frequent: equal scores) included.
    raw = np.array(scores, dtype=float)
    expected = [int(s) for s in np.argsort(-raw, kind="stable")[:count] if raw[s] > 0]
    assert _best_positive(raw, count) == expected


WORDS = ["kyoto", "train", "ramen", "tea", "temple", "rain", "bike", "museum", "sushi", "map"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12), min_size=1, max_size=40),
    st.dictionaries(
        st.sampled_from([*WORDS, "unseen"]),
        st.one_of(st.integers(1, 4), st.floats(0.001, 1.0)),
        max_size=10,
    ),
)
def test_column_sums_are_the_word_by_word_sums_bit_for_bit(
    docs: list[list[str]], terms: dict[str, float]
) -> None:
    # The archive's scores are gathered for all the request's words at once;
    # recall must rank exactly as it did when each word's column was added in turn.
    bm25 = bm25s.BM25()
    bm25.index(docs, show_progress=False)
    columns, vocabulary = bm25.scores, bm25.vocab_dict
    expected = np.zeros(len(docs))
    for term, weight in terms.items():
        column = vocabulary.get(term)
        if column is not None:
            start, end = columns["indptr"][column], columns["indptr"][column + 1]
            expected[columns["indices"][start:end]] += weight * columns["data"][start:end]
    assert np.array_equal(_column_sums(bm25, terms, len(docs)), expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=6), st.sets(st.integers(1, 11)))
def test_an_index_grown_fold_by_fold_is_the_index_built_at_once(
    folds: list[int], new_days: set[int]
) -> None:
    # The turns of a fold may continue the session of the last indexed turn (its
    # document gains a neighbour) or start a new one.
    said = [CHAT[i % len(CHAT)] for i in range(sum(folds))]
    day = 1
    archived = []
    for seq, turn in enumerate(said):
        day += seq in new_days
        update = {"seq": seq, "id": f"t{seq}", "created_at": f"2024-03-{day:02d}"}
        archived.append(turn.model_copy(update=update))
    retriever = LexicalRetriever()
    grown = transcript_of([])
    for size in folds:
        grown.extend(archived[len(grown) : len(grown) + size])
        retriever.score(grown, "painting")
    at_once = transcript_of(archived)
    retriever.score(at_once, "painting")
    # The columns' order follows the order words were first seen, so compare by word.
    grown_index, once_index = (t.derived[retriever._key].bm25 for t in (grown, at_once))
    assert grown_index.mean_length == once_index.mean_length
    assert by_word_and_turn(grown_index) == by_word_and_turn(once_index)
    query = "Which colours did Bo use for the harbour painting?"
    assert retriever.score(grown, query).tobytes() == retriever.score(at_once, query).tobytes()
