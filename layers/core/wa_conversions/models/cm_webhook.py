"""CM.com's webhooks, read tolerantly: the inbound (MO) message and the status report.

CM documents the MO envelope (from, to, message, reference, groupings, timeUtc, channel,
messageContext) but not every nesting inside `message`, and adds fields without notice. So unknown
fields are ignored, every field but the sender's number is optional, and numbers arrive in either of
CM's notations ("+316012345678", "00316012345678"). A webhook we reject is one CM retries every five
minutes for a month. What becomes part of a storage key (a number, a reference, a status code) is
bounded as Meta's ids are (models/meta_webhook.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from .meta_webhook import Id, Name


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Party(_Model):
    number: Id | None = None
    name: str | None = None
    # WhatsApp usernames: CM.com passes Meta's business-scoped user id, and `number` may then be empty
    # (developers.cm.com/messaging/docs/whatsapp-business-scoped-user-ids).
    user_id: Id | None = Field(default=None, alias="userId")
    parent_user_id: Id | None = Field(default=None, alias="parentUserId")
    username: Name | None = None


class Media(_Model):
    media_name: str | None = Field(default=None, alias="mediaName")
    media_uri: str | None = Field(default=None, alias="mediaUri")
    mime_type: str | None = Field(default=None, alias="mimeType")


class Content(_Model):
    """The `message` object: text, media, location, contacts or an interactive reply."""

    text: str | None = None
    media: Media | None = None
    location: dict[str, Any] | None = None
    contacts: list[Any] | dict[str, Any] | None = Field(
        default=None, validation_alias=AliasChoices("contacts", "contact")
    )
    # CM's "suggestions" and interactive replies arrive under several names; any of them makes the
    # message an interactive reply.
    interactive: dict[str, Any] | None = None
    suggestions: list[Any] | None = None
    custom: dict[str, Any] | None = None

    @field_validator("media", mode="before")
    @classmethod
    def _media_object(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None


class InboundMessage(_Model):
    """One MO webhook: a message a WhatsApp user sent the business."""

    from_: Party = Field(alias="from")
    to: Party | None = None
    message: Content = Field(default_factory=Content)
    reference: str | None = None
    message_context: str | None = Field(default=None, alias="messageContext")
    groupings: list[str | None] | None = None
    time_utc: str | None = Field(default=None, alias="timeUtc")
    channel: str | None = None
    # CM's "raw payload" option: the provider's original message beside CM's own format. Its key and
    # exact shape are not documented publicly [unconfirmed]; these are the names it is looked for under.
    raw_payload: Any = Field(
        default=None, validation_alias=AliasChoices("rawPayload", "raw_payload", "rawMessage", "raw")
    )


class StatusCode(_Model):
    code: Name | None = None
    error_code: str | None = Field(default=None, alias="errorCode")
    error_description: str | None = Field(default=None, alias="errorDescription")

    @field_validator("code", "error_code", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class StatusReport(_Model):
    """One `msg` of a status (delivery) report."""

    reference: Id
    to: Id | None = None
    received: str | int | None = None
    status: StatusCode = Field(default_factory=StatusCode)
    operator: str | None = None

    @field_validator("to", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class StatusMessages(_Model):
    msg: list[StatusReport]

    @field_validator("msg", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        # CM's template shows one `msg` object; a converted XML report or a batch can hold several.
        return value if isinstance(value, list) else [value]


class StatusReportWebhook(_Model):
    messages: StatusMessages
