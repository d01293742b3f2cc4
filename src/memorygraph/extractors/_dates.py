"""Find the date a plan names, and turn it into the moment the plan stops being true.

Example:
    >>> from datetime import UTC, datetime
    >>> now = datetime(2026, 11, 21, tzinfo=UTC)
    >>> plan_expiry("a trip to Japan in April", now)
    datetime.datetime(2027, 5, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> plan_expiry("the dentist on 3 December", now)
    datetime.datetime(2026, 12, 4, 0, 0, tzinfo=datetime.timezone.utc)
    >>> plan_expiry("lunch with Bo", now) is None
    True
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from memorygraph.timestamps import MONTH_NAMES, MONTHS

__all__ = ["plan_expiry"]

_MONTH = rf"(?P<month>{MONTH_NAMES})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_ISO = re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b")
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:,?\s+{_YEAR})?", re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b(?:,?\s+{_YEAR})?", re.IGNORECASE)
_IN_MONTH = re.compile(rf"\b(?:in|during|this|next|until|by)\s+{_MONTH}\b(?:\s+{_YEAR})?", re.I)
_RELATIVE = re.compile(
    r"\b(?P<word>tomorrow|tonight|today|next\s+week|next\s+month|this\s+week(?:end)?|"
    r"in\s+(?P<n>\d{1,3})\s+(?P<unit>days?|weeks?|months?))\b",
    re.IGNORECASE,
)


def _day_end(year: int, month: int, day: int) -> datetime | None:
    try:
        return datetime(year, month, day, tzinfo=UTC) + timedelta(days=1)
    except ValueError:
        return None


def _month_end(year: int, month: int) -> datetime:
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def _next_year(month: int, day: int, now: datetime) -> int:
    # A date without a year is the next one to come: "in April" said in November
    # means next April.
    return now.year if (month, day) >= (now.month, now.day) else now.year + 1


def _relative(match: re.Match[str], now: datetime) -> datetime:
    word = match.group("word").casefold()
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    if match.group("n"):
        count = int(match.group("n"))
        unit = match.group("unit").casefold()
        days = count * (1 if unit.startswith("day") else 7 if unit.startswith("week") else 31)
        return today + timedelta(days=days + 1)
    if word in ("today", "tonight"):
        return today + timedelta(days=1)
    if word == "tomorrow":
        return today + timedelta(days=2)
    if word.startswith("this week"):
        return today + timedelta(days=8 - today.weekday())
    if word.startswith("next week"):
        return today + timedelta(days=15 - today.weekday())
    return _month_end(now.year + (now.month + 1) // 13, (now.month % 12) + 1)


def plan_expiry(text: str, now: datetime) -> datetime | None:
    """Return when a plan described by ``text`` is over, or None if it names no date.

    Args:
        text: The plan as the user said it.
        now: The time it was said; a date without a year is the next one to come.

    Returns:
        The start of the day after the date (or of the month after a month), UTC.
    """
    if match := _ISO.search(text):
        return _day_end(int(match["year"]), int(match["month"]), int(match["day"]))
    for pattern in (_MONTH_DAY, _DAY_MONTH):
        if match := pattern.search(text):
            month = MONTHS[match["month"].casefold()]
            day = int(match["day"])
            year = int(match["year"]) if match["year"] else _next_year(month, day, now)
            return _day_end(year, month, day)
    if match := _IN_MONTH.search(text):
        month = MONTHS[match["month"].casefold()]
        year = int(match["year"]) if match["year"] else _next_year(month, 31, now)
        return _month_end(year, month)
    if match := _RELATIVE.search(text):
        return _relative(match, now)
    return None
