"""What the operator APIs take and answer (models.api): the consent request is read strictly, the
views name every field a client relies on, and the error body carries the documented codes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from wa_conversions.models.api import (
    CaptureBatch,
    ConsentRequest,
    ContactView,
    ErrorBody,
    MessageCounts,
    MessageView,
    ReferralView,
)


@pytest.mark.parametrize("ads", [True, False])
def test_a_consent_request_takes_a_json_boolean(ads: bool) -> None:
    request = ConsentRequest.model_validate_json(f'{{"ads": {"true" if ads else "false"}}}')
    assert request.ads is ads


@pytest.mark.parametrize(
    "body",
    ['{"ads": "true"}', '{"ads": 1}', '{"ads": 0}', '{"ads": null}', '{"ads": "yes"}'],
)
def test_a_consent_request_refuses_anything_that_only_looks_like_a_boolean(body: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ConsentRequest.model_validate_json(body)
    assert raised.value.errors()[0]["loc"] == ("ads",)


def test_a_consent_request_without_ads_names_the_missing_field() -> None:
    with pytest.raises(ValidationError) as raised:
        ConsentRequest.model_validate({})
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [(("ads",), "missing")]


def test_a_consent_request_refuses_an_unknown_field_rather_than_ignoring_it() -> None:
    with pytest.raises(ValidationError) as raised:
        ConsentRequest.model_validate({"ads": True, "email": False})
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [(("email",), "extra_forbidden")]


def test_an_error_body_names_the_field_at_fault_only_when_there_is_one() -> None:
    general = ErrorBody(error="unauthorized", message="No token")
    specific = ErrorBody(error="validation_error", message="Not a boolean", field="ads")
    assert general.model_dump() == {"error": "unauthorized", "message": "No token", "field": None}
    assert specific.model_dump()["field"] == "ads"


def test_an_error_body_requires_a_code_and_a_message() -> None:
    with pytest.raises(ValidationError) as raised:
        ErrorBody.model_validate({"field": "ads"})
    assert {e["loc"] for e in raised.value.errors()} == {("error",), ("message",)}


def test_the_documented_schemas_describe_the_error_codes_and_the_batch_items() -> None:
    error_schema = ErrorBody.model_json_schema()
    batch_schema = CaptureBatch.model_json_schema()
    assert set(error_schema["required"]) == {"error", "message"}
    assert "bad_request" in error_schema["properties"]["error"]["description"]
    assert batch_schema["required"] == ["batch"]
    assert "1 to 100" in batch_schema["properties"]["batch"]["description"]


def test_a_capture_batch_takes_any_items_so_each_can_be_judged_on_its_own() -> None:
    batch = CaptureBatch.model_validate({"batch": [{"type": "track", "event": "Viewed"}, "junk", 3]})
    assert batch.batch == [{"type": "track", "event": "Viewed"}, "junk", 3]
    with pytest.raises(ValidationError):
        CaptureBatch.model_validate({"batch": {"type": "track"}})


def _referral() -> ReferralView:
    return ReferralView(
        ctwa_clid="Aff-click",
        source_id="120226305854810726",
        source_type="ad",
        source_url="https://fb.me/3cr4Wqqkv",
        headline="Chat with us",
        message_id="wamid.1",
        received_at="2025-06-18T19:46:32Z",
    )


def test_a_contact_view_defaults_to_not_blocked_and_consent_never_given() -> None:
    view = ContactView(
        phone="16505551234",
        user_id=None,
        name="Sheena Nelson",
        first_seen_at="2025-06-18T19:46:32Z",
        last_inbound_at="2025-06-18T19:46:32Z",
        referrals=[_referral()],
        messages=MessageCounts(inbound=2, outbound=1),
    )
    dumped = view.model_dump(mode="json")
    assert dumped["blocked"] is False
    assert dumped["blocked_at"] is None
    assert dumped["ads_consent"] is None
    assert dumped["phone_source"] is None
    assert dumped["messages"] == {"inbound": 2, "outbound": 1}
    assert dumped["referrals"][0]["ctwa_clid"] == "Aff-click"
    assert dumped["referrals"][0]["body"] is None


def test_a_contact_view_must_say_who_and_when_even_when_unknown() -> None:
    with pytest.raises(ValidationError) as raised:
        ContactView.model_validate({"referrals": [], "messages": {"inbound": 0, "outbound": 0}})
    missing = {e["loc"][0] for e in raised.value.errors() if e["type"] == "missing"}
    assert missing == {"phone", "user_id", "name", "first_seen_at", "last_inbound_at"}


def test_a_message_count_is_a_number_not_free_text() -> None:
    with pytest.raises(ValidationError):
        MessageCounts.model_validate({"inbound": "many", "outbound": 0})


def test_a_message_view_carries_its_statuses_and_errors_and_must_name_the_contact() -> None:
    view = MessageView.model_validate(
        {
            "id": "wamid.2",
            "direction": "outbound",
            "contact": "16505551234",
            "type": "template",
            "status": "failed",
            "statuses": {"sent": "2025-06-18T19:47:00Z", "failed": "2025-06-18T19:47:10Z"},
            "errors": [{"code": 131026, "title": "Message undeliverable"}],
        }
    )
    assert view.errors[0].code == 131026
    assert view.errors[0].details is None
    assert view.statuses["failed"] == "2025-06-18T19:47:10Z"
    assert view.read_requested_at is None
    assert MessageView.model_validate({**view.model_dump(), "contact": None}).contact is None
    without_contact = view.model_dump()
    del without_contact["contact"]
    with pytest.raises(ValidationError) as raised:
        MessageView.model_validate(without_contact)
    assert [e["loc"] for e in raised.value.errors()] == [("contact",)]
