"""Meta's WhatsApp Business Account webhook, read tolerantly.

Unknown fields are ignored and unknown message types or statuses become UNKNOWN, because Meta adds to
this format without notice and a webhook we reject is a webhook Meta retries for days. Every field
that Meta documents as sometimes absent (wa_id and from once usernames roll out, ctwa_clid on Status
placements) is optional here.

What becomes part of a storage key is bounded here, at the boundary: an update whose id, phone, click
id, status or time could not be stored fails validation (and is parked with the reason) instead of
failing in DynamoDB on every retry.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, Any, Required, TypedDict

from pydantic import AfterValidator, Field, StringConstraints, TypeAdapter

# DynamoDB keys take 2,048 bytes (partition) and 1,024 (sort), and some keys join an id to a prefix,
# a time and another id: 200 characters (800 bytes at worst) keep every key in bounds, several times
# the longest id Meta sends (a wamid is about 60 characters, a ctwa_clid about 100).
MAX_ID_LENGTH = 200
# A status or event name also goes into an idempotency key, beside an id.
MAX_NAME_LENGTH = 100
# The last second a timestamp can be written as an ISO date (9999-12-31T23:59:59Z).
MAX_EPOCH_SECONDS = 253_402_300_799
# DynamoDB numbers hold 38 significant digits, from 1E-130 to below 1E+126 in magnitude, or zero:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
MAX_STORED_DIGITS = 38
SMALLEST_STORED = Decimal("1E-130")
BEYOND_STORED = Decimal("1E+126")

Id = Annotated[str, StringConstraints(max_length=MAX_ID_LENGTH)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_LENGTH)]
EpochSeconds = Annotated[int, Field(ge=0, le=MAX_EPOCH_SECONDS)]
ErrorCode = Annotated[int, Field(ge=-(2**63), lt=2**63)]


def _storable(value: Any) -> Any:
    """Free-form data (an automatic event's custom_data) as DynamoDB and JSON can hold it: finite
    numbers of at most 38 digits, within DynamoDB's range. Walked without recursion: the body's depth
    is bounded at intake."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("holds a number that is not finite")
        # Compared as the store writes it (Decimal of the float's shortest form), so the edge is exact.
        if (
            isinstance(item, float)
            and item
            and not SMALLEST_STORED <= abs(Decimal(str(item))) < BEYOND_STORED
        ):
            raise ValueError("holds a number beyond DynamoDB's range (1E-130 to 1E+126 in magnitude)")
        if isinstance(item, int) and len(str(abs(item))) > MAX_STORED_DIGITS:
            raise ValueError(f"holds a number of more than {MAX_STORED_DIGITS} digits")
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return value


StorableData = Annotated[dict[str, Any], AfterValidator(_storable)]


# TypedDicts rather than BaseModels: pydantic validates into plain dicts about as fast as json.loads
# parses (unknown keys are skipped, not built), where models cost 1.5x json.loads to build on the
# processor's hot path. Keys absent from the body stay absent: read them with .get().
class ProfileDoc(TypedDict, total=False):
    name: str | None
    username: str | None


class ContactDoc(TypedDict, total=False):
    wa_id: Id | None
    user_id: Id | None
    parent_user_id: Id | None
    profile: ProfileDoc | None


class MetadataDoc(TypedDict, total=False):
    display_phone_number: Id | None
    phone_number_id: Id | None


class ReferralDoc(TypedDict, total=False):
    source_url: str | None
    source_id: Id | None
    source_type: str | None
    body: str | None
    headline: str | None
    media_type: str | None
    ctwa_clid: Id | None


class TextDoc(TypedDict, total=False):
    body: str | None


class SystemDoc(TypedDict, total=False):
    """A `system` message: user_changed_number names the new number (wa_id) and, with usernames, the
    new user id (the user id is regenerated on a number change: docs/shopify.md)."""

    type: Name | None
    wa_id: Id | None
    new_wa_id: Id | None
    user_id: Id | None


class HistoryContextDoc(TypedDict, total=False):
    status: Name | None


class PhoneDoc(TypedDict, total=False):
    phone: Id | None
    wa_id: Id | None


class SharedContactDoc(TypedDict, total=False):
    phones: list[PhoneDoc]
    origin: Name | None


# "from" is a keyword, hence the functional form.
MessageDoc = TypedDict(
    "MessageDoc",
    {
        "id": Required[Id],
        "from": Id | None,
        "from_user_id": Id | None,
        "timestamp": Required[EpochSeconds],
        "type": Name,
        "referral": ReferralDoc | None,
        "text": TextDoc | None,
        "system": SystemDoc | None,
        # A `contacts` message; origin "contact_request" is the user's own number, sent in answer to a
        # REQUEST_CONTACT_INFO button (docs/shopify.md, "One contact per person").
        "contacts": list[SharedContactDoc],
        "origin": Name | None,
        # Coexistence only (docs/events.md): the customer an smb_message_echoes or history message
        # went to, and a history message's last status.
        "to": Id | None,
        "history_context": HistoryContextDoc | None,
    },
    total=False,
)


class HistoryMetadataDoc(TypedDict, total=False):
    phase: int | None
    chunk_order: int | None
    progress: int | None


class HistoryThreadDoc(TypedDict, total=False):
    """One chat of a `history` chunk: id is the customer's WhatsApp number."""

    id: Id | None
    messages: list[MessageDoc]


class HistoryChunkDoc(TypedDict, total=False):
    metadata: HistoryMetadataDoc | None
    threads: list[HistoryThreadDoc]


class ErrorDataDoc(TypedDict, total=False):
    details: str | None


class ErrorDoc(TypedDict, total=False):
    code: ErrorCode | None
    title: str | None
    message: str | None
    error_data: ErrorDataDoc | None


class ConversationDoc(TypedDict, total=False):
    id: str | None


class PricingDoc(TypedDict, total=False):
    category: str | None


class StatusDoc(TypedDict, total=False):
    id: Required[Id]
    status: Name
    timestamp: Required[EpochSeconds]
    recipient_id: Id | None
    recipient_user_id: Id | None
    recipient_type: str | None
    conversation: ConversationDoc | None
    pricing: PricingDoc | None
    errors: list[ErrorDoc]


class AutomaticEventDoc(TypedDict, total=False):
    id: Required[Id]
    event_name: Required[Name]
    timestamp: Required[EpochSeconds]
    ctwa_clid: Id | None
    custom_data: StorableData | None


class ChangeValueDoc(TypedDict, total=False):
    metadata: MetadataDoc | None
    contacts: list[ContactDoc]
    messages: list[MessageDoc]
    statuses: list[StatusDoc]
    automatic_events: list[AutomaticEventDoc]
    # Coexistence: what the business sent from the WhatsApp Business app, and its past chats.
    message_echoes: list[MessageDoc]
    history: list[HistoryChunkDoc]


class ChangeDoc(TypedDict, total=False):
    field: Required[str]
    value: ChangeValueDoc


class EntryDoc(TypedDict, total=False):
    id: Required[Id]
    changes: list[ChangeDoc]


class WebhookDocument(TypedDict):
    object: str
    entry: list[EntryDoc]


WEBHOOK_DOCUMENT: TypeAdapter[WebhookDocument] = TypeAdapter(WebhookDocument)
MESSAGE_DOCUMENT: TypeAdapter[MessageDoc] = TypeAdapter(MessageDoc)
