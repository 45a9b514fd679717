"""attribution.domain: the stored form of an attribution (as_record) and reading it back (from_record),
including the shapes DynamoDB gives back and the records stored before newer fields existed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from wa_conversions.attribution.domain import (
    EMAIL,
    LINK_TOKEN,
    Attribution,
    AttributionStatus,
    UnmatchedReason,
)

CLICKED = Attribution(
    AttributionStatus.ATTRIBUTED,
    None,
    "5215512345678",
    ctwa_clid="ARAkLkA8rmlF",
    source_id="120226305854810726",
    clicked_at=1_750_000_000,
    referral_message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQ",
    model=LINK_TOKEN,
    keys_tried=(("token", "matched"),),
)


def test_the_record_names_every_field_with_plain_values() -> None:
    assert CLICKED.as_record() == {
        "status": "attributed",
        "model": "link_token",
        "reason": None,
        "contact_key": "5215512345678",
        "ctwa_clid": "ARAkLkA8rmlF",
        "source_id": "120226305854810726",
        "clicked_at": 1_750_000_000,
        "referral_message_id": "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQ",
        "keys_tried": [{"key": "token", "outcome": "matched"}],
    }


def test_an_unmatched_attribution_records_its_reason_and_no_keys_as_null() -> None:
    record = Attribution(AttributionStatus.UNATTRIBUTED, UnmatchedReason.UNKNOWN_SHOP, None).as_record()

    assert (record["status"], record["reason"], record["model"]) == (
        "unattributed",
        "unknown_shop",
        "last_touch",
    )
    assert record["keys_tried"] is None


@pytest.mark.parametrize(
    "attribution",
    [
        CLICKED,
        Attribution(
            AttributionStatus.WHATSAPP_INFLUENCED,
            UnmatchedReason.OUTSIDE_WINDOW,
            "uid:US.13491208655302741918",
            model=EMAIL,
            keys_tried=(("token", "not_in_order"), ("phone", "no_contact"), ("email", "matched")),
        ),
        Attribution(AttributionStatus.UNATTRIBUTED, UnmatchedReason.NO_PHONE, None),
    ],
)
def test_a_record_reads_back_as_the_same_attribution(attribution: Attribution) -> None:
    assert Attribution.from_record(attribution.as_record()) == attribution


def test_a_record_as_dynamodb_returns_it_reads_back_with_an_integer_click_time() -> None:
    # The store drops the null fields and gives numbers back as Decimal.
    stored = {k: v for k, v in CLICKED.as_record().items() if v is not None}
    stored["clicked_at"] = Decimal("1750000000")

    found = Attribution.from_record(stored)

    assert found == CLICKED
    assert isinstance(found.clicked_at, int)


def test_a_record_from_before_models_and_keys_were_stored_reads_as_last_touch() -> None:
    legacy: dict[str, Any] = {
        "status": "whatsapp_influenced",
        "reason": "no_referral",
        "contact_key": "16505551234",
    }

    found = Attribution.from_record(legacy)

    assert found == Attribution(
        AttributionStatus.WHATSAPP_INFLUENCED, UnmatchedReason.NO_REFERRAL, "16505551234"
    )
    assert found.model == "last_touch"
    assert found.keys_tried == ()


def test_keys_tried_entries_that_are_not_objects_are_passed_over() -> None:
    record: dict[str, Any] = {
        "status": "unattributed",
        "keys_tried": ["phone", {"key": "phone", "outcome": "no_contact"}, None],
    }

    assert Attribution.from_record(record).keys_tried == (("phone", "no_contact"),)


@pytest.mark.parametrize(
    ("record", "error"),
    [
        ({"status": "maybe"}, ValueError),
        ({"status": "attributed", "reason": "bad_luck"}, ValueError),
        ({}, KeyError),
    ],
)
def test_a_record_with_an_unknown_status_or_reason_is_refused(
    record: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Attribution.from_record(record)
