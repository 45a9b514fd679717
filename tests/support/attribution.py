"""Scenario builders for attribution tests: WhatsApp ad clicks and plain messages from a given phone at
a given time, and Shopify orders and refunds built on the REST fixture."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from devstack.shopify_samples import fixture_order, sample_refund
from tests.support import webhooks as wh

DAY = 86_400
SHOP = "wa-conversions-dev.myshopify.com"


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def referral_webhook(wa_id: str, timestamp: int, ctwa_clid: str, message_id: str, **referral: Any) -> bytes:
    click = {
        "source_url": "https://fb.me/3cr4Wqqkv",
        "source_id": referral.pop("source_id", "120226305854810726"),
        "source_type": "ad",
        "headline": "Chat with us",
        "media_type": "image",
        "ctwa_clid": ctwa_clid,
        **referral,
    }
    document = wh.webhook(
        {
            "contacts": [wh.contact(wa_id)],
            "messages": [wh.text_message(message_id, wa_id, timestamp, referral=click)],
        }
    )
    return wh.encode(document)


def text_webhook(wa_id: str, timestamp: int, message_id: str) -> bytes:
    document = wh.webhook(
        {"contacts": [wh.contact(wa_id)], "messages": [wh.text_message(message_id, wa_id, timestamp)]}
    )
    return wh.encode(document)


def order(
    *,
    order_id: int,
    created_at: int,
    phone: str | None,
    country: str = "US",
    test: bool = False,
    where: str = "billing_address",
) -> dict[str, Any]:
    """The fixture's order, renumbered, placed at `created_at`, with `phone` in one place only."""
    found = copy.deepcopy(fixture_order())
    found["id"] = order_id
    found["name"] = f"#{order_id}"
    found["created_at"] = found["processed_at"] = found["updated_at"] = iso(created_at)
    found["test"] = test
    found["phone"] = None
    for address in ("billing_address", "shipping_address"):
        found[address]["phone"] = None
        found[address]["country_code"] = country
    found["customer"]["phone"] = None
    found["customer"]["default_address"]["phone"] = None
    found["customer"]["default_address"]["country_code"] = country
    if where == "phone":
        found["phone"] = phone
    elif where == "customer":
        found["customer"]["phone"] = phone
    else:
        found[where]["phone"] = phone
    return found


def refund(*, refund_id: int, order_id: int, created_at: int, amount: str = "204.97") -> dict[str, Any]:
    found = copy.deepcopy(sample_refund())
    found["id"] = refund_id
    found["order_id"] = order_id
    found["created_at"] = found["processed_at"] = iso(created_at)
    found["transactions"][0]["amount"] = amount
    found["transactions"][0]["order_id"] = order_id
    return found


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode("utf-8")
