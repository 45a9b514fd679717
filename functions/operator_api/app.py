"""Operator read API (X-Api-Key): contacts and messages as captured."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from wa_conversions import aws
from wa_conversions.capture.views import contact_view, message_view
from wa_conversions.config import OperatorSettings, load_settings
from wa_conversions.http_api import operator_resolver
from wa_conversions.store.capture import CaptureRepository

logger = Logger()
app = operator_resolver()


@cache
def _repository() -> CaptureRepository:
    return CaptureRepository(aws.dynamodb(), load_settings(OperatorSettings).table_name)


@app.get("/contacts/<contact_id>")
def get_contact(contact_id: str) -> dict[str, Any]:
    return contact_view(_repository(), contact_id).model_dump()


@app.get("/messages/<message_id>")
def get_message(message_id: str) -> dict[str, Any]:
    return message_view(_repository(), message_id).model_dump()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
