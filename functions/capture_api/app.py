"""POST /v1/capture (X-Api-Key): the CRM's batch of track events, checked item by item and put on
the bus for the aggregator."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types

from wa_conversions.analytics.track import TrackIntake
from wa_conversions.errors import PublishError
from wa_conversions.http_api import json_body, operator_resolver

logger = Logger()
app = operator_resolver()


@cache
def _intake() -> TrackIntake:
    from wa_conversions import aws
    from wa_conversions.config import TrackApiSettings, load_settings
    from wa_conversions.models.events import contact_merged
    from wa_conversions.publishing.eventbridge import EventBridgePublisher
    from wa_conversions.store.capture import CaptureRepository, followed_key
    from wa_conversions.store.emails import ContactEmails

    settings = load_settings(TrackApiSettings)
    emails = ContactEmails(aws.dynamodb(), settings.table_name, retention=settings.retention())
    contacts = CaptureRepository(aws.dynamodb(), settings.table_name, retention=settings.retention())
    publisher = EventBridgePublisher(aws.events(), settings.event_bus_name)

    def live(contact_key: str) -> str:
        # A user id the CRM names may be a contact stored under its phone: the email goes there.
        if not contact_key.startswith("uid:"):
            return contact_key
        return followed_key(contacts, contacts.contact_key_of_user(contact_key[4:])) or contact_key

    def add_phones(pairs: list[tuple[str, str]]) -> None:
        try:
            merges: list[tuple[str, str]] = []
            for contact_key, phone in pairs:
                contacts.add_phone(contact_key, phone, source="crm", merges=merges)
            if merges:  # the aggregator folds the merged contact's counts too (docs/events.md)
                publisher.publish([contact_merged(s, t, time.time(), "capture") for s, t in merges])
                contacts.mark_announced(s for s, _ in merges)
        except Exception as error:  # DynamoDB down or throttling: the client retries the batch (503)
            raise PublishError("contact phones not stored") from error

    def remember(pairs: list[tuple[str, str]]) -> None:
        try:
            emails.remember([(live(key), email) for key, email in pairs], source="crm")
        except Exception as error:  # DynamoDB down or throttling: the client retries the batch (503)
            raise PublishError("contact emails not stored") from error

    return TrackIntake(publisher, remember, add_phones)


@app.post("/v1/capture")
def capture() -> Response[Any]:
    try:
        result = _intake().accept(json_body(app))
    except PublishError:
        logger.exception("Capture batch not published")
        return Response(
            status_code=503,
            content_type=content_types.APPLICATION_JSON,
            body={"error": "unavailable", "message": "Could not queue the events, retry the batch"},
        )
    body: dict[str, Any] = result.model_dump()
    if not result.errors:
        status = 200
    elif result.accepted:
        status = 207
    else:
        status = 422
        body |= {"error": "validation_error", "message": "No item of the batch was valid"}
    logger.info("Capture batch", extra={"accepted": result.accepted, "rejected": len(result.errors)})
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
