"""The attribution step of `make demo`: the sample Click-to-WhatsApp message arrives (moved to
yesterday, so that Meta's 7-day limit holds for the forwarding step), then the same buyer orders in
the Shopify store a day later, the phone typed the way people type it, and the order comes out
attributed to the ad click."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx

from devstack.sample_events import PAYLOADS, whatsapp_post
from devstack.shopify_samples import fixture_order, shopify_headers
from devstack.stack import DevStack

DAY = 86_400


def run(stack: DevStack, api: httpx.Client, env: dict[str, str]) -> None:
    document = json.loads((PAYLOADS / "meta_docs_text_message_ctwa_referral.json").read_bytes())
    message = document["entry"][0]["changes"][0]["value"]["messages"][0]
    # The same ad clicked again yesterday: a new message, as Meta would send it.
    message["timestamp"] = str(int(time.time()) - DAY)
    message["id"] = message["id"].replace("wamid.", "wamid.DEMO")
    referral = json.dumps(document).encode("utf-8")
    event = whatsapp_post(referral, env["WHATSAPP_APP_SECRET"])
    answer = api.post("/webhooks/whatsapp", content=referral, headers=event["headers"])
    print(f"POST /webhooks/whatsapp (ad click from +{message['from']})  -> {answer.status_code}")
    stack.wait_until_idle()

    order = fixture_order()
    clicked_at = int(message["timestamp"])
    order["created_at"] = order["processed_at"] = datetime.fromtimestamp(clicked_at + DAY, tz=UTC).isoformat()
    national = message["from"][1:]  # the sample's US number, written the US way
    order["billing_address"]["phone"] = f"({national[:3]}) {national[3:6]}-{national[6:]}"
    body = json.dumps(order).encode("utf-8")
    headers = shopify_headers(
        body, env["SHOPIFY_WEBHOOK_SECRET"], shop=env["SHOPIFY_SHOP_DOMAIN"], topic="orders/create"
    )
    answer = api.post("/webhooks/shopify", content=body, headers=headers)
    print(
        f"POST /webhooks/shopify (orders/create {order['name']}, phone {order['billing_address']['phone']})"
        f"  -> {answer.status_code}"
    )
    stack.wait_until_idle()

    view = api.get(f"/orders/{order['id']}", headers={"X-Api-Key": env["API_KEY"]}).json()
    attribution = view.get("attribution") or {}
    value = view.get("value") or {}
    print(
        f"GET /orders/{order['id']}  -> {view.get('event')} {value.get('amount')} {value.get('currency')}: "
        f"{attribution.get('status')} ({attribution.get('model')}) "
        f"to contact {attribution.get('contact_key')}, "
        f"ad {attribution.get('source_id')}, ctwa_clid {str(attribution.get('ctwa_clid'))[:24]}..., "
        f"clicked {attribution.get('clicked_at')}"
    )
