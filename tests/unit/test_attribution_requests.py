"""attribution.requests: POST /external-events' body as 360dialog sends it (nested or flat), trimmed,
with its time read in UTC and refused when it cannot have happened, each refusal naming its field."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from wa_conversions.attribution.requests import FUTURE_TOLERANCE_SECONDS, ExternalEventRequest

BOOKING: dict[str, Any] = {
    "lead_phone": " +52 1 55 1234 5678 ",
    "action": " Booked a test drive ",
    "revenue": {"amount": 80, "currency": "mxn"},
    "app_id": "5215500000000",
}


def refused_field(body: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        ExternalEventRequest.from_body(body)
    return ".".join(str(part) for part in refused.value.errors()[0]["loc"])


def test_360dialogs_nested_form_and_the_flat_form_read_the_same() -> None:
    nested = ExternalEventRequest.from_body({"external_event": BOOKING})
    flat = ExternalEventRequest.from_body(BOOKING)

    assert nested == flat
    assert (flat.lead_phone, flat.action, flat.app_id) == (
        "+52 1 55 1234 5678",
        "Booked a test drive",
        "5215500000000",
    )
    assert flat.revenue is not None
    assert (flat.revenue.amount, flat.revenue.currency) == (Decimal("80"), "MXN")


def test_fields_360dialog_adds_are_ignored() -> None:
    request = ExternalEventRequest.from_body({**BOOKING, "lead_name": "Ana", "channel": "whatsapp"})
    assert "lead_name" not in request.model_dump()


def test_a_nested_event_that_is_not_an_object_leaves_the_flat_fields() -> None:
    request = ExternalEventRequest.from_body(
        {"lead_phone": "+16505551234", "action": "Visited", "external_event": "x"}
    )
    assert (request.lead_phone, request.action) == ("+16505551234", "Visited")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BOOKING, "lead_phone": "   "}, "lead_phone"),
        ({**BOOKING, "action": "\t"}, "action"),
        ({**BOOKING, "lead_phone": "1" * 41}, "lead_phone"),
        ({**BOOKING, "action": "x" * 201}, "action"),
        ({**BOOKING, "app_id": "9" * 101}, "app_id"),
        ({**BOOKING, "previous_external_event_id": ""}, "previous_external_event_id"),
        ({**BOOKING, "revenue": {"amount": 80, "currency": "MXN", "tax": 12}}, "revenue.tax"),
        ({**BOOKING, "occurred_at": "yesterday"}, "occurred_at"),
    ],
)
def test_a_field_that_cannot_be_used_is_refused_by_name(body: dict[str, Any], field: str) -> None:
    assert refused_field(body) == field


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert refused_field(["+16505551234", "Booked"]) == ""


def test_a_time_without_a_zone_is_read_as_utc() -> None:
    request = ExternalEventRequest.from_body({**BOOKING, "occurred_at": "2025-06-15T15:06:40"})
    assert request.occurred_at == datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)


def test_a_time_with_a_zone_keeps_its_moment() -> None:
    request = ExternalEventRequest.from_body({**BOOKING, "occurred_at": "2025-06-15T10:06:40-05:00"})
    assert request.occurred_at is not None
    assert int(request.occurred_at.timestamp()) == 1_750_000_000


def test_a_clock_a_little_ahead_is_tolerated_and_one_a_day_ahead_is_not() -> None:
    soon = time.time() + 3600
    request = ExternalEventRequest.from_body({**BOOKING, "occurred_at": soon})
    assert request.occurred_at is not None and int(request.occurred_at.timestamp()) == int(soon)
    assert (
        refused_field({**BOOKING, "occurred_at": time.time() + FUTURE_TOLERANCE_SECONDS + 600})
        == "occurred_at"
    )


def test_the_epoch_itself_is_a_possible_time() -> None:
    request = ExternalEventRequest.from_body({**BOOKING, "occurred_at": "1970-01-01T00:00:00Z"})
    assert request.occurred_at is not None and request.occurred_at.timestamp() == 0


def test_the_json_form_used_for_idempotency_is_the_validated_content() -> None:
    # The same request spelt differently (nested, untrimmed, lower-case currency) dumps the same.
    tidy = {"lead_phone": "+52 1 55 1234 5678", "action": "Booked a test drive", "app_id": "5215500000000"}
    spelt = ExternalEventRequest.from_body({"external_event": BOOKING}).model_dump(mode="json")
    assert spelt == ExternalEventRequest.from_body(
        {**tidy, "revenue": {"currency": "MXN", "amount": 80}}
    ).model_dump(mode="json")
