"""The queued form of a Shopify webhook (providers.shopify_format), read back as the processor reads it."""

from __future__ import annotations

import json

from devstack.shopify_samples import fixture_order
from wa_conversions.attribution.delivery import ShopifyDelivery
from wa_conversions.aws_limits import invalid_sqs_character
from wa_conversions.providers.shopify_format import encode_delivery

SHOP = "brand-a.myshopify.com"


def encoded(body: str, **headers: str | None) -> str:
    return encode_delivery(
        topic="orders/paid",
        shop=SHOP,
        event_id="e-1",
        webhook_id=headers.get("webhook_id"),
        triggered_at=headers.get("triggered_at"),
        api_version=headers.get("api_version"),
        body=body,
    )


def test_the_delivery_reads_back_with_every_header_and_the_body_untouched() -> None:
    body = json.dumps(fixture_order())
    delivery = ShopifyDelivery.model_validate_json(
        encoded(body, webhook_id="w-9", triggered_at="2026-01-02T03:04:05Z", api_version="2026-01")
    )
    assert (delivery.topic, delivery.shop, delivery.event_id) == ("orders/paid", SHOP, "e-1")
    assert (delivery.webhook_id, delivery.triggered_at, delivery.api_version) == (
        "w-9",
        "2026-01-02T03:04:05Z",
        "2026-01",
    )
    assert delivery.body == body


def test_headers_shopify_left_out_are_null() -> None:
    message = json.loads(encoded('{"id": 1}'))
    assert (message["webhook_id"], message["triggered_at"], message["api_version"]) == (None, None, None)


def test_non_ascii_text_stays_as_it_is_and_what_sqs_refuses_is_escaped() -> None:
    body = json.dumps({"id": 1, "note": "Café ☕ \ufffe\uffff"}, ensure_ascii=False)
    message = encoded(body)
    assert "Café ☕" in message
    assert invalid_sqs_character(message) is None
    assert ShopifyDelivery.model_validate_json(message).body == body
