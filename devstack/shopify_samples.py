"""Signed Shopify webhooks as API Gateway HTTP API events (payload 2.0): for events/*.json (through
sample_events()), the tests and the demo. Signed with local.env's SHOPIFY_WEBHOOK_SECRET unless told
otherwise."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wa_conversions.signatures import shopify_signature

PAYLOADS = Path(__file__).resolve().parent.parent / "events" / "payloads"
ORDER_FIXTURE = PAYLOADS / "shopify_order_rest_fixture_shopify_python_api.json"
REFUND_SAMPLE = PAYLOADS / "shopify_refund_create.json"
API_VERSION = "2025-07"


def fixture_order() -> dict[str, Any]:
    """The fixture's order as Shopify posts it: unwrapped from {"order": ...}."""
    order: dict[str, Any] = json.loads(ORDER_FIXTURE.read_text())["order"]
    return order


def sample_refund() -> dict[str, Any]:
    refund: dict[str, Any] = json.loads(REFUND_SAMPLE.read_text())
    return refund


def shopify_headers(
    body: bytes,
    secret: str,
    *,
    shop: str,
    topic: str,
    event_id: str | None = None,
    triggered_at: str | None = None,
    webhook_id: str | None = None,
) -> dict[str, str]:
    """The headers Shopify sends, in the case its docs show them (receivers must not care)."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": shopify_signature(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": API_VERSION,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at or datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def shopify_post(
    payload: bytes,
    secret: str,
    *,
    shop: str,
    topic: str,
    event_id: str | None = None,
    triggered_at: str | None = None,
    webhook_id: str | None = None,
) -> dict[str, Any]:
    from devstack.sample_events import http_event

    headers = shopify_headers(
        payload,
        secret,
        shop=shop,
        topic=topic,
        event_id=event_id,
        triggered_at=triggered_at,
        webhook_id=webhook_id,
    )
    return http_event("POST", "/webhooks/shopify", body=payload, headers=headers)


def shopify_sample_events(env: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    secret, shop = env["SHOPIFY_WEBHOOK_SECRET"], env["SHOPIFY_SHOP_DOMAIN"]
    yield (
        "shopify_orders_create.json",
        shopify_post(
            json.dumps(fixture_order(), indent=2).encode("utf-8"),
            secret,
            shop=shop,
            topic="orders/create",
            event_id="8f3a0d52-6b0e-4c52-9c3e-2f1d5c0a7e11",
            webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            triggered_at="2008-01-10T16:00:01.000Z",
        ),
    )
    yield (
        "shopify_refunds_create.json",
        shopify_post(
            json.dumps(sample_refund(), indent=2).encode("utf-8"),
            secret,
            shop=shop,
            topic="refunds/create",
            event_id="3c6d9b1e-0f0a-4b7e-8d7a-6c2b1e9f4a22",
            webhook_id="0e1f3a5c-7d9b-4e2f-a1c3-5b7d9f1e3a50",
            triggered_at="2008-01-12T14:30:01.000Z",
        ),
    )
