"""The webhook receivers read a request the same from either API Gateway: the HTTP API's payload 2.0
(the webhook URLs to use) and the REST API's payload 1.0 (the legacy routes, which keep working for a
provider not yet re-pointed and during a deploy)."""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import pytest

from devstack.sample_events import http_event, proxy_event
from tests.support import twilio as tw
from wa_conversions.apigw import HttpRequest
from wa_conversions.capture import twilio_ingest
from wa_conversions.capture.ingest import IngestQueue

DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
FORM = b"MessageSid=SM1&From=whatsapp%3A%2B14155550100&Body=caf%C3%A9+%2B1"
TOKEN = "twilio-auth-token"
TWILIO_URL = f"https://{DOMAIN}/v1/webhooks/twilio"
SHAPES = pytest.mark.parametrize("payload", ["2.0", "1.0"])


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, bodies: list[str], *, attributes: dict[str, str] | None = None) -> None:
        self.sent += bodies


def _event(payload: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    if payload == "2.0":
        query = kwargs.pop("query", None)
        raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
        return http_event(method, path, raw_query=raw_query, **kwargs)
    return proxy_event(method, path, **kwargs)


@SHAPES
def test_a_twilio_post_is_read_with_the_url_twilio_signed_and_its_form_bytes(payload: str) -> None:
    event = _event(
        payload,
        "POST",
        "/webhooks/twilio",
        body=FORM,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "sig"},
        base64_body=True,
    )

    request = HttpRequest.from_event(event)

    assert request.method == "POST"
    assert request.url == TWILIO_URL  # the stage kept in front of the path
    assert request.body == FORM
    assert request.headers["x-twilio-signature"] == "sig"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


@SHAPES
def test_a_twilio_post_signed_against_the_url_is_accepted_from_either_api(payload: str) -> None:
    form = tw.inbound("14155238886", "SM" + "b" * 32)
    body, headers = tw.signed(TWILIO_URL, form, TOKEN)
    event = _event(payload, "POST", "/webhooks/twilio", body=body, headers=headers, base64_body=True)
    queue = RecordingQueue()
    request = HttpRequest.from_event(event)

    kind = twilio_ingest.accept_webhook(
        request.body,
        twilio_ingest.public_url("", request.url),
        request.headers.get("x-twilio-signature"),
        TOKEN,
        lambda: cast("IngestQueue", queue),
    )

    assert kind == "message"
    assert [json.loads(sent)["params"] for sent in queue.sent] == [form]


@SHAPES
def test_meta_s_verification_handshake_is_a_get_with_its_query_decoded(payload: str) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "a%20token"}
    event = _event(payload, "GET", "/webhooks/whatsapp", query=query)
    if payload == "1.0":  # a REST API hands its parameters decoded too
        event["queryStringParameters"]["hub.verify_token"] = "a token"
        event["multiValueQueryStringParameters"]["hub.verify_token"] = ["a token"]

    request = HttpRequest.from_event(event)

    assert request.method == "GET"
    assert request.query == {
        "hub.mode": "subscribe",
        "hub.challenge": "1158201444",
        "hub.verify_token": "a token",
    }
    assert request.body == b""


@SHAPES
@pytest.mark.parametrize("base64_body", [False, True])
def test_a_json_body_is_read_byte_for_byte_whether_text_or_base64(payload: str, base64_body: bool) -> None:
    body = '{"object":"whatsapp_business_account","entry":[{"id":"José"}]}'.encode()
    event = _event(
        payload,
        "POST",
        "/webhooks/whatsapp",
        body=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=ab"},
        base64_body=base64_body,
    )

    request = HttpRequest.from_event(event)

    assert event["isBase64Encoded"] is base64_body
    assert request.body == body
    assert request.headers["x-hub-signature-256"] == "sha256=ab"


def test_a_rest_event_joins_repeated_headers_and_parameters_as_an_http_api_does() -> None:
    event = proxy_event("POST", "/webhooks/cm", body=b"{}")
    event["multiValueHeaders"] = {"X-Dup": ["one", "two"], "Cookie": ["a=1; b=2"], "Host": [DOMAIN]}
    event["headers"] = {"X-Dup": "two", "Cookie": "a=1; b=2", "Host": DOMAIN}
    event["queryStringParameters"] = {"token": "b"}
    event["multiValueQueryStringParameters"] = {"token": ["a", "b"]}

    request = HttpRequest.from_event(event)

    assert request.headers == {"x-dup": "one,two", "host": DOMAIN}
    assert request.cookies == ("a=1", "b=2")
    assert request.query == {"token": "a,b"}
    # a REST API hands no raw query string: the URL is the path behind the stage alone
    assert (request.path, request.raw_query) == ("/v1/webhooks/cm", "")


def test_an_http_api_event_keeps_its_raw_query_in_the_url() -> None:
    event = http_event("POST", "/webhooks/twilio", body=FORM, raw_query="tenant=a%20b")
    event["requestContext"]["domainName"] = "hooks.example.com"

    request = HttpRequest.from_event(event)

    assert request.url == "https://hooks.example.com/v1/webhooks/twilio?tenant=a%20b"
    assert base64.b64decode(event["body"]) == request.body
