"""Acknowledging a CM.com webhook: check the token, check the shape, hand off durably, then answer.

CM.com cannot sign its requests, so the webhook URL carries a secret token (`?token=...`), compared
in constant time. CM retries anything but a 200 every five minutes for a month, so the body is queued
(to the WhatsApp ingest queue, marked provider=cm) before the 200 goes out. Only the standard
library is used here, to keep this function's cold start small; parsing proper happens behind the
queue.
"""

from __future__ import annotations

from collections.abc import Callable

from ..aws_limits import sqs_text
from ..errors import BadRequestError, UnauthorizedError
from ..jsontext import JsonTextError, loads
from ..providers.cm_format import WebhookKind, webhook_kind
from ..signatures import constant_time_equals
from .ingest import MAX_MESSAGE_BYTES, IngestQueue, PayloadTooLargeError

PROVIDER_ATTRIBUTE = "provider"
PROVIDER = "cm"


def check_token(given: str | None, expected: str) -> None:
    if not given:
        raise UnauthorizedError("Missing token query parameter")
    if not constant_time_equals(given, expected):
        raise UnauthorizedError("token does not match")


def read_webhook(body: bytes) -> WebhookKind:
    try:
        document = loads(body)
    except JsonTextError as error:
        raise BadRequestError(f"Body is not valid JSON: {error}") from None
    kind = webhook_kind(document)
    if kind is None:
        raise BadRequestError(
            "Not a CM.com webhook: expected an inbound message with from.number, "
            "or a status report with messages.msg"
        )
    return kind


def accept_webhook(
    body: bytes, token: str | None, expected_token: str, queue_factory: Callable[[], IngestQueue]
) -> WebhookKind:
    """Verify and queue one CM webhook; returns which format it was."""
    check_token(token, expected_token)
    kind = read_webhook(body)
    # One CM webhook is one message or one report: far below SQS's limit. A body that is not has
    # nothing to do with CM, and splitting it would need to understand it.
    if len(body) > MAX_MESSAGE_BYTES:
        raise PayloadTooLargeError(f"Body exceeds {MAX_MESSAGE_BYTES} bytes")
    # read_webhook decoded these bytes already: they are UTF-8.
    queue_factory().send([sqs_text(body.decode("utf-8"))], attributes={PROVIDER_ATTRIBUTE: PROVIDER})
    return kind
