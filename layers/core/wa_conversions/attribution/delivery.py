"""The queued form of a verified Shopify webhook: the raw body plus the headers that matter. The
webhook function writes it with json alone (providers.shopify_format.encode_delivery, for its cold
start); the processor reads it with this model."""

from __future__ import annotations

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
