"""GET /metrics' date range and time zone: every bad or out-of-range value is a 4xx naming its field,
never a crash; days and hours are the zone's."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from tests.support.cfn import load_template
from wa_conversions.analytics.metrics import MAX_RANGE_DAYS, compute, parse_query
from wa_conversions.errors import BadRequestError, UnprocessableError

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


# -- time zones (docs/analytics.md#time-zones) -------------------------------------------------


@pytest.mark.parametrize(
    "tz",
    # "America" and "Etc" are folders of the zone database: they were a 500
    ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "UTC\x00", "utc", "x" * 100_000, "America", "Etc"],
)
def test_a_zone_that_is_not_an_iana_zone_is_400_naming_tz(tz: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_query({"tz": tz}, TODAY)
    assert raised.value.status_code == 400
    assert raised.value.field == "tz"
    assert len(raised.value.message) < 200


def test_the_zone_is_the_request_s_else_the_report_default_else_utc() -> None:
    assert parse_query({}, TODAY).tz == "UTC"
    assert parse_query({}, TODAY, "America/Mexico_City").tz == "America/Mexico_City"
    assert parse_query({"tz": "Asia/Tokyo"}, TODAY, "America/Mexico_City").tz == "Asia/Tokyo"


def test_today_is_today_in_the_zone() -> None:
    now = datetime(2025, 6, 18, 3, 0, tzinfo=UTC)  # 21:00 on the 17th in Mexico City
    assert parse_query({"tz": "America/Mexico_City"}, now).end == date(2025, 6, 17)
    assert parse_query({}, now).end == date(2025, 6, 18)


def test_a_message_at_two_utc_is_the_previous_day_in_mexico_city() -> None:
    buckets = {"2025-06-18T02": {"received": 1, "sent": 1}, "2025-06-18T15": {"received": 2}}
    query = parse_query({"from": "2025-06-17", "to": "2025-06-18", "tz": "America/Mexico_City"}, TODAY)
    assert query.utc_days == (date(2025, 6, 17), date(2025, 6, 19))  # the hours the local days span
    metrics = compute(query, buckets)
    assert [(d.date, d.received, d.sent) for d in metrics.daily] == [
        ("2025-06-17", 1, 1),
        ("2025-06-18", 2, 0),
    ]
    assert {h: n for h, n in metrics.by_hour.items() if n} == {"20": 1, "09": 2}
    assert metrics.tz == "America/Mexico_City"
    utc = compute(parse_query({"from": "2025-06-17", "to": "2025-06-18"}, TODAY), buckets)
    assert [(d.date, d.received) for d in utc.daily] == [("2025-06-17", 0), ("2025-06-18", 3)]
    assert {h: n for h, n in utc.by_hour.items() if n} == {"02": 1, "15": 2}


def test_hours_follow_daylight_saving_time() -> None:
    # New York is UTC-5 in winter and UTC-4 from 2025-03-09 07:00 UTC
    buckets = {"2025-03-09T06": {"received": 1}, "2025-03-09T07": {"received": 1}}
    query = parse_query({"from": "2025-03-09", "to": "2025-03-09", "tz": "America/New_York"}, TODAY)
    assert {h: n for h, n in compute(query, buckets).by_hour.items() if n} == {"01": 1, "03": 1}


def test_a_whole_day_bucket_stays_on_its_date_in_any_zone() -> None:
    # items from before hours were kept: a day, shown as that day
    query = parse_query({"from": "2025-06-18", "to": "2025-06-18", "tz": "Pacific/Kiritimati"}, TODAY)
    assert [d.received for d in compute(query, {"2025-06-18": {"received": 4}}).daily] == [4]


def test_the_edges_of_the_calendar_in_a_zone_do_not_overflow() -> None:
    early = parse_query({"from": "0001-01-01", "to": "0001-01-02", "tz": "Asia/Tokyo"}, TODAY)
    late = parse_query({"from": "9999-12-30", "to": "9999-12-31", "tz": "America/Mexico_City"}, TODAY)
    assert early.utc_days[0] == date.min and late.utc_days[1] == date.max


@pytest.mark.parametrize("zone", ["America", "Etc", "Europe"])
def test_the_report_time_zone_parameter_refuses_a_folder_of_the_zone_database(zone: str) -> None:
    pattern = load_template()["Parameters"]["ReportTimeZone"]["AllowedPattern"]
    assert re.fullmatch(pattern, zone) is None
    assert all(re.fullmatch(pattern, ok) for ok in ("UTC", "America/Mexico_City", "America/Argentina/Salta"))
