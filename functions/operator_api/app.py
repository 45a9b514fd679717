"""Operator API (X-Api-Key): contacts and messages as captured, a contact's ads consent, the link
tokens that carry a chat's attribution into the shop (POST /contacts/{id}/links), and a person's
erasure and export, asked for here and done by the ErasureFunction (DELETE /contacts/{id},
GET /erasures/{id}, GET /contacts/{id}/export, GET /exports/{id})."""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types

from wa_conversions import aws
from wa_conversions.capture.views import contact_view, message_view, set_ads_consent, tenant_repository
from wa_conversions.config import OperatorSettings, load_settings
from wa_conversions.http_api import json_body, operator_resolver, query_tenant
from wa_conversions.store.capture import CaptureRepository
from wa_conversions.store.consent import ContactConsent

if TYPE_CHECKING:
    from wa_conversions.privacy.requests import ErasureQueue, ErasureRequests

logger = Logger()
app = operator_resolver()


@cache
def _repository() -> CaptureRepository:
    settings = load_settings(OperatorSettings)
    return CaptureRepository(aws.dynamodb(), settings.table_name, retention=settings.retention())


def _tenant_repository() -> CaptureRepository:
    """The contacts of the tenant `?tenant=` names (docs/tenants.md); without it, today's."""
    tenant = app.current_event.get_query_string_value("tenant")
    return tenant_repository(_repository(), load_settings(OperatorSettings), tenant)


@app.get("/contacts/<contact_id>")
def get_contact(contact_id: str) -> dict[str, Any]:
    return contact_view(_tenant_repository(), contact_id).model_dump()


@app.put("/contacts/<contact_id>/consent")
def put_consent(contact_id: str) -> dict[str, Any]:
    consent = ContactConsent(aws.dynamodb(), load_settings(OperatorSettings).table_name)
    body = json_body(app)
    return set_ads_consent(_tenant_repository(), consent, contact_id, body, int(time.time())).model_dump()


@app.post("/contacts/<contact_id>/links")
def post_link(contact_id: str) -> Response[Any]:
    from wa_conversions.attribution.links import issue_link
    from wa_conversions.capture.views import find_contact_key

    repository = _tenant_repository()
    body = json_body(app)
    link = issue_link(
        repository,
        find_contact_key(repository, contact_id),
        body,
        now=int(time.time()),
        valid_days=load_settings(OperatorSettings).link_token_days,
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=link.model_dump())


@cache
def _erasures() -> ErasureRequests:
    from wa_conversions.privacy.requests import ErasureRequests
    from wa_conversions.secret_store import get_secret

    settings = load_settings(OperatorSettings)
    return ErasureRequests(
        aws.dynamodb(),
        settings.table_name,
        hash_key=get_secret(settings, "ERASURE_HASH_KEY"),
        ttl_seconds=settings.message_retention_days * 86_400,
    )


def _erasure_queue() -> ErasureQueue:
    from wa_conversions.privacy.requests import ErasureQueue

    return ErasureQueue(aws.sqs(), load_settings(OperatorSettings).erasure_queue_url)


def _accepted(answer: dict[str, Any]) -> Response[Any]:
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=answer)


@app.delete("/contacts/<contact_id>")
def delete_contact(contact_id: str) -> Response[Any]:
    """Erase the person (docs/privacy.md): 202 at once with the pending erasure, which the
    ErasureFunction does; asked again, the same erasure."""
    from wa_conversions.privacy.views import erase_contact

    return _accepted(erase_contact(_erasures(), _erasure_queue(), _tenant_repository(), contact_id))


@app.get("/erasures/<erasure_id>")
def get_erasure(erasure_id: str) -> dict[str, Any]:
    from wa_conversions.privacy.views import erasure

    return erasure(_erasures(), erasure_id)


@app.get("/contacts/<contact_id>/export")
def export_contact(contact_id: str) -> Response[Any]:
    """202 with a pending export; GET /exports/{id} answers it once the ErasureFunction wrote it."""
    from wa_conversions.privacy.views import export_contact

    return _accepted(export_contact(_erasures(), _erasure_queue(), _tenant_repository(), contact_id))


@app.get("/exports/<export_id>")
def get_export(export_id: str) -> dict[str, Any]:
    from wa_conversions.privacy.views import export

    return export(_erasures(), export_id)


@app.get("/messages/<message_id>")
def get_message(message_id: str) -> dict[str, Any]:
    tenant = query_tenant(app, load_settings(OperatorSettings))
    return message_view(_repository(), message_id, tenant).model_dump()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
