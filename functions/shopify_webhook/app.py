"""POST /webhooks/shopify: Shopify order webhooks, acknowledged only once they are safely queued.
Kept lean for cold start: no event-handler framework, boto3 loaded lazily."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from wa_conversions.apigw import HttpRequest, refuse_webhook, response
from wa_conversions.attribution import shops
from wa_conversions.capture import shopify_ingest
from wa_conversions.config import ShopifyWebhookSettings, load_settings
from wa_conversions.errors import ApiError, HandoffError

logger = Logger()
metrics = Metrics()


def _secret_for(shop: str) -> str | None:
    settings = load_settings(ShopifyWebhookSettings)
    return shops.webhook_secret(settings, settings.shop_domain, shop)


def _markers() -> shopify_ingest.EventMarkers:
    from wa_conversions import aws

    settings = load_settings(ShopifyWebhookSettings)
    return shopify_ingest.EventMarkers(
        aws.dynamodb(), settings.idempotency_table_name, settings.event_marker_ttl_seconds
    )


def _queue() -> shopify_ingest.OrdersQueue:
    from wa_conversions import aws

    return shopify_ingest.OrdersQueue(aws.sqs(), load_settings(ShopifyWebhookSettings).orders_queue_url)


def _erasure_queue() -> shopify_ingest.OrdersQueue:
    """Shopify's compliance topics: the ErasureFunction applies them (docs/privacy.md)."""
    from wa_conversions import aws

    return shopify_ingest.OrdersQueue(aws.sqs(), load_settings(ShopifyWebhookSettings).erasure_queue_url)


def _count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = HttpRequest.from_event(event)
    try:
        outcome = shopify_ingest.accept_webhook(
            request.body, request.headers, _secret_for, _markers, _queue, _erasure_queue
        )
    except (ApiError, HandoffError) as error:
        return refuse_webhook(
            error, source="Shopify", auth_metric="ShopifySignatureFailures", count=_count, logger=logger
        )
    log_fields = {"topic": outcome.topic, "shop": outcome.shop, "event_id": outcome.event_id}
    if outcome.status == "ignored":
        logger.info("Shopify topic not handled; ignored", extra=log_fields)
    elif outcome.status == "duplicate":
        _count("ShopifyDuplicates")
        logger.info("Shopify event already handed off", extra=log_fields)
    else:
        _count("ShopifyWebhooksAccepted")
        logger.info("Shopify webhook queued", extra={**log_fields, "bytes": len(request.body)})
    return response(200, {"status": outcome.status})
