"""The queued form of a verified Shopify webhook: the raw body plus the headers that matter. The
webhook function writes it with json alone (cold start); the processor reads it with this model."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict


class ShopifyDelivery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    topic: str
    shop: str
    event_id: str
    webhook_id: str | None = None
    triggered_at: str | None = None
    api_version: str | None = None
    body: str


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
    return json.dumps(
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
