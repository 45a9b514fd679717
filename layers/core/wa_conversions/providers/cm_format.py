"""CM.com's formats without its parser: which of its two webhook formats a decoded body is, and its
notation of numbers and of the ids derived for messages that carry none.

Standard library only: the webhook function imports this on its cold path to refuse a foreign body
with a 400 before queueing it, and the CM.com actions and events build their requests with it,
without loading pydantic or the parser (docs/cm.md).
"""

from __future__ import annotations

from typing import Any, Literal

WebhookKind = Literal["message", "status_report"]

# A message id capture derives from a CM message that has no WhatsApp id (providers.cm): no CM.com
# event can name it.
DERIVED_ID_PREFIX = "cm:"


def international_digits(raw: str | None) -> str | None:
    """A number in either of CM's notations ("+316012345678", "00316012345678") as E.164 digits."""
    if not raw:
        return None
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.lstrip().startswith("00"):
        digits = digits[2:]
    return digits or None


def cm_number(number: str) -> str:
    """A number in the notation CM.com's event requests use, "00" and the E.164 digits, from E.164
    digits with or without "+", or a number already in that notation."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits if digits.startswith("00") else f"00{digits}"


def webhook_kind(document: Any) -> WebhookKind | None:
    """Which of CM's formats a decoded body is: an MO message (`from.number`) or a status report
    (`messages.msg`). None when it is neither."""
    if not isinstance(document, dict):
        return None
    messages = document.get("messages")
    if isinstance(messages, dict) and isinstance(messages.get("msg"), dict | list):
        return "status_report"
    sender = document.get("from")
    if (
        isinstance(sender, dict)
        and (isinstance(sender.get("number"), str) or isinstance(sender.get("userId"), str))
        # an MO always holds its message; CM's event requests (MarkAsRead) share from/to but hold none
        and isinstance(document.get("message"), dict)
    ):
        return "message"
    return None
