"""When a turn was said: read ``created_at`` however it is written, and show it.

Messages may carry ``additional_kwargs["created_at"]`` as ISO 8601 or as a date
the way people write it ("1:56 pm on 8 May, 2023", as the LoCoMo dataset does).
`parse_timestamp` reads both; `format_timestamp` writes the one form memorygraph
shows the model, with the weekday, because people say "last Friday".

Example:
    >>> moment = parse_timestamp("1:56 pm on 8 May, 2023")
    >>> moment
    datetime.datetime(2023, 5, 8, 13, 56)
    >>> format_timestamp(moment)
    'Mon 8 May 2023, 13:56'
    >>> format_timestamp(parse_timestamp("2025-01-02T09:30:00+00:00"))
    'Thu 2 Jan 2025, 09:30 UTC'
    >>> parse_timestamp("the day after tomorrow") is None
    True
    >>> parse_timestamp("31 February, 2023") is None  # no such day
    True
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

__all__ = ["MONTHS", "MONTH_NAMES", "format_timestamp", "parse_timestamp", "timestamp_label"]

MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
"""Month names and their usual abbreviations, lower case, to the month's number."""
MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
"""A regex alternation of `MONTHS`, longest first (so "june" wins over "jun")."""
_MONTH = rf"(?P<month>{MONTH_NAMES})\.?"
# A clock is only read as one when it says minutes or am/pm, and it is set off from
# the date: otherwise "31 February" would read as 3 o'clock on the 1st.
_CLOCK = (
    r"(?:(?P<hour>\d{1,2})(?=:\d{2}|\s*[ap]\.?m(?![a-z]))(?::(?P<minute>\d{2}))?"
    r"(?:\s*(?P<ampm>[ap]\.?m\.?))?(?:\s+on\s+|\s*,\s*|\s+))?"
)
_SPOKEN = (
    re.compile(
        rf"^{_CLOCK}(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?P<year>\d{{4}})$",
        re.IGNORECASE,
    ),
    re.compile(
        rf"^{_CLOCK}{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})$",
        re.IGNORECASE,
    ),
)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _spoken(text: str) -> datetime | None:
    for pattern in _SPOKEN:
        match = pattern.match(text)
        if match is None:
            continue
        hour = int(match.group("hour") or 0)
        minute = int(match.group("minute") or 0)
        ampm = (match.group("ampm") or "").replace(".", "").lower()
        if ampm:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        try:
            return datetime(
                int(match.group("year")),
                MONTHS[match.group("month").lower()],
                int(match.group("day")),
                hour,
                minute,
            )
        except ValueError:
            return None
    return None


def parse_timestamp(value: object) -> datetime | None:
    """Read a timestamp written as ISO 8601 or as people write dates.

    Args:
        value: A `datetime`, an ISO 8601 string (``Z`` allowed), or a string
            such as ``"1:56 pm on 8 May, 2023"``, ``"8 May 2023"`` or
            ``"May 8, 2023"``.

    Returns:
        The moment, naive when the text names no time zone; None when the
        value is not a date memorygraph can read.

    Example:
        >>> parse_timestamp("May 8th, 2023")
        datetime.datetime(2023, 5, 8, 0, 0)
        >>> parse_timestamp("2023-05-08")
        datetime.datetime(2023, 5, 8, 0, 0)
        >>> parse_timestamp("sometime next spring") is None
        True
    """
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    return _parse_text(value)


@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> datetime | None:
    # Memoized: a thread's turns carry few distinct dates, read at every request.
    text = " ".join(value.split())
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _spoken(text)


def format_timestamp(moment: datetime) -> str:
    """Write a moment the way memorygraph shows it to the model.

    Args:
        moment: Naive (shown as given) or aware (shown with its UTC offset, or
            ``UTC``).

    Returns:
        ``"Mon 8 May 2023, 13:56"``; the time is left out at midnight sharp,
        which is how a date without a time parses.

    Example:
        >>> from datetime import datetime, timedelta, timezone
        >>> format_timestamp(datetime(2023, 5, 8))
        'Mon 8 May 2023'
        >>> format_timestamp(datetime(2023, 5, 8, 9, 5, tzinfo=timezone(timedelta(hours=2))))
        'Mon 8 May 2023, 09:05 +02:00'
    """
    text = (
        f"{_WEEKDAYS[moment.weekday()]} {moment.day} {_MONTH_NAMES[moment.month - 1]} {moment.year}"
    )
    if (moment.hour, moment.minute) != (0, 0) or moment.tzinfo is not None:
        text += f", {moment.hour:02d}:{moment.minute:02d}"
    offset = moment.utcoffset()
    if offset is not None:
        text += " UTC" if offset == timedelta(0) else f" {_offset(offset)}"
    return text


def _offset(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def timestamp_label(value: object) -> str | None:
    """Return how a ``created_at`` value is shown: formatted when readable, else None.

    Example:
        >>> timestamp_label("1:56 pm on 8 May, 2023")
        'Mon 8 May 2023, 13:56'
        >>> timestamp_label("soon") is None
        True
    """
    moment = parse_timestamp(value)
    return format_timestamp(moment) if moment is not None else None


def now_utc() -> datetime:
    """The current time, aware, in UTC (what ingestion stamps)."""
    return datetime.now(UTC)
