"""SQS consumer: sends queued MarkAsRead / Block / UnBlock events to CM.com, each at most once, with
retries by visibility and permanent failures parked in the DLQ (wa_conversions.delivery)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from wa_conversions.config import CmEventsSettings, load_settings

logger = Logger()


@cache
def _runner() -> Any:
    from wa_conversions import aws
    from wa_conversions.cm_channel.destination import CmEventsDestination
    from wa_conversions.deadletter import DeadLetterQueue
    from wa_conversions.delivery import DeliveryLog, DeliveryRunner, RetryPolicy, http
    from wa_conversions.secret_store import get_secret
    from wa_conversions.store.cm_channel import CmChannelRepository

    settings = load_settings(CmEventsSettings)
    destination = CmEventsDestination(
        business_number=settings.business_number,
        event_url=settings.event_url,
        client_factory=lambda: http.client_for(
            "cm_events", settings.event_url, settings.http_timeout_seconds
        ),
        product_token=lambda: get_secret(settings, "CM_PRODUCT_TOKEN"),
        channel=CmChannelRepository(aws.dynamodb(), settings.table_name),
    )
    return DeliveryRunner(
        destination,
        DeliveryLog(aws.dynamodb(), settings.table_name, retention=settings.retention()),
        aws.sqs(),
        settings.delivery_queue_url,
        DeadLetterQueue(aws.sqs(), settings.delivery_dlq_url, "cm_events"),
        RetryPolicy(base_seconds=settings.retry_base_seconds, max_attempts=settings.max_attempts),
        request_seconds=http.longest_request_seconds(settings.http_timeout_seconds),
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The context tells the runner when to stop starting requests, before Lambda's timeout.
    result: dict[str, Any] = _runner().handle(event, context)
    return result
