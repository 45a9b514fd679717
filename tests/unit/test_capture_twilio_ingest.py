"""Acknowledging a Twilio webhook (capture.twilio_ingest): the edges test_twilio.py leaves out, the
size limit, repeated and blank parameters, and what SQS cannot carry."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.support import twilio as tw
from tests.support.capture import HandedOff
from wa_conversions.aws_limits import invalid_sqs_character
from wa_conversions.capture import twilio_ingest
from wa_conversions.capture.ingest import MAX_MESSAGE_BYTES, PayloadTooLargeError
from wa_conversions.errors import BadRequestError, ForbiddenError, UnauthorizedError
from wa_conversions.signatures import twilio_signature

AUTH_TOKEN = "twilio-auth-token"
URL = "https://hooks.example.com/webhooks/twilio?tenant=brand-a"
PHONE = "14155238886"
SID = "SM" + "e" * 32


def accept(body: bytes, signature: str | None, queue: HandedOff) -> str:
    return twilio_ingest.accept_webhook(
        body, URL, signature, AUTH_TOKEN, queue.factory(), now=lambda: 1_767_225_601.9
    )


def test_a_body_past_the_queue_s_limit_is_refused_before_its_signature_is_checked() -> None:
    queue = HandedOff()
    body = urlencode({"Body": "x" * MAX_MESSAGE_BYTES}).encode()
    with pytest.raises(PayloadTooLargeError, match=str(MAX_MESSAGE_BYTES)):
        accept(body, None, queue)
    assert queue.built == 0


def test_the_signed_url_keeps_its_query_string() -> None:
    form = tw.inbound(PHONE, SID)
    body, headers = tw.signed(URL, form, AUTH_TOKEN)
    queue = HandedOff()
    assert accept(body, headers["X-Twilio-Signature"], queue) == "message"
    without_query = URL.split("?", 1)[0]
    with pytest.raises(ForbiddenError, match="does not match"):
        twilio_ingest.accept_webhook(
            body, without_query, headers["X-Twilio-Signature"], AUTH_TOKEN, queue.factory()
        )


def test_a_repeated_parameter_is_signed_whole_and_queued_with_its_first_value() -> None:
    pairs = [*tw.inbound(PHONE, SID).items(), ("Body", "a second body")]
    body = urlencode(pairs).encode()
    queue = HandedOff()
    accept(body, twilio_signature(URL, pairs, AUTH_TOKEN), queue)
    [([queued], attributes)] = queue.calls
    assert attributes == {"provider": "twilio"}
    found = json.loads(queued)
    assert found["received_at"] == 1_767_225_601
    assert found["params"]["Body"] == "Hi! I saw your ad"


def test_blank_parameters_are_kept() -> None:
    form = tw.inbound(PHONE, SID, Body="", NumMedia="0")
    body, headers = tw.signed(URL, form, AUTH_TOKEN)
    queue = HandedOff()
    accept(body, headers["X-Twilio-Signature"], queue)
    assert json.loads(queue.calls[0][0][0])["params"]["Body"] == ""


def test_characters_sqs_refuses_are_queued_escaped_and_read_back_the_same() -> None:
    form = tw.inbound(PHONE, SID, Body="odd \ufffe text")
    body, headers = tw.signed(URL, form, AUTH_TOKEN)
    queue = HandedOff()
    accept(body, headers["X-Twilio-Signature"], queue)
    [([queued], _)] = queue.calls
    assert invalid_sqs_character(queued) is None
    assert json.loads(queued)["params"]["Body"] == "odd \ufffe text"


def test_an_empty_body_that_is_signed_is_no_messaging_webhook() -> None:
    queue = HandedOff()
    with pytest.raises(BadRequestError, match="Not a Twilio messaging webhook"):
        accept(b"", twilio_signature(URL, [], AUTH_TOKEN), queue)
    assert queue.calls == []


def test_a_form_of_more_fields_than_twilio_sends_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="x-www-form-urlencoded"):
        twilio_ingest.read_form(urlencode([(f"F{i}", "v") for i in range(501)]).encode())
    assert len(twilio_ingest.read_form(urlencode([(f"F{i}", "v") for i in range(500)]).encode())) == 500


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_signature_header_is_unauthorized(header: str | None) -> None:
    with pytest.raises(UnauthorizedError, match="Missing X-Twilio-Signature"):
        twilio_ingest.check_signature(URL, [("MessageSid", SID)], header, AUTH_TOKEN)
