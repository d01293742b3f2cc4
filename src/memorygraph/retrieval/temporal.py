"""Time awareness: "when" questions favour turns that say when something happened.

A question such as "When did Ana move to Lisbon?" is answered by the turn where
she said "we moved last spring" together with that turn's date, so among turns
that match its words, those that carry a time expression (a date, a weekday,
"yesterday", "two weeks ago") are moved up. Every recalled turn is rendered
with its date, which is what turns "last spring" into an answer.

Example:
    >>> asks_when("When did Caroline go to the support group?")
    True
    >>> asks_when("What did Caroline research?")
    False
    >>> mentions_time("I went to a support group yesterday.")
    True
"""

from __future__ import annotations

import re

import numpy as np

from memorygraph.retrieval.base import Scores

__all__ = ["WHEN_BOOST", "asks_when", "favour_dated", "mentions_time"]

WHEN_BOOST = 0.5
"""How much a "when" question raises a turn that mentions a time (0.5: by half)."""

_WHEN = re.compile(
    r"^\W*(?:(?:and|so|but)\s+)?(?:when\b|since\s+when\b|how\s+long\b|how\s+many\s+"
    r"(?:days|weeks|months|years|times)\b|(?:what|which)\s+(?:year|month|day|date|time|week"
    r"|season)\b|(?:in\s+)?what\s+year\b|how\s+(?:old|recently)\b)",
    re.IGNORECASE,
)
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|march|apr(?:il)?|june|july|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_TIME = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|ago|last|next|recently|lately|earlier|since|"
    r"weekends?|weeks?|months?|years?|days?|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|"
    rf"{_MONTHS})\b|"
    r"\b(?:in|of|early|late|mid)[ -]may\b|\b\d{1,2}(?:st|nd|rd|th)?\s+may\b|\bmay\s+\d{1,2}\b|"
    r"\b(?:19|20)\d{2}\b|\b\d{1,2}[:/]\d{2}\b",
    re.IGNORECASE,
)


def asks_when(query: str) -> bool:
    """Whether the request asks when (or how long ago) something happened."""
    return bool(_WHEN.search(query))


def mentions_time(text: str) -> bool:
    """Whether a turn says when something happened (a date, a weekday, "ago", ...)."""
    return bool(_TIME.search(text))


def favour_dated(scores: Scores, dated: Scores, query: str, *, boost: float = WHEN_BOOST) -> Scores:
    """Raise the scores of turns that mention a time, for "when" questions only.

    Args:
        scores: One score per turn.
        dated: 1.0 for each turn that mentions a time, else 0.0.
        query: The request.
        boost: The share by which a dated turn's score rises.

    Returns:
        The scores, unchanged unless the request asks when.

    Example:
        >>> import numpy as np
        >>> favour_dated(np.array([0.8, 0.6]), np.array([0.0, 1.0]), "When was that?").round(2)
        array([0.8, 0.9])
    """
    if not asks_when(query):
        return scores
    return np.where(scores > 0, scores * (1.0 + boost * dated), scores)
