"""SQS consumer (batch size 1): erases a person, writes a person's export, or applies one of Shopify's
compliance webhooks (docs/privacy.md). The only function that scans or deletes from the table. A job
cut short (too little time left) fails its record so SQS hands it over again, and the rerun finishes
it; a message that is not a job is parked in the DLQ with its reason."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from wa_conversions.batch import process_batch
from wa_conversions.privacy import wiring
from wa_conversions.privacy.jobs import run

logger = Logger()
_invocation: dict[str, Any] = {}


def _seconds_left() -> float:
    context = _invocation.get("context")
    return context.get_remaining_time_in_millis() / 1000 if context is not None else float("inf")


def record_handler(record: SQSRecord) -> None:
    # NotAJob is a PermanentFailure, parked; ErasureCutShort (and ErasureBusy, when another attempt
    # holds the erasure's lease) fails the record, and SQS hands the job over again (wa_conversions.batch)
    done = run(
        record.body,
        eraser=wiring.eraser().within(_seconds_left),
        repository=wiring.contacts(),
        region=wiring.region(),
    )
    logger.info("Erasure job done", extra=done)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    _invocation["context"] = context
    return process_batch(event, context, record_handler, dead_letters=wiring.dead_letters)
