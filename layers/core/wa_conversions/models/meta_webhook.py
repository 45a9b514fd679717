"""Meta's WhatsApp Business Account webhook, read tolerantly.

Unknown fields are ignored and unknown message types or statuses become UNKNOWN, because Meta adds to
this format without notice and a webhook we reject is a webhook Meta retries for days. Every field
that Meta documents as sometimes absent (wa_id and from once usernames roll out, ctwa_clid on Status
placements) is optional here.
"""

from __future__ import annotations

from typing import Any, Required, TypedDict

from pydantic import TypeAdapter


# TypedDicts rather than BaseModels: pydantic validates into plain dicts about as fast as json.loads
# parses (unknown keys are skipped, not built), where models cost 1.5x json.loads to build on the
# processor's hot path. Keys absent from the body stay absent: read them with .get().
class ProfileDoc(TypedDict, total=False):
    name: str | None
    username: str | None


class ContactDoc(TypedDict, total=False):
    wa_id: str | None
    user_id: str | None
    parent_user_id: str | None
    profile: ProfileDoc | None


class MetadataDoc(TypedDict, total=False):
    display_phone_number: str | None
    phone_number_id: str | None


class ReferralDoc(TypedDict, total=False):
    source_url: str | None
    source_id: str | None
    source_type: str | None
    body: str | None
    headline: str | None
    media_type: str | None
    ctwa_clid: str | None


class TextDoc(TypedDict, total=False):
    body: str | None


# "from" is a keyword, hence the functional form.
MessageDoc = TypedDict(
    "MessageDoc",
    {
        "id": Required[str],
        "from": str | None,
        "from_user_id": str | None,
        "timestamp": Required[int],
        "type": str,
        "referral": ReferralDoc | None,
        "text": TextDoc | None,
    },
    total=False,
)


class ErrorDataDoc(TypedDict, total=False):
    details: str | None


class ErrorDoc(TypedDict, total=False):
    code: int | None
    title: str | None
    message: str | None
    error_data: ErrorDataDoc | None


class ConversationDoc(TypedDict, total=False):
    id: str | None


class PricingDoc(TypedDict, total=False):
    category: str | None


class StatusDoc(TypedDict, total=False):
    id: Required[str]
    status: str
    timestamp: Required[int]
    recipient_id: str | None
    recipient_user_id: str | None
    recipient_type: str | None
    conversation: ConversationDoc | None
    pricing: PricingDoc | None
    errors: list[ErrorDoc]


class AutomaticEventDoc(TypedDict, total=False):
    id: Required[str]
    event_name: Required[str]
    timestamp: Required[int]
    ctwa_clid: str | None
    custom_data: dict[str, Any] | None


class ChangeValueDoc(TypedDict, total=False):
    metadata: MetadataDoc | None
    contacts: list[ContactDoc]
    messages: list[MessageDoc]
    statuses: list[StatusDoc]
    automatic_events: list[AutomaticEventDoc]


class ChangeDoc(TypedDict, total=False):
    field: Required[str]
    value: ChangeValueDoc


class EntryDoc(TypedDict, total=False):
    id: Required[str]
    changes: list[ChangeDoc]


class WebhookDocument(TypedDict):
    object: str
    entry: list[EntryDoc]


WEBHOOK_DOCUMENT: TypeAdapter[WebhookDocument] = TypeAdapter(WebhookDocument)
MESSAGE_DOCUMENT: TypeAdapter[MessageDoc] = TypeAdapter(MessageDoc)
