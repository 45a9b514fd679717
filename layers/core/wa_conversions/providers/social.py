"""AWS End User Messaging Social: Meta's webhook, relayed through an SNS topic, back in Meta's format.

Each SNS message holds one of Meta's webhook entries as a JSON string (`whatsAppWebhookEntry`) beside
the AWS ids of the WABA and phone number (`context`, `aws_account_id`, `message_timestamp`):
https://docs.aws.amazon.com/social-messaging/latest/userguide/managing-event-destination-dlrs.html.
The entry is wrapped as a direct webhook's body and read by the Meta provider, so every update is keyed
as a direct webhook's is (a number on both routes stores nothing twice). The SQS subscription uses raw
message delivery; a body still in SNS's envelope ({"Type": "Notification", "Message": ...}) is opened.
"""

from __future__ import annotations

import json
from typing import Any

from ..jsontext import JsonTextError, loads

ENTRY_FIELD = "whatsAppWebhookEntry"
WHATSAPP_BUSINESS_ACCOUNT = "whatsapp_business_account"


class SocialFormatError(ValueError):
    """An End User Messaging Social message whose entry cannot be read."""


def meta_webhook(body: str) -> str | None:
    """The direct-webhook body an End User Messaging Social message stands for, or None when `body`
    is not one (a direct webhook, which may name the field in a message's text). Raises
    SocialFormatError for one whose entry is missing or not a webhook entry."""
    if ENTRY_FIELD not in body:
        return None  # the common case, a direct webhook, decided without parsing
    try:
        document = loads(body)
    except JsonTextError:
        return None  # not JSON at all: the Meta provider says why
    document = _unwrapped(document)
    if not isinstance(document, dict) or ENTRY_FIELD not in document:
        return None
    raw = document[ENTRY_FIELD]
    if not isinstance(raw, str):
        raise SocialFormatError(f"{ENTRY_FIELD} must be a JSON string")
    try:
        entry = loads(raw)
    except JsonTextError as error:
        raise SocialFormatError(f"{ENTRY_FIELD} is not valid JSON: {error}") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
        raise SocialFormatError(f"{ENTRY_FIELD} is not a webhook entry with changes")
    if "id" not in entry:
        # The WABA id Meta puts on the entry; the header carries it too.
        waba = _waba_id(document.get("context"))
        if waba is None:
            raise SocialFormatError(f"{ENTRY_FIELD} has no id and context names no WABA")
        entry = {"id": waba, **entry}
    return json.dumps({"object": WHATSAPP_BUSINESS_ACCOUNT, "entry": [entry]}, separators=(",", ":"))


def _unwrapped(document: Any) -> Any:
    if (
        isinstance(document, dict)
        and document.get("Type") == "Notification"
        and isinstance(document.get("Message"), str)
    ):
        try:
            return loads(document["Message"])
        except JsonTextError:
            return None
    return document


def _waba_id(context: Any) -> str | None:
    if not isinstance(context, dict):
        return None
    ids = context.get("MetaWabaIds")
    if isinstance(ids, list) and ids and isinstance(ids[0], dict) and isinstance(ids[0].get("wabaId"), str):
        return str(ids[0]["wabaId"])
    return None
