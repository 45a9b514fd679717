"""The processor's pipeline (capture.pipeline): each provider's queued body to the updates applied,
what cannot be read parked with its reason, and records with no time left queued again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.support import social
from tests.support import twilio as tw
from tests.support import webhooks as wh
from tests.support.capture import AppliedBatches
from wa_conversions.aws_limits import invalid_sqs_character
from wa_conversions.capture.pipeline import CapturePipeline, Unstarted, requeue
from wa_conversions.errors import PermanentFailure

REFERRAL = "meta_docs_text_message_ctwa_referral.json"
REFERRAL_KEY = "msg:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA="


def pipeline() -> tuple[CapturePipeline, AppliedBatches]:
    service = AppliedBatches()
    return CapturePipeline(service=service.as_service()), service


@pytest.mark.parametrize("provider", [None, "", "meta"])
def test_a_meta_webhook_is_applied_whatever_names_its_provider(provider: str | None) -> None:
    found, service = pipeline()
    result = found.process(wh.sample(REFERRAL).decode(), provider)
    assert service.keys() == [[REFERRAL_KEY]]
    assert (result.received, result.applied) == (1, 1)


def test_a_webhook_relayed_by_end_user_messaging_social_is_applied_as_the_direct_one() -> None:
    found, service = pipeline()
    found.process(social.message(wh.sample_json(REFERRAL)), None)
    assert service.keys() == [[REFERRAL_KEY]]


def test_a_cm_body_is_read_as_cm_s() -> None:
    found, service = pipeline()
    found.process(wh.sample("cm_constructed_status_report_delivered.json").decode(), "cm")
    assert service.keys() == [["status:order-1001-confirmation:delivered"]]


def test_a_twilio_body_is_read_as_twilio_s() -> None:
    found, service = pipeline()
    sid = "SM" + "f" * 32
    queued = json.dumps({"received_at": 1_767_225_600, "params": tw.status("14155238886", sid, "read")})
    found.process(queued, "twilio")
    [[update]] = service.batches
    assert update.idempotency_key == f"status:{sid}:read"


def test_an_unknown_provider_is_parked_naming_it() -> None:
    found, service = pipeline()
    with pytest.raises(PermanentFailure, match="Unknown webhook provider 'viber'"):
        found.process("{}", "viber")
    assert service.batches == []


@pytest.mark.parametrize(
    ("body", "provider", "reason"),
    [
        ('{"object": "whatsapp_business_account"}', None, "Not a valid WhatsApp webhook: "),
        ("not json", "cm", "Body is not valid JSON"),
        ('{"messages": {"msg": {"to": "0031"}}}', "cm", "Not a valid CM.com webhook: "),
        ('{"object": "whatsapp_business_account", "entry": []}', "cm", "Not a CM.com webhook"),
        ('{"params": {"MessageSid": "SM1"}}', "twilio", "Not a valid Twilio webhook: "),
        ('{"received_at": 1, "params": {"Body": "hi"}}', "twilio", "no MessageSid"),
    ],
)
def test_a_body_that_cannot_be_read_is_parked_with_its_reason(
    body: str, provider: str | None, reason: str
) -> None:
    found, service = pipeline()
    with pytest.raises(PermanentFailure) as raised:
        found.process(body, provider)
    assert reason in raised.value.reason
    assert raised.value.body is None  # the whole message is parked
    assert service.batches == []


def test_a_broken_end_user_messaging_social_message_is_parked() -> None:
    found, _ = pipeline()
    header = wh.sample_json(social.SAMPLE)
    header["whatsAppWebhookEntry"] = "{not json"
    with pytest.raises(PermanentFailure, match="Not a valid End User Messaging Social message"):
        found.process(json.dumps(header), None)


def test_the_good_updates_are_applied_and_only_the_broken_ones_parked() -> None:
    document = wh.webhook(
        {
            "contacts": [wh.contact("16505551234")],
            "messages": [
                wh.text_message("wamid.ok", "16505551234", 1_750_000_000),
                {"id": "wamid.bad\uffff"},
            ],
        }
    )
    found, service = pipeline()
    with pytest.raises(PermanentFailure) as raised:
        found.process(json.dumps(document, ensure_ascii=False), None)
    assert service.keys() == [["msg:wamid.ok"]]
    failure = raised.value
    assert failure.reason.startswith("Updates not valid, the others were applied: messages[1].")
    assert failure.body is not None and invalid_sqs_character(failure.body) is None
    parked = json.loads(failure.body)
    assert parked["entry"][0]["changes"][0]["value"]["messages"] == [{"id": "wamid.bad\uffff"}]


def test_a_broken_change_the_product_does_not_read_parks_nothing() -> None:
    document = wh.webhook({"messages": [wh.text_message("wamid.ok", "16505551234", 1_750_000_000)]})
    call = wh.webhook({"statuses": [wh.status("x" * 3000, "RINGING", 1, "16505551234")]}, field="calls")
    document["entry"].append(call["entry"][0])
    found, service = pipeline()
    result = found.process(json.dumps(document), None)
    assert service.keys() == [["msg:wamid.ok"]]
    assert result.applied == 1


def test_the_reason_names_at_most_three_broken_updates() -> None:
    broken = [{"id": f"wamid.{i}"} for i in range(5)]
    found, _ = pipeline()
    with pytest.raises(PermanentFailure) as raised:
        found.process(json.dumps(wh.webhook({"messages": broken})), None)
    assert raised.value.reason.count("messages[") == 3
    assert raised.value.body is not None
    assert len(json.loads(raised.value.body)["entry"][0]["changes"][0]["value"]["messages"]) == 5


# -- queueing unstarted records again ---------------------------------------------------------------


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in (("AWS_ACCESS_KEY_ID", "unit"), ("AWS_SECRET_ACCESS_KEY", "unit")):
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        yield boto3.client("sqs", region_name="eu-west-1")


def arn_of(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def received(sqs: Any, url: str) -> list[tuple[str, str | None]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages", []
    )
    return sorted(
        (m["Body"], (m.get("MessageAttributes") or {}).get("provider", {}).get("StringValue"))
        for m in messages
    )


def test_unstarted_records_are_queued_again_with_their_provider(sqs: Any) -> None:
    url, arn = arn_of(sqs, "ingest")
    records = [
        Unstarted("m-1", arn, '{"meta": 1}', None),
        Unstarted("m-2", arn, '{"cm": 1}', "cm"),
        Unstarted("m-3", arn, '{"cm": 2}', "cm"),
    ]
    assert requeue(sqs, records) == []
    assert received(sqs, url) == [('{"cm": 1}', "cm"), ('{"cm": 2}', "cm"), ('{"meta": 1}', None)]


def test_records_of_a_queue_that_refuses_them_are_reported_and_the_others_still_go(sqs: Any) -> None:
    url, arn = arn_of(sqs, "ingest")
    gone = arn.rsplit(":", 1)[0] + ":deleted-queue"
    records = [
        Unstarted("m-1", gone, "{}", None),
        Unstarted("m-2", arn, '{"ok": 1}', None),
        Unstarted("m-3", gone, "[]", None),
    ]
    assert requeue(sqs, records) == ["m-1", "m-3"]
    assert received(sqs, url) == [('{"ok": 1}', None)]
