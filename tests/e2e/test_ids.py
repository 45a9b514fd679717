"""Ids holding "/", "+", "=" and a space, through every id-bearing route of the local stack over HTTP.

A wamid is base64, so about half of real ones hold "/" (sent as "%2F"); API Gateway REST hands the
function that path still percent-encoded, and each route must find the record all the same."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

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


def odd(prefix: str) -> str:
    """An id unique to this run holding every character a path must carry encoded."""
    return f"{prefix}{uuid.uuid4().hex[:10]}/a+b= c=="


def encoded(value: str, safe: str = "") -> str:
    return quote(value, safe=safe)


@pytest.fixture
def operator(api: httpx.Client) -> httpx.Client:
    api.headers["X-Api-Key"] = ENV["API_KEY"]
    return api


@dataclass(frozen=True)
class Captured:
    phone: str
    wamid: str
    user_id: str
    user_wamid: str


@pytest.fixture(scope="module")
def captured(stack: DevStack) -> Captured:
    """A signed WhatsApp webhook: an ad click from a phone, and a message from a contact known only by
    a user id, every id holding "/+= "."""
    found = Captured(
        phone="1650" + str(uuid.uuid4().int)[:7],
        wamid=odd("wamid.ids-"),
        user_id=odd("US.ids-"),
        user_wamid=odd("wamid.ids-user-"),
    )
    now = int(time.time())
    click = {"source_type": "ad", "source_id": "120226305854810726", "ctwa_clid": odd("clid-")}
    document = wh.webhook(
        {
            "contacts": [wh.contact(found.phone)],
            "messages": [wh.text_message(found.wamid, found.phone, now - 60, referral=click)],
        },
        {
            "contacts": [wh.contact(None, user_id=found.user_id)],
            "messages": [wh.text_message(found.user_wamid, None, now - 30, from_user_id=found.user_id)],
        },
    )
    body = wh.encode(document)
    with httpx.Client(base_url=stack.api_url, timeout=10.0) as client:
        answer = client.post(
            "/webhooks/whatsapp",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": meta_signature(body, ENV["WHATSAPP_APP_SECRET"]),
            },
        )
    assert answer.status_code == 200, answer.text
    stack.wait_until_idle()
    return found


def assert_not_found(response: httpx.Response, message: str) -> None:
    """A 404 from the function itself, naming the id decoded once, not the gateway's "No route"."""
    assert response.status_code == 404, response.text
    assert response.json() == {"error": "not_found", "message": message}


def test_messages_are_found_by_ids_holding_slash_plus_equals_and_space(
    operator: httpx.Client, captured: Captured
) -> None:
    for path in (encoded(captured.wamid), encoded(captured.wamid, safe="+=")):
        response = operator.get(f"/messages/{path}")
        assert response.status_code == 200, response.text
        assert response.json()["id"] == captured.wamid
        assert response.json()["contact"] == captured.phone
        assert response.json()["direction"] == "inbound"
    by_user = operator.get(f"/messages/{encoded(captured.user_wamid)}")
    assert by_user.status_code == 200, by_user.text
    assert by_user.json()["contact"] == captured.user_id
    missing = odd("wamid.missing-")
    assert_not_found(operator.get(f"/messages/{encoded(missing)}"), f"No message {missing!r}")
    assert_not_found(operator.get("/messages/%2525"), "No message '%25'")


def test_contacts_are_found_by_user_ids_holding_those_characters_and_by_phone(
    operator: httpx.Client, captured: Captured
) -> None:
    by_user = operator.get(f"/contacts/{encoded(captured.user_id)}")
    assert by_user.status_code == 200, by_user.text
    assert by_user.json()["user_id"] == captured.user_id
    assert by_user.json()["messages"] == {"inbound": 1, "outbound": 0}
    for phone in (captured.phone, f"+{captured.phone}", f"%2B{captured.phone}"):
        by_phone = operator.get(f"/contacts/{phone}")
        assert by_phone.status_code == 200, by_phone.text
        assert by_phone.json()["phone"] == captured.phone
    missing = odd("US.missing-")
    assert_not_found(operator.get(f"/contacts/{encoded(missing)}"), f"No contact {missing!r}")


def test_cm_actions_find_their_message_and_contact(
    api: httpx.Client, operator: httpx.Client, stack: DevStack, captured: Captured
) -> None:
    # Found, then refused for what they are: a WhatsApp (not CM.com) message, a contact without phone.
    read = operator.post(f"/messages/{encoded(captured.wamid)}/read")
    assert (read.status_code, read.json()["message"]) == (409, "The message did not come through CM.com")
    block = operator.post(f"/contacts/{encoded(captured.user_id)}/block")
    assert block.status_code == 409, block.text
    assert "phone number" in block.json()["message"]

    phone = "3161" + str(uuid.uuid4().int)[:7]
    wamid = odd("wamid.ids-cm-")
    mo = wh.sample_json("cm_constructed_mo_raw_referral.json")
    mo["from"]["number"] = f"00{phone}"
    mo["rawPayload"].update(id=wamid, **{"from": phone})
    posted = api.post(
        "/webhooks/cm",
        params={"token": ENV["CM_WEBHOOK_TOKEN"]},
        content=json.dumps(mo).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert posted.status_code == 200, posted.text
    stack.wait_until_idle()

    marked = operator.post(f"/messages/{encoded(wamid)}/read")

    assert marked.status_code == 202, marked.text
    assert marked.json() == {"message_id": wamid, "status": "queued"}
    missing = odd("wamid.missing-")
    assert_not_found(operator.post(f"/messages/{encoded(missing)}/read"), f"No message {missing!r}")


def test_deliveries_are_found_and_an_encoded_slash_is_not_the_list(
    operator: httpx.Client, stack: DevStack, captured: Captured
) -> None:
    event_id = odd("lead-")
    sent = operator.post(
        "/conversions",
        json={
            "accountId": "102290129340398",
            "eventName": "LeadSubmitted",
            "eventId": event_id,
            "conversationId": captured.wamid,
        },
    )
    assert sent.status_code == 202, sent.text
    delivery_id = sent.json()["deliveryId"]
    stack.wait_until_idle()

    delivery = operator.get(f"/deliveries/{encoded(delivery_id)}")
    assert delivery.status_code == 200, delivery.text
    assert (delivery.json()["eventId"], delivery.json()["status"]) == (event_id, "delivered")
    retried = operator.post(f"/deliveries/{encoded(delivery_id)}/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["alreadyDelivered"] is True

    assert_not_found(operator.get("/deliveries/%2F"), "No delivery '/'")
    assert_not_found(operator.post("/deliveries/%2F/retry"), "No delivery '/'")
    missing = odd("missing-")
    assert_not_found(operator.get(f"/deliveries/{encoded(missing)}"), f"No delivery {missing!r}")
    assert operator.get("/deliveries", params={"limit": "1"}).json()["count"] == 1


def test_orders_are_found_by_ids_holding_those_characters(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    order_id = odd("gid-ids-")
    payload: dict[str, Any] = sc.order(order_id=1, created_at=int(time.time()) - 60, phone=None)
    payload["id"] = order_id
    body = sc.encode(payload)
    headers = shopify_headers(
        body, ENV["SHOPIFY_WEBHOOK_SECRET"], shop=ENV["SHOPIFY_SHOP_DOMAIN"], topic="orders/create"
    )
    posted = api.post("/webhooks/shopify", content=body, headers=headers)
    assert posted.status_code == 200, posted.text
    stack.wait_until_idle()

    for query in ({}, {"shop": ENV["SHOPIFY_SHOP_DOMAIN"]}):
        view = operator.get(f"/orders/{encoded(order_id)}", params=query)
        assert view.status_code == 200, view.text
        assert view.json()["order_id"] == order_id
        assert view.json()["known"] is True
    missing = odd("gid-missing-")
    assert_not_found(operator.get(f"/orders/{encoded(missing)}"), f"No order {missing}")


def test_external_events_are_found_and_odd_ids_are_the_functions_404(
    operator: httpx.Client, captured: Captured
) -> None:
    created = operator.post(
        "/external-events",
        json={
            "lead_phone": f"+{captured.phone}",
            "action": "Booked",
            "revenue": {"amount": 0, "currency": "EUR"},
        },
    )
    assert created.status_code == 201, created.text
    external_event_id = created.json()["external_event_id"]

    stored = operator.get(f"/external-events/{encoded(external_event_id)}")

    assert stored.status_code == 200, stored.text
    assert stored.json()["external_event_id"] == external_event_id
    assert stored.json()["attribution"]["contact_key"] == captured.phone
    missing = odd("missing-")
    assert_not_found(operator.get(f"/external-events/{encoded(missing)}"), f"No off-thread event {missing}")


def test_the_local_access_log_masks_ids_that_are_phone_numbers(
    operator: httpx.Client, captured: Captured, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devstack")
    for path in (captured.phone, f"+{captured.phone}", f"%2B{captured.phone}"):
        assert operator.get(f"/contacts/{path}").status_code == 200

    lines = [
        r.getMessage() for r in caplog.records if r.name == "devstack" and "/contacts/" in r.getMessage()
    ]
    assert len(lines) == 3, lines
    assert not any(captured.phone[2:-2] in line for line in lines), lines
    assert all(f"{captured.phone[:2]}*******{captured.phone[-2:]}" in line for line in lines), lines
