"""Operator API (X-Api-Key): contacts and messages as captured, a contact's ads consent, and the link
tokens that carry a chat's attribution into the shop (POST /contacts/{id}/links)."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types

from wa_conversions import aws
from wa_conversions.capture.views import contact_view, message_view, set_ads_consent
from wa_conversions.config import OperatorSettings, load_settings
from wa_conversions.http_api import json_body, operator_resolver
from wa_conversions.store.capture import CaptureRepository
from wa_conversions.store.consent import ContactConsent

logger = Logger()
app = operator_resolver()


@cache
def _repository() -> CaptureRepository:
    return CaptureRepository(aws.dynamodb(), load_settings(OperatorSettings).table_name)


@app.get("/contacts/<contact_id>")
def get_contact(contact_id: str) -> dict[str, Any]:
    return contact_view(_repository(), contact_id).model_dump()


@app.put("/contacts/<contact_id>/consent")
def put_consent(contact_id: str) -> dict[str, Any]:
    consent = ContactConsent(aws.dynamodb(), load_settings(OperatorSettings).table_name)
    body = json_body(app)
    return set_ads_consent(_repository(), consent, contact_id, body, int(time.time())).model_dump()


@app.post("/contacts/<contact_id>/links")
def post_link(contact_id: str) -> Response[Any]:
    from wa_conversions.attribution.links import issue_link
    from wa_conversions.capture.views import find_contact_key

    repository = _repository()
    body = json_body(app)
    link = issue_link(
        repository,
        find_contact_key(repository, contact_id),
        body,
        now=int(time.time()),
        valid_days=load_settings(OperatorSettings).link_token_days,
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=link.model_dump())


@app.get("/messages/<message_id>")
def get_message(message_id: str) -> dict[str, Any]:
    return message_view(_repository(), message_id).model_dump()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
