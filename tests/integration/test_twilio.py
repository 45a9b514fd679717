"""Twilio's WhatsApp webhooks through the real handlers on moto: signed POST in, empty TwiML out, the
ingest queue (provider=twilio) and the processor, then the operator API's view of what was stored."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import boto3

from devstack.sample_events import http_event
from tests.integration.conftest import CaptureHarness
from tests.support import twilio as tw
from tests.support.lambdas import sqs_event

PATH = "/webhooks/twilio"
# http_event's API (stage v1): the URL Twilio calls, and signs, when no custom domain is in front.
URL = f"https://abc123.execute-api.us-east-1.amazonaws.com/v1{PATH}"


def post(harness: CaptureHarness, form: dict[str, str], *, token: str | None = None) -> dict[str, Any]:
    body, headers = tw.signed(URL, form, token or harness.env["TWILIO_AUTH_TOKEN"])
    return harness.invoke("twilio_webhook", http_event("POST", PATH, body=body, headers=headers))


def drain(harness: CaptureHarness) -> None:
    """The event source mapping, with the message attributes that tell the processor the provider."""
    sqs = boto3.client("sqs")
    while received := sqs.receive_message(
        QueueUrl=harness.ingest_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        event = sqs_event([m["Body"] for m in received])
        for record, message in zip(event["Records"], received, strict=True):
            record["messageAttributes"] = {
                name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                for name, value in message.get("MessageAttributes", {}).items()
            }
        response = harness.invoke("whatsapp_processor", event)
        assert response["batchItemFailures"] == []
        for message in received:
            sqs.delete_message(QueueUrl=harness.ingest_url, ReceiptHandle=message["ReceiptHandle"])


def get(harness: CaptureHarness, path: str, resource: str, name: str, value: str) -> dict[str, Any]:
    encoded = quote(value, safe="")
    response = harness.api_get(path.format(encoded), resource, {name: encoded})
    assert response["statusCode"] == 200, response
    loaded: dict[str, Any] = json.loads(response["body"])
    return loaded


def queued(harness: CaptureHarness) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=harness.ingest_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def sid() -> str:
    return "SM" + uuid.uuid4().hex


def test_a_signed_incoming_message_with_referral_is_answered_with_empty_twiml_and_captured(
    harness: CaptureHarness,
) -> None:
    phone, message_sid = "14155238886", sid()
    answer = post(harness, tw.inbound(phone, message_sid))
    assert answer["statusCode"] == 200, answer
    assert answer["headers"]["Content-Type"] == "text/xml"
    assert answer["body"] == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    drain(harness)
    contact = get(harness, "/contacts/{}", "/contacts/{id}", "id", phone)
    assert contact["name"] == "Twilio Tester"
    assert contact["messages"] == {"inbound": 1, "outbound": 0}
    assert [(r["message_id"], r["source_id"]) for r in contact["referrals"]] == [
        (message_sid, "120212345678900001")
    ]
    message = get(harness, "/messages/{}", "/messages/{message_id}", "message_id", message_sid)
    assert message["channel"] == "twilio"
    assert message["direction"] == "inbound"


def test_a_redelivered_webhook_stores_and_announces_nothing_twice(harness: CaptureHarness) -> None:
    phone, message_sid = "14155230001", sid()
    for _ in range(3):
        assert post(harness, tw.inbound(phone, message_sid))["statusCode"] == 200
    drain(harness)
    contact = get(harness, "/contacts/{}", "/contacts/{id}", "id", phone)
    assert contact["messages"] == {"inbound": 1, "outbound": 0}
    assert len(contact["referrals"]) == 1
    names = [event["detail-type"] for event in harness.bus_events()]
    assert names.count("message.received") == 1
    assert names.count("referral.captured") == 1
    assert names.count("contact.created") == 1


def test_status_callbacks_out_of_order_end_at_the_furthest_state(harness: CaptureHarness) -> None:
    phone, message_sid = "14155230002", sid()
    for state in ("read", "queued", "sent", "delivered"):
        assert post(harness, tw.status(phone, message_sid, state))["statusCode"] == 200
        drain(harness)
    message = get(harness, "/messages/{}", "/messages/{message_id}", "message_id", message_sid)
    assert message["status"] == "read"
    assert message["channel"] == "twilio"
    assert message["direction"] == "outbound"
    assert set(message["statuses"]) == {"read", "queued", "sent", "delivered"}


def test_bad_or_missing_signatures_are_refused_and_nothing_is_queued(harness: CaptureHarness) -> None:
    form = tw.inbound("14155230003", sid())
    wrong = post(harness, form, token="not-the-auth-token")
    assert wrong["statusCode"] == 403, wrong
    assert json.loads(wrong["body"])["error"] == "forbidden"
    body, _ = tw.signed(URL, form, harness.env["TWILIO_AUTH_TOKEN"])
    missing = harness.invoke(
        "twilio_webhook",
        http_event("POST", PATH, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert missing["statusCode"] == 401, missing
    assert queued(harness) == 0


def test_a_signed_body_that_is_no_messaging_webhook_is_400_with_a_json_reason(
    harness: CaptureHarness,
) -> None:
    answer = post(harness, {"Body": "hello"})
    assert answer["statusCode"] == 400, answer
    assert "Not a Twilio messaging webhook" in json.loads(answer["body"])["message"]
    assert queued(harness) == 0


def test_a_queued_twilio_body_that_cannot_be_read_is_parked_with_its_reason_and_provider(
    harness: CaptureHarness,
) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=harness.ingest_url,
        MessageBody='{"received_at": 1767225600, "params": {"From": "whatsapp:+14155238886"}}',
        MessageAttributes={"provider": {"DataType": "String", "StringValue": "twilio"}},
    )
    drain(harness)
    [parked] = boto3.client("sqs").receive_message(QueueUrl=harness.dlq_url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert "no MessageSid" in parked["MessageAttributes"]["reason"]["StringValue"]
    assert parked["MessageAttributes"]["provider"]["StringValue"] == "twilio"
