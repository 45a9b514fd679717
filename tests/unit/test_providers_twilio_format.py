"""Which of Twilio's webhooks a parameter set is (providers.twilio_format), on the documented samples."""

from __future__ import annotations

import pytest

from tests.support import twilio as tw
from wa_conversions.providers.twilio_format import webhook_kind

FAILED_SAMPLE = "twilio_constructed_status_failed.json"


@pytest.mark.parametrize(
    ("sample", "kind"),
    [(tw.INBOUND_SAMPLE, "message"), (tw.STATUS_SAMPLE, "status"), (FAILED_SAMPLE, "status")],
)
def test_the_samples_are_told_apart(sample: str, kind: str) -> None:
    assert webhook_kind(tw.params(sample)) == kind


def test_a_status_callback_names_the_business_in_from_and_is_still_a_status() -> None:
    # A callback carries From (the business's number) too: only its status tells it from a message.
    params = tw.params(tw.STATUS_SAMPLE)
    assert params["From"]
    assert webhook_kind(params) == "status"


@pytest.mark.parametrize("status", ["received", "RECEIVING", "Received"])
def test_an_incoming_message_s_own_status_keeps_it_a_message_in_any_case(status: str) -> None:
    params = tw.params(tw.INBOUND_SAMPLE, SmsStatus=status)
    assert webhook_kind(params) == "message"


def test_the_older_sms_names_of_the_sid_and_status_are_read() -> None:
    params = {"SmsSid": "SM1", "SmsStatus": "delivered"}
    assert webhook_kind(params) == "status"
    assert webhook_kind({"SmsSid": "SM1", "From": "whatsapp:+14155238886"}) == "message"


def test_message_status_wins_over_the_sms_status() -> None:
    params = {"MessageSid": "SM1", "MessageStatus": "read", "SmsStatus": "received", "From": "x"}
    assert webhook_kind(params) == "status"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"Body": "hello", "From": "whatsapp:+14155238886"},  # no sid
        {"MessageSid": "", "MessageStatus": "read"},
        {"MessageSid": "SM1"},  # neither a sender nor a status
        {"MessageSid": "SM1", "SmsStatus": "received"},  # an incoming message without its sender
    ],
)
def test_what_is_neither_is_none(params: dict[str, str]) -> None:
    assert webhook_kind(params) is None
