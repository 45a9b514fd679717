"""POST /webhooks/twilio: Twilio's WhatsApp incoming messages and status callbacks, answered with
empty TwiML only once they are safely queued. Kept lean for cold start: no event-handler framework,
no Twilio SDK, boto3 loaded lazily."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from wa_conversions.apigw import HttpRequest, refuse_webhook, response
from wa_conversions.capture import twilio_ingest
from wa_conversions.capture.ingest import IngestQueue
from wa_conversions.config import TwilioWebhookSettings, load_settings
from wa_conversions.errors import ApiError, HandoffError
from wa_conversions.secret_store import get_secret

logger = Logger()
metrics = Metrics()


def _queue() -> IngestQueue:
    from wa_conversions import aws

    return IngestQueue(aws.sqs(), load_settings(TwilioWebhookSettings).ingest_queue_url)


def _count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = HttpRequest.from_event(event)
    settings = load_settings(TwilioWebhookSettings)
    try:
        kind = twilio_ingest.accept_webhook(
            request.body,
            twilio_ingest.public_url(settings.public_url, request.url),
            request.headers.get("x-twilio-signature"),
            get_secret(settings, "TWILIO_AUTH_TOKEN"),
            _queue,
        )
    except (ApiError, HandoffError) as error:
        return refuse_webhook(
            error, source="Twilio", auth_metric="WebhookSignatureFailures", count=_count, logger=logger
        )
    _count("TwilioWebhooksAccepted")
    logger.info("Twilio webhook queued", extra={"kind": kind, "bytes": len(request.body)})
    return response(200, twilio_ingest.EMPTY_TWIML, content_type="text/xml")
