"""SQS consumer of the bus's lifecycle and conversion events: counts each one once into the day
counters GET /metrics reads, reporting partial batch failures; a message that is not a bus event is
parked in the DLQ with its reason."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from wa_conversions.analytics.wiring import aggregator, aggregator_dead_letters
from wa_conversions.batch import process_batch
from wa_conversions.errors import PermanentFailure
from wa_conversions.models.events import LifecycleEvent

logger = Logger()
metrics = Metrics()


def record_handler(record: SQSRecord) -> None:
    # The queue is fed by an EventBridge rule: the body is the whole event, the fact is its detail.
    try:
        event = LifecycleEvent.model_validate(json.loads(record.body)["detail"])
    except (ValueError, KeyError, TypeError, ValidationError) as error:
        # It will never read better: parked at once, not retried (wa_conversions.batch).
        raise PermanentFailure(f"Not a bus event: {type(error).__name__}") from error
    result = aggregator().apply(event)
    # Events_counted/_duplicate/_ignored; duplicate: a redelivery, or a copy changing nothing (a CRM's).
    metrics.add_metric(name=f"Events_{result.outcome}", unit=MetricUnit.Count, value=1)
    if result.outcome == "counted" and result.event == "message.failed":
        metrics.add_metric(name="MessageDeliveryFailures", unit=MetricUnit.Count, value=1)
    logger.debug("Event aggregated", extra={"event": result.event, "outcome": result.outcome})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_batch(event, context, record_handler, dead_letters=aggregator_dead_letters)
