"""GET/POST /webhooks/whatsapp: Meta's verification handshake, and webhooks acknowledged only once
they are safely queued. Kept lean for cold start: no event-handler framework, boto3 loaded lazily."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from wa_conversions.apigw import HttpRequest, refuse_webhook, response
from wa_conversions.capture import ingest
from wa_conversions.config import WebhookSettings, load_settings
from wa_conversions.errors import ApiError, HandoffError
from wa_conversions.secret_store import get_optional_secret, get_secret

logger = Logger()
metrics = Metrics()


def _queue() -> ingest.IngestQueue:
    from wa_conversions import aws

    return ingest.IngestQueue(aws.sqs(), load_settings(WebhookSettings).ingest_queue_url)


def _secret_of(signer: str) -> str | None:
    settings = load_settings(WebhookSettings)
    if signer == "meta":
        return get_secret(settings, "WHATSAPP_APP_SECRET")
    return get_optional_secret(settings, "WHATSAPP_360DIALOG_SECRET")


def _count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = HttpRequest.from_event(event)
    settings = load_settings(WebhookSettings)
    try:
        if request.method == "GET":
            challenge = ingest.answer_handshake(request.query, get_secret(settings, "WHATSAPP_VERIFY_TOKEN"))
            _count("VerificationHandshakes")
            return response(200, challenge, content_type="text/plain")
        parts = ingest.accept_webhook(
            request.body, ingest.WebhookSignature.from_headers(request.headers), _secret_of, _queue
        )
    except (ApiError, HandoffError) as error:
        # A wrong verify token on the handshake is not a signature failure: keep the alarm meaningful.
        auth_metric = "WebhookSignatureFailures" if request.method == "POST" else "VerificationFailures"
        return refuse_webhook(error, source="WhatsApp", auth_metric=auth_metric, count=_count, logger=logger)
    _count("WebhooksAccepted")
    logger.info("Webhook queued", extra={"parts": parts, "bytes": len(request.body)})
    return response(200, {"status": "accepted"})
