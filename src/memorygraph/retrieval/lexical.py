"""`LexicalRetriever`: BM25 over the archived turns, as bm25s scores it, offline and fast.

Each turn is indexed with its speaker, its own words and the words of the turns
just before and after it in the same session. A question is often answered in
the turn after the one that shares its words ("What did you take away from
it?" / "It taught me self-acceptance..."), and an answer often only makes
sense after its question: indexing each turn with its neighbours finds both.

A request is widened once by pseudo-relevance feedback (RM3's relevance
model): the words that weigh most in the turns it matches best, weighted by
how well each turn matched, are scored as a second query and added with a
smaller weight. A question that needs several turns shares its words with one
of them at best ("What does Ana do to relax?" finds "I relax at my pottery
class"); feedback finds the others through that turn's words ("My pottery
teacher liked the vase").

Words are lowercased, English stopwords dropped (bm25s's longer list: question
words such as "what" and "did" carry no topic) and the rest stemmed (Snowball,
through PyStemmer). A turn's own words count twice, its neighbours' once.
Each turn is tokenized once (bm25s's tokenizer's steps, one text at a time:
`tokenize`); when the archive grows only
the new turns are tokenized and merged into the index's word columns, and the
scores are computed again with bm25s's formulas, bit for bit, in a few NumPy
calls (`memorygraph.retrieval.columns`; its cost is in benchmarks/README.md).

Example:
    >>> from memorygraph.records import ArchivedTurn
    >>> from memorygraph.retrieval.transcript import Transcript
    >>> transcript = Transcript(("acme", "ana", "t1"))
    >>> transcript.extend([
    ...     ArchivedTurn(id=f"m{i}", seq=i, role="human", speaker=who, content=text,
    ...                  created_at="2024-03-01T10:00:00", summary_version=1)
    ...     for i, (who, text) in enumerate([
    ...         ("Ana", "I adopted a cat called Miso."),
    ...         ("Bo", "Lovely! I went hiking in the Alps."),
    ...         ("Ana", "Miso loves sleeping on my keyboard."),
    ...     ])
    ... ])
    >>> scores = LexicalRetriever().score(transcript, "Where did Bo go hiking?")
    >>> [round(float(s), 2) for s in scores]
    [0.3, 1.0, 0.31]
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from memorygraph.caching import KEPT_CHARS, BoundedCache
from memorygraph.retrieval.base import Scores, normalize_max
from memorygraph.retrieval.columns import Columns, Postings, WordIds
from memorygraph.timestamps import MONTHS

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore

    from memorygraph.records import ArchivedTurn
    from memorygraph.retrieval.transcript import Transcript

__all__ = ["FEEDBACK_WEIGHT", "LexicalRetriever", "tokenize"]


def _idf(frequency: int, documents: int) -> float:
    # Lucene's inverse document frequency, as bm25s computes it.
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


_STEMMERS = threading.local()  # a Stemmer object must not be shared between threads


def _stemmer() -> Any:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = Stemmer.Stemmer("english")
    return stemmer


_TOKENIZED: BoundedCache[str, tuple[str, ...]] = BoundedCache(1024)
_SPLIT = re.compile(r"(?u)\b\w\w+\b").findall  # bm25s.tokenize's default token_pattern
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS)


def _words(text: str) -> tuple[str, ...]:
    """``bm25s.tokenize``'s words of one text (``stopwords="en_plus"``, the English stemmer).

    Its steps, without its cost per call (it builds its stopword set again for
    every text): lowercase, split on its token pattern, drop the stopwords, stem
    each word. A stem does not depend on the other words, so the words are the
    same as a whole batch's (a property test compares them with bm25s's).
    """
    kept = [word for word in _SPLIT(text.lower()) if word not in _STOPWORDS]
    return tuple(_stemmer().stemWords(kept)) if kept else ()


def tokenize(texts: list[str]) -> list[list[str]]:
    """Split texts into lowercased, stemmed words, English stopwords left out.

    The words are those of ``bm25s.tokenize(texts, stopwords="en_plus")`` with
    the English stemmer. A text is tokenized once while it is among the last
    ones seen: a request is read again as a turn of the window on the next
    turns, and speakers' names come back on every turn.

    Example:
        >>> tokenize(["She was painting sunsets", "the of and"])
        [['paint', 'sunset'], []]
    """
    found: list[list[str]] = []
    for text in texts:
        words = _TOKENIZED.get(text)
        if words is None:
            words = _words(text)
            if len(text) <= KEPT_CHARS:
                _TOKENIZED.put(text, words)
        found.append(list(words))
    return found


_Said = tuple[str, str | None, str]
"""A turn's id, speaker and text: what its words are made of."""


def _said(turn: ArchivedTurn) -> _Said:
    return (turn.id, turn.speaker, turn.content)


@dataclass
class _Index:
    own: list[list[str]] = field(default_factory=list)  # each turn's speaker and words
    words: list[list[str]] = field(default_factory=list)  # each turn's words only
    bm25: Any = None  # the `Columns`, once built
    vocabulary: dict[str, int] = field(default_factory=dict)  # a word's column, append-only
    own_ids: list[WordIds] = field(default_factory=list)  # `own` as columns
    word_ids: list[WordIds] = field(default_factory=list)  # `words` as columns
    postings: Postings = field(default_factory=Postings)  # the indexed documents' words
    frequencies: Any = None  # documents per term id, for scoring pending turns
    # each pending turn's words, by its id, speaker and text: (own, words)
    pending: dict[_Said, tuple[list[str], list[str]]] = field(default_factory=dict)
    # each pending turn's document, by its and its neighbours' ids, speakers
    # and texts: counts, length
    documents: dict[tuple[_Said, ...], tuple[Counter[str], int]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """How many turns the BM25 index covers."""
        return len(self.postings)

    @property
    def mean_length(self) -> float:
        """The indexed documents' mean length, in words (0 before the index is built)."""
        return float(self.bm25.mean_length) if self.bm25 is not None else 0.0

    def rarity(self, term: str) -> float:
        """The word's idf in the index; a word the archive never holds counts as in one turn."""
        column = self.bm25.vocab_dict.get(term)
        return _idf(int(self.frequencies[column]) if column is not None else 1, self.size)


@dataclass
class _Pending:
    """The working window's turns for one request, as documents of the archive's index."""

    words: list[list[str]]  # each turn's own words (feedback reads them)
    own: list[list[str]]  # each turn's speaker and own words (coverage reads them)
    documents: list[tuple[Counter[str], float]]  # each document's term counts, relative length


_PENDING_CACHE = 512
"""Pending turns whose words are kept per transcript (a working window holds fewer)."""


def _turn_text(turn: ArchivedTurn) -> str:
    return turn.content


_NUMBER = re.compile(r"\d+(?:st|nd|rd|th)?")
_YEAR = re.compile(r"(?:19|20)\d\d")


@functools.cache
def _date_words() -> frozenset[str]:
    names = [*MONTHS, "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    (stems,) = tokenize([" ".join(names)])
    return frozenset(stems)


def _is_date_word(term: str, dated: bool) -> bool:
    # A month or a weekday; a year; a day's number in a request that names a month.
    if term in _date_words() or _YEAR.fullmatch(term):
        return True
    return dated and _NUMBER.fullmatch(term) is not None


def _best_positive(raw: Scores, count: int) -> list[int]:
    """The positions of the ``count`` best positive scores, best first, ties by position.

    ``np.argsort(-raw, kind="stable")[:count]`` without its non-positive scores,
    without sorting the whole thread: the scores at or above the ``count``-th
    best are picked in linear time, and only they are sorted.
    """
    positive = np.flatnonzero(raw > 0)
    if len(positive) > count:
        values = raw[positive]
        threshold = np.partition(values, len(values) - count)[len(values) - count]
        positive = positive[values >= threshold]  # every tie of the threshold too
    order = np.argsort(-raw[positive], kind="stable")  # positions ascend: ties keep their order
    return [int(seq) for seq in positive[order][:count]]


def _column_sums(bm25: Columns, terms: Mapping[str, float], size: int) -> Scores:
    """Each indexed turn's sum of ``weight * score`` over the words, read off bm25s's columns.

    All the words' columns are gathered at once. The sums are the same, bit
    for bit, as adding each word's column in turn: the products are taken in
    the columns' precision, as ``weight * column`` takes them, and each turn's
    products are added in the words' order.
    """
    columns, vocabulary = bm25.scores, bm25.vocab_dict
    found = [
        (column, weight)
        for term, weight in terms.items()
        if (column := vocabulary.get(term)) is not None
    ]
    if not found:
        return np.zeros(size)
    data, indptr = columns["data"], columns["indptr"]
    ids = np.fromiter((column for column, _ in found), dtype=np.int64, count=len(found))
    weights = np.array([weight for _, weight in found], dtype=data.dtype)
    starts = indptr[ids]
    lengths = indptr[ids + 1] - starts
    # the positions of every word's slice, word after word
    offsets = np.arange(int(lengths.sum())) + np.repeat(
        starts - (np.cumsum(lengths) - lengths), lengths
    )
    products = np.repeat(weights, lengths) * data[offsets]
    # float sums (the stubs type bincount as counting only)
    return cast(Scores, np.bincount(columns["indices"][offsets], weights=products, minlength=size))


def _ids(vocabulary: dict[str, int], words: list[str]) -> WordIds:
    """The words' columns, a new word getting the next one."""
    return np.array(
        [vocabulary.setdefault(word, len(vocabulary)) for word in words], dtype=np.int64
    )


def _compose(own: list[str], near: list[list[str]]) -> list[str]:
    # The turn's own words count twice: a turn that says it outranks the
    # neighbour that only stands next to it.
    doc = own * 2
    for words in near:
        doc += words
    return doc


_COVERAGE_TURNS = 20
"""`LexicalRetriever.coverage` reads the own words of this many best-scoring turns."""

FEEDBACK_WEIGHT = 0.3
"""The feedback query's weight in `LexicalRetriever` (the request keeps 0.7).

RM3's usual 10 turns and 10 words; the weights tried and what each recalled
are in benchmarks/README.md ("LoCoMo recall")."""


class LexicalRetriever:
    """BM25 (Lucene's variant, via bm25s) over a transcript, each turn with its neighbours.

    Args:
        k1: BM25 term-frequency saturation.
        b: BM25 length normalization.
        context: Whether a turn is indexed with the words of the turns just
            before and after it in its session.
        feedback: The weight of the feedback query next to the request's
            (``1 - feedback``); 0 scores the request alone.
        feedback_turns: How many of the best-matching turns the feedback
            words are taken from.
        feedback_terms: How many words the feedback query holds.
    """

    name = "bm25"

    def __init__(
        self,
        *,
        k1: float = 1.5,
        b: float = 0.75,
        context: bool = True,
        feedback: float = FEEDBACK_WEIGHT,
        feedback_turns: int = 10,
        feedback_terms: int = 10,
    ) -> None:
        if not 0.0 <= feedback < 1.0:
            raise ValueError(f"feedback must be in [0, 1), got {feedback}")
        self.k1 = k1
        self.b = b
        self.context = context
        self.feedback = feedback
        self.feedback_turns = feedback_turns
        self.feedback_terms = feedback_terms
        self._key = f"lexical:{k1}:{b}:{context}"  # the index: feedback does not change it

    def _index(self, transcript: Transcript) -> _Index:
        with transcript.lock:
            index: _Index = transcript.derived.setdefault(self._key, _Index())
            if index.size == len(transcript) and index.bm25 is not None:
                return index
            new = transcript.turns[len(index.own) :]
            speakers = tokenize([turn.speaker or "" for turn in new])
            words = tokenize([_turn_text(turn) for turn in new])
            own = [s + w for s, w in zip(speakers, words, strict=True)]
            index.words += words
            index.own += own
            index.word_ids += [_ids(index.vocabulary, turn) for turn in words]
            index.own_ids += [_ids(index.vocabulary, turn) for turn in own]
            # Each turn's document by `_compose`'s rule, as columns: its own words
            # twice, then its neighbours' words (the order does not change a count).
            # Sessions only grow at the end: of the turns indexed before, only the
            # last one's document can change (it may gain a next neighbour).
            total, sessions = len(transcript), transcript.sessions
            start = max(len(index.postings) - 1, 0)
            documents = [
                np.concatenate(
                    [
                        index.own_ids[seq],
                        index.own_ids[seq],
                        *(index.word_ids[n] for n in self._neighbours(sessions, seq, total)),
                    ]
                )
                for seq in range(start, total)
            ]
            index.postings.replace(start, documents)
            index.bm25 = index.postings.columns(index.vocabulary, k1=self.k1, b=self.b)
            index.frequencies = np.diff(index.bm25.scores["indptr"])
            return index

    def _neighbours(self, sessions: list[int], seq: int, total: int) -> list[int]:
        """The turns indexed with turn ``seq``: those just before and after it in its session."""
        if not self.context:
            return []
        return [
            other
            for other in (seq - 1, seq + 1)
            if 0 <= other < total and sessions[other] == sessions[seq]
        ]

    def _pending_words(
        self, index: _Index, turns: list[ArchivedTurn]
    ) -> tuple[list[list[str]], list[list[str]]]:
        # Tokenized once per turn, like archived turns: a pending turn is seen
        # again at every request until it is folded into the archive.
        # Keyed by what is tokenized: a message replaced under its id (as
        # `add_messages` does) is tokenized again.
        keys = [_said(turn) for turn in turns]
        new = [turn for turn, key in zip(turns, keys, strict=True) if key not in index.pending]
        speakers = tokenize([turn.speaker or "" for turn in new])
        said = tokenize([turn.content for turn in new])
        for turn, speaker, words in zip(new, speakers, said, strict=True):
            index.pending[_said(turn)] = (speaker + words, words)
        entries = [index.pending[key] for key in keys]
        while len(index.pending) > _PENDING_CACHE:
            index.pending.pop(next(iter(index.pending)))
        return [own for own, _ in entries], [words for _, words in entries]

    def _pending(self, transcript: Transcript, index: _Index) -> _Pending:
        """The turns past ``transcript.archived`` as documents of the archive's index."""
        archived = transcript.archived
        with transcript.lock:
            own_new, words_new = self._pending_words(index, transcript.turns[archived:])
            turns = transcript.turns
            total = archived + len(own_new)
            sessions = transcript.sessions
            mean = max(index.mean_length, 1e-9)
            documents = []
            # `_compose`'s rule, reading an archived neighbour from the index
            # instead of copying the archive's word lists for every request; a
            # document is counted once while its turn and neighbours stay the same.
            for offset, own in enumerate(own_new):
                seq = archived + offset
                near = self._neighbours(sessions, seq, total)
                key = tuple(_said(turns[n]) for n in (seq, *near))
                counted = index.documents.get(key)
                if counted is None:
                    doc = _compose(
                        own,
                        [index.words[n] if n < archived else words_new[n - archived] for n in near],
                    )
                    counted = index.documents[key] = (Counter(doc), len(doc))
                documents.append((counted[0], counted[1] / mean))
            while len(index.documents) > _PENDING_CACHE:
                index.documents.pop(next(iter(index.documents)))
        return _Pending(words=words_new, own=own_new, documents=documents)

    def _score_pending(
        self, index: _Index, pending: _Pending, terms: Mapping[str, float]
    ) -> Scores:
        """BM25 of the window's turns, by the archive's statistics.

        A turn of the working window is scored as if it were one more document
        of the archive's index: the same Lucene formulas bm25s uses, with the
        index's document frequencies, size and mean document length (a term the
        archive never holds counts as being in one document), so the index
        is not rebuilt for every request.
        ``terms`` maps each query word to its weight (a word said twice: 2).
        """
        rarity = {term: index.rarity(term) for term in terms}
        # Lucene's term-frequency part, f / (k1 * (1 - b + b * length) + f), as bm25s
        # computes it; the length's part and each term's weight * rarity taken once.
        weighted = {term: weight * rarity[term] for term, weight in terms.items()}
        k1, b = self.k1, self.b
        scores = np.zeros(len(pending.documents))
        for offset, (frequency, length) in enumerate(pending.documents):
            norm = k1 * (1 - b + b * length)
            scores[offset] = sum(
                part * (frequency[term] / (norm + frequency[term]))
                for term, part in weighted.items()
                if term in frequency  # a document's counts are all positive
            )
        return scores

    def score(
        self, transcript: Transcript, query: str, *, store: BaseStore | None = None
    ) -> Scores:
        """Score every turn against the query (see `Retriever.score`)."""
        if not len(transcript):
            return np.zeros(0)
        archived = transcript.archived
        if archived == 0:  # nothing indexed yet to score pending turns by
            return np.zeros(len(transcript))
        (terms,) = tokenize([query])
        if not terms:  # only stopwords: nothing to match
            return np.zeros(len(transcript))
        index = self._index(transcript.settled)
        pending = self._pending(transcript, index) if len(transcript) > archived else None
        raw = self._weighted(archived, index, pending, Counter(terms))
        if self.feedback <= 0 or not raw.any():
            return normalize_max(raw)
        expansion = self._feedback_terms(archived, index, pending, raw, set(terms))
        if not expansion:
            return normalize_max(raw)
        widened = self._weighted(archived, index, pending, expansion)
        return (1 - self.feedback) * normalize_max(raw) + self.feedback * normalize_max(widened)

    def coverage(self, transcript: Transcript, query: str) -> float:
        """How much of the request one turn of the thread says itself, from 0 to 1.

        The request's words are weighted by their rarity in the thread (BM25's
        idf); a turn covers the share of that weight its own words hold (its
        speaker's name included, its neighbours' words not). The best of the
        request's best-scoring turns gives the coverage. Unlike `score`, which
        is relative to the best turn, this is absolute: a request about
        something the thread never talked about is covered a little by chance
        (a word or two of a long request) and never much, so recall can leave
        the budget to the rest (`memorygraph.retrieval.recall`).

        Args:
            transcript: The thread's turns (archived, then pending).
            query: The current request.

        Returns:
            The coverage; 0.0 when nothing matches or nothing is archived.

        Example:
            >>> from memorygraph.records import ArchivedTurn
            >>> from memorygraph.retrieval.transcript import Transcript
            >>> transcript = Transcript(("acme", "ana", "t1"))
            >>> transcript.extend([ArchivedTurn(id=f"m{i}", seq=i, role="human", content=text,
            ...     created_at="2024-03-01T10:00:00", summary_version=1) for i, text in
            ...     enumerate(["I adopted a cat called Miso.", "We went hiking in the Alps."])])
            >>> retriever = LexicalRetriever()
            >>> retriever.coverage(transcript, "What is my cat called?")
            1.0
            >>> round(retriever.coverage(transcript, "Which cat food suits a kitten?"), 2)
            0.08
        """
        archived = transcript.archived
        if not len(transcript) or archived == 0:
            return 0.0
        (terms,) = tokenize([query])
        if not terms:
            return 0.0
        index = self._index(transcript.settled)
        pending = self._pending(transcript, index) if len(transcript) > archived else None
        asked = Counter(terms)
        vocabulary = index.bm25.vocab_dict
        dated = not _date_words().isdisjoint(asked)
        # A date the thread never said in words (turns carry their dates apart,
        # and recall ranks named periods on its own) says nothing of coverage.
        weights = {
            term: count * index.rarity(term)
            for term, count in asked.items()
            if term in vocabulary or not _is_date_word(term, dated)
        }
        total = sum(weights.values())
        if total <= 0:  # a request of unsaid dates alone: not for coverage to judge
            return 1.0
        raw = self._weighted(archived, index, pending, asked)
        best = 0.0
        for seq in _best_positive(raw, _COVERAGE_TURNS):
            own = set(
                index.own[seq] if seq < archived or pending is None else pending.own[seq - archived]
            )
            best = max(best, sum(weight for word, weight in weights.items() if word in own))
        return best / total

    def _weighted(
        self, archived: int, index: _Index, pending: _Pending | None, terms: Mapping[str, float]
    ) -> Scores:
        """BM25 of every turn for weighted query words, archived and pending.

        An archived turn's score is read off bm25s's precomputed term columns
        (one slice per word; each turn appears once in a word's column).
        """
        # A fork's archive may hold fewer turns than the index.
        indexed = _column_sums(index.bm25, terms, index.size)
        raw = np.zeros(archived + (len(pending.documents) if pending else 0))
        raw[:archived] = indexed[:archived]
        if pending is not None:
            raw[archived:] = self._score_pending(index, pending, terms)
        return raw

    def _feedback_terms(
        self, archived: int, index: _Index, pending: _Pending | None, raw: Scores, asked: set[str]
    ) -> dict[str, float]:
        """RM3's relevance model: words of the best turns, by share of each turn and its score.

        Only words of the archive's vocabulary are taken (pending turns are
        scored by its statistics), and not the request's own words; the
        weights add up to 1.
        """
        top = float(raw.max())
        vocabulary = index.bm25.vocab_dict
        weights: dict[str, float] = {}
        for seq in _best_positive(raw, self.feedback_turns):
            words = (
                index.words[seq]
                if pending is None or seq < archived
                else pending.words[seq - archived]
            )
            for word, count in Counter(words).items():
                if word not in asked and word in vocabulary:
                    share = count / len(words) * float(raw[seq]) / top
                    weights[word] = weights.get(word, 0.0) + share
        chosen = sorted(weights.items(), key=lambda item: item[1], reverse=True)
        chosen = chosen[: self.feedback_terms]
        total = sum(weight for _, weight in chosen)
        return {word: weight / total for word, weight in chosen} if total > 0 else {}

    async def ascore(
        self, transcript: Transcript, query: str, *, store: BaseStore | None = None
    ) -> Scores:
        """Async twin of `score` (CPU work only)."""
        return self.score(transcript, query, store=store)
