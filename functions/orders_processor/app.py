"""SQS consumer: attributes queued Shopify orders and attaches their follow-ups, reporting partial
failures; a delivery that can never be applied is parked in the DLQ with its reason."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from wa_conversions.attribution.delivery import ShopifyDelivery
from wa_conversions.attribution.wiring import orders_dead_letters, orders_service
from wa_conversions.batch import process_batch
from wa_conversions.errors import PermanentFailure

logger = Logger()


def record_handler(record: SQSRecord) -> None:
    try:
        delivery = ShopifyDelivery.model_validate_json(record.body)
        applied = orders_service().apply(delivery)
    except ValidationError as error:
        raise PermanentFailure(f"Not a queued Shopify delivery: {error}") from error
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
    return process_batch(event, context, record_handler, dead_letters=orders_dead_letters)
