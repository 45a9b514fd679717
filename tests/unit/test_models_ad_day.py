"""An insights row as Meta's Marketing API sends it (numbers as strings, dates under date_start) read
into one ad's day."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from wa_conversions.models.ad_day import AdDay

# One row of GET act_<id>/insights?level=ad&time_increment=1 with the fields analytics.insights asks for
# (https://developers.facebook.com/docs/marketing-api/insights): Meta sends numbers as strings and
# repeats the range's end as date_stop.
META_ROW: dict[str, Any] = {
    "ad_id": "120210000000001",
    "ad_name": "Summer sale - carousel",
    "adset_name": "Lookalike 1%",
    "campaign_name": "Summer sale",
    "spend": "12.34",
    "impressions": "4821",
    "clicks": "97",
    "account_currency": "MXN",
    "date_start": "2026-06-18",
    "date_stop": "2026-06-18",
}


def test_a_meta_row_reads_into_numbers_and_names() -> None:
    row = AdDay.model_validate({**META_ROW, "account_id": "1234567890"})
    assert (row.account_id, row.day, row.ad_id) == ("1234567890", "2026-06-18", "120210000000001")
    assert (row.ad_name, row.adset_name, row.campaign_name) == (
        "Summer sale - carousel",
        "Lookalike 1%",
        "Summer sale",
    )
    assert (row.spend, row.impressions, row.clicks, row.currency) == (12.34, 4821, 97, "MXN")


@pytest.mark.parametrize("missing", [None, ""])
def test_a_figure_meta_leaves_empty_or_null_is_zero(missing: str | None) -> None:
    row = AdDay.model_validate(
        {**META_ROW, "account_id": "1", "spend": missing, "impressions": missing, "clicks": missing}
    )
    assert (row.spend, row.impressions, row.clicks) == (0.0, 0, 0)


def test_a_figure_meta_omits_is_zero_and_a_name_omitted_is_none() -> None:
    row = AdDay.model_validate({"account_id": "1", "ad_id": "9", "date_start": "2026-06-18"})
    assert (row.spend, row.impressions, row.clicks) == (0.0, 0, 0)
    assert (row.ad_name, row.adset_name, row.campaign_name, row.currency) == (None, None, None, None)


def test_fields_it_does_not_keep_are_dropped() -> None:
    row = AdDay.model_validate({**META_ROW, "account_id": "1", "reach": "300", "cpm": "2.5"})
    assert set(row.model_dump()) == {
        "account_id",
        "day",
        "ad_id",
        "ad_name",
        "adset_name",
        "campaign_name",
        "spend",
        "impressions",
        "clicks",
        "currency",
    }


@pytest.mark.parametrize("field", ["spend", "impressions", "clicks"])
def test_a_figure_that_is_not_a_number_is_refused_naming_it(field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        AdDay.model_validate({**META_ROW, "account_id": "1", field: "lots"})
    assert [error["loc"] for error in raised.value.errors()] == [(field,)]


@pytest.mark.parametrize("field", ["account_id", "ad_id", "date_start"])
def test_a_row_without_its_keys_is_refused(field: str) -> None:
    row = {**META_ROW, "account_id": "1"}
    del row[field]
    with pytest.raises(ValidationError):
        AdDay.model_validate(row)


def test_a_stored_row_is_not_changed_in_place() -> None:
    row = AdDay.model_validate({**META_ROW, "account_id": "1"})
    with pytest.raises(ValidationError):
        row.spend = 0.0  # type: ignore[misc]
    assert row.spend == 12.34
