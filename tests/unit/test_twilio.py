"""Twilio's WhatsApp webhooks: the signature as Twilio computes it, the hand-off to the queue, and
the incoming messages and status callbacks as the same domain updates as Meta's."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import cast
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from twilio.request_validator import RequestValidator

from tests.support import twilio as tw
from wa_conversions.apigw import HttpRequest
from wa_conversions.capture import twilio_ingest
from wa_conversions.capture.ingest import IngestQueue
from wa_conversions.errors import BadRequestError, ForbiddenError, UnauthorizedError
from wa_conversions.models.domain import Channel, InboundMessage, MessageStatus, MessageType, StatusUpdate
from wa_conversions.providers import twilio
from wa_conversions.signatures import twilio_signature, verify_twilio_signature

TOKEN = "12345"
URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/webhooks/twilio"


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[list[str], dict[str, str] | None]] = []

    def send(self, bodies: list[str], *, attributes: dict[str, str] | None = None) -> None:
        self.sent.append((bodies, attributes))


def factory(queue: RecordingQueue) -> Callable[[], IngestQueue]:
    return lambda: cast("IngestQueue", queue)


# -- the signature -------------------------------------------------------------------------------


def test_signature_is_the_one_twilio_s_own_validator_computes_for_its_documented_example() -> None:
    # The example of https://www.twilio.com/docs/usage/security#validating-requests.
    url = "https://example.com/myapp"
    form = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
    }
    form["To"] = "+18005551212"
    expected = RequestValidator(TOKEN).compute_signature(url, form)
    assert twilio_signature(url, list(form.items()), TOKEN) == expected
    assert verify_twilio_signature(url, list(form.items()), expected, TOKEN)


text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


@given(st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12), text))
def test_signature_matches_twilio_s_validator_for_any_parameters(form: dict[str, str]) -> None:
    expected = RequestValidator(TOKEN).compute_signature(URL, form)
    assert twilio_signature(URL, list(form.items()), TOKEN) == expected


@pytest.mark.parametrize(
    ("signed_url", "checked_url"),
    [
        ("https://example.com:443/webhooks/twilio", "https://example.com/webhooks/twilio"),
        ("https://example.com/webhooks/twilio", "https://example.com:443/webhooks/twilio"),
    ],
)
def test_the_default_port_may_be_given_or_not_as_twilio_s_validator_allows(
    signed_url: str, checked_url: str
) -> None:
    form = tw.inbound("14155238886", "SM" + "a" * 32)
    signature = RequestValidator(TOKEN).compute_signature(signed_url, form)
    assert RequestValidator(TOKEN).validate(checked_url, form, signature)
    assert verify_twilio_signature(checked_url, list(form.items()), signature, TOKEN)


def test_a_signature_over_another_url_or_other_parameters_does_not_verify() -> None:
    form = tw.inbound("14155238886", "SM" + "a" * 32)
    signature = twilio_signature(URL, list(form.items()), TOKEN)
    assert not verify_twilio_signature(URL + "x", list(form.items()), signature, TOKEN)
    changed = {**form, "Body": "something else"}
    assert not verify_twilio_signature(URL, list(changed.items()), signature, TOKEN)
    assert not verify_twilio_signature(URL, list(form.items()), signature, "another-token")


# -- accepting a webhook -------------------------------------------------------------------------


def test_a_signed_incoming_message_is_queued_with_its_parameters_and_arrival_time() -> None:
    queue = RecordingQueue()
    form = tw.inbound("14155238886", "SM" + "b" * 32)
    body, headers = tw.signed(URL, form, TOKEN)
    kind = twilio_ingest.accept_webhook(
        body, URL, headers["X-Twilio-Signature"], TOKEN, factory(queue), now=lambda: 1_767_225_600.5
    )
    assert kind == "message"
    [(bodies, attributes)] = queue.sent
    assert attributes == {"provider": "twilio"}
    assert json.loads(bodies[0]) == {"received_at": 1_767_225_600, "params": form}


def test_a_status_callback_is_told_from_an_incoming_message() -> None:
    queue = RecordingQueue()
    body, headers = tw.signed(URL, tw.status("14155238886", "SM" + "c" * 32, "delivered"), TOKEN)
    kind = twilio_ingest.accept_webhook(body, URL, headers["X-Twilio-Signature"], TOKEN, factory(queue))
    assert kind == "status"


def test_missing_signature_is_unauthorized_and_a_wrong_one_forbidden_and_nothing_is_queued() -> None:
    queue = RecordingQueue()
    body, headers = tw.signed(URL, tw.inbound("14155238886", "SM" + "d" * 32), TOKEN)
    with pytest.raises(UnauthorizedError):
        twilio_ingest.accept_webhook(body, URL, None, TOKEN, factory(queue))
    with pytest.raises(ForbiddenError):
        twilio_ingest.accept_webhook(body, URL, headers["X-Twilio-Signature"], "other", factory(queue))
    with pytest.raises(ForbiddenError):
        # API Gateway's host when Twilio was told a custom domain: the URL is part of what is signed.
        twilio_ingest.accept_webhook(
            body, "https://shop.example/webhooks/twilio", headers["X-Twilio-Signature"], TOKEN, factory(queue)
        )
    assert queue.sent == []


@pytest.mark.parametrize(
    ("form", "fragment"),
    [
        ({"Body": "hello"}, "Not a Twilio messaging webhook"),
        ({"MessageSid": "SM1"}, "Not a Twilio messaging webhook"),
    ],
)
def test_a_signed_body_that_is_no_messaging_webhook_is_a_bad_request(
    form: dict[str, str], fragment: str
) -> None:
    body, headers = tw.signed(URL, form, TOKEN)
    with pytest.raises(BadRequestError, match=fragment):
        twilio_ingest.accept_webhook(
            body, URL, headers["X-Twilio-Signature"], TOKEN, factory(RecordingQueue())
        )


def test_a_body_that_is_not_form_encoded_utf8_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="x-www-form-urlencoded"):
        twilio_ingest.accept_webhook(b"\xff\xfe", URL, "sig", TOKEN, factory(RecordingQueue()))
    with pytest.raises(BadRequestError, match="x-www-form-urlencoded"):
        twilio_ingest.accept_webhook(b"not a form", URL, "sig", TOKEN, factory(RecordingQueue()))


def test_the_public_url_is_the_configured_one_else_the_one_api_gateway_was_called_on() -> None:
    # an HTTP API event (payload 2.0): a named stage is in rawPath, the query string as sent
    event = {
        "version": "2.0",
        "rawPath": "/v1/webhooks/twilio",
        "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.eu-west-1.amazonaws.com"},
        "requestContext": {
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "http": {"method": "POST", "path": "/v1/webhooks/twilio"},
            "stage": "v1",
        },
    }
    called = HttpRequest.from_event(event).url
    assert twilio_ingest.public_url("", called) == URL
    assert twilio_ingest.public_url("https://shop.example/twilio", called) == "https://shop.example/twilio"
    # Twilio signs the whole URL it called: a query string it was given is part of it, byte for byte
    with_query = HttpRequest.from_event({**event, "rawQueryString": "tenant=a%20b&x=1"}).url
    assert twilio_ingest.public_url("", with_query) == f"{URL}?tenant=a%20b&x=1"


# -- parsing -------------------------------------------------------------------------------------


def _queued(form: dict[str, str], received_at: int = 1_767_225_600) -> str:
    return json.dumps({"received_at": received_at, "params": form})


def test_an_incoming_message_with_referral_parameters_becomes_an_inbound_message_with_its_ad_click() -> None:
    [message] = twilio.parse_webhook(_queued(tw.params(tw.INBOUND_SAMPLE)))
    assert isinstance(message, InboundMessage)
    assert message.channel is Channel.TWILIO
    assert message.message_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    assert message.idempotency_key == "msg:SM1f0e8ae6ade43cb3c0ce4525424e404f"
    assert message.contact.phone == "14155238886"
    assert message.contact.name == "Twilio Tester"
    assert message.account.display_phone_number == "15005550006"
    assert message.type is MessageType.TEXT
    assert message.timestamp == 1_767_225_600
    assert message.text_length == len("Hi! I saw your ad")
    assert message.referral is not None
    assert message.referral.ctwa_clid is not None and message.referral.ctwa_clid.startswith("ARAkLkA8")
    assert message.referral.source_id == "120212345678900001"
    assert message.referral.source_type == "ad"
    assert message.referral.source_url == "https://fb.me/3cr4Wqqkk"
    assert message.referral.headline == "Spring sale"
    assert message.referral.body == "Get 20% off your first order"
    assert message.referral.media_type == "image"


def test_an_organic_message_has_no_ad_click_and_media_is_typed_by_its_content_type() -> None:
    form = {
        key: value
        for key, value in tw.params(tw.INBOUND_SAMPLE).items()
        if not key.startswith("Referral") and key != "MessageType"
    }
    form.update(NumMedia="1", MediaContentType0="image/jpeg", Body="")
    [message] = twilio.parse_webhook(_queued(form))
    assert isinstance(message, InboundMessage)
    assert message.referral is None
    assert message.referral_known is True
    assert message.type is MessageType.IMAGE
    assert message.text_length is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("queued", MessageStatus.UNKNOWN),
        ("sent", MessageStatus.SENT),
        ("delivered", MessageStatus.DELIVERED),
        ("read", MessageStatus.READ),
        ("failed", MessageStatus.FAILED),
        ("undelivered", MessageStatus.FAILED),
    ],
)
def test_status_callbacks_map_onto_the_message_lifecycle(raw: str, status: MessageStatus) -> None:
    [update] = twilio.parse_webhook(_queued(tw.status("14155238886", "SM" + "e" * 32, raw)))
    assert isinstance(update, StatusUpdate)
    assert update.channel is Channel.TWILIO
    assert update.message_id == "SM" + "e" * 32
    assert update.status is status
    assert update.raw_status == raw
    assert update.idempotency_key == f"status:SM{'e' * 32}:{raw}"
    assert update.contact is not None and update.contact.phone == "14155238886"


def test_an_undelivered_callback_keeps_twilio_s_error_code() -> None:
    [update] = twilio.parse_webhook(_queued(tw.params("twilio_constructed_status_failed.json")))
    assert isinstance(update, StatusUpdate)
    assert update.status is MessageStatus.FAILED
    assert [(e.code, e.title) for e in update.errors] == [(63016, "undelivered")]


def test_sms_on_a_shared_messaging_service_is_left_out() -> None:
    sms = {**tw.params(tw.INBOUND_SAMPLE), "From": "+14155238886", "To": "+15005550006"}
    assert twilio.parse_webhook(_queued(sms)) == []
    sms_status = {**tw.params(tw.STATUS_SAMPLE), "To": "+14155238886"}
    assert twilio.parse_webhook(_queued(sms_status)) == []


def test_a_queued_body_that_is_no_twilio_webhook_is_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError):
        twilio.parse_webhook('{"params": {}}')
    with pytest.raises(ValidationError):
        twilio.parse_webhook(_queued({"MessageSid": "SM" + "x" * 300, "From": "whatsapp:+1"}))
    with pytest.raises(twilio.TwilioFormatError):
        twilio.parse_webhook(_queued({"From": "whatsapp:+14155238886"}))


def test_form_encoding_round_trips_through_the_ingest_parser() -> None:
    form = tw.inbound("14155238886", "SM" + "f" * 32, Body="Olá + ünïcode & more=1")
    assert dict(twilio_ingest.read_form(urlencode(form).encode())) == form
