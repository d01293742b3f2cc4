"""Time awareness: "when" questions favour turns that say when something happened.

A request that names a day or a month ("What did Ana paint on 13 October
2023?", "... in May 2023?") favours the turns said in that period or within a
week after it (people tell of an event in the days that follow it).

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
    >>> named_period("What did Ana paint on October 13, 2023?")
    (datetime.date(2023, 10, 13), datetime.date(2023, 10, 13))
    >>> named_period("What did Bo start in May 2023?")
    (datetime.date(2023, 5, 1), datetime.date(2023, 5, 31))
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import numpy as np

from memorygraph.retrieval.base import Scores
from memorygraph.timestamps import MONTH_NAMES, MONTHS

__all__ = [
    "PERIOD_BOOST",
    "PERIOD_GRACE",
    "WHEN_BOOST",
    "asks_when",
    "favour_dated",
    "favour_period",
    "mentions_time",
    "named_period",
]

WHEN_BOOST = 0.5
"""How much a "when" question raises a turn that mentions a time (0.5: by half)."""

PERIOD_BOOST = 1.0
"""How much a request naming a day or month raises the turns said then (1.0: doubled)."""

PERIOD_GRACE = timedelta(days=7)
"""How long after the named period a turn still counts as said then."""

_DAY_MONTH_YEAR = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTH_NAMES})\.?,?\s+(\d{{4}})\b",
    re.IGNORECASE,
)
_MONTH_DAY_YEAR = re.compile(
    rf"\b({MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.IGNORECASE
)
_MONTH_YEAR = re.compile(rf"\b({MONTH_NAMES})\.?,?\s+(?:of\s+)?(\d{{4}})\b", re.IGNORECASE)

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


def named_period(query: str) -> tuple[date, date] | None:
    """The first day, or else month, the request names with its year, as (first, last) day."""
    try:
        if match := _DAY_MONTH_YEAR.search(query):
            day = date(int(match[3]), MONTHS[match[2].lower()], int(match[1]))
            return day, day
        if match := _MONTH_DAY_YEAR.search(query):
            day = date(int(match[3]), MONTHS[match[1].lower()], int(match[2]))
            return day, day
        if match := _MONTH_YEAR.search(query):
            year, month = int(match[2]), MONTHS[match[1].lower()]
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:  # "31 February 2023", year 0
        return None
    return None


def favour_period(
    scores: Scores,
    times: Sequence[datetime | None],
    query: str,
    *,
    boost: float = PERIOD_BOOST,
    grace: timedelta = PERIOD_GRACE,
) -> Scores:
    """Raise the scores of turns said in the day or month the request names.

    Args:
        scores: One score per turn.
        times: When each turn was said (None when unknown).
        query: The request.
        boost: The share by which a turn said in the period rises.
        grace: How long after the period a turn still counts.

    Returns:
        The scores, unchanged unless the request names a period.

    Example:
        >>> import numpy as np
        >>> said = [datetime(2023, 5, 2), datetime(2023, 6, 9), None]
        >>> favour_period(np.array([0.5, 0.5, 0.5]), said, "What happened in May 2023?")
        array([1. , 0.5, 0.5])
    """
    period = named_period(query)
    if period is None or not boost:
        return scores
    first, last = period[0], period[1] + grace
    inside = np.asarray(
        [moment is not None and first <= moment.date() <= last for moment in times[: len(scores)]],
        dtype=np.float64,
    )
    return np.asarray(scores, dtype=np.float64) * (1.0 + boost * inside)


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
