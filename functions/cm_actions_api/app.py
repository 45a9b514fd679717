"""Operator actions through CM.com (X-Api-Key): mark a message as read, block or unblock a contact.
The events themselves go out through the CM events queue."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types

from wa_conversions import aws
from wa_conversions.cm_channel.actions import ActionResult, CmActions, EventQueue
from wa_conversions.config import CmActionsSettings, load_settings
from wa_conversions.http_api import operator_resolver
from wa_conversions.store.capture import CaptureRepository
from wa_conversions.store.cm_channel import CmChannelRepository

logger = Logger()
app = operator_resolver()


@cache
def _actions() -> CmActions:
    settings = load_settings(CmActionsSettings)
    return CmActions(
        CaptureRepository(aws.dynamodb(), settings.table_name, retention=settings.retention()),
        CmChannelRepository(aws.dynamodb(), settings.table_name),
        EventQueue(aws.sqs(), settings.cm_events_queue_url),
    )


def _answer(result: ActionResult) -> Response[Any]:
    # 202 Accepted: the event is queued for CmEventsFunction; 200: nothing needed sending.
    status = 202 if result.queued else 200
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=result.body)


@app.post("/messages/<message_id>/read")
def mark_read(message_id: str) -> Response[Any]:
    return _answer(_actions().mark_read(message_id))


@app.post("/contacts/<contact_id>/block")
def block(contact_id: str) -> Response[Any]:
    return _answer(_actions().block(contact_id))


@app.post("/contacts/<contact_id>/unblock")
def unblock(contact_id: str) -> Response[Any]:
    return _answer(_actions().unblock(contact_id))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
