"""forwarding.requests: POST /conversions' body (SendWhatsAppConversionRequest, docs/forwarding.md),
who it is for and what it must carry, and the 422 each mistake is answered with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from wa_conversions.errors import UnprocessableError
from wa_conversions.forwarding.requests import SendConversionRequest, parse_send_request

WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUNCMjVGNkE5QkJGQkQ5OTEwMgA="


def body(**fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"accountId": "acct-7", "eventName": "LeadSubmitted", "eventId": "lead-42"}
    found.update(fields)
    return {key: value for key, value in found.items() if value is not None}


def problem(document: Any) -> UnprocessableError:
    with pytest.raises(UnprocessableError) as raised:
        parse_send_request(document)
    return raised.value


def test_a_conversation_id_alone_names_who_the_event_is_for() -> None:
    request = parse_send_request(body(conversationId=WAMID))

    assert request.conversation_id == WAMID
    assert request.phone_e164 is None
    assert (request.account_id, request.event_name, request.event_id) == (
        "acct-7",
        "LeadSubmitted",
        "lead-42",
    )
    assert request.content_ids == [] and request.event_time is None


@pytest.mark.parametrize("phone", ["+1 (650) 555-1234", "+16505551234", " 16505551234 ", "1-650-555-1234"])
def test_a_phone_in_any_notation_becomes_its_digits(phone: str) -> None:
    assert parse_send_request(body(phoneE164=phone)).phone_e164 == "16505551234"


@pytest.mark.parametrize("phone", ["call me", "+1234567890123456"])
def test_a_phone_without_digits_or_longer_than_e164_is_refused(phone: str) -> None:
    error = problem(body(phoneE164=phone))

    assert error.status_code == 422
    assert error.field == "phoneE164"
    assert "phone number's digits with country code" in error.message


@pytest.mark.parametrize("phone", [None, "", "   "])
def test_without_a_conversation_or_a_phone_the_refusal_names_conversation_id(phone: str | None) -> None:
    error = problem(body(phoneE164=phone))

    assert error.field == "conversationId"
    assert error.message == "conversationId or phoneE164 is required"


@pytest.mark.parametrize("event", ["Purchase", "OrderCreated", "OrderShipped"])
def test_events_meta_values_need_value_and_currency_and_the_refusal_names_value(event: str) -> None:
    assert problem(body(eventName=event, phoneE164="16505551234", value=10)).field == "value"
    assert problem(body(eventName=event, phoneE164="16505551234", currency="USD")).message == (
        f"{event} needs value and currency"
    )
    accepted = parse_send_request(body(eventName=event, phoneE164="16505551234", value=0, currency="usd"))
    assert (accepted.value, accepted.currency) == (Decimal("0"), "USD")


def test_a_name_meta_does_not_list_is_refused_with_the_allowed_ones() -> None:
    error = problem(body(eventName="Signup", phoneE164="16505551234"))

    assert error.field == "eventName"
    assert "must be one of" in error.message and "LeadSubmitted" in error.message


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"accountId": ""}, "accountId"),
        ({"eventId": "x" * 501}, "eventId"),
        ({"conversationId": "w" * 501}, "conversationId"),
        ({"contentIds": ["sku"] * 101}, "contentIds"),
        ({"contentIds": ["s" * 201]}, "contentIds.0"),
        ({"email": "a" * 321}, "email"),
        ({"eventTime": 0}, "eventTime"),
    ],
)
def test_fields_beyond_their_bounds_are_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    assert problem(body(phoneE164="16505551234", **fields)).field == field


@pytest.mark.parametrize("document", [None, [], "text", 42])
def test_a_body_that_is_not_an_object_is_refused_as_missing_fields(document: Any) -> None:
    error = problem(document)

    assert error.status_code == 422
    assert error.field == "accountId"


def test_unknown_fields_are_ignored_and_text_is_trimmed() -> None:
    request = parse_send_request(
        body(accountId="  acct-7 ", eventId=" lead-42\n", phoneE164="16505551234", platform="ios")
    )

    assert (request.account_id, request.event_id) == ("acct-7", "lead-42")
    assert "platform" not in request.model_dump()


def test_the_model_takes_its_python_names_too() -> None:
    request = SendConversionRequest.model_validate(
        {
            "account_id": "acct-7",
            "event_name": "QualifiedLead",
            "event_id": "q-1",
            "phone_e164": "+44 7700 900123",
            "test_code": "TEST123",
        }
    )

    assert request.phone_e164 == "447700900123"
    assert request.test_code == "TEST123"
    with pytest.raises(ValidationError):
        SendConversionRequest.model_validate({"account_id": "acct-7", "event_name": "QualifiedLead"})
