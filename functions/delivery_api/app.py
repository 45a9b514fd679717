"""Delivery API (X-Api-Key): POST /conversions to Meta, GET /deliveries, GET /deliveries/{id},
POST /deliveries/{id}/retry, POST /deliveries/{id}/confirm and GET /health/meta (docs/forwarding.md)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types

from wa_conversions import aws
from wa_conversions.config import DeliveryApiSettings, load_settings
from wa_conversions.delivery.log import DeliveryLog
from wa_conversions.forwarding.api import ConversionService, parse_send_request
from wa_conversions.http_api import json_body, operator_resolver, query_tenant
from wa_conversions.store.capture import CaptureRepository

logger = Logger()
app = operator_resolver()


@cache
def _service() -> ConversionService:
    settings = load_settings(DeliveryApiSettings)
    dynamodb = aws.dynamodb()
    return ConversionService(
        CaptureRepository(dynamodb, settings.table_name, retention=settings.retention()),
        DeliveryLog(dynamodb, settings.table_name, retention=settings.retention()),
        aws.sqs(),
        settings.queue_urls(),
        settings.click_window_days,
    )


def _accepted(body: dict[str, Any]) -> Response[Any]:
    import json

    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


@app.post("/conversions")
def post_conversion() -> Response[Any]:
    request = parse_send_request(json_body(app))
    return _accepted(_service().send(request))


@app.get("/deliveries")
def list_deliveries() -> dict[str, Any]:
    params = dict(app.current_event.query_string_parameters or {})
    return _service().list_deliveries(params, query_tenant(app, load_settings(DeliveryApiSettings)))


@app.get("/deliveries/<delivery_id>")
def get_delivery(delivery_id: str) -> dict[str, Any]:
    return _service().get_delivery(delivery_id, query_tenant(app, load_settings(DeliveryApiSettings)))


@app.post("/deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: str) -> Response[Any]:
    return _accepted(_service().retry(delivery_id))


@app.get("/health/meta")
def meta_health() -> dict[str, Any]:
    # Imported here: only this route needs the Graph client and the Meta token.
    from wa_conversions.forwarding.meta_health import check_meta_setup

    return check_meta_setup()


@app.post("/deliveries/<delivery_id>/confirm")
def confirm_delivery(delivery_id: str) -> dict[str, Any]:
    return _service().confirm(delivery_id)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
