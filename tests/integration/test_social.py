"""AWS End User Messaging Social on moto: Meta's webhooks published to an SNS topic, delivered raw to
the WhatsApp ingest queue, applied by the real processor as a direct webhook is."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from devstack.sample_events import whatsapp_post
from tests.integration.conftest import CaptureHarness
from tests.support import social
from tests.support import webhooks as wh


@pytest.fixture
def topic(harness: CaptureHarness) -> str:
    """The topic the WABA's event destination publishes to, with the template's subscription."""
    sns = boto3.client("sns")
    arn: str = sns.create_topic(Name="eum-social")["TopicArn"]
    queue_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=harness.ingest_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return arn


def ctwa_webhook(phone: str, wamid: str) -> dict[str, Any]:
    document = wh.sample_json("meta_docs_text_message_ctwa_referral.json")
    value = document["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = phone
    value["messages"][0].update(id=wamid, **{"from": phone})
    return document


def get(harness: CaptureHarness, path: str, resource: str, name: str, value: str) -> dict[str, Any]:
    encoded = quote(value, safe="")
    response = harness.api_get(path.format(encoded), resource, {name: encoded})
    assert response["statusCode"] == 200, response
    loaded: dict[str, Any] = json.loads(response["body"])
    return loaded


def test_a_relayed_ctwa_message_creates_the_contact_and_the_ad_click(
    harness: CaptureHarness, topic: str
) -> None:
    phone, wamid = "16505550101", f"wamid.eum-{uuid.uuid4().hex}"
    boto3.client("sns").publish(TopicArn=topic, Message=social.message(ctwa_webhook(phone, wamid)))
    harness.drain()
    contact = get(harness, "/contacts/{}", "/contacts/{id}", "id", phone)
    assert contact["name"] == "Sheena Nelson"
    assert contact["messages"] == {"inbound": 1, "outbound": 0}
    [referral] = contact["referrals"]
    assert referral["message_id"] == wamid
    assert referral["ctwa_clid"]
    message = get(harness, "/messages/{}", "/messages/{message_id}", "message_id", wamid)
    assert message["channel"] == "meta"


def test_redelivery_and_the_same_update_by_direct_webhook_store_nothing_twice(
    harness: CaptureHarness, topic: str
) -> None:
    phone, wamid = "16505550102", f"wamid.eum-{uuid.uuid4().hex}"
    document = ctwa_webhook(phone, wamid)
    for _ in range(2):  # SNS delivers at least once
        boto3.client("sns").publish(TopicArn=topic, Message=social.message(document))
    direct = harness.post(whatsapp_post(wh.encode(document), harness.env["WHATSAPP_APP_SECRET"]))
    assert direct["statusCode"] == 200
    harness.drain()
    contact = get(harness, "/contacts/{}", "/contacts/{id}", "id", phone)
    assert contact["messages"] == {"inbound": 1, "outbound": 0}
    assert len(contact["referrals"]) == 1
    names = [event["detail-type"] for event in harness.bus_events()]
    assert names.count("message.received") == 1
    assert names.count("referral.captured") == 1


def test_relayed_statuses_never_move_backwards(harness: CaptureHarness, topic: str) -> None:
    wamid = f"wamid.eum-{uuid.uuid4().hex}"
    for state, at in [("read", 1750000300), ("sent", 1750000100), ("delivered", 1750000200)]:
        document = wh.webhook({"statuses": [wh.status(wamid, state, at, "16505550103")]})
        boto3.client("sns").publish(TopicArn=topic, Message=social.message(document))
    harness.drain()
    assert get(harness, "/messages/{}", "/messages/{message_id}", "message_id", wamid)["status"] == "read"


def test_a_malformed_message_is_parked_in_the_dlq_with_its_reason(
    harness: CaptureHarness, topic: str
) -> None:
    header = wh.sample_json(social.SAMPLE)
    header["whatsAppWebhookEntry"] = "{not json"
    boto3.client("sns").publish(TopicArn=topic, Message=json.dumps(header))
    harness.drain()
    [parked] = boto3.client("sqs").receive_message(QueueUrl=harness.dlq_url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    reason = parked["MessageAttributes"]["reason"]["StringValue"]
    assert "Not a valid End User Messaging Social message" in reason
    assert "whatsAppWebhookEntry is not valid JSON" in reason
    assert json.loads(parked["Body"]) == header
