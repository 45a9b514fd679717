"""What the operator APIs take and answer: explicit views, never raw table items. docs/openapi.json
is generated from these and the other models the routes name (`make openapi`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """Every error answer of the operator APIs."""

    error: str = Field(
        description="A stable code: bad_request, unauthorized, not_found, validation_error, ..."
    )
    message: str = Field(description="What is wrong")
    field: str | None = Field(default=None, description="The field, parameter or header at fault")


class CaptureBatch(BaseModel):
    """POST /v1/capture: the collector's batch `track` format; each item is checked on its own, so
    one bad item is reported in the answer's `errors` and the others are taken (docs/analytics.md)."""

    batch: list[Any] = Field(
        description="1 to 100 track items: type, event, userId, timestamp, properties, context"
    )


class ReferralView(BaseModel):
    ctwa_clid: str | None
    source_id: str | None
    source_type: str | None
    source_url: str | None
    headline: str | None
    body: str | None = None
    media_type: str | None = None
    message_id: str
    received_at: str


class MessageCounts(BaseModel):
    inbound: int
    outbound: int


class ContactView(BaseModel):
    phone: str | None
    # Where the phone came from when the webhook's ids did not carry it: "contact_request".
    phone_source: str | None = None
    user_id: str | None
    parent_user_id: str | None = None
    name: str | None
    username: str | None = None
    first_seen_at: str | None
    last_inbound_at: str | None
    referrals: list[ReferralView]
    messages: MessageCounts
    # CM.com channel: whether the business blocked the user through CM.com, and since when.
    blocked: bool = False
    blocked_at: str | None = None
    # PUT /contacts/{id}/consent: whether the contact's conversions may optimise ads; None: never said.
    ads_consent: bool | None = None
    ads_consent_at: str | None = None


class ConsentRequest(BaseModel):
    """PUT /contacts/{id}/consent: {"ads": true|false}."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ads: bool


class MessageError(BaseModel):
    code: int | None = None
    title: str | None = None
    message: str | None = None
    details: str | None = None


class MessageView(BaseModel):
    id: str
    direction: str
    contact: str | None = Field(description="The contact's phone (E.164 digits) or user id")
    type: str
    status: str
    statuses: dict[str, str]
    errors: list[MessageError]
    channel: str | None = None
    timestamp: str | None = None
    # CM.com channel: when a mark-as-read was asked for, and when CM.com accepted it.
    read_requested_at: str | None = None
    read_marked_at: str | None = None
