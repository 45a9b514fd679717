"""The one poison-message policy of every SQS consumer (README.md, "Poison messages").

- A record whose handler raises errors.PermanentFailure (a bad shape, a validation error, a 4xx that
  will never succeed) is parked in the consumer's DLQ at once, with the reason, and reported done.
- Any other exception fails that record alone (Powertools' BatchProcessor, ReportBatchItemFailures):
  SQS delivers it again, and after the queue's maxReceiveCount its redrive moves it to the same DLQ.
- Each failed or parked record is logged once, with its message id and the error's type and code,
  never the body or the error's text: either can quote a phone number, a name or a message.

The delivering functions keep their own loop (wa_conversions.delivery.runner, which batches several
records into one request) and follow the same policy through `log_failed` and `log_parked`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from .deadletter import DLQ_ATTRIBUTES
from .errors import PermanentFailure, failure_fields

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from .deadletter import DeadLetterQueue

logger = Logger()

RecordHandler = Callable[["SQSRecord"], None]
# Called only when a record is to be parked: building the DLQ's client costs a cold start nothing.
DeadLetters = Callable[[], "DeadLetterQueue | None"]


def process_batch(
    event: dict[str, Any], context: Any, record_handler: RecordHandler, *, dead_letters: DeadLetters
) -> PartialItemFailureResponse:
    """Run `record_handler` on each record of an SQS event; answer the records SQS must deliver again."""

    def settle(record: SQSRecord) -> None:
        try:
            record_handler(record)
        except PermanentFailure as failure:
            park(record, failure, dead_letters())
        except Exception as error:
            log_failed(record.message_id, error, _receive_count(record))
            raise

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=settle, processor=processor, context=context)


def park(record: SQSRecord, failure: PermanentFailure, dead_letters: DeadLetterQueue | None) -> None:
    """Park a record that can never succeed, with its own message attributes (a redrive reads it as
    it was first read) and the failure's; if it cannot be parked, it fails and SQS delivers it again."""
    if dead_letters is None:
        # No DLQ configured (a test, a partial deployment): the queue's redrive policy parks it instead.
        log_failed(record.message_id, failure, _receive_count(record))
        raise failure
    try:
        dead_letters.park(
            failure.body or record.body,
            failure.reason,
            attributes={**_own_attributes(record), **(failure.attributes or {})},
        )
    except Exception as error:
        log_failed(record.message_id, error, _receive_count(record))
        raise
    log_parked(record.message_id, failure)


def log_failed(
    message_id: str,
    error: BaseException | None = None,
    receive_count: int | None = None,
    *,
    status_code: int | None = None,
) -> None:
    """The one line of a record SQS will deliver again, by the error or the destination's status."""
    extra: dict[str, Any] = {"message_id": message_id}
    if error is not None:
        extra.update(failure_fields(error))
    if status_code is not None:
        extra["status_code"] = status_code
    if receive_count is not None:
        extra["receive_count"] = receive_count
    logger.warning("Record not processed; SQS will deliver it again", extra=extra)


def log_parked(
    message_id: str, failure: BaseException | None = None, *, status_code: int | None = None
) -> None:
    """The one line of a record parked in the DLQ, by the error or the destination's status that
    parked it; the reason is on the parked message, not here."""
    extra: dict[str, Any] = {"message_id": message_id}
    if failure is not None:
        extra.update(failure_fields(failure))
    if status_code is not None:
        extra["status_code"] = status_code
    logger.warning("Record parked in the DLQ", extra=extra)


def _receive_count(record: SQSRecord) -> int | None:
    try:
        return int(record.attributes.approximate_receive_count)
    except (KeyError, TypeError, ValueError):
        return None


def _own_attributes(record: SQSRecord) -> dict[str, str]:
    """The record's string message attributes (e.g. the webhook's provider), but the DLQ's own."""
    attributes = record.raw_event.get("messageAttributes") or {}
    return {
        name: value["stringValue"]
        for name, value in attributes.items()
        if name not in DLQ_ATTRIBUTES
        and isinstance(value, dict)
        and str(value.get("dataType", "")).startswith("String")
        and isinstance(value.get("stringValue"), str)
        and value["stringValue"]
    }
