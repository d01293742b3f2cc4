"""Reading created_at however it is written, and showing it one way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from memorygraph.timestamps import format_timestamp, parse_timestamp, timestamp_label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56)),
        ("10:37 am on 27 June, 2023", datetime(2023, 6, 27, 10, 37)),
        ("12:09 am on 13 September, 2023", datetime(2023, 9, 13, 0, 9)),
        ("12:30 pm on 1 Jan, 2024", datetime(2024, 1, 1, 12, 30)),
        ("8 May 2023", datetime(2023, 5, 8)),
        ("May 8th, 2023", datetime(2023, 5, 8)),
        ("2023-05-08", datetime(2023, 5, 8)),
        ("2023-05-08T13:56:00Z", datetime(2023, 5, 8, 13, 56, tzinfo=UTC)),
        (datetime(2020, 1, 1), datetime(2020, 1, 1)),
    ],
)
def test_parse(text: object, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text", ["", "soon", "13:00 pm on 8 May, 2023", "30 February 2023", 42, None]
)
def test_unreadable_values_give_none(text: object) -> None:
    assert parse_timestamp(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "31 February, 2023",
        "31 February 2023",
        "February 31, 2023",
        "30 February",
        "30 February, 2024",
        "29 February, 2023",
        "31 April, 2023",
        "2023-02-29",
        "1:56 pm on 31 February, 2023",
    ],
)
def test_impossible_dates_are_refused(text: str) -> None:
    # A day that does not exist must not be read as another day (it once gave 3 am on
    # the 1st, taking the "3" of "31" for a clock).
    assert parse_timestamp(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("29 February, 2024", datetime(2024, 2, 29)),
        ("28 February, 2023", datetime(2023, 2, 28)),
        ("31 March, 2023", datetime(2023, 3, 31)),
        ("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56)),
        ("1:56pm, 8 May 2023", datetime(2023, 5, 8, 13, 56)),
        ("3 pm on 31 March, 2023", datetime(2023, 3, 31, 15)),
        ("9 a.m. on May 8, 2023", datetime(2023, 5, 8, 9)),
        ("13:00 12 May 2023", datetime(2023, 5, 12, 13)),
    ],
)
def test_two_digit_days_are_never_split_into_a_clock(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


def test_format() -> None:
    assert format_timestamp(datetime(2023, 5, 8, 13, 56)) == "Mon 8 May 2023, 13:56"
    assert format_timestamp(datetime(2023, 5, 8)) == "Mon 8 May 2023"
    assert format_timestamp(datetime(2023, 5, 8, tzinfo=UTC)) == "Mon 8 May 2023, 00:00 UTC"
    minus = timezone(-timedelta(hours=3, minutes=30))
    assert (
        format_timestamp(datetime(2023, 5, 8, 9, 0, tzinfo=minus)) == "Mon 8 May 2023, 09:00 -03:30"
    )
    assert timestamp_label("soon") is None
