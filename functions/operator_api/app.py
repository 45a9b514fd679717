"""Operator API (X-Api-Key): contacts and messages as captured, and a contact's ads consent."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

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


@app.get("/messages/<message_id>")
def get_message(message_id: str) -> dict[str, Any]:
    return message_view(_repository(), message_id).model_dump()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
