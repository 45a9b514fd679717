"""Delivery API (X-Api-Key): POST /conversions to Meta, GET /deliveries, GET /deliveries/{id},
POST /deliveries/{id}/retry, POST /deliveries/{id}/confirm and GET /health/meta (docs/forwarding.md)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from wa_conversions.config import DeliveryApiSettings, load_settings
from wa_conversions.errors import ApiError
from wa_conversions.forwarding.requests import SendConversionRequest, parse_send_request
from wa_conversions.forwarding.wiring import conversion_service
from wa_conversions.http_api import (
    TenantQuery,
    answers,
    error_response,
    operator_resolver,
    query_tenant,
    request_error,
)

logger = Logger()
app = operator_resolver()


def _accepted(body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(RequestValidationError)
def refuse_request(error: RequestValidationError) -> Response[Any]:
    """POST /conversions, the one body here: a rule across fields has no location in pydantic's
    error, so the domain's parser answers, naming the field it is about (parse_send_request)."""
    try:
        parse_send_request(app.current_event.json_body)
    except ApiError as problem:
        return error_response(problem)
    return error_response(request_error(error.errors()))


@app.post("/conversions", responses=answers(202, "Queued for Meta: {event_id}"))
def post_conversion(request: Annotated[SendConversionRequest, Body()]) -> Response[dict[str, Any]]:
    return _accepted(conversion_service().send(request))


@app.get("/deliveries")
def list_deliveries(
    status: Annotated[
        str | None, Query(description="pending, delivered, failed, skipped or ambiguous")
    ] = None,
    destination: Annotated[str | None, Query(description="One destination's deliveries")] = None,
    order_id: Annotated[str | None, Query(description="One order's deliveries")] = None,
    limit: Annotated[str | None, Query(description="How many, 1 to 500 (default 100)")] = None,
    tenant: TenantQuery = None,
) -> dict[str, Any]:
    given = {"status": status, "destination": destination, "order_id": order_id, "limit": limit}
    params = {name: value for name, value in given.items() if value is not None}
    return conversion_service().list_deliveries(
        params, query_tenant(load_settings(DeliveryApiSettings), tenant)
    )


@app.get("/deliveries/<delivery_id>")
def get_delivery(delivery_id: str, tenant: TenantQuery = None) -> dict[str, Any]:
    return conversion_service().get_delivery(
        delivery_id, query_tenant(load_settings(DeliveryApiSettings), tenant)
    )


@app.post("/deliveries/<delivery_id>/retry", responses=answers(202, "Queued again"))
def retry_delivery(delivery_id: str) -> Response[dict[str, Any]]:
    return _accepted(conversion_service().retry(delivery_id))


@app.get("/health/meta")
def meta_health() -> dict[str, Any]:
    # Imported here: only this route needs the Graph client and the Meta token.
    from wa_conversions.forwarding.meta_health import check_meta_setup

    return check_meta_setup()


@app.post("/deliveries/<delivery_id>/confirm")
def confirm_delivery(delivery_id: str) -> dict[str, Any]:
    return conversion_service().confirm(delivery_id)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
