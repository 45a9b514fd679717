"""Analytics end to end: signed WhatsApp webhooks and CRM track items over HTTP into the local stack,
through capture, the bus, the analytics queue and the aggregator, and out of GET /metrics.

The scenario lives on 2024-02-29, a day no other test uses, so the session-wide stack's other data
does not reach these numbers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from devstack.sample_events import whatsapp_post
from devstack.stack import LocalStack
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e
DAY = "2024-02-29"
PHONE = "31612345678"  # the Netherlands
AD = "e2e-ad-7"
OUT = "wamid.e2e-analytics-out-1"


def epoch(clock: str) -> int:
    return int(datetime.fromisoformat(f"{DAY}T{clock}+00:00").astimezone(UTC).timestamp())


def post_webhook(api: httpx.Client, stack: LocalStack, document: dict) -> None:
    event = whatsapp_post(wh.encode(document), stack.env_values["WHATSAPP_APP_SECRET"])
    response = api.post("/webhooks/whatsapp", content=event["body"].encode(), headers=event["headers"])
    assert response.status_code == 200, response.text


def test_metrics_over_http_count_each_fact_once(api: httpx.Client, stack: LocalStack) -> None:
    key = {"X-Api-Key": stack.env_values["API_KEY"]}
    referral = {"source_id": AD, "source_type": "ad", "ctwa_clid": "e2e-clid-7", "headline": "Sale"}
    first = wh.webhook(
        {
            "contacts": [wh.contact(PHONE, "E2E Analytics")],
            "messages": [
                wh.text_message("wamid.e2e-analytics-in-1", PHONE, epoch("10:00:00"), referral=referral)
            ],
        }
    )
    statuses = wh.webhook(
        {
            "statuses": [
                wh.status(OUT, "read", epoch("10:02:00"), PHONE),
                wh.status(OUT, "delivered", epoch("10:01:40"), PHONE),
                wh.status(OUT, "sent", epoch("10:01:30"), PHONE),
            ]
        }
    )
    reply = wh.webhook(
        {
            "contacts": [wh.contact(PHONE, "E2E Analytics")],
            "messages": [wh.text_message("wamid.e2e-analytics-in-2", PHONE, epoch("10:05:00"))],
        }
    )
    # The reply and the statuses arrive before the message they follow; Meta repeats a webhook.
    for document in (reply, statuses, first, first, statuses):
        post_webhook(api, stack, document)

    crm_sent = {
        "type": "track",
        "event": "message.sent",
        "userId": f"+{PHONE}",
        "timestamp": f"{DAY}T10:01:30.000Z",
        "context": {"channel": "whatsapp"},
        "properties": {"messageId": OUT, "agentId": "agent_e2e", "templateId": "welcome_v2"},
    }
    bad = {**crm_sent, "event": "message.sent", "properties": {"agentId": "agent_e2e"}}
    response = api.post("/v1/capture", json={"batch": [crm_sent, bad]}, headers=key)
    assert response.status_code == 207, response.text
    assert response.json()["accepted"] == 1
    assert response.json()["errors"] == [
        {
            "index": 1,
            "error": "validation_error",
            "field": "properties.messageId",
            "message": "message.sent needs properties.messageId",
        }
    ]
    assert api.post("/v1/capture", json={"batch": [crm_sent]}, headers=key).status_code == 200

    # An attributed order, as attribution publishes it.
    order = {
        "version": "1",
        "messageId": "e2e-analytics-order-1",
        "type": "track",
        "event": "conversion.attributed",
        "userId": f"+{PHONE}",
        "timestamp": f"{DAY}T11:00:00.000Z",
        "context": {"channel": "whatsapp", "provider": "shopify"},
        "properties": {
            "kind": "order",
            "value": 25.5,
            "currency": "EUR",
            "sourceId": AD,
            "attribution": {"status": "attributed", "model": "last_touch", "reason": None},
        },
    }
    entry = {
        "EventBusName": stack.physical_id("EventBus"),
        "Source": "wa-conversions",
        "DetailType": "conversion.attributed",
        "Detail": json.dumps(order),
    }
    events = stack.client("events")
    assert events.put_events(Entries=[entry, entry])["FailedEntryCount"] == 0

    stack.wait_until_idle()
    response = api.get("/metrics", params={"from": DAY, "to": DAY, "granularity": "day"}, headers=key)
    assert response.status_code == 200, response.text
    metrics = response.json()
    assert metrics["response_time_seconds"] == {"median": 90, "p90": 90, "count": 1}
    assert metrics["new_contacts"] == {DAY: 1}
    assert metrics["funnel"] == {"sent": 1, "delivered": 1, "read": 1, "replied": 1}
    assert (metrics["delivery_rate"], metrics["read_rate"], metrics["reply_rate"]) == (1.0, 1.0, 1.0)
    assert metrics["received"] == 2
    assert metrics["by_country"] == {"NL": 2}
    assert {h: n for h, n in metrics["by_hour"].items() if n} == {"10": 2}
    assert metrics["by_agent"]["agent_e2e"]["sent"] == 1
    assert metrics["by_agent"]["agent_e2e"]["response_time_seconds"]["median"] == 90
    assert metrics["by_service_mode"] == {"agent": {"sent": 1, "resolved": 0}}
    assert metrics["ads"] == {AD: {"clicks": 1, "conversations": 1, "orders": 1, "revenue": 25.5}}
    assert (
        stack.client("sqs").get_queue_attributes(
            QueueUrl=stack.physical_id("AnalyticsDLQ"), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )


def test_metrics_refuses_bad_ranges_over_http(api: httpx.Client, stack: LocalStack) -> None:
    key = {"X-Api-Key": stack.env_values["API_KEY"]}
    reversed_range = api.get("/metrics", params={"from": "2024-03-02", "to": "2024-03-01"}, headers=key)
    assert reversed_range.status_code == 422
    assert reversed_range.json()["field"] == "from"
    assert (
        api.get("/metrics", params={"from": "2020-01-01", "to": "2024-03-01"}, headers=key).status_code == 422
    )
    assert api.get("/metrics", params={"from": DAY, "to": DAY}).status_code == 401
