"""The collector through the local stack: the demo's sample conversation (ad click, agent reply,
delivered, read, reply, order) reaches the collector stand-in as its events (docs/forwarding.md), in order,
each once, with the right properties; a redelivered webhook sends nothing new; a 500 then 200
delivers once; what came in through POST /v1/capture is not echoed back."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.sample_events import read_env
from devstack.shopify_samples import shopify_headers
from devstack.stack import DevStack
from tests.support import attribution as sc
from tests.support import webhooks as wh
from wa_conversions.signatures import meta_signature

pytestmark = pytest.mark.e2e

ENV = read_env()
HEADERS = {"X-Api-Key": ENV["API_KEY"]}
CLID = "Aff-n8ZTODiE79d22KtAwQ"


@pytest.fixture
def standins(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.standins.url, timeout=10.0) as client:
        client.delete("/_faults")
        client.delete("/_requests")
        yield client
        client.delete("/_faults")


def fresh_phone() -> str:
    return f"1415{random.randint(200, 999)}{random.randint(1000, 9999)}"


def post_whatsapp(api: httpx.Client, stack: DevStack, document: dict[str, Any]) -> None:
    body = wh.encode(document)
    signature = meta_signature(body, ENV["WHATSAPP_APP_SECRET"])
    response = api.post(
        "/webhooks/whatsapp",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert response.status_code == 200, response.text
    stack.wait_until_idle()


def received(standins: httpx.Client, user: str) -> list[dict[str, Any]]:
    """The items the collector accepted for this contact, in the order they arrived."""
    return [
        item
        for request in standins.get("/_requests").json()
        if request["destination"] == "collector" and request["status"] == 200
        for item in request["body"]["batch"]
        if item["userId"] == user
    ]


def inbound(phone: str, message_id: str, at: int, **extra: Any) -> dict[str, Any]:
    return wh.webhook(
        {"contacts": [wh.contact(phone)], "messages": [wh.text_message(message_id, phone, at, **extra)]}
    )


def outbound(phone: str, message_id: str, state: str, at: int) -> dict[str, Any]:
    return wh.webhook({"statuses": [wh.status(message_id, state, at, phone)]})


def test_the_demo_conversation_reaches_the_collector_as_the_seeds_events_in_order_once_each(
    stack: DevStack, api: httpx.Client, standins: httpx.Client
) -> None:
    phone = fresh_phone()
    user = f"+{phone}"
    click_at = int(time.time()) - sc.DAY
    ids = [f"wamid.{uuid.uuid4().hex}" for _ in range(3)]
    referral = {"source_id": "120226305854810726", "source_type": "ad", "ctwa_clid": CLID, "headline": "Hi"}
    ad_click = inbound(phone, ids[0], click_at, referral=referral)

    post_whatsapp(api, stack, ad_click)
    for state, after in (("sent", 60), ("delivered", 90), ("read", 120)):  # the agent's reply
        post_whatsapp(api, stack, outbound(phone, ids[1], state, click_at + after))
    post_whatsapp(api, stack, inbound(phone, ids[2], click_at + 180))  # the contact replies
    order_id = random.randint(10**11, 10**12)
    order = sc.order(order_id=order_id, created_at=click_at + 3600, phone=f"+{phone}")
    body = sc.encode(order)
    headers = shopify_headers(
        body, ENV["SHOPIFY_WEBHOOK_SECRET"], shop=ENV["SHOPIFY_SHOP_DOMAIN"], topic="orders/create"
    )
    assert api.post("/webhooks/shopify", content=body, headers=headers).status_code == 200
    stack.wait_until_idle()

    items = received(standins, user)
    assert [i["event"] for i in items] == [
        "contact.created",
        "message.received",
        "message.sent",
        "message.delivered",
        "message.read",
        "message.received",
        "conversion.attributed",
    ]
    assert len({i["messageId"] for i in items}) == len(items)  # each once
    assert all(i["type"] == "track" and i["context"]["channel"] == "whatsapp" for i in items)
    assert items[0]["context"]["library"]["name"] == "wa-conversions"
    created, click, sent, delivered, read, reply, conversion = (i["properties"] for i in items)
    assert created == {"chatId": phone, "name": "Test User", "source": "ad", "countryCode": "US"}
    assert click == {
        "messageId": ids[0],
        "chatId": phone,
        "direction": "inbound",
        "contentType": "text",
        "hasMedia": False,
        "countryCode": "US",
        "fromAd": True,
    }
    assert (sent["messageId"], sent["direction"], sent["chatId"]) == (ids[1], "outbound", phone)
    assert delivered["deliveredAt"] == items[3]["timestamp"] and delivered["messageId"] == ids[1]
    assert read["readAt"] == items[4]["timestamp"] and read["messageId"] == ids[1]
    assert reply["messageId"] == ids[2] and reply["fromAd"] is False
    assert conversion["orderId"] == str(order_id) and conversion["attributionStatus"] == "attributed"
    assert conversion["value"] > 0 and conversion["currency"]
    assert items[1]["timestamp"] == time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(click_at))
    [request] = [r for r in standins.get("/_requests").json() if r["destination"] == "collector"][:1]
    assert request["headers"]["x-write-key"] == ENV["COLLECTOR_WRITE_KEY"]

    post_whatsapp(api, stack, ad_click)  # Meta redelivers the first webhook

    assert received(standins, user) == items  # nothing new


def test_a_500_then_200_delivers_once(stack: DevStack, api: httpx.Client, standins: httpx.Client) -> None:
    phone = fresh_phone()
    message_id = f"wamid.{uuid.uuid4().hex}"
    fault = {"destination": "collector", "status": 500, "times": 1, "match": message_id}
    assert standins.post("/_faults", json=fault).status_code == 201

    post_whatsapp(api, stack, inbound(phone, message_id, int(time.time()) - 60))

    tries = [
        r
        for r in standins.get("/_requests").json()
        if r["destination"] == "collector" and message_id in str(r["body"])
    ]
    assert [r["status"] for r in tries] == [500, 200]
    assert [i["event"] for i in received(standins, f"+{phone}")] == ["contact.created", "message.received"]
    logged = api.get("/deliveries", params={"destination": "collector"}, headers=HEADERS).json()["deliveries"]
    mine = [d for d in logged if d["eventName"] == "message.received" and d["attempts"] == 2]
    assert mine and mine[0]["status"] == "delivered"


def test_an_event_that_came_in_through_v1_capture_is_not_echoed(
    stack: DevStack, api: httpx.Client, standins: httpx.Client
) -> None:
    phone = fresh_phone()
    crm_sent = {
        "type": "track",
        "event": "message.sent",
        "userId": f"+{phone}",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 120)),
        "context": {"channel": "whatsapp"},
        "properties": {
            "messageId": f"wamid.{uuid.uuid4().hex}",
            "chatId": "chat_123",
            "agentId": "agent_456",
        },
    }
    answer = api.post("/v1/capture", json={"batch": [crm_sent]}, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    stack.wait_until_idle()
    # then a webhook for the same contact: it reaches the collector, the CRM's event does not
    post_whatsapp(api, stack, inbound(phone, f"wamid.{uuid.uuid4().hex}", int(time.time()) - 60))

    assert [i["event"] for i in received(standins, f"+{phone}")] == ["contact.created", "message.received"]
