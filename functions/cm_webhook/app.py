"""POST /webhooks/cm?token=...: CM.com's inbound messages and status reports, acknowledged only once
they are safely queued. Kept lean for cold start: no event-handler framework, boto3 loaded lazily."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from wa_conversions.apigw import HttpRequest, error_response, response
from wa_conversions.capture import cm_ingest
from wa_conversions.capture.ingest import IngestQueue
from wa_conversions.config import WebhookSettings, load_settings
from wa_conversions.errors import ApiError, HandoffError, UnauthorizedError
from wa_conversions.secret_store import get_secret

logger = Logger()
metrics = Metrics()


def _queue() -> IngestQueue:
    from wa_conversions import aws

    return IngestQueue(aws.sqs(), load_settings(WebhookSettings).ingest_queue_url)


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = HttpRequest.from_event(event)
    settings = load_settings(WebhookSettings)
    try:
        kind = cm_ingest.accept_webhook(
            request.body, request.query.get("token"), get_secret(settings, "CM_WEBHOOK_TOKEN"), _queue
        )
    except UnauthorizedError as error:
        metrics.add_metric(name="WebhookTokenFailures", unit=MetricUnit.Count, value=1)
        logger.warning("CM webhook rejected", extra={"reason": error.message})
        return error_response(error)
    except ApiError as error:
        metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
        logger.warning("CM webhook rejected", extra={"reason": error.message})
        return error_response(error)
    except HandoffError:
        metrics.add_metric(name="WebhookHandoffFailures", unit=MetricUnit.Count, value=1)
        logger.exception("CM webhook verified but not queued; CM will retry")
        return response(
            500, {"error": "handoff_failed", "message": "Could not queue the webhook, retry later"}
        )
    metrics.add_metric(name="CmWebhooksAccepted", unit=MetricUnit.Count, value=1)
    logger.info("CM webhook queued", extra={"kind": kind, "bytes": len(request.body)})
    return response(200, {"status": "accepted"})
