"""Operator actions through CM.com (X-Api-Key): mark a message as read, block or unblock a contact.
The events themselves go out through the CM events queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types

from wa_conversions.cm_channel.actions import ActionResult
from wa_conversions.cm_channel.wiring import actions
from wa_conversions.http_api import answers, operator_resolver

logger = Logger()
# Its routes take path ids only: nothing to validate, so no validation middleware at cold start.
app = operator_resolver(validation=False)
QUEUED = answers(202, "Queued for CM.com") | answers(200, "Nothing needed sending")


def _answer(result: ActionResult) -> Response[Any]:
    # 202 Accepted: the event is queued for CmEventsFunction; 200: nothing needed sending.
    status = 202 if result.queued else 200
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=result.body)


@app.post("/messages/<message_id>/read", responses=QUEUED)
def mark_read(message_id: str) -> Response[Any]:
    return _answer(actions().mark_read(message_id))


@app.post("/contacts/<contact_id>/block", responses=QUEUED)
def block(contact_id: str) -> Response[Any]:
    return _answer(actions().block(contact_id))


@app.post("/contacts/<contact_id>/unblock", responses=QUEUED)
def unblock(contact_id: str) -> Response[Any]:
    return _answer(actions().unblock(contact_id))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
