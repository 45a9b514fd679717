"""POST /webhooks/shopify: Shopify order webhooks, acknowledged only once they are safely queued.
Kept lean for cold start: no event-handler framework, boto3 loaded lazily."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from wa_conversions.apigw import HttpRequest, error_response, response
from wa_conversions.attribution import intake, shops
from wa_conversions.config import ShopifyWebhookSettings, load_settings
from wa_conversions.errors import ApiError, HandoffError, UnauthorizedError

logger = Logger()
metrics = Metrics()


def _secret_for(shop: str) -> str | None:
    settings = load_settings(ShopifyWebhookSettings)
    return shops.webhook_secret(settings, settings.shop_domain, shop)


def _markers() -> intake.EventMarkers:
    from wa_conversions import aws

    settings = load_settings(ShopifyWebhookSettings)
    return intake.EventMarkers(
        aws.dynamodb(), settings.idempotency_table_name, settings.event_marker_ttl_seconds
    )


def _queue() -> intake.OrdersQueue:
    from wa_conversions import aws

    return intake.OrdersQueue(aws.sqs(), load_settings(ShopifyWebhookSettings).orders_queue_url)


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = HttpRequest.from_event(event)
    try:
        outcome = intake.accept_webhook(request.body, request.headers, _secret_for, _markers, _queue)
    except UnauthorizedError as error:
        metrics.add_metric(name="ShopifySignatureFailures", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Shopify webhook rejected",
            extra={"reason": error.message, "shop": request.headers.get(intake.SHOP_HEADER)},
        )
        return error_response(error)
    except ApiError as error:
        metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
        logger.warning("Shopify webhook rejected", extra={"reason": error.message})
        return error_response(error)
    except HandoffError:
        metrics.add_metric(name="WebhookHandoffFailures", unit=MetricUnit.Count, value=1)
        logger.exception("Shopify webhook verified but not queued; Shopify will retry")
        return response(
            500, {"error": "handoff_failed", "message": "Could not queue the webhook, retry later"}
        )
    log_fields = {"topic": outcome.topic, "shop": outcome.shop, "event_id": outcome.event_id}
    if outcome.status == "ignored":
        logger.info("Shopify topic not handled; ignored", extra=log_fields)
    elif outcome.status == "duplicate":
        metrics.add_metric(name="ShopifyDuplicates", unit=MetricUnit.Count, value=1)
        logger.info("Shopify event already handed off", extra=log_fields)
    else:
        metrics.add_metric(name="ShopifyWebhooksAccepted", unit=MetricUnit.Count, value=1)
        logger.info("Shopify webhook queued", extra={**log_fields, "bytes": len(request.body)})
    return response(200, {"status": outcome.status})
