"""Which of CM.com's two webhook formats a decoded body is, beside the parser that reads them.

Standard library only: the webhook function imports this on its cold path to refuse a foreign body
with a 400 before queueing it, without loading pydantic or the parser (docs/cm.md).
"""

from __future__ import annotations

from typing import Any, Literal

WebhookKind = Literal["message", "status_report"]


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
        and isinstance(document.get("message", {}), dict)
    ):
        return "message"
    return None
