"""SQS consumer: attributes queued Shopify orders and attaches their follow-ups, reporting partial
failures; a delivery that can never be applied is parked in the DLQ with its reason."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from wa_conversions.attribution.delivery import ShopifyDelivery
from wa_conversions.attribution.orders import PermanentFailure
from wa_conversions.attribution.wiring import orders_dead_letters, orders_service

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    try:
        delivery = ShopifyDelivery.model_validate_json(record.body)
        applied = orders_service().apply(delivery)
    except (ValidationError, PermanentFailure) as failure:
        dead_letters = orders_dead_letters()
        reason = (
            f"Not a queued Shopify delivery: {failure}"
            if isinstance(failure, ValidationError)
            else str(failure)
        )
        if dead_letters is None:
            raise
        dead_letters.park(record.body, reason[:1000])
        logger.warning("Shopify delivery parked in the DLQ", extra={"reason": reason[:300]})
        return
    logger.info(
        "Shopify delivery applied",
        extra={
            "topic": applied.topic,
            "shop": delivery.shop,
            "order_id": applied.order_id,
            "outcome": applied.outcome,
            "events": applied.events,
        },
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
