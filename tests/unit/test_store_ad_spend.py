"""Ad spend per ad per day (store.ad_spend): an account's range replaced by what Meta reports now, read
back over months, expiring with the day counters, and which accounts were read longest ago."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support import store_tables
from tests.support.store_tables import TABLE
from wa_conversions.models.ad_day import AdDay
from wa_conversions.models.retention import Retention
from wa_conversions.store import ad_spend
from wa_conversions.store.ad_spend import AdSpendReader, AdSpendRepository

ACCOUNT = "act_1234567890"
OTHER = "act_9876543210"


def row(day: str, ad_id: str = "120226305854810726", account: str = ACCOUNT, **figures: Any) -> AdDay:
    """One row as Meta's insights edge sends it: numbers as strings."""
    return AdDay.model_validate(
        {
            "account_id": account,
            "date_start": day,
            "ad_id": ad_id,
            "ad_name": "Summer Succulents",
            "adset_name": "Succulents NL",
            "campaign_name": "Summer",
            "spend": "12.34",
            "impressions": "1520",
            "clicks": "37",
            "account_currency": "EUR",
            **figures,
        }
    )


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch, "Table")


def days_held(client: Any, since: date, until: date) -> list[tuple[str, str, str]]:
    return sorted((d.account_id, d.day, d.ad_id) for d in AdSpendReader(client, TABLE).read(since, until))


def test_an_account_range_is_stored_and_read_back_as_meta_reported_it(client: Any) -> None:
    stored = AdSpendRepository(client, TABLE).replace(
        ACCOUNT, date(2025, 6, 1), date(2025, 6, 30), [row("2025-06-18")]
    )

    [read] = AdSpendReader(client, TABLE).read(date(2025, 6, 18), date(2025, 6, 18))

    assert stored == 1
    assert read == row("2025-06-18")
    assert (read.spend, read.impressions, read.clicks, read.currency) == (12.34, 1520, 37, "EUR")


def test_rows_of_another_account_or_outside_the_range_are_not_stored(client: Any) -> None:
    rows = [row("2025-05-31"), row("2025-06-01"), row("2025-06-02", account=OTHER), row("2025-07-01")]

    stored = AdSpendRepository(client, TABLE).replace(ACCOUNT, date(2025, 6, 1), date(2025, 6, 30), rows)

    assert stored == 1
    assert days_held(client, date(2025, 5, 1), date(2025, 7, 31)) == [
        (ACCOUNT, "2025-06-01", "120226305854810726")
    ]


def test_a_range_over_months_is_read_whole_and_nothing_outside_it(client: Any) -> None:
    spend = AdSpendRepository(client, TABLE)
    spend.replace(
        ACCOUNT,
        date(2024, 12, 1),
        date(2025, 2, 28),
        [row(day) for day in ("2024-12-30", "2024-12-31", "2025-01-15", "2025-02-01", "2025-02-02")],
    )

    held = days_held(client, date(2024, 12, 31), date(2025, 2, 1))

    assert [day for _, day, _ in held] == ["2024-12-31", "2025-01-15", "2025-02-01"]


def test_a_new_read_replaces_the_range_and_drops_ad_days_it_no_longer_holds(client: Any) -> None:
    spend = AdSpendRepository(client, TABLE)
    june = (date(2025, 6, 1), date(2025, 6, 30))
    spend.replace(ACCOUNT, *june, [row("2025-06-10"), row("2025-06-10", ad_id="2"), row("2025-06-11")])
    spend.replace(OTHER, *june, [row("2025-06-10", account=OTHER)])
    spend.replace(ACCOUNT, date(2025, 7, 1), date(2025, 7, 31), [row("2025-07-01")])

    spend.replace(ACCOUNT, date(2025, 6, 10), date(2025, 6, 30), [row("2025-06-10", spend="99.5")])

    assert days_held(client, date(2025, 6, 1), date(2025, 7, 31)) == [
        (ACCOUNT, "2025-06-10", "120226305854810726"),
        (ACCOUNT, "2025-07-01", "120226305854810726"),
        (OTHER, "2025-06-10", "120226305854810726"),
    ]
    june_tenth = [d for d in spend.read(date(2025, 6, 10), date(2025, 6, 10)) if d.account_id == ACCOUNT]
    assert [d.spend for d in june_tenth] == [99.5]


def test_an_empty_read_clears_the_accounts_range(client: Any) -> None:
    spend = AdSpendRepository(client, TABLE)
    spend.replace(
        ACCOUNT, date(2025, 6, 1), date(2025, 6, 30), [row(f"2025-06-{d:02d}") for d in range(1, 31)]
    )

    assert spend.replace(ACCOUNT, date(2025, 6, 1), date(2025, 6, 30), []) == 0
    assert days_held(client, date(2025, 6, 1), date(2025, 6, 30)) == []


def test_an_ad_day_expires_with_the_day_counters_from_its_day(client: Any) -> None:
    retention = Retention(analytics_counter_days=100)
    AdSpendRepository(client, TABLE, retention).replace(
        ACCOUNT, date(2025, 6, 1), date(2025, 6, 30), [row("2025-06-18")]
    )

    [item] = [i for i in store_tables.everything(client) if i["sk"].startswith("DAY#")]

    day_start = int(datetime(2025, 6, 18, tzinfo=UTC).timestamp())
    assert item["expires_at"] == day_start + 100 * 86_400


def test_accounts_never_read_come_first_then_those_read_longest_ago(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spend = AdSpendRepository(client, TABLE)
    june = (date(2025, 6, 1), date(2025, 6, 30))
    for account, at in ((OTHER, 1_750_000_000), (ACCOUNT, 1_750_000_500), ("act_3", 1_749_000_000)):
        monkeypatch.setattr(ad_spend, "time", SimpleNamespace(time=lambda at=at: at))
        spend.replace(account, *june, [])

    order = spend.least_recently_read([ACCOUNT, "act_new", OTHER, "act_3"])

    assert order == ["act_new", "act_3", OTHER, ACCOUNT]


def test_the_last_read_is_recorded_even_when_meta_had_no_rows(client: Any) -> None:
    spend = AdSpendRepository(client, TABLE)

    spend.replace(ACCOUNT, date(2025, 6, 1), date(2025, 6, 30), [])

    assert spend.least_recently_read([ACCOUNT, OTHER]) == [OTHER, ACCOUNT]
    assert all(item["expires_at"] > item["read_at"] for item in store_tables.everything(client))
