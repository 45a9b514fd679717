"""Twilio's WhatsApp webhooks as queued (models.twilio_webhook), from the constructed samples in
events/payloads/: parameters read by their documented names, unknown ones ignored, keys bounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from wa_conversions.models.meta_webhook import MAX_EPOCH_SECONDS, MAX_ID_LENGTH, MAX_NAME_LENGTH
from wa_conversions.models.twilio_webhook import Params, QueuedWebhook

PAYLOADS = Path(__file__).resolve().parents[2] / "events" / "payloads"
RECEIVED_AT = 1_750_276_200


def _queued(name: str) -> str:
    params = json.loads((PAYLOADS / name).read_text())
    return json.dumps({"received_at": RECEIVED_AT, "params": params})


def test_the_inbound_ad_click_sample_is_read_by_its_documented_names() -> None:
    queued = QueuedWebhook.model_validate_json(_queued("twilio_constructed_inbound_ctwa_referral.json"))
    params = queued.params
    assert queued.received_at == RECEIVED_AT
    assert params.message_sid == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    assert params.from_ == "whatsapp:+14155238886"
    assert params.to == "whatsapp:+15005550006"
    assert params.body == "Hi! I saw your ad"
    assert params.profile_name == "Twilio Tester"
    assert params.wa_id == "14155238886"
    assert params.num_media == "0"
    assert params.referral_ctwa_clid is not None
    assert params.referral_ctwa_clid.startswith("ARAkLkA8")
    assert params.referral_source_id == "120212345678900001"
    assert params.referral_source_type == "ad"
    assert params.referral_headline == "Spring sale"
    assert params.referral_media_content_type == "image/jpeg"
    assert params.message_status is None


@pytest.mark.parametrize(
    ("sample", "status", "error_code"),
    [
        ("twilio_constructed_status_read.json", "read", None),
        ("twilio_constructed_status_failed.json", "undelivered", "63016"),
    ],
)
def test_a_status_callback_sample_carries_its_status_and_error(
    sample: str, status: str, error_code: str | None
) -> None:
    params = QueuedWebhook.model_validate_json(_queued(sample)).params
    assert params.message_status == status
    assert params.sms_status == status
    assert params.error_code == error_code
    assert params.body is None


def test_parameters_twilio_adds_without_notice_are_ignored() -> None:
    params = Params.model_validate({"MessageSid": "SM1", "ChannelInstallSid": "XE1", "Brand": "new"})
    assert params == Params.model_validate({"MessageSid": "SM1"})


def test_the_deprecated_sms_sid_is_read_beside_the_message_sid() -> None:
    params = Params.model_validate({"SmsSid": "SM2"})
    assert (params.message_sid, params.sms_sid) == (None, "SM2")


def test_a_sid_or_number_too_long_for_a_storage_key_fails_validation() -> None:
    assert Params.model_validate({"MessageSid": "S" * MAX_ID_LENGTH}).message_sid == "S" * MAX_ID_LENGTH
    for name in ("MessageSid", "From", "MessageStatus", "ReferralCtwaClid"):
        with pytest.raises(ValidationError) as raised:
            Params.model_validate({name: "x" * (MAX_ID_LENGTH + 1)})
        assert raised.value.errors()[0]["loc"] == (name,)


def test_a_profile_name_is_bounded_as_a_name() -> None:
    with pytest.raises(ValidationError):
        Params.model_validate({"ProfileName": "n" * (MAX_NAME_LENGTH + 1)})


def test_the_body_is_free_text_of_any_length() -> None:
    body = "long message " * 200
    assert Params.model_validate({"Body": body}).body == body


def test_a_queued_webhook_must_say_when_it_arrived() -> None:
    with pytest.raises(ValidationError) as raised:
        QueuedWebhook.model_validate({"params": {"MessageSid": "SM1"}})
    assert [e["loc"] for e in raised.value.errors()] == [("received_at",)]


@pytest.mark.parametrize("received_at", [-1, MAX_EPOCH_SECONDS + 1, "yesterday"])
def test_an_arrival_time_that_cannot_be_a_date_fails_validation(received_at: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        QueuedWebhook.model_validate({"received_at": received_at, "params": {}})
    assert raised.value.errors()[0]["loc"] == ("received_at",)


def test_fields_may_be_given_by_their_python_names_too() -> None:
    params = Params(message_sid="SM1", from_="whatsapp:+1415")
    assert params == Params.model_validate({"MessageSid": "SM1", "From": "whatsapp:+1415"})


def test_a_read_webhook_cannot_be_changed_afterwards() -> None:
    params = Params.model_validate({"MessageSid": "SM1"})
    with pytest.raises(ValidationError):
        params.message_sid = "SM2"  # type: ignore[misc]
