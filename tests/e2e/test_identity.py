"""Issue 11 on the local stack, over HTTP: a Click-to-WhatsApp lead known only by its user id (a
WhatsApp username), the link token the business sends it, and the Shopify order that carries the token
with a phone that matches nobody; one contact for a person seen by user id and then by phone; an
expired token told as such."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from devstack.stack import DevStack
from tests.e2e.test_attribution import ENV, fresh_order_id, fresh_us_phone, post_shopify
from tests.support import attribution as sc
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e

HEADERS = {"X-Api-Key": ENV["API_KEY"]}


@pytest.fixture
def standins(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.standins.url, timeout=10.0) as client:
        client.delete("/_faults")
        client.delete("/_requests")
        yield client


def fresh_user_id() -> str:
    return f"US.{random.randint(10**19, 10**20 - 1)}"


def post_whatsapp(api: httpx.Client, value: dict) -> None:
    body = wh.encode(wh.webhook(value))
    wh.post_signed(api, body)


def username_click(api: httpx.Client, user_id: str, clid: str, at: int) -> None:
    click = {"source_type": "ad", "source_id": "120226305854810726", "ctwa_clid": clid}
    post_whatsapp(
        api,
        {
            "contacts": [wh.contact(None, user_id=user_id)],
            "messages": [
                wh.text_message(f"wamid.{uuid.uuid4().hex}", None, at, from_user_id=user_id, referral=click)
            ],
        },
    )


def test_a_username_leads_order_with_its_link_token_is_attributed_and_reaches_meta_once(
    api: httpx.Client, stack: DevStack, standins: httpx.Client
) -> None:
    user_id, clid = fresh_user_id(), f"CLID-E2E-UID-{uuid.uuid4().hex[:8]}"
    now = int(time.time())
    username_click(api, user_id, clid, at=now - 3600)
    stack.wait_until_idle()

    link = api.post(
        f"/contacts/{user_id}/links", json={"url": "https://shop.example/products/x"}, headers=HEADERS
    )
    assert link.status_code == 201, link.text
    token = link.json()["token"]
    assert link.json()["url"] == f"https://shop.example/products/x?wac={token}"

    order_id = fresh_order_id()
    _, stranger = fresh_us_phone()
    placed = sc.order(order_id=order_id, created_at=now - 60, phone=stranger)
    placed["landing_site"] = f"/products/x?wac={token}"
    assert post_shopify(api, placed).status_code == 200
    stack.wait_until_idle()

    order = api.get(f"/orders/{order_id}", headers=HEADERS).json()
    assert order["attribution"]["status"] == "attributed"
    assert order["attribution"]["model"] == "link_token"
    assert order["attribution"]["ctwa_clid"] == clid
    sent = [r for r in standins.get("/_requests").json() if str(order_id) in json.dumps(r["body"])]
    [meta] = [r for r in sent if r["destination"] == "meta"]
    [server_event] = meta["body"]["data"]
    assert server_event["user_data"]["ctwa_clid"] == clid
    assert "ph" not in server_event["user_data"]
    assert {r["destination"] for r in sent} & {"wax", "cm", "dialog360"} == set()
    log = api.get("/deliveries", params={"order_id": str(order_id)}, headers=HEADERS).json()["deliveries"]
    skipped = {d["destination"]: d for d in log if d["destination"] in ("wax", "cm", "dialog360")}
    assert set(skipped) == {"wax", "cm", "dialog360"}, log
    for delivery in skipped.values():
        assert delivery["status"] == "skipped"
        assert delivery["reason"].startswith("no_phone"), delivery
    assert [d["status"] for d in log if d["destination"] == "meta"] == ["delivered"]


def test_a_contact_seen_by_user_id_then_by_phone_is_one_contact_found_by_either(
    api: httpx.Client, stack: DevStack
) -> None:
    user_id, (wa_id, _) = fresh_user_id(), fresh_us_phone()
    now = int(time.time())
    username_click(api, user_id, f"CLID-{uuid.uuid4().hex[:8]}", at=now - 7200)
    stack.wait_until_idle()
    post_whatsapp(
        api,
        {
            "contacts": [wh.contact(wa_id, user_id=user_id)],
            "messages": [
                wh.text_message(f"wamid.{uuid.uuid4().hex}", wa_id, now - 3600, from_user_id=user_id)
            ],
        },
    )
    stack.wait_until_idle()

    by_uid = api.get(f"/contacts/{user_id}", headers=HEADERS)
    by_phone = api.get(f"/contacts/{wa_id}", headers=HEADERS)
    assert by_uid.status_code == by_phone.status_code == 200
    assert by_uid.json() == by_phone.json()
    assert by_phone.json()["phone"] == wa_id
    assert by_phone.json()["user_id"] == user_id
    assert by_phone.json()["messages"]["inbound"] == 2
    assert len(by_phone.json()["referrals"]) == 1


def test_an_expired_token_is_reported_as_such(api: httpx.Client, stack: DevStack) -> None:
    user_id = fresh_user_id()
    now = int(time.time())
    username_click(api, user_id, f"CLID-{uuid.uuid4().hex[:8]}", at=now - 3600)
    stack.wait_until_idle()
    link = api.post(f"/contacts/{user_id}/links", json={"url": "https://shop.example/"}, headers=HEADERS)
    assert link.status_code == 201, link.text

    order_id = fresh_order_id()
    # LinkTokenDays is 30 by default: an order placed 31 days after the link was made.
    placed = sc.order(order_id=order_id, created_at=now + 31 * sc.DAY, phone=None)
    placed["note_attributes"] = [{"name": "wac", "value": link.json()["token"]}]
    assert post_shopify(api, placed).status_code == 200
    stack.wait_until_idle()

    attribution = api.get(f"/orders/{order_id}", headers=HEADERS).json()["attribution"]
    assert attribution["status"] == "unattributed"
    assert attribution["keys_tried"] == [
        {"key": "token", "outcome": "expired"},
        {"key": "phone", "outcome": "no_phone"},
        {"key": "email", "outcome": "no_contact"},
    ]


def test_an_order_matched_by_email_is_attributed(api: httpx.Client, stack: DevStack) -> None:
    from tests.e2e.test_attribution import whatsapp_click

    wa_id, _ = fresh_us_phone()
    clid = f"CLID-E2E-MAIL-{uuid.uuid4().hex[:8]}"
    now = int(time.time())
    whatsapp_click(api, wa_id, clid, at=now - 3600)
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    crm = {
        "type": "track",
        "event": "contact.updated",
        "userId": f"+{wa_id}",
        "timestamp": "2026-06-01T10:00:00Z",
        "messageId": f"crm-{uuid.uuid4().hex}",
        "context": {"channel": "whatsapp"},
        "properties": {"email": email.upper()},
    }
    assert api.post("/v1/capture", json={"batch": [crm]}, headers=HEADERS).status_code == 200
    stack.wait_until_idle()

    order_id = fresh_order_id()
    _, stranger = fresh_us_phone()
    placed = sc.order(order_id=order_id, created_at=now - 60, phone=stranger)
    placed["email"] = email
    assert post_shopify(api, placed).status_code == 200
    stack.wait_until_idle()

    attribution = api.get(f"/orders/{order_id}", headers=HEADERS).json()["attribution"]
    assert (attribution["status"], attribution["model"], attribution["ctwa_clid"]) == (
        "attributed",
        "email",
        clid,
    )
    assert attribution["contact_key"] == wa_id


def new_contacts(api: httpx.Client) -> int:
    today = time.strftime("%Y-%m-%d", time.gmtime())
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - sc.DAY))
    response = api.get("/metrics", params={"from": yesterday, "to": today}, headers=HEADERS)
    assert response.status_code == 200, response.text
    return sum(response.json()["new_contacts"].values())


def test_a_phone_the_crm_gives_makes_a_username_lead_one_contact_counted_once(
    api: httpx.Client, stack: DevStack
) -> None:
    user_id, (wa_id, _) = fresh_user_id(), fresh_us_phone()
    now = int(time.time())
    stack.wait_until_idle()
    before = new_contacts(api)
    # the person wrote from its phone, then clicked an ad under its username: two contacts so far
    post_whatsapp(
        api,
        {
            "contacts": [wh.contact(wa_id)],
            "messages": [wh.text_message(f"wamid.{uuid.uuid4().hex}", wa_id, now - 900)],
        },
    )
    username_click(api, user_id, f"CLID-{uuid.uuid4().hex[:8]}", at=now - 600)
    stack.wait_until_idle()
    crm = {
        "type": "track",
        "event": "contact.updated",
        "userId": user_id,
        "timestamp": "2026-06-01T10:00:00Z",
        "messageId": f"crm-{uuid.uuid4().hex}",
        "context": {"channel": "whatsapp"},
        "properties": {"phone": f"+{wa_id}"},
    }
    assert api.post("/v1/capture", json={"batch": [crm]}, headers=HEADERS).status_code == 200
    stack.wait_until_idle()

    by_uid = api.get(f"/contacts/{user_id}", headers=HEADERS)
    by_phone = api.get(f"/contacts/{wa_id}", headers=HEADERS)
    assert by_uid.status_code == by_phone.status_code == 200
    assert by_uid.json() == by_phone.json()
    # its phone came from its own webhooks, not from the CRM (that is the username-only case)
    assert (by_phone.json()["user_id"], by_phone.json()["phone_source"]) == (user_id, None)
    assert by_phone.json()["messages"]["inbound"] == 2
    assert new_contacts(api) - before == 1
