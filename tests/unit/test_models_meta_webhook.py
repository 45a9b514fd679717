"""Meta's webhook document read tolerantly (models.meta_webhook), from the docs' sample payloads:
unknown fields dropped, absent ones left absent, and whatever would become a storage key bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from wa_conversions.models.meta_webhook import (
    MAX_EPOCH_SECONDS,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_STORED_DIGITS,
    MESSAGE_DOCUMENT,
    WEBHOOK_DOCUMENT,
    AutomaticEventDoc,
    StatusDoc,
)
from wa_conversions.store import dynamo

PAYLOADS = Path(__file__).resolve().parents[2] / "events" / "payloads"
AUTOMATIC_EVENT: TypeAdapter[AutomaticEventDoc] = TypeAdapter(AutomaticEventDoc)
STATUS: TypeAdapter[StatusDoc] = TypeAdapter(StatusDoc)


def _raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def _event(**fields: Any) -> dict[str, Any]:
    return {"id": "wamid.1", "event_name": "Purchase", "timestamp": 1749069131, **fields}


def test_the_ad_click_sample_keeps_the_click_the_sender_and_the_text() -> None:
    document = WEBHOOK_DOCUMENT.validate_json(_raw("meta_docs_text_message_ctwa_referral.json"))
    value = document["entry"][0]["changes"][0]["value"]
    [message] = value["messages"]
    assert document["object"] == "whatsapp_business_account"
    assert message["from"] == "16505551234"
    assert message["timestamp"] == 1750275992  # Meta sends it as a string
    assert message["text"] == {"body": "Can I get more info about this?"}
    assert message["referral"]["ctwa_clid"].startswith("Aff-n8ZTOD")
    assert value["contacts"][0]["profile"] == {"name": "Sheena Nelson"}
    assert value["metadata"]["phone_number_id"] == "106540352242922"


def test_fields_not_modelled_are_dropped_and_absent_ones_stay_absent() -> None:
    document = WEBHOOK_DOCUMENT.validate_json(_raw("meta_docs_text_message_ctwa_referral.json"))
    value = document["entry"][0]["changes"][0]["value"]
    assert "messaging_product" not in value
    assert "welcome_message" not in value["messages"][0]["referral"]
    assert "image_url" not in value["messages"][0]["referral"]
    assert "statuses" not in value
    assert "user_id" not in value["contacts"][0]


def test_the_status_sample_keeps_the_pricing_category_and_conversation() -> None:
    document = WEBHOOK_DOCUMENT.validate_json(_raw("meta_docs_status_sent_with_pricing.json"))
    [status] = document["entry"][0]["changes"][0]["value"]["statuses"]
    assert status == {
        "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
        "status": "sent",
        "timestamp": 1750030073,
        "recipient_id": "16505551234",
        "conversation": {"id": "72b14d6bd5407799e66f64d1b338e567"},
        "pricing": {"category": "marketing"},
    }


def test_the_automatic_event_sample_keeps_its_custom_data() -> None:
    document = WEBHOOK_DOCUMENT.validate_json(_raw("meta_docs_automatic_events_purchase.json"))
    [event] = document["entry"][0]["changes"][0]["value"]["automatic_events"]
    assert event["event_name"] == "Purchase"
    assert event["custom_data"] == {"currency": "USD", "value": 25000}


def test_the_history_sample_keeps_each_threads_messages_and_their_last_status() -> None:
    document = WEBHOOK_DOCUMENT.validate_json(_raw("meta_docs_history.json"))
    [chunk] = document["entry"][0]["changes"][0]["value"]["history"]
    [thread] = chunk["threads"]
    assert chunk["metadata"] == {"phase": 0, "chunk_order": 1, "progress": 55}
    assert thread["id"] == "16505551234"
    assert [m["history_context"]["status"] for m in thread["messages"]] == ["READ", "READ"]
    assert thread["messages"][1]["to"] == "16505551234"


def test_a_message_without_an_id_or_a_time_fails_validation() -> None:
    with pytest.raises(ValidationError) as raised:
        MESSAGE_DOCUMENT.validate_python({"from": "16505551234", "type": "text"})
    assert {e["loc"] for e in raised.value.errors()} == {("id",), ("timestamp",)}


def test_a_message_from_a_username_without_a_phone_is_valid() -> None:
    message = MESSAGE_DOCUMENT.validate_python(
        {"id": "wamid.1", "from_user_id": "US.1", "timestamp": 1, "type": "text"}
    )
    assert message.get("from") is None
    assert message["from_user_id"] == "US.1"


def test_an_unknown_message_type_is_still_read() -> None:
    message = MESSAGE_DOCUMENT.validate_python({"id": "wamid.1", "timestamp": 1, "type": "hologram"})
    assert message["type"] == "hologram"


def test_an_id_is_taken_up_to_the_key_bound_and_refused_beyond_it() -> None:
    longest = "w" * MAX_ID_LENGTH
    assert MESSAGE_DOCUMENT.validate_python({"id": longest, "timestamp": 1})["id"] == longest
    with pytest.raises(ValidationError) as raised:
        MESSAGE_DOCUMENT.validate_python({"id": longest + "w", "timestamp": 1})
    assert raised.value.errors()[0]["loc"] == ("id",)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from", "1" * (MAX_ID_LENGTH + 1)),
        ("type", "t" * (MAX_NAME_LENGTH + 1)),
        ("referral", {"ctwa_clid": "c" * (MAX_ID_LENGTH + 1)}),
        ("system", {"new_wa_id": "1" * (MAX_ID_LENGTH + 1)}),
    ],
)
def test_a_value_that_would_overflow_a_storage_key_fails_validation(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        MESSAGE_DOCUMENT.validate_python({"id": "wamid.1", "timestamp": 1, field: value})
    assert raised.value.errors()[0]["loc"][0] == field


def test_a_status_name_too_long_for_an_idempotency_key_fails_validation() -> None:
    status = {"id": "wamid.1", "timestamp": 1, "status": "s" * MAX_NAME_LENGTH}
    assert STATUS.validate_python(status)["status"] == "s" * MAX_NAME_LENGTH
    with pytest.raises(ValidationError):
        STATUS.validate_python({**status, "status": "s" * (MAX_NAME_LENGTH + 1)})


def test_the_latest_timestamp_is_the_last_second_an_iso_date_can_write() -> None:
    assert datetime.fromtimestamp(MAX_EPOCH_SECONDS, UTC) == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert MESSAGE_DOCUMENT.validate_python({"id": "a", "timestamp": MAX_EPOCH_SECONDS})["timestamp"] == (
        MAX_EPOCH_SECONDS
    )


@pytest.mark.parametrize("timestamp", [-1, MAX_EPOCH_SECONDS + 1, "soon", 1.5])
def test_a_timestamp_that_cannot_be_written_as_a_date_fails_validation(timestamp: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        MESSAGE_DOCUMENT.validate_python({"id": "wamid.1", "timestamp": timestamp})
    assert raised.value.errors()[0]["loc"] == ("timestamp",)


@pytest.mark.parametrize("code", [-(2**63), 131026, 2**63 - 1])
def test_an_error_code_within_64_bits_is_kept(code: int) -> None:
    status = STATUS.validate_python({"id": "a", "timestamp": 1, "errors": [{"code": code}]})
    assert status["errors"][0]["code"] == code


@pytest.mark.parametrize("code", [2**63, -(2**63) - 1])
def test_an_error_code_beyond_64_bits_fails_validation(code: int) -> None:
    with pytest.raises(ValidationError):
        STATUS.validate_python({"id": "a", "timestamp": 1, "errors": [{"code": code}]})


def test_custom_data_with_numbers_dynamodb_can_hold_is_kept_as_sent() -> None:
    data = {"value": 10**MAX_STORED_DIGITS - 1, "items": [{"price": 12.5, "gift": True, "note": None}]}
    assert AUTOMATIC_EVENT.validate_python(_event(custom_data=data))["custom_data"] == data


@pytest.mark.parametrize(
    "data",
    [
        {"value": 10**MAX_STORED_DIGITS},
        {"value": -(10**MAX_STORED_DIGITS)},
        {"items": [{"deep": [{"value": 10**MAX_STORED_DIGITS}]}]},
    ],
)
def test_custom_data_with_a_number_of_more_than_38_digits_fails_validation(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="more than 38 digits"):
        AUTOMATIC_EVENT.validate_python(_event(custom_data=data))


@pytest.mark.parametrize(
    "data",
    [{"value": float("inf")}, {"value": float("-inf")}, {"items": [{"value": float("nan")}]}],
)
def test_custom_data_with_a_number_that_is_not_finite_fails_validation(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="not finite"):
        AUTOMATIC_EVENT.validate_python(_event(custom_data=data))


@pytest.mark.parametrize("value", [1e126, -1e126, 1e200, 1.7976931348623157e308, 1e-131, -1e-200, 5e-324])
def test_custom_data_with_a_number_beyond_dynamodbs_range_fails_validation(value: float) -> None:
    # Beyond DynamoDB's number range the write would fail on every redelivery.
    with pytest.raises(ValidationError, match="DynamoDB's range"):
        AUTOMATIC_EVENT.validate_python(_event(custom_data={"items": [{"value": value}]}))


@pytest.mark.parametrize("value", [9.99999999999999e125, -9.9e125, 1e-130, -1e-130, 0.0, -0.0, 10**38 - 1])
def test_custom_data_at_the_edges_of_dynamodbs_range_is_kept_and_stored(value: float) -> None:
    event = AUTOMATIC_EVENT.validate_python(_event(custom_data={"value": value}))

    stored = dynamo.serialize(event["custom_data"])

    assert Decimal(stored["M"]["value"]["N"]) == Decimal(str(value))


def test_an_automatic_event_needs_its_name() -> None:
    with pytest.raises(ValidationError) as raised:
        AUTOMATIC_EVENT.validate_python({"id": "wamid.1", "timestamp": 1})
    assert [e["loc"] for e in raised.value.errors()] == [("event_name",)]


def test_a_document_without_entries_or_an_entry_without_an_id_fails_validation() -> None:
    with pytest.raises(ValidationError):
        WEBHOOK_DOCUMENT.validate_json(json.dumps({"object": "whatsapp_business_account"}))
    with pytest.raises(ValidationError) as raised:
        WEBHOOK_DOCUMENT.validate_json(json.dumps({"object": "x", "entry": [{"changes": []}]}))
    assert raised.value.errors()[0]["loc"] == ("entry", 0, "id")
