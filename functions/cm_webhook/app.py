"""POST /webhooks/cm?token=...: CM.com's inbound messages and status reports, acknowledged only once
they are safely queued. Kept lean for cold start: no event-handler framework, boto3 loaded lazily."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from wa_conversions.apigw import HttpRequest, refuse_webhook, response
from wa_conversions.capture import cm_ingest
from wa_conversions.capture.ingest import IngestQueue
from wa_conversions.config import WebhookSettings, load_settings
from wa_conversions.errors import ApiError, HandoffError
from wa_conversions.secret_store import get_secret

logger = Logger()
metrics = Metrics()


def _queue() -> IngestQueue:
    from wa_conversions import aws

    return IngestQueue(aws.sqs(), load_settings(WebhookSettings).ingest_queue_url)


def _count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = HttpRequest.from_event(event)
    settings = load_settings(WebhookSettings)
    try:
        kind = cm_ingest.accept_webhook(
            request.body, request.query.get("token"), get_secret(settings, "CM_WEBHOOK_TOKEN"), _queue
        )
    except (ApiError, HandoffError) as error:
        return refuse_webhook(
            error, source="CM", auth_metric="WebhookTokenFailures", count=_count, logger=logger
        )
    _count("CmWebhooksAccepted")
    logger.info("CM webhook queued", extra={"kind": kind, "bytes": len(request.body)})
    return response(200, {"status": "accepted"})
