"""Forwarding through the local stack: conversion events published on the bus reach the destinations'
stand-ins in their documented shapes, once each, and faults (409, 429, 500, 400, a connection lost
before or after the destination took the request) end as they should."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.sample_events import read_env
from devstack.stack import DevStack
from devstack.testing import AwsHelpers
from wa_conversions.signatures import meta_signature

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ENV = read_env(ROOT / "local.env")
HEADERS = {"X-Api-Key": ENV["API_KEY"]}
QUEUES = {
    "wax": "WaxQueue",
    "meta": "MetaCapiQueue",
    "cm": "CmConversionsQueue",
    "dialog360": "Dialog360Queue",
}
DLQS = {name: queue.replace("Queue", "DLQ") for name, queue in QUEUES.items()}


@pytest.fixture
def standins(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.standins.url, timeout=10.0) as client:
        client.delete("/_faults")
        client.delete("/_requests")
        yield client
        client.delete("/_faults")


def conversion(name: str = "conversion.attributed", **overrides: Any) -> dict[str, Any]:
    order_id = str(uuid.uuid4().int % 10**15)
    conversion_id = f"shopify:wa-conversions-dev.myshopify.com:{order_id}"
    kind = {
        "conversion.attributed": "order",
        "conversion.unattributed": "order",
        "order.paid": "order_paid",
        "order.cancelled": "order_cancelled",
        "refund.created": "refund",
    }[name]
    now = int(time.time())
    properties: dict[str, Any] = {
        "conversionId": conversion_id,
        "eventId": f"{conversion_id}:{kind}",
        "kind": kind,
        "shop": "wa-conversions-dev.myshopify.com",
        "orderId": order_id,
        "orderName": "#1001",
        "value": 59.9,
        "currency": "EUR",
        "lineItems": [
            {
                "id": 1,
                "productId": 632910392,
                "variantId": 1,
                "sku": "SUC-1",
                "title": "Succulent box",
                "quantity": 2,
                "price": 24.95,
            },
            {
                "id": 2,
                "productId": 632910393,
                "variantId": 2,
                "sku": "POT-1",
                "title": "Clay pot",
                "quantity": 1,
                "price": 10.0,
            },
        ],
        "email": " Buyer@Example.com ",
        "phone": "16505551234",
        "contactKey": "16505551234",
        "ctwaClid": "Aff-n8ZTODiE79d22KtAwQ",
        "sourceId": "120226305854810726",
        "clickedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 3600)),
        "attribution": {"status": "attributed", "model": "last_touch", "reason": None},
        "test": False,
    }
    properties.update(overrides)
    return {
        "version": "1",
        "messageId": str(uuid.uuid4()),
        "type": "track",
        "event": name,
        "userId": "+16505551234",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 60)),
        "context": {"channel": "whatsapp", "provider": "shopify"},
        "properties": properties,
    }


def publish(stack: DevStack, aws: AwsHelpers, *details: dict[str, Any]) -> None:
    response = aws.events.put_events(
        Entries=[
            {
                "Source": "wa-conversions",
                "DetailType": d["event"],
                "Detail": json.dumps(d),
                "EventBusName": stack.physical_id("EventBus"),
            }
            for d in details
        ]
    )
    assert response["FailedEntryCount"] == 0


def received(standins: httpx.Client, destination: str) -> list[dict[str, Any]]:
    return [r for r in standins.get("/_requests").json() if r["destination"] == destination]


def deliveries(api: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = api.get("/deliveries", params=params, headers=HEADERS)
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


def parked_event_ids(aws: AwsHelpers, destination: str) -> list[str]:
    """Event ids parked in a destination's DLQ (other tests' malformed events may sit there too)."""
    ids = []
    for message in aws.receive_all(DLQS[destination], delete=False):
        properties = (json.loads(message["Body"]).get("detail") or {}).get("properties") or {}
        ids.append(str(properties.get("eventId")))
    return ids


def by_destination(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["destination"]: item for item in items}


def test_an_attributed_order_reaches_every_destination_in_its_documented_shape(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    event = conversion()
    p = event["properties"]
    publish(stack, aws, event)
    stack.wait_until_idle()

    [wax] = received(standins, "wax")
    assert wax["status"] == 201
    assert wax["path"] == "/wax/v1/metric-events"
    assert wax["headers"]["authorization"] == f"Bearer {ENV['WAX_API_TOKEN']}"
    assert wax["body"]["metric"] == "order"
    assert wax["body"]["phone_number"] == "16505551234"
    assert wax["body"]["unique_id"] == p["eventId"]
    flow = wax["body"]["properties"]
    assert flow["order_id"] == p["orderId"]
    assert flow["order_name"] == "#1001"
    assert flow["order_total"] == 59.9
    assert flow["currency"] == "EUR"
    assert flow["product_names"] == "Succulent box, Clay pot"
    assert flow["item_count"] == 3

    [meta] = received(standins, "meta")
    assert meta["status"] == 200
    assert meta["path"] == f"/meta/v26.0/{ENV['META_DATASET_ID']}/events"
    [server_event] = meta["body"]["data"]
    # the order's creation (MetaEventNames); its Purchase is the order.paid event (tests/e2e/test_meta.py)
    assert server_event["event_name"] == "OrderCreated"
    assert server_event["event_id"] == p["eventId"]
    assert server_event["action_source"] == "business_messaging"
    assert server_event["messaging_channel"] == "whatsapp"
    assert server_event["user_data"]["ctwa_clid"] == p["ctwaClid"]
    assert server_event["user_data"]["whatsapp_business_account_id"] == ENV["META_WABA_ID"]
    # normalised ("buyer@example.com"), then SHA-256 lowercase hex
    assert server_event["user_data"]["em"] == [hashlib.sha256(b"buyer@example.com").hexdigest()]
    assert server_event["user_data"]["ph"] == [hashlib.sha256(b"16505551234").hexdigest()]
    assert server_event["custom_data"]["value"] == 59.9
    assert server_event["custom_data"]["currency"] == "EUR"
    assert server_event["custom_data"]["content_ids"] == ["632910392", "632910393"]

    [cm] = received(standins, "cm")
    assert cm["status"] == 200
    assert cm["body"]["event"] == {
        "type": "Purchase",
        "custom": {"ctwa_id": p["ctwaClid"], "currency": "EUR", "value": "59.90"},
    }
    assert cm["body"]["to"] == {"number": "0016505551234"}
    assert cm["body"]["from"] == {"number": "00" + ENV["CM_BUSINESS_NUMBER"]}
    assert cm["body"]["authentication"] == {"productToken": ENV["CM_PRODUCT_TOKEN"]}

    [dialog] = received(standins, "dialog360")
    assert dialog["status"] == 200
    assert dialog["path"] == f"/360dialog/clients/{ENV['DIALOG360_CLIENT_ID']}/external-events"
    assert dialog["body"]["api_key"] == ENV["DIALOG360_API_KEY"]
    assert dialog["body"]["external_event"] == {
        "action": "Purchased an item",
        "lead_phone": "16505551234",
        "revenue": {"amount": 59.9, "currency": "EUR"},
    }

    log = by_destination(deliveries(api, order_id=p["orderId"]))
    assert set(log) == {"wax", "meta", "cm", "dialog360", "collector"}
    assert {item["status"] for item in log.values()} == {"delivered"}
    assert all(item["attempts"] == 1 and item["deliveredAt"] for item in log.values())


def test_a_follow_up_at_360dialog_carries_the_orders_external_event_id(
    stack: DevStack, aws: AwsHelpers, standins: httpx.Client
) -> None:
    order = conversion()
    publish(stack, aws, order)
    stack.wait_until_idle()
    refund = conversion("refund.created", conversionId=order["properties"]["conversionId"], value=10.0)
    refund["properties"]["eventId"] = order["properties"]["conversionId"] + ":refund:1"
    publish(stack, aws, refund)
    stack.wait_until_idle()

    first, follow_up = received(standins, "dialog360")
    assert "previous_external_event_id" not in first["body"]["external_event"]
    chained = follow_up["body"]["external_event"]
    assert chained["action"] == "Refunded an order"
    assert chained["previous_external_event_id"]


def test_a_follow_up_that_comes_before_its_order_waits_to_be_chained(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    order = conversion()
    conversion_id = order["properties"]["conversionId"]
    paid = conversion("order.paid", conversionId=conversion_id, orderId=order["properties"]["orderId"])
    paid["properties"]["eventId"] = f"{conversion_id}:order_paid"
    publish(stack, aws, paid)
    time.sleep(0.5)  # the follow-up is tried, finds no order yet, and is put back with backoff
    publish(stack, aws, order)
    stack.wait_until_idle(timeout=60)

    first, follow_up = received(standins, "dialog360")
    assert first["body"]["external_event"]["action"] == "Purchased an item"
    assert follow_up["body"]["external_event"]["action"] == "Paid an order"
    assert follow_up["body"]["external_event"]["previous_external_event_id"]
    log = [
        d for d in deliveries(api, order_id=order["properties"]["orderId"]) if d["destination"] == "dialog360"
    ]
    assert sorted(d["status"] for d in log) == ["delivered", "delivered"]


def test_a_follow_up_of_an_order_never_seen_is_not_held_back(
    stack: DevStack, aws: AwsHelpers, standins: httpx.Client
) -> None:
    refund = conversion("refund.created", value=5.0, orderKnown=False)
    refund["properties"]["eventId"] = refund["properties"]["conversionId"] + ":refund:9"
    publish(stack, aws, refund)
    stack.wait_until_idle()
    [sent] = received(standins, "dialog360")
    assert "previous_external_event_id" not in sent["body"]["external_event"]


def test_wax_409_counts_as_delivered(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    standins.post("/_faults", json={"destination": "wax", "status": 409})
    event = conversion()
    publish(stack, aws, event)
    stack.wait_until_idle()

    assert [r["status"] for r in received(standins, "wax")] == [409]
    [wax] = deliveries(api, order_id=event["properties"]["orderId"], destination="wax")
    assert wax["status"] == "delivered"
    assert wax["lastStatusCode"] == 409
    assert event["properties"]["eventId"] not in parked_event_ids(aws, "wax")


def test_429_is_retried_after_retry_after(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    standins.post("/_faults", json={"destination": "meta", "status": 429, "retry_after": 2})
    event = conversion()
    publish(stack, aws, event)
    stack.wait_until_idle()

    first, second = received(standins, "meta")
    assert (first["status"], second["status"]) == (429, 200)
    assert second["at"] - first["at"] >= 2.0  # the message stayed invisible as Retry-After asked
    [meta] = deliveries(api, order_id=event["properties"]["orderId"], destination="meta")
    assert meta["status"] == "delivered"
    assert meta["attempts"] == 2


def test_500_then_success(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    standins.post("/_faults", json={"destination": "wax", "status": 500, "times": 2})
    event = conversion()
    publish(stack, aws, event)
    stack.wait_until_idle()

    assert [r["status"] for r in received(standins, "wax")] == [500, 500, 201]
    [wax] = deliveries(api, order_id=event["properties"]["orderId"], destination="wax")
    assert (wax["status"], wax["attempts"], wax["lastStatusCode"]) == ("delivered", 3, 201)


def test_a_permanent_400_is_parked_with_its_reason_and_a_replay_sends_it_once(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    standins.post("/_faults", json={"destination": "cm", "status": 400})
    event = conversion()
    publish(stack, aws, event)
    stack.wait_until_idle()

    assert [r["status"] for r in received(standins, "cm")] == [400]  # not retried
    [parked] = [m for m in aws.receive_all(DLQS["cm"]) if event["properties"]["eventId"] in m["Body"]]
    assert "HTTP 400" in parked["MessageAttributes"]["reason"]["StringValue"]
    [cm] = deliveries(api, order_id=event["properties"]["orderId"], destination="cm")
    assert cm["status"] == "failed"
    assert "HTTP 400" in cm["reason"]

    # The operator fixes the cause and replays: sent once more, and delivered.
    replay = api.post(f"/deliveries/{cm['id']}/retry", headers=HEADERS)
    assert replay.status_code == 202, replay.text
    assert replay.json()["alreadyDelivered"] is False
    stack.wait_until_idle()
    assert [r["status"] for r in received(standins, "cm")] == [400, 200]

    # A second replay finds it delivered: nothing more reaches CM.com.
    again = api.post(f"/deliveries/{cm['id']}/retry", headers=HEADERS)
    assert again.json()["alreadyDelivered"] is True
    stack.wait_until_idle()
    assert len(received(standins, "cm")) == 2
    [cm] = deliveries(api, order_id=event["properties"]["orderId"], destination="cm")
    assert cm["status"] == "delivered"


def test_a_redelivered_event_is_not_sent_twice(
    stack: DevStack, aws: AwsHelpers, standins: httpx.Client
) -> None:
    event = conversion()
    publish(stack, aws, event)
    stack.wait_until_idle()
    publish(stack, aws, event)  # the same event again, as an at-least-once bus may
    stack.wait_until_idle()

    for destination in ("wax", "meta", "cm", "dialog360"):
        assert len(received(standins, destination)) == 1, destination


def test_one_bad_event_in_a_meta_batch_fails_alone(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    events = [conversion() for _ in range(3)]
    bad = events[1]["properties"]["eventId"]
    standins.post("/_faults", json={"destination": "meta", "status": 400, "times": 10, "match": bad})
    publish(stack, aws, *events)
    stack.wait_until_idle()

    statuses = {
        e["properties"]["eventId"]: deliveries(api, order_id=e["properties"]["orderId"], destination="meta")[
            0
        ]
        for e in events
    }
    assert statuses[bad]["status"] == "failed"
    assert [s["status"] for k, s in statuses.items() if k != bad] == ["delivered", "delivered"]
    mine = {e["properties"]["eventId"] for e in events}
    assert [i for i in parked_event_ids(aws, "meta") if i in mine] == [bad]


def test_a_conversion_cm_may_have_taken_is_left_ambiguous_until_the_operator_confirms_it(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    clid = f"clid-{uuid.uuid4().hex}"
    # CM.com takes the event, then the connection drops before its answer: sent, outcome unknown.
    standins.post("/_faults", json={"destination": "cm", "drop": "after_record", "match": clid})
    event = conversion(ctwaClid=clid)
    publish(stack, aws, event)
    stack.wait_until_idle()

    assert [r["status"] for r in received(standins, "cm")] == [200]  # it did arrive
    [cm] = deliveries(api, order_id=event["properties"]["orderId"], destination="cm")
    assert cm["status"] == "ambiguous"
    assert "outcome unknown" in cm["reason"]
    assert cm["id"] in [d["id"] for d in deliveries(api, status="ambiguous")]
    assert event["properties"]["eventId"] not in parked_event_ids(aws, "cm")
    # the destinations that answered are not held back by it
    others = by_destination(deliveries(api, order_id=event["properties"]["orderId"]))
    assert {others[d]["status"] for d in ("wax", "meta", "dialog360")} == {"delivered"}

    # The operator sees it in CM.com and confirms it: delivered, and nothing is sent.
    confirmed = api.post(f"/deliveries/{cm['id']}/confirm", headers=HEADERS)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["delivery"]["status"] == "delivered"
    assert confirmed.json()["delivery"]["confirmedByOperator"] is True
    publish(stack, aws, event)  # the bus delivers the event again
    stack.wait_until_idle()
    assert len(received(standins, "cm")) == 1
    [cm] = deliveries(api, order_id=event["properties"]["orderId"], destination="cm")
    assert cm["status"] == "delivered"


def test_a_conversion_meta_never_got_is_sent_again_when_the_operator_retries_it(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    event = conversion()
    # The connection drops before Meta reads the event: nobody can tell it apart from a lost answer.
    standins.post(
        "/_faults",
        json={"destination": "meta", "drop": "before_record", "match": event["properties"]["eventId"]},
    )
    publish(stack, aws, event)
    stack.wait_until_idle()

    assert received(standins, "meta") == []
    [meta] = deliveries(api, order_id=event["properties"]["orderId"], destination="meta")
    assert (meta["status"], meta["attempts"]) == ("ambiguous", 1)

    retried = api.post(f"/deliveries/{meta['id']}/retry", headers=HEADERS)
    assert retried.status_code == 202, retried.text
    assert retried.json()["previousStatus"] == "ambiguous"
    stack.wait_until_idle()

    [sent] = received(standins, "meta")
    assert sent["status"] == 200
    assert [e["event_id"] for e in sent["body"]["data"]] == [event["properties"]["eventId"]]
    [meta] = deliveries(api, order_id=event["properties"]["orderId"], destination="meta")
    assert (meta["status"], meta["attempts"]) == ("delivered", 2)


def test_confirming_an_unknown_delivery_is_404(api: httpx.Client) -> None:
    response = api.post(f"/deliveries/{uuid.uuid4()}/confirm", headers=HEADERS)
    assert response.status_code == 404
    assert response.json()["error"]


def test_unattributed_and_test_orders_are_skipped_with_a_reason(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    unattributed = conversion(
        "conversion.unattributed",
        ctwaClid=None,
        clickedAt=None,
        attribution={"status": "unattributed", "model": "last_touch", "reason": "no_referral"},
    )
    test_order = conversion(test=True)
    publish(stack, aws, unattributed, test_order)
    stack.wait_until_idle()

    # Wax does its own attribution: it gets the unattributed order; Meta and CM.com get nothing.
    assert [r["body"]["unique_id"] for r in received(standins, "wax")] == [
        unattributed["properties"]["eventId"]
    ]
    assert received(standins, "meta") == []
    assert received(standins, "cm") == []
    skipped = by_destination(deliveries(api, order_id=test_order["properties"]["orderId"]))
    assert {item["status"] for item in skipped.values()} == {"skipped"}
    assert all("test order" in item["reason"] for item in skipped.values())


def _referral_webhook(phone: str, clicked_at: int) -> tuple[bytes, str]:
    payload = json.loads((ROOT / "events/payloads/meta_docs_text_message_ctwa_referral.json").read_text())
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = phone
    message = value["messages"][0]
    message["from"] = phone
    message["id"] = f"wamid.{uuid.uuid4().hex}"
    message["timestamp"] = str(clicked_at)
    return json.dumps(payload).encode(), message["id"]


def test_post_conversions_resolves_the_ad_click_and_sends_it_to_meta(
    stack: DevStack, api: httpx.Client, standins: httpx.Client
) -> None:
    phone = "1650555" + str(uuid.uuid4().int % 10**4).zfill(4)
    body, wamid = _referral_webhook(phone, int(time.time()) - 3600)
    posted = api.post(
        "/webhooks/whatsapp",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(body, ENV["WHATSAPP_APP_SECRET"]),
        },
    )
    assert posted.status_code == 200
    stack.wait_until_idle()
    event_id = f"lead-{uuid.uuid4()}"

    response = api.post(
        "/conversions",
        headers=HEADERS,
        json={
            "accountId": "102290129340398",
            "eventName": "LeadSubmitted",
            "eventId": event_id,
            "phoneE164": phone,
            "email": "Lead@Example.com",
            "testCode": "TEST123",
        },
    )
    assert response.status_code == 202, response.text
    assert response.json()["eventId"] == event_id
    stack.wait_until_idle()

    [meta] = received(standins, "meta")
    assert meta["body"]["test_event_code"] == "TEST123"
    [server_event] = meta["body"]["data"]
    assert server_event["event_name"] == "LeadSubmitted"
    assert server_event["event_id"] == event_id
    assert server_event["user_data"]["ctwa_clid"].startswith("Aff-n8ZTODiE79d22KtAwQKj9e")

    by_conversation = api.post(
        "/conversions",
        headers=HEADERS,
        json={
            "accountId": "1",
            "eventName": "ViewContent",
            "eventId": event_id + "-2",
            "conversationId": wamid,
        },
    )
    assert by_conversation.status_code == 202, by_conversation.text


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (
            {"accountId": "1", "eventName": "Purchase", "eventId": "e1", "value": 1, "currency": "EUR"},
            422,
            "conversationId",
        ),
        (
            {"accountId": "1", "eventName": "Lead", "eventId": "e1", "phoneE164": "16505550000"},
            422,
            "eventName",
        ),
        (
            {"accountId": "1", "eventName": "Purchase", "eventId": "e1", "phoneE164": "16505550000"},
            422,
            "value",
        ),
        (
            {"accountId": "1", "eventName": "LeadSubmitted", "eventId": "e1", "phoneE164": "19995550000"},
            404,
            None,
        ),
    ],
)
def test_post_conversions_refuses_what_meta_would_refuse(
    api: httpx.Client, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = api.post("/conversions", headers=HEADERS, json=body)
    assert response.status_code == status, response.text
    assert response.json().get("field") == field


def test_post_conversions_outside_the_click_window_is_422(stack: DevStack, api: httpx.Client) -> None:
    phone = "1650444" + str(uuid.uuid4().int % 10**4).zfill(4)
    body, _ = _referral_webhook(phone, int(time.time()) - 9 * 86400)
    api.post(
        "/webhooks/whatsapp",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(body, ENV["WHATSAPP_APP_SECRET"]),
        },
    )
    stack.wait_until_idle()
    response = api.post(
        "/conversions",
        headers=HEADERS,
        json={"accountId": "1", "eventName": "LeadSubmitted", "eventId": "late", "phoneE164": phone},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "eventTime"
