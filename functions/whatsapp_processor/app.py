"""SQS consumer: applies every update of a queued WhatsApp webhook once, reporting partial failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from wa_conversions.capture.pipeline import PermanentFailure, default_pipeline

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
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
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
