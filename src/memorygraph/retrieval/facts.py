"""`rank_facts`: which of the user's durable facts a request needs, best first.

A fact is a short document: its key's words, the hint words a request uses for
that key (`memorygraph.facts.keys.KEY_HINTS`: "where do I live?" finds
``lives_in``, "restaurant" finds ``allergy``) and its value. A fact scores the
summed inverse document frequency of the request's words it holds; a fact that
holds none is left out, except the ones always relevant (the user's name).

Example:
    >>> from memorygraph.records import Fact
    >>> facts = [Fact(id="f1", key="likes", value="jazz"), Fact(id="f2", key="name", value="Ana"),
    ...          Fact(id="f3", key="lives_in", value="Lisbon")]
    >>> [f.key for f in rank_facts(facts, "Where do I live?", limit=5)]
    ['lives_in', 'name']
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from memorygraph.facts.keys import ALWAYS_RELEVANT_KEYS, KEY_HINTS, base_key
from memorygraph.records import Fact

__all__ = ["fact_terms", "rank_facts"]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are be can could did do does for from had has have how i in is it me my of on "
    "or our please should the this to was we what when where which who why will with would "
    "you your".split()
)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def fact_terms(text: str) -> list[str]:
    """Split text into the words facts are ranked by: lowercased, a plural ``s`` cut.

    Example:
        >>> fact_terms("Where are my cats?")
        ['cat']
    """
    return [_stem(w) for w in _WORD.findall(text.casefold()) if w not in _STOP]


def _document(fact: Fact) -> set[str]:
    base = base_key(fact.key)
    hints = KEY_HINTS.get(base) or KEY_HINTS.get(base.split("_", 1)[0], "")
    key_words = fact.key.replace("_", " ").replace(":", " ")
    return set(fact_terms(f"{key_words} {hints} {fact.value}"))


def rank_facts(facts: Sequence[Fact], query: str, *, limit: int) -> list[Fact]:
    """Rank facts by lexical relevance to ``query``; irrelevant facts are left out.

    A fact scores the summed inverse document frequency of the query words its
    key, value and key hints contain. Facts whose key is in
    `memorygraph.facts.keys.ALWAYS_RELEVANT_KEYS` are kept with the smallest
    positive score.

    Args:
        facts: The candidates.
        query: The current request.
        limit: The most facts to return.

    Returns:
        The relevant facts, best first (ties by key, then id: deterministic).
    """
    documents = [(fact, _document(fact)) for fact in facts]
    wanted = set(fact_terms(query))
    count = len(documents)
    frequency = {term: sum(term in doc for _, doc in documents) for term in wanted}
    scored: list[tuple[float, Fact]] = []
    for fact, doc in documents:
        score = sum(math.log(1 + count / frequency[t]) for t in wanted if t in doc)
        if score == 0 and fact.key in ALWAYS_RELEVANT_KEYS:
            score = 1e-6
        if score > 0:
            scored.append((score, fact))
    scored.sort(key=lambda pair: (-pair[0], pair[1].key, pair[1].id))
    return [fact for _, fact in scored[:limit]]
