"""SQS consumer: sends queued MarkAsRead / Block / UnBlock events to CM.com, each at most once, with
retries by visibility and permanent failures parked in the DLQ (wa_conversions.delivery)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from wa_conversions.cm_channel.wiring import events_runner

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The context tells the runner when to stop starting requests, before Lambda's timeout.
    result: dict[str, Any] = events_runner().handle(event, context)
    return result
