"""SQS consumer: applies every update of a queued WhatsApp webhook once, reporting partial failures.
A record it has no time left to start is queued again, for the next invocation."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from wa_conversions.capture.pipeline import (
    PermanentFailure,
    RecordClock,
    Unstarted,
    default_pipeline,
    failure_fields,
    requeue,
)

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# The invocation's clock and the records it had no time to start: Powertools calls record_handler
# with the record alone.
_clock = RecordClock(None)
_unstarted: list[Unstarted] = []


def record_handler(record: SQSRecord) -> None:
    if not _clock.has_time():
        provider = record.message_attributes["provider"]
        _unstarted.append(
            Unstarted(
                record.message_id,
                record.event_source_arn,
                record.body,
                provider.string_value if provider else None,
            )
        )
        return  # queued again after the batch, or reported as failed if that fails
    started = time.monotonic()
    try:
        _apply(record)
    except Exception as error:
        # One line per failed record, with why but not the text: an error's message can quote the body.
        logger.warning(
            "Webhook not applied; SQS will deliver it again",
            extra={
                "message_id": record.message_id,
                "receive_count": int(record.attributes.approximate_receive_count),
                **failure_fields(error),
            },
        )
        raise
    finally:
        _clock.took(time.monotonic() - started)


def _apply(record: SQSRecord) -> None:
    pipeline = default_pipeline()
    provider = record.message_attributes["provider"]  # None when absent: Meta's webhooks carry none
    provider_name = provider.string_value if provider else None
    try:
        result = pipeline.process(record.body, provider_name)
    except PermanentFailure as failure:
        if pipeline.dead_letters is None:
            raise
        # The provider goes with the body, so that a redrive from the DLQ is read in the right format.
        pipeline.dead_letters.park(
            failure.body or record.body,
            str(failure),
            attributes={"provider": provider_name} if provider_name else None,
        )
        logger.warning("Webhook parked in the DLQ", extra={"reason": str(failure)})
        return
    logger.info(
        "Webhook applied",
        extra={"updates": result.received, "applied": result.applied, "events": result.events},
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    global _clock
    _clock = RecordClock(getattr(context, "get_remaining_time_in_millis", None))
    _unstarted.clear()
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    if _unstarted:
        from wa_conversions import aws

        logger.info(
            "Records queued again unstarted, for the next invocation", extra={"records": len(_unstarted)}
        )
        for message_id in requeue(aws.sqs(), _unstarted):
            response["batchItemFailures"].append({"itemIdentifier": message_id})
    return response
