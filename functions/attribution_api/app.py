"""Attribution API for operators (X-Api-Key): off-thread conversions in, attributed orders and
off-thread events out."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from wa_conversions.attribution import idempotency
from wa_conversions.attribution.requests import ExternalEventRequest
from wa_conversions.attribution.views import ExternalEventView, OrderView, external_event_view, order_view
from wa_conversions.attribution.wiring import external_service, repository
from wa_conversions.http_api import TenantQuery, answers, operator_resolver, query_tenant

logger = Logger()
app = operator_resolver()


@app.post("/external-events", responses=answers(201, "Recorded and attributed (a replay: the first answer)"))
def create_external_event(request: Annotated[ExternalEventRequest, Body()]) -> Response[Any]:
    key = idempotency.parse_key(app.current_event.headers.get(idempotency.HEADER))
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
def get_external_event(external_event_id: str) -> ExternalEventView:
    return external_event_view(external_service().get(external_event_id))


@app.get("/orders/<order_id>", responses=answers(200, "The order's attribution and follow-ups", OrderView))
def get_order(
    order_id: str,
    shop: Annotated[str | None, Query(description="The order's shop, when ids could clash")] = None,
    tenant: TenantQuery = None,
) -> dict[str, Any]:
    from wa_conversions.config import AttributionSettings, load_settings
    from wa_conversions.tenants import load_tenants

    settings = load_settings(AttributionSettings)
    owner = query_tenant(settings, tenant)
    directory = load_tenants(settings) if owner is not None else None  # cached: query_tenant read it
    view = order_view(repository(), order_id, shop or None, owner, directory)
    # `tenant` only in a deployment with a tenant list: a single-business answer is as it was
    return view.model_dump(exclude={"tenant"} if view.tenant is None else None)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
