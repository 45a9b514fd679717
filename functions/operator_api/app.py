"""Operator API (X-Api-Key): contacts and messages as captured, a contact's ads consent, the link
tokens that carry a chat's attribution into the shop (POST /contacts/{id}/links), and a person's
erasure and export, asked for here and done by the ErasureFunction (DELETE /contacts/{id},
GET /erasures/{id}, GET /contacts/{id}/export, GET /exports/{id}); and GET /openapi.json, the
document of every operator route (docs/openapi.json)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body

from wa_conversions.attribution.links import LinkRequest, LinkView
from wa_conversions.capture.views import contact_view, message_view, set_ads_consent, tenant_repository
from wa_conversions.capture.wiring import operator_consent, operator_contacts
from wa_conversions.config import OperatorSettings, load_settings
from wa_conversions.http_api import TenantQuery, answers, openapi_document, operator_resolver, query_tenant
from wa_conversions.models.api import ConsentRequest, ContactView, MessageView

if TYPE_CHECKING:
    from wa_conversions.store.capture import CaptureRepository

logger = Logger()
app = operator_resolver()


def _tenant_repository(tenant: str | None) -> CaptureRepository:
    """The contacts of the tenant `?tenant=` names (docs/tenants.md); without it, today's."""
    return tenant_repository(operator_contacts(), load_settings(OperatorSettings), tenant)


@app.get("/openapi.json", include_in_schema=False)
def get_openapi() -> Response[str]:
    return openapi_document()


@app.get("/contacts/<contact_id>")
def get_contact(contact_id: str, tenant: TenantQuery = None) -> ContactView:
    return contact_view(_tenant_repository(tenant), contact_id)


@app.put("/contacts/<contact_id>/consent")
def put_consent(
    contact_id: str, request: Annotated[ConsentRequest, Body()], tenant: TenantQuery = None
) -> ContactView:
    return set_ads_consent(
        _tenant_repository(tenant), operator_consent(), contact_id, request, int(time.time())
    )


@app.post("/contacts/<contact_id>/links", responses=answers(201, "The link to send in the chat", LinkView))
def post_link(
    contact_id: str, request: Annotated[LinkRequest, Body()], tenant: TenantQuery = None
) -> Response[LinkView]:
    from wa_conversions.attribution.links import issue_link
    from wa_conversions.capture.views import find_contact_key

    repository = _tenant_repository(tenant)
    link = issue_link(
        repository,
        find_contact_key(repository, contact_id),
        request,
        now=int(time.time()),
        valid_days=load_settings(OperatorSettings).link_token_days,
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=link)


def _accepted(answer: dict[str, Any]) -> Response[Any]:
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=answer)


@app.delete("/contacts/<contact_id>", responses=answers(202, "The pending erasure (asked again: the same)"))
def delete_contact(contact_id: str, tenant: TenantQuery = None) -> Response[Any]:
    """Erase the person (docs/privacy.md): 202 at once with the pending erasure, which the
    ErasureFunction does; asked again, the same erasure."""
    from wa_conversions.privacy import wiring as privacy
    from wa_conversions.privacy.views import erase_contact

    return _accepted(
        erase_contact(
            privacy.erasure_requests(), privacy.erasure_queue(), _tenant_repository(tenant), contact_id
        )
    )


@app.get("/erasures/<erasure_id>")
def get_erasure(erasure_id: str) -> dict[str, Any]:
    from wa_conversions.privacy import wiring as privacy
    from wa_conversions.privacy.views import erasure

    return erasure(privacy.erasure_requests(), erasure_id)


@app.get("/contacts/<contact_id>/export", responses=answers(202, "The pending export"))
def export_contact(contact_id: str, tenant: TenantQuery = None) -> Response[Any]:
    """202 with a pending export; GET /exports/{id} answers it once the ErasureFunction wrote it."""
    from wa_conversions.privacy import wiring as privacy
    from wa_conversions.privacy.views import export_contact

    return _accepted(
        export_contact(
            privacy.erasure_requests(), privacy.erasure_queue(), _tenant_repository(tenant), contact_id
        )
    )


@app.get("/exports/<export_id>")
def get_export(export_id: str) -> dict[str, Any]:
    from wa_conversions.privacy import wiring as privacy
    from wa_conversions.privacy.views import export

    return export(privacy.erasure_requests(), export_id)


@app.get("/messages/<message_id>")
def get_message(message_id: str, tenant: TenantQuery = None) -> MessageView:
    return message_view(
        operator_contacts(), message_id, query_tenant(load_settings(OperatorSettings), tenant)
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
