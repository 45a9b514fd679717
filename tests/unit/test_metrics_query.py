"""GET /metrics' date range: every bad or out-of-range value is a 422 naming its field, never a crash."""

from __future__ import annotations

from datetime import date

import pytest

from wa_conversions.analytics.metrics import MAX_RANGE_DAYS, parse_query
from wa_conversions.errors import UnprocessableError

TODAY = date(2025, 6, 18)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "0001-01-01"}, "to"),
        ({"to": "0001-01-29"}, "to"),
        ({"to": "0000-01-01"}, "to"),
        ({"to": "10000-01-01"}, "to"),
        ({"from": "2025-02-30"}, "from"),
        ({"from": "20250618"}, "from"),
        ({"from": "2025-W25-3"}, "from"),
        ({"from": "2025-06-18T00:00:00"}, "from"),
        ({"from": "٢٠٢٥-٠٦-١٨"}, "from"),  # Arabic-Indic digits, which fromisoformat would take
        ({"to": "x" * 100_000}, "to"),
        ({"from": "9999-12-31"}, "from"),  # after the default to (today)
        ({"from": "2025-06-19", "to": "2025-06-18"}, "from"),
        ({"from": "0001-01-01", "to": "9999-12-31"}, "to"),
        ({"granularity": "hour"}, "granularity"),
    ],
)
def test_bad_ranges_are_422_naming_the_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(UnprocessableError) as raised:
        parse_query(params, TODAY)
    assert raised.value.field == field
    assert len(raised.value.message) < 200


@pytest.mark.parametrize(
    ("params", "start", "end"),
    [
        ({}, date(2025, 5, 20), TODAY),
        ({"to": "0001-01-30"}, date(1, 1, 1), date(1, 1, 30)),
        ({"from": "0001-01-01", "to": "0001-01-01"}, date(1, 1, 1), date(1, 1, 1)),
        ({"from": "9999-12-31", "to": "9999-12-31"}, date(9999, 12, 31), date(9999, 12, 31)),
        ({"from": "2025-01-01", "to": "2025-12-31"}, date(2025, 1, 1), date(2025, 12, 31)),
    ],
)
def test_ranges_within_bounds_are_taken(params: dict[str, str], start: date, end: date) -> None:
    query = parse_query(params, TODAY)
    assert (query.start, query.end) == (start, end)
    assert len(query.days) == (end - start).days + 1 <= MAX_RANGE_DAYS
