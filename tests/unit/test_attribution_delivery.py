"""The queued form of a verified Shopify webhook as the orders processor reads it back
(attribution.delivery.ShopifyDelivery): what the webhook function writes (shopify_format.encode_delivery)
reads back unchanged, the order's raw body byte for byte, even with characters SQS refuses raw; a
message missing what the processor needs is refused."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tests.support.webhooks import sample
from wa_conversions.attribution.delivery import ShopifyDelivery
from wa_conversions.aws_limits import invalid_sqs_character
from wa_conversions.providers.shopify_format import encode_delivery

ORDER = sample("shopify_order_rest_fixture_shopify_python_api.json").decode()
HEADERS = {
    "topic": "orders/create",
    "shop": "s.myshopify.com",
    "event_id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
    "webhook_id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    "triggered_at": "2026-03-02T10:00:00.000Z",
    "api_version": "2026-01",
}


def test_what_the_webhook_function_queues_reads_back_as_the_same_delivery() -> None:
    delivery = ShopifyDelivery.model_validate_json(encode_delivery(**HEADERS, body=ORDER))

    assert delivery == ShopifyDelivery(**HEADERS, body=ORDER)
    assert json.loads(delivery.body) == json.loads(ORDER)


def test_an_order_with_characters_sqs_refuses_reads_back_byte_for_byte() -> None:
    body = json.dumps({"id": 1001, "note": "gift \ufffe wrap \x01 please \ufffe"}, ensure_ascii=False)
    queued = encode_delivery(**HEADERS, body=body)

    delivery = ShopifyDelivery.model_validate_json(queued)

    assert invalid_sqs_character(queued) is None
    assert delivery.body == body


def test_the_optional_headers_may_be_missing() -> None:
    queued = encode_delivery(
        topic="refunds/create",
        shop="s.myshopify.com",
        event_id="e-1",
        webhook_id=None,
        triggered_at=None,
        api_version=None,
        body="{}",
    )

    delivery = ShopifyDelivery.model_validate_json(queued)

    assert (delivery.topic, delivery.webhook_id, delivery.triggered_at, delivery.api_version) == (
        "refunds/create",
        None,
        None,
        None,
    )


def test_fields_a_newer_webhook_function_adds_are_ignored() -> None:
    queued = json.loads(encode_delivery(**HEADERS, body=ORDER)) | {"hmac_valid": True}
    assert ShopifyDelivery.model_validate(queued) == ShopifyDelivery(**HEADERS, body=ORDER)


@pytest.mark.parametrize("missing", ["topic", "shop", "event_id", "body"])
def test_a_message_without_what_the_processor_needs_is_refused(missing: str) -> None:
    queued = json.loads(encode_delivery(**HEADERS, body=ORDER))
    del queued[missing]

    with pytest.raises(ValidationError, match=missing):
        ShopifyDelivery.model_validate(queued)


def test_a_delivery_cannot_be_changed_once_read() -> None:
    delivery = ShopifyDelivery(**HEADERS, body=ORDER)
    with pytest.raises(ValidationError, match="frozen"):
        delivery.shop = "other.myshopify.com"  # type: ignore[misc]
