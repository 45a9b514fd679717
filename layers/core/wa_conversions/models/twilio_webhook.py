"""Twilio's WhatsApp webhooks as queued by capture.twilio_ingest: the POST parameters, by their
documented names (https://www.twilio.com/docs/messaging/guides/webhook-request,
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status), and the time they arrived.

Twilio adds parameters without notice, so unknown ones are ignored and every one but the message's
sid is optional. What becomes part of a storage key (a sid, a number, a status) is bounded as Meta's
ids are (models/meta_webhook.py).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .meta_webhook import EpochSeconds, Id, Name


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Params(_Model):
    message_sid: Id | None = Field(default=None, alias="MessageSid")
    sms_sid: Id | None = Field(default=None, alias="SmsSid")  # MessageSid's deprecated twin
    account_sid: Id | None = Field(default=None, alias="AccountSid")
    from_: Id | None = Field(default=None, alias="From")
    to: Id | None = Field(default=None, alias="To")
    body: str | None = Field(default=None, alias="Body")
    num_media: Id | None = Field(default=None, alias="NumMedia")
    media_content_type: Id | None = Field(default=None, alias="MediaContentType0")
    profile_name: Name | None = Field(default=None, alias="ProfileName")
    wa_id: Id | None = Field(default=None, alias="WaId")
    message_type: Id | None = Field(default=None, alias="MessageType")
    latitude: Id | None = Field(default=None, alias="Latitude")
    button_payload: str | None = Field(default=None, alias="ButtonPayload")
    message_status: Id | None = Field(default=None, alias="MessageStatus")
    sms_status: Id | None = Field(default=None, alias="SmsStatus")
    error_code: Id | None = Field(default=None, alias="ErrorCode")
    error_message: str | None = Field(default=None, alias="ErrorMessage")
    # Click-to-WhatsApp: the ad a conversation came from, on its first message.
    referral_ctwa_clid: Id | None = Field(default=None, alias="ReferralCtwaClid")
    referral_source_id: Id | None = Field(default=None, alias="ReferralSourceId")
    referral_source_type: Id | None = Field(default=None, alias="ReferralSourceType")
    referral_source_url: str | None = Field(default=None, alias="ReferralSourceUrl")
    referral_headline: str | None = Field(default=None, alias="ReferralHeadline")
    referral_body: str | None = Field(default=None, alias="ReferralBody")
    referral_media_id: Id | None = Field(default=None, alias="ReferralMediaId")
    referral_media_content_type: Id | None = Field(default=None, alias="ReferralMediaContentType")
    referral_media_url: str | None = Field(default=None, alias="ReferralMediaUrl")


class QueuedWebhook(_Model):
    received_at: EpochSeconds
    params: Params
