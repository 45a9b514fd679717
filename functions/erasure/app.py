"""SQS consumer (batch size 1): erases a person, writes a person's export, or applies one of Shopify's
compliance webhooks (docs/privacy.md). The only function that scans or deletes from the table. A job
cut short (too little time left) fails its record so SQS hands it over again, and the rerun finishes
it; a message that is not a job is parked in the DLQ with its reason."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from wa_conversions.privacy import wiring
from wa_conversions.privacy.erasure import ErasureCutShort
from wa_conversions.privacy.jobs import NotAJob, run

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_invocation: dict[str, Any] = {}


def _seconds_left() -> float:
    context = _invocation.get("context")
    return context.get_remaining_time_in_millis() / 1000 if context is not None else float("inf")


def record_handler(record: SQSRecord) -> None:
    try:
        done = run(
            record.body,
            eraser=wiring.eraser().within(_seconds_left),
            repository=wiring.contacts(),
            region=wiring.region(),
        )
    except NotAJob as failure:
        dead_letters = wiring.dead_letters()
        if dead_letters is None:
            raise
        dead_letters.park(record.body, str(failure))
        # the reason can quote the body: only its kind is logged
        logger.warning("Erasure job parked in the DLQ", extra={"reason": type(failure).__name__})
        return
    except ErasureCutShort as stopped:
        # ErasureBusy too: another attempt holds the erasure's lease, and this copy backs off
        logger.warning(
            "Erasure cut short; SQS hands the job over again",
            extra={"sqs_message_id": record.message_id, "why": type(stopped).__name__},
        )
        raise
    logger.info("Erasure job done", extra=done)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    _invocation["context"] = context
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
