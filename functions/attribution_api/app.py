"""Attribution API for operators (X-Api-Key): off-thread conversions in, attributed orders and
off-thread events out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types

from wa_conversions.attribution import idempotency
from wa_conversions.attribution.external import ExternalEventRequest
from wa_conversions.attribution.views import external_event_view, order_view
from wa_conversions.attribution.wiring import external_service, repository
from wa_conversions.http_api import json_body, operator_resolver, query_tenant

logger = Logger()
app = operator_resolver()


@app.post("/external-events")
def create_external_event() -> Response[Any]:
    key = idempotency.parse_key(app.current_event.headers.get(idempotency.HEADER))
    request = ExternalEventRequest.from_body(json_body(app))
    answer = external_service().create_once(request, key)
    logger.info(
        "Off-thread event recorded" if answer.status_code < 300 else "Off-thread event refused",
        extra={
            "external_event_id": answer.body.get("external_event_id"),
            "status_code": answer.status_code,
            "replayed": answer.replayed,
        },
    )
    return Response(
        status_code=answer.status_code,
        content_type=content_types.APPLICATION_JSON,
        body=answer.body,
        # Stripe's header: tells a retrying client this is the first call's answer.
        headers={"Idempotent-Replayed": "true"} if answer.replayed else None,
    )


@app.get("/external-events/<external_event_id>")
def get_external_event(external_event_id: str) -> dict[str, Any]:
    return external_event_view(external_service().get(external_event_id)).model_dump()


@app.get("/orders/<order_id>")
def get_order(order_id: str) -> dict[str, Any]:
    from wa_conversions.config import AttributionSettings, load_settings
    from wa_conversions.tenants import load_tenants

    settings = load_settings(AttributionSettings)
    shop = app.current_event.get_query_string_value("shop")
    tenant = query_tenant(app, settings)
    directory = load_tenants(settings) if tenant is not None else None  # cached: query_tenant read it
    view = order_view(repository(), order_id, shop or None, tenant, directory)
    # `tenant` only in a deployment with a tenant list: a single-business answer is as it was
    return view.model_dump(exclude={"tenant"} if view.tenant is None else None)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
