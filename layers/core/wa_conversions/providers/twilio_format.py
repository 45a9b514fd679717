"""Which of Twilio's two webhooks a parameter set is, beside the parser that reads them.

Standard library only: the webhook function imports this on its cold path to refuse a foreign body
with a 400 before queueing it, without loading the parser (docs/twilio.md).
"""

from __future__ import annotations

from typing import Literal

WebhookKind = Literal["message", "status"]
# The statuses an incoming message itself carries (SmsStatus); any other is an outbound one's callback.
INBOUND_STATUSES = frozenset({"received", "receiving"})


def webhook_kind(params: dict[str, str]) -> WebhookKind | None:
    """An incoming message or a status callback, by Twilio's documented parameters; None for neither."""
    if not (params.get("MessageSid") or params.get("SmsSid")):
        return None
    status = params.get("MessageStatus") or params.get("SmsStatus")
    if status and status.lower() not in INBOUND_STATUSES:
        return "status"
    if params.get("From"):
        return "message"
    return None
