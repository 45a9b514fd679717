"""The domain: what a webhook means once the provider's format is gone.

Meta's, CM.com's and Twilio's parsers all produce these updates, so storage, events and analytics
see one shape whatever the channel. They are NamedTuples: immutable, and built per update on the hot path
(where validation has already happened at the boundary) at a third of a frozen dataclass's cost.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple


class _TolerantEnum(StrEnum):
    """An enum that maps values it does not know to UNKNOWN instead of raising."""

    @classmethod
    def _missing_(cls, value: object) -> _TolerantEnum:
        return cls("unknown")


class MessageType(_TolerantEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    REACTION = "reaction"
    ORDER = "order"
    SYSTEM = "system"
    REQUEST_WELCOME = "request_welcome"
    TEMPLATE = "template"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"


MEDIA_TYPES = frozenset(
    {MessageType.IMAGE, MessageType.AUDIO, MessageType.VIDEO, MessageType.DOCUMENT, MessageType.STICKER}
)


class MessageStatus(_TolerantEnum):
    RECEIVED = "received"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """How far along the lifecycle a status is; a status never moves to a lower rank."""
        return _STATUS_RANK[self]


_STATUS_RANK = {
    MessageStatus.UNKNOWN: 0,
    MessageStatus.RECEIVED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
    MessageStatus.PLAYED: 4,
    # Terminal: once a send has failed, a late "sent" must not make it look alive again.
    MessageStatus.FAILED: 5,
}


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Channel(StrEnum):
    META = "meta"
    CM = "cm"
    TWILIO = "twilio"


# A contact known only by its business-scoped user id is keyed "uid:<user id>"; one with a phone by
# its E.164 digits (store/keys.py's <key>).
USER_KEY_PREFIX = "uid:"


def user_contact_key(user_id: str) -> str:
    return f"{USER_KEY_PREFIX}{user_id}"


def user_id_of_key(contact_key: str) -> str | None:
    """The user id a "uid:<user id>" contact key names; None for a phone's key."""
    return contact_key.removeprefix(USER_KEY_PREFIX) if contact_key.startswith(USER_KEY_PREFIX) else None


class ContactRef(NamedTuple):
    """Who a message is from or to. WhatsApp usernames mean either identifier may be missing."""

    phone: str | None = None  # E.164 digits, no "+"
    user_id: str | None = None  # business-scoped user id (BSUID)
    parent_user_id: str | None = None
    name: str | None = None
    username: str | None = None
    # Where the phone came from when not from the webhook's own ids ("contact_request").
    phone_source: str | None = None

    @property
    def key(self) -> str | None:
        if self.phone:
            return self.phone
        if self.user_id:
            return user_contact_key(self.user_id)
        return None

    @property
    def public_id(self) -> str | None:
        """The identifier lifecycle events carry: "+<phone>" as the collectors expect, else the user id."""
        if self.phone:
            return f"+{self.phone}"
        return self.user_id


class AdReferral(NamedTuple):
    """The Click-to-WhatsApp ad click that started a conversation."""

    ctwa_clid: str | None
    source_id: str | None
    source_type: str | None
    source_url: str | None
    headline: str | None
    body: str | None
    media_type: str | None


class ErrorDetail(NamedTuple):
    code: int | None
    title: str | None
    message: str | None
    details: str | None


class BusinessAccount(NamedTuple):
    waba_id: str | None
    phone_number_id: str | None
    display_phone_number: str | None


class InboundMessage(NamedTuple):
    idempotency_key: str
    channel: Channel
    message_id: str
    contact: ContactRef
    account: BusinessAccount
    type: MessageType
    raw_type: str
    timestamp: int
    referral: AdReferral | None = None
    # Whether the channel could have told us of an ad click at all (CM.com without raw payloads cannot).
    referral_known: bool = True
    text_length: int | None = None
    # Read by the conversion rules only (forwarding.rules); never stored, published or logged.
    text: str | None = None
    # A `system` user_changed_number: the number (and user id) the contact moved to.
    moved_to: ContactRef | None = None
    # Read from a coexistence `history` chunk: a past message, counted but not acted on.
    backfill: bool = False


class StatusUpdate(NamedTuple):
    idempotency_key: str
    channel: Channel
    message_id: str
    status: MessageStatus
    raw_status: str
    timestamp: int
    contact: ContactRef | None
    account: BusinessAccount
    errors: tuple[ErrorDetail, ...] = ()
    conversation_id: str | None = None
    pricing_category: str | None = None
    # "app": sent from the WhatsApp Business app (coexistence echoes and history), not through the API.
    service_mode: str | None = None
    backfill: bool = False


class AutomaticEvent(NamedTuple):
    """A conversion Meta detected in the chat itself (Purchase, LeadSubmitted)."""

    idempotency_key: str
    event_id: str
    event_name: str
    timestamp: int
    ctwa_clid: str | None
    account: BusinessAccount
    custom_data: dict[str, Any]


Update = InboundMessage | StatusUpdate | AutomaticEvent
