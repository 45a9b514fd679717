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
from devstack.stack import DevStack
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e
DAY = "2024-02-29"
PHONE = "31612345678"  # the Netherlands
AD = "e2e-ad-7"
OUT = "wamid.e2e-analytics-out-1"


def epoch(clock: str) -> int:
    return int(datetime.fromisoformat(f"{DAY}T{clock}+00:00").astimezone(UTC).timestamp())


def post_webhook(api: httpx.Client, stack: DevStack, document: dict) -> None:
    event = whatsapp_post(wh.encode(document), stack.env_values["WHATSAPP_APP_SECRET"])
    response = api.post("/webhooks/whatsapp", content=event["body"].encode(), headers=event["headers"])
    assert response.status_code == 200, response.text


def test_metrics_over_http_count_each_fact_once(api: httpx.Client, stack: DevStack) -> None:
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
    assert set(metrics["ads"]) == {AD}
    ad = metrics["ads"][AD]
    assert (ad["clicks"], ad["conversations"], ad["orders"], ad["revenue"]) == (1, 1, 1, 25.5)
    assert ad["ad_started_answered_within_24h"] == 1.0  # answered in 90 s
    assert (
        stack.client("sqs").get_queue_attributes(
            QueueUrl=stack.physical_id("AnalyticsDLQ"), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )


def test_metrics_refuses_bad_ranges_over_http(api: httpx.Client, stack: DevStack) -> None:
    key = {"X-Api-Key": stack.env_values["API_KEY"]}
    reversed_range = api.get("/metrics", params={"from": "2024-03-02", "to": "2024-03-01"}, headers=key)
    assert reversed_range.status_code == 422
    assert reversed_range.json()["field"] == "from"
    assert (
        api.get("/metrics", params={"from": "2020-01-01", "to": "2024-03-01"}, headers=key).status_code == 422
    )
    assert api.get("/metrics", params={"from": DAY, "to": DAY}).status_code == 401


# -- coexistence and time zones (docs/events.md#coexistence, docs/analytics.md) ------------------
# Their own days and number, so the session's other data does not reach these numbers.
COEX_DAY, PAST_DAY = "2023-11-15", "2023-11-10"
COEX_PHONE = "5215599001122"  # Mexico
COEX_AD = "e2e-ad-coex"


def at_epoch(day: str, clock: str) -> int:
    return int(datetime.fromisoformat(f"{day}T{clock}+00:00").timestamp())


def test_replies_from_the_business_app_count_and_history_backfills_once(
    api: httpx.Client, stack: DevStack
) -> None:
    key = {"X-Api-Key": stack.env_values["API_KEY"]}
    business = wh.METADATA["display_phone_number"]
    referral = {"source_id": COEX_AD, "source_type": "ad", "ctwa_clid": "e2e-clid-coex"}
    # The customer writes from the ad at 02:00 UTC (20:00 the day before in Mexico City) ...
    inbound = wh.webhook(
        {
            "contacts": [wh.contact(COEX_PHONE, "E2E Coexistence")],
            "messages": [
                wh.text_message(
                    "wamid.e2e-coex-in", COEX_PHONE, at_epoch(COEX_DAY, "02:00:00"), referral=referral
                )
            ],
        }
    )
    # ... and the business answers 200 s later from the WhatsApp Business app.
    echo = {
        "from": business,
        "to": COEX_PHONE,
        "id": "wamid.e2e-coex-echo",
        "timestamp": str(at_epoch(COEX_DAY, "02:03:20")),
        "type": "text",
        "text": {"body": "Hola, ¿en qué te ayudo?"},
    }
    echoes = wh.webhook({"message_echoes": [echo]}, field="smb_message_echoes")
    # A chat from before onboarding: asked at 10:00, answered from the app at 10:10, read.
    past = [
        wh.text_message("wamid.e2e-coex-past-in", COEX_PHONE, at_epoch(PAST_DAY, "10:00:00")),
        {
            **wh.text_message("wamid.e2e-coex-past-out", business, at_epoch(PAST_DAY, "10:10:00")),
            "to": COEX_PHONE,
            "history_context": {"status": "READ"},
        },
    ]
    chunk = {
        "metadata": {"phase": 1, "chunk_order": 1, "progress": 100},
        "threads": [{"id": COEX_PHONE, "messages": past}],
    }
    backfill = wh.webhook({"history": [chunk]}, field="history")
    # The echo before the message it answers; Meta repeats webhooks, the history is replayed.
    for document in (echoes, inbound, backfill, echoes, backfill):
        post_webhook(api, stack, document)
    stack.wait_until_idle()

    day = api.get("/metrics", params={"from": COEX_DAY, "to": COEX_DAY, "tz": "UTC"}, headers=key).json()
    assert day["response_time_seconds"] == {"median": 200, "p90": 200, "count": 1}
    assert day["funnel"] == {"sent": 1, "delivered": 0, "read": 0, "replied": 0}
    assert day["by_service_mode"] == {"app": {"sent": 1, "resolved": 0}}
    assert day["ads"][COEX_AD]["conversations"] == 1
    assert day["ads"][COEX_AD]["ad_started_answered_within_24h"] == 1.0
    assert day["received"] == 1

    # In Mexico City the chat happened the evening before.
    local = api.get(
        "/metrics", params={"from": PAST_DAY, "to": COEX_DAY, "tz": "America/Mexico_City"}, headers=key
    ).json()
    received = {d["date"]: d["received"] for d in local["daily"] if d["received"]}
    assert received == {PAST_DAY: 1, "2023-11-14": 1}
    assert {h: n for h, n in local["by_hour"].items() if n} == {"04": 1, "20": 1}

    # The history, posted twice, counts once: one question, one reply after 600 s, read (and
    # replied to, by the ad message five days later).
    history = api.get("/metrics", params={"from": PAST_DAY, "to": PAST_DAY, "tz": "UTC"}, headers=key).json()
    assert history["received"] == 1
    assert history["funnel"] == {"sent": 1, "delivered": 1, "read": 1, "replied": 1}
    assert history["response_time_seconds"] == {"median": 600, "p90": 600, "count": 1}
    assert history["by_service_mode"] == {"app": {"sent": 1, "resolved": 0}}

    bad = api.get("/metrics", params={"from": COEX_DAY, "to": COEX_DAY, "tz": "Mexico City"}, headers=key)
    assert bad.status_code == 400 and bad.json()["field"] == "tz"
