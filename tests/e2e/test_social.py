"""AWS End User Messaging Social end to end through the local stack: Meta's webhook entries published
to the event destination's SNS topic in moto, delivered to the ingest queue by the template's
subscription, then the operator API and attribution."""

from __future__ import annotations

import random
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from devstack.sample_events import read_env
from devstack.shopify_samples import shopify_headers
from devstack.stack import DevStack
from tests.support import attribution as sc
from tests.support import social
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e

ENV = read_env()
CLICK_AT = 1_750_000_000


@pytest.fixture
def operator(api: httpx.Client) -> httpx.Client:
    api.headers["X-Api-Key"] = ENV["API_KEY"]
    return api


def publish(stack: DevStack, webhook: dict[str, Any]) -> None:
    topic = str(stack.parameters["SocialMessagingTopicArn"])
    stack.client("sns").publish(TopicArn=topic, Message=social.message(webhook))


def test_a_relayed_ctwa_message_creates_the_contact_and_ad_click_and_a_later_order_is_attributed(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    line, exchange = random.randint(1000, 9999), random.randint(200, 999)
    wa_id, national = f"1650{exchange}{line}", f"(650) {exchange}-{line}"
    clid = f"CLID-EUM-{uuid.uuid4().hex[:8]}"
    wamid = f"wamid.eum-e2e-{uuid.uuid4().hex}"
    document = wh.sample_json("meta_docs_text_message_ctwa_referral.json")
    value = document["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = wa_id
    value["messages"][0].update(id=wamid, timestamp=str(CLICK_AT), **{"from": wa_id})
    value["messages"][0]["referral"]["ctwa_clid"] = clid
    publish(stack, document)
    publish(stack, document)  # SNS delivers at least once
    stack.wait_until_idle()

    contact = operator.get(f"/contacts/{wa_id}")
    assert contact.status_code == 200, contact.text
    assert contact.json()["messages"] == {"inbound": 1, "outbound": 0}
    assert [(r["ctwa_clid"], r["message_id"]) for r in contact.json()["referrals"]] == [(clid, wamid)]
    assert operator.get(f"/messages/{quote(wamid, safe='')}").json()["direction"] == "inbound"

    order_id = random.randint(10**11, 10**12)
    body = sc.encode(sc.order(order_id=order_id, created_at=CLICK_AT + sc.DAY, phone=national))
    headers = shopify_headers(
        body, ENV["SHOPIFY_WEBHOOK_SECRET"], shop=ENV["SHOPIFY_SHOP_DOMAIN"], topic="orders/create"
    )
    assert api.post("/webhooks/shopify", content=body, headers=headers).status_code == 200
    stack.wait_until_idle()
    attribution = operator.get(f"/orders/{order_id}").json()["attribution"]
    assert attribution["status"] == "attributed"
    assert attribution["ctwa_clid"] == clid
    assert attribution["contact_key"] == wa_id
