"""Acknowledging a Twilio webhook: check the signature, check the shape, hand off durably, then answer.

Twilio posts WhatsApp's incoming messages and status callbacks form-encoded and signs them with the
account's auth token over the URL it called and the sorted POST parameters (X-Twilio-Signature,
https://www.twilio.com/docs/usage/security#validating-requests). The parameters are queued as JSON
(to the WhatsApp ingest queue, marked provider=twilio) with the time they arrived, since Twilio's
webhooks carry none. Only the standard library is used here, to keep this function's cold start small.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from ..aws_limits import sqs_text
from ..errors import BadRequestError, ForbiddenError, UnauthorizedError
from ..providers.twilio_format import WebhookKind, webhook_kind
from ..signatures import verify_twilio_signature
from .ingest import MAX_MESSAGE_BYTES, IngestQueue, PayloadTooLargeError

PROVIDER = "twilio"
# Twilio's answer to a message webhook is TwiML; an empty Response sends no reply
# (https://www.twilio.com/docs/messaging/twiml).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def public_url(configured: str, called: str) -> str:
    """The URL Twilio called, which is what it signs (query string included): the configured one (a
    custom domain or a proxy in front changes the host API Gateway sees), else `called`, the one API
    Gateway was called on (HttpRequest.url)."""
    return configured or called


def read_form(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=500)
    except (UnicodeDecodeError, ValueError):
        raise BadRequestError("Body is not application/x-www-form-urlencoded UTF-8") from None


def check_signature(url: str, params: list[tuple[str, str]], header: str | None, auth_token: str) -> None:
    if not header:
        raise UnauthorizedError("Missing X-Twilio-Signature header")
    if not verify_twilio_signature(url, params, header, auth_token):
        raise ForbiddenError("X-Twilio-Signature does not match the URL and parameters")


def accept_webhook(
    body: bytes,
    url: str,
    signature: str | None,
    auth_token: str,
    queue_factory: Callable[[], IngestQueue],
    now: Callable[[], float] = time.time,
) -> WebhookKind:
    """Verify and queue one Twilio webhook; returns which kind it was."""
    if len(body) > MAX_MESSAGE_BYTES:
        raise PayloadTooLargeError(f"Body exceeds {MAX_MESSAGE_BYTES} bytes")
    pairs = read_form(body)
    check_signature(url, pairs, signature, auth_token)
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)  # Twilio sends each parameter once
    kind = webhook_kind(params)
    if kind is None:
        raise BadRequestError(
            "Not a Twilio messaging webhook: expected MessageSid with From (an incoming message) "
            "or MessageStatus (a status callback)"
        )
    queued = json.dumps({"received_at": int(now()), "params": params}, separators=(",", ":"))
    queue_factory().send([sqs_text(queued)], attributes={"provider": PROVIDER})
    return kind
