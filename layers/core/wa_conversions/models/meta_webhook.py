"""Meta's WhatsApp Business Account webhook, read tolerantly.

Unknown fields are ignored and unknown message types or statuses become UNKNOWN, because Meta adds to
this format without notice and a webhook we reject is a webhook Meta retries for days. Every field
that Meta documents as sometimes absent (wa_id and from once usernames roll out, ctwa_clid on Status
placements) is optional here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Profile(_Model):
    name: str | None = None
    username: str | None = None


class Contact(_Model):
    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    profile: Profile | None = None


class Metadata(_Model):
    display_phone_number: str | None = None
    phone_number_id: str | None = None


class Referral(_Model):
    source_url: str | None = None
    source_id: str | None = None
    source_type: str | None = None
    body: str | None = None
    headline: str | None = None
    media_type: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    ctwa_clid: str | None = None


class Text(_Model):
    body: str | None = None


class Message(_Model):
    id: str
    from_: str | None = Field(default=None, alias="from")
    from_user_id: str | None = None
    timestamp: int
    # Kept as Meta's string: the domain maps it to MessageType and stores the original beside it.
    type: str = "unknown"
    referral: Referral | None = None
    text: Text | None = None
    context: dict[str, Any] | None = None


class ErrorData(_Model):
    details: str | None = None


class Error(_Model):
    code: int | None = None
    title: str | None = None
    message: str | None = None
    error_data: ErrorData | None = None
    href: str | None = None


class ConversationOrigin(_Model):
    type: str | None = None


class Conversation(_Model):
    id: str | None = None
    origin: ConversationOrigin | None = None


class Pricing(_Model):
    billable: bool | None = None
    pricing_model: str | None = None
    type: str | None = None
    category: str | None = None


class Status(_Model):
    id: str
    status: str = "unknown"
    timestamp: int
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    recipient_type: str | None = None
    biz_opaque_callback_data: str | None = None
    conversation: Conversation | None = None
    pricing: Pricing | None = None
    errors: list[Error] = Field(default_factory=list)


class AutomaticEvent(_Model):
    id: str
    event_name: str
    timestamp: int
    ctwa_clid: str | None = None
    custom_data: dict[str, Any] | None = None


class ChangeValue(_Model):
    messaging_product: str | None = None
    metadata: Metadata | None = None
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    statuses: list[Status] = Field(default_factory=list)
    automatic_events: list[AutomaticEvent] = Field(default_factory=list)
    errors: list[Error] = Field(default_factory=list)


class Change(_Model):
    field: str
    value: ChangeValue = Field(default_factory=ChangeValue)


class Entry(_Model):
    id: str
    changes: list[Change] = Field(default_factory=list)


class WebhookPayload(_Model):
    object: str
    entry: list[Entry]
