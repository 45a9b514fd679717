"""SQS consumer of the bus's lifecycle and conversion events: counts each one once into the day
counters GET /metrics reads, reporting partial batch failures."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from wa_conversions.analytics.aggregator import Aggregator
from wa_conversions.models.events import LifecycleEvent

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def _aggregator() -> Aggregator:
    from wa_conversions import aws
    from wa_conversions.config import AnalyticsSettings, load_settings
    from wa_conversions.store.analytics import AnalyticsRepository

    settings = load_settings(AnalyticsSettings)
    return Aggregator(
        AnalyticsRepository(
            aws.dynamodb(),
            settings.table_name,
            settings.idempotency_table_name,
            marker_ttl_seconds=settings.dedupe_days * 86_400,
            retention=settings.retention(),
        )
    )


def record_handler(record: SQSRecord) -> None:
    # The queue is fed by an EventBridge rule: the body is the whole event, the fact is its detail.
    try:
        event = LifecycleEvent.model_validate(json.loads(record.body)["detail"])
    except (ValueError, KeyError, TypeError, ValidationError) as error:
        # Raising leaves it to the queue's redrive policy: after a few tries it waits in the DLQ.
        raise ValueError(f"Not a bus event: {type(error).__name__}") from error
    result = _aggregator().apply(event)
    # Events_counted / _duplicate / _ignored: a steady stream of duplicates means redeliveries.
    metrics.add_metric(name=f"Events_{result.outcome}", unit=MetricUnit.Count, value=1)
    if result.outcome == "counted" and result.event == "message.failed":
        metrics.add_metric(name="MessageDeliveryFailures", unit=MetricUnit.Count, value=1)
    logger.debug("Event aggregated", extra={"event": result.event, "outcome": result.outcome})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
