"""The queued form of a verified Shopify webhook (attribution.delivery.ShopifyDelivery reads it back),
written by the webhook and by reconciliation alike. Standard library only: the webhook function
imports this on its cold path."""

from __future__ import annotations

import json

from ..aws_limits import sqs_text


def encode_delivery(
    *,
    topic: str,
    shop: str,
    event_id: str,
    webhook_id: str | None,
    triggered_at: str | None,
    api_version: str | None,
    body: str,
) -> str:
    message = json.dumps(
        {
            "topic": topic,
            "shop": shop,
            "event_id": event_id,
            "webhook_id": webhook_id,
            "triggered_at": triggered_at,
            "api_version": api_version,
            "body": body,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    # Escapes, not raw characters, for what SQS refuses (U+FFFE, U+FFFF inside the order's text).
    return sqs_text(message)
