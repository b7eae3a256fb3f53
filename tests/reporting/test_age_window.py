"""Rolling age windows: ``older_than_days``/``newer_than_days`` resolved against one moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot_core.errors import InvalidFilterError
from bot_core.reporting import parse_filters, within_age_window

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_ages_become_until_and_since() -> None:
    filters = within_age_window(
        parse_filters(categories=["smoke"]), now=NOW, older_than_days=30, newer_than_days=90
    )
    assert filters.until == NOW - timedelta(days=30)
    assert filters.since == NOW - timedelta(days=90)
    assert filters.categories == ["smoke"]


def test_no_age_leaves_the_filters_as_they_are() -> None:
    filters = parse_filters(categories=["daily"], until="2024-04-01")
    assert within_age_window(filters, now=NOW) is filters


@pytest.mark.parametrize(
    ("given", "ages", "message"),
    [
        ({"until": "2024-04-01"}, {"older_than_days": 30}, "either until or older_than_days"),
        ({"since": "2024-04-01"}, {"newer_than_days": 2}, "either since or newer_than_days"),
        ({}, {"older_than_days": -1}, "older_than_days must be 0 or more"),
        ({}, {"older_than_days": 30, "newer_than_days": 10}, "is after --until"),
    ],
)
def test_conflicting_or_impossible_windows_are_refused(
    given: dict[str, str], ages: dict[str, int], message: str
) -> None:
    with pytest.raises(InvalidFilterError, match=message):
        within_age_window(parse_filters(**given), now=NOW, **ages)
