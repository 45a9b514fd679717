"""CM.com's webhooks read tolerantly (models.cm_webhook): the MO message and the status report, from
the constructed samples in events/payloads/, with unknown fields ignored and storage keys bounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from wa_conversions.models.cm_webhook import (
    Content,
    InboundMessage,
    Party,
    StatusCode,
    StatusReport,
    StatusReportWebhook,
)
from wa_conversions.models.meta_webhook import MAX_ID_LENGTH, MAX_NAME_LENGTH

PAYLOADS = Path(__file__).resolve().parents[2] / "events" / "payloads"


def _sample(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())


def test_the_text_sample_is_read_with_sender_recipient_and_reference() -> None:
    message = InboundMessage.model_validate(_sample("cm_constructed_mo_text.json"))
    assert message.from_.number == "+316012345678"
    assert message.from_.name == "Demo"
    assert message.to is not None
    assert message.to.number == "0031612345678"
    assert message.message.text == "Hi! Do you ship to Utrecht?"
    assert message.reference == "2f2d42ac-3809-40fb-bce5-dc720e400000"
    assert message.time_utc == "2025-06-18T19:46:32"
    assert message.channel == "WhatsApp"
    assert message.groupings == ["", "", ""]
    assert message.raw_payload is None


def test_the_raw_payload_sample_keeps_the_providers_original_message_untouched() -> None:
    sample = _sample("cm_constructed_mo_raw_referral.json")
    message = InboundMessage.model_validate(sample)
    assert message.raw_payload == sample["rawPayload"]
    assert message.raw_payload["referral"]["ctwa_clid"].startswith("Aff-n8ZTOD")


@pytest.mark.parametrize("key", ["rawPayload", "raw_payload", "rawMessage", "raw"])
def test_the_raw_payload_is_found_under_each_name_it_may_arrive_under(key: str) -> None:
    message = InboundMessage.model_validate({"from": {"number": "+31601"}, key: {"id": "wamid.1"}})
    assert message.raw_payload == {"id": "wamid.1"}


def test_only_the_sender_is_required_of_an_inbound_message() -> None:
    message = InboundMessage.model_validate({"from": {}})
    assert message.from_.number is None
    assert message.message == Content()
    with pytest.raises(ValidationError) as raised:
        InboundMessage.model_validate({"to": {"number": "+31601"}, "message": {"text": "hi"}})
    assert [e["loc"] for e in raised.value.errors()] == [("from",)]


def test_fields_cm_adds_without_notice_are_ignored_not_rejected() -> None:
    sample = _sample("cm_constructed_mo_text.json")
    sample["brandNew"] = {"x": 1}
    sample["from"]["avatar"] = "https://cm.example/a.png"
    sample["message"]["reaction"] = {"emoji": "+1"}
    assert InboundMessage.model_validate(sample) == InboundMessage.model_validate(
        _sample("cm_constructed_mo_text.json")
    )


def test_a_business_scoped_user_is_read_without_a_number() -> None:
    party = Party.model_validate({"userId": "US.1234", "parentUserId": "US.99", "username": "@shopper"})
    assert (party.number, party.user_id, party.parent_user_id, party.username) == (
        None,
        "US.1234",
        "US.99",
        "@shopper",
    )


def test_a_number_or_user_id_too_long_for_a_storage_key_fails_validation() -> None:
    assert Party.model_validate({"number": "1" * MAX_ID_LENGTH}).number == "1" * MAX_ID_LENGTH
    with pytest.raises(ValidationError):
        Party.model_validate({"number": "1" * (MAX_ID_LENGTH + 1)})
    with pytest.raises(ValidationError):
        Party.model_validate({"userId": "U" * (MAX_ID_LENGTH + 1)})
    with pytest.raises(ValidationError):
        Party.model_validate({"username": "u" * (MAX_NAME_LENGTH + 1)})


@pytest.mark.parametrize("key", ["contacts", "contact"])
def test_shared_contacts_are_read_under_either_name(key: str) -> None:
    content = Content.model_validate({key: [{"name": {"formattedName": "Ann"}}]})
    assert content.contacts == [{"name": {"formattedName": "Ann"}}]


def test_media_is_read_by_its_documented_names() -> None:
    content = Content.model_validate(
        {"media": {"mediaName": "a.jpg", "mediaUri": "https://cm.example/a.jpg", "mimeType": "image/jpeg"}}
    )
    assert content.media is not None
    assert content.media.media_uri == "https://cm.example/a.jpg"
    assert content.media.mime_type == "image/jpeg"


@pytest.mark.parametrize("media", ["https://cm.example/a.jpg", ["a"], 3])
def test_media_that_is_not_an_object_is_dropped_rather_than_failing_the_message(media: Any) -> None:
    content = Content.model_validate({"text": "look", "media": media})
    assert content.media is None
    assert content.text == "look"


def test_a_parsed_message_cannot_be_changed_afterwards() -> None:
    message = InboundMessage.model_validate(_sample("cm_constructed_mo_text.json"))
    with pytest.raises(ValidationError):
        message.reference = "other"  # type: ignore[misc]


def test_the_delivered_status_sample_is_read_as_one_report() -> None:
    webhook = StatusReportWebhook.model_validate(_sample("cm_constructed_status_report_delivered.json"))
    [report] = webhook.messages.msg
    assert report.reference == "order-1001-confirmation"
    assert report.to == "00316012345678"
    assert report.received == "2025-06-18T19:47:10"
    assert report.status.code == "2"
    assert report.status.error_description == "Delivered"


def test_a_batch_of_reports_keeps_every_report_in_order() -> None:
    webhook = StatusReportWebhook.model_validate(
        {"messages": {"msg": [{"reference": "a", "status": {"code": 2}}, {"reference": "b"}]}}
    )
    assert [r.reference for r in webhook.messages.msg] == ["a", "b"]
    assert webhook.messages.msg[1].status == StatusCode()


def test_numeric_status_and_error_codes_are_read_as_text() -> None:
    code = StatusCode.model_validate({"code": 3, "errorCode": 5, "errorDescription": "Rejected"})
    assert (code.code, code.error_code) == ("3", "5")


def test_a_number_sent_as_a_json_number_is_kept_as_its_digits() -> None:
    report = StatusReport.model_validate({"reference": "r1", "to": 316012345678})
    assert report.to == "316012345678"


def test_a_status_report_needs_a_bounded_reference() -> None:
    with pytest.raises(ValidationError) as raised:
        StatusReport.model_validate({"to": "0031601"})
    assert [e["loc"] for e in raised.value.errors()] == [("reference",)]
    with pytest.raises(ValidationError):
        StatusReport.model_validate({"reference": "r" * (MAX_ID_LENGTH + 1)})


def test_a_status_code_too_long_for_an_idempotency_key_fails_validation() -> None:
    with pytest.raises(ValidationError):
        StatusCode.model_validate({"code": "9" * (MAX_NAME_LENGTH + 1)})
