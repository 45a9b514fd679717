"""SQS consumer: applies every update of a queued WhatsApp webhook once, reporting partial failures.
A record it has no time left to start is queued again, for the next invocation."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from wa_conversions.batch import process_batch
from wa_conversions.capture.pipeline import RecordClock, Unstarted, requeue

logger = Logger()
# The invocation's clock and the records it had no time to start: Powertools calls record_handler
# with the record alone.
_clock = RecordClock(None)
_unstarted: list[Unstarted] = []


def record_handler(record: SQSRecord) -> None:
    from wa_conversions.capture.wiring import pipeline  # imported on first use, as it is built

    provider = record.message_attributes["provider"]  # None when absent: Meta's webhooks carry none
    provider_name = provider.string_value if provider else None
    if not _clock.has_time():
        _unstarted.append(Unstarted(record.message_id, record.event_source_arn, record.body, provider_name))
        return  # queued again after the batch, or reported as failed if that fails
    started = time.monotonic()
    try:
        # one that can never be read is parked with its provider attribute (wa_conversions.batch)
        result = pipeline().process(record.body, provider_name)
    finally:
        _clock.took(time.monotonic() - started)
    logger.info(
        "Webhook applied",
        extra={"updates": result.received, "applied": result.applied, "events": result.events},
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    global _clock
    _clock = RecordClock(getattr(context, "get_remaining_time_in_millis", None))
    _unstarted.clear()
    from wa_conversions.capture.wiring import pipeline

    response = process_batch(event, context, record_handler, dead_letters=lambda: pipeline().dead_letters)
    if _unstarted:
        from wa_conversions import aws

        logger.info(
            "Records queued again unstarted, for the next invocation", extra={"records": len(_unstarted)}
        )
        for message_id in requeue(aws.sqs(), _unstarted):
            response["batchItemFailures"].append({"itemIdentifier": message_id})
    return response
