"""Twilio's WhatsApp webhooks: from the queued POST parameters to the same domain updates as Meta's.

An incoming message becomes an InboundMessage keyed on its MessageSid; a status callback a
StatusUpdate on the same sid, so every callback about one outgoing message lands on one record and
moves it forward only. Twilio's webhooks carry no time: the time the webhook arrived stands in.
Addresses are "whatsapp:+<E.164>"; a webhook for another channel (SMS on a shared Messaging Service)
is not this product's business and is left out.
"""

from __future__ import annotations

from ..models import twilio_webhook as wire
from ..models.domain import (
    AdReferral,
    BusinessAccount,
    Channel,
    ContactRef,
    ErrorDetail,
    InboundMessage,
    MessageStatus,
    MessageType,
    StatusUpdate,
    Update,
)
from ..phones import wa_digits
from .twilio_format import INBOUND_STATUSES

WHATSAPP_PREFIX = "whatsapp:"

# Twilio's MessageStatus values (https://www.twilio.com/docs/messaging/api/message-resource):
# before "sent" a message is still at Twilio, so those statuses only record their time.
STATUSES: dict[str, MessageStatus] = {
    "accepted": MessageStatus.UNKNOWN,
    "scheduled": MessageStatus.UNKNOWN,
    "queued": MessageStatus.UNKNOWN,
    "sending": MessageStatus.UNKNOWN,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}

# Twilio's MessageType for WhatsApp names Meta's types; a media message's kind is its content type's.
_MEDIA_PREFIXES = (
    ("image/webp", MessageType.STICKER),
    ("image/", MessageType.IMAGE),
    ("video/", MessageType.VIDEO),
    ("audio/", MessageType.AUDIO),
)


class TwilioFormatError(ValueError):
    """The queued body is not a Twilio webhook."""


def parse_webhook(raw: bytes | str) -> list[Update]:
    """The updates of one queued Twilio webhook. Raises pydantic.ValidationError for a body whose
    fields do not hold what they must, and TwilioFormatError for one in neither format."""
    queued = wire.QueuedWebhook.model_validate_json(raw)
    params = queued.params
    sid = params.message_sid or params.sms_sid
    if not sid:
        raise TwilioFormatError("Not a Twilio webhook: no MessageSid")
    status = (params.message_status or params.sms_status or "").lower()
    if status and status not in INBOUND_STATUSES:
        if not (params.to or "").startswith(WHATSAPP_PREFIX):
            return []
        return [_status(sid, status, params, queued.received_at)]
    if not params.from_:
        raise TwilioFormatError("Not a Twilio webhook: an incoming message without From")
    if not params.from_.startswith(WHATSAPP_PREFIX):
        return []
    return [_inbound(sid, params, queued.received_at)]


def _address(value: str | None) -> str | None:
    return wa_digits(value.removeprefix(WHATSAPP_PREFIX)) if value else None


def _inbound(sid: str, params: wire.Params, received_at: int) -> InboundMessage:
    message_type, raw_type = _type_of(params)
    body = params.body
    return InboundMessage(
        idempotency_key=f"msg:{sid}",
        channel=Channel.TWILIO,
        message_id=sid,
        contact=ContactRef(
            phone=wa_digits(params.wa_id) or _address(params.from_), name=params.profile_name or None
        ),
        account=BusinessAccount(waba_id=None, phone_number_id=None, display_phone_number=_address(params.to)),
        type=message_type,
        raw_type=raw_type,
        timestamp=received_at,
        referral=_referral(params),
        referral_known=True,  # Twilio passes Meta's referral on as Referral* parameters
        text_length=len(body) if body else None,
        text=body or None,  # for the conversion rules only
    )


def _type_of(params: wire.Params) -> tuple[MessageType, str]:
    if params.message_type:
        raw = params.message_type.lower()
        return MessageType(raw), raw
    if params.num_media not in (None, "", "0"):
        mime = (params.media_content_type or "").lower()
        for prefix, kind in _MEDIA_PREFIXES:
            if mime.startswith(prefix):
                return kind, "media"
        return MessageType.DOCUMENT, "media"
    if params.latitude:
        return MessageType.LOCATION, "location"
    if params.button_payload:
        return MessageType.BUTTON, "button"
    return MessageType.TEXT, "text"


def _referral(params: wire.Params) -> AdReferral | None:
    fields = (
        params.referral_ctwa_clid,
        params.referral_source_id,
        params.referral_source_type,
        params.referral_source_url,
        params.referral_headline,
        params.referral_body,
        params.referral_media_id,
        params.referral_media_url,
    )
    if not any(fields):
        return None
    mime = (params.referral_media_content_type or "").lower()
    return AdReferral(
        ctwa_clid=params.referral_ctwa_clid or None,
        source_id=params.referral_source_id or None,
        source_type=params.referral_source_type or None,
        source_url=params.referral_source_url or None,
        headline=params.referral_headline or None,
        body=params.referral_body or None,
        # Meta's media_type ("image", "video") is the content type's first half.
        media_type=mime.partition("/")[0] or None,
    )


def _status(sid: str, status: str, params: wire.Params, received_at: int) -> StatusUpdate:
    mapped = STATUSES.get(status, MessageStatus(status))
    phone = _address(params.to)
    errors: tuple[ErrorDetail, ...] = ()
    if mapped is MessageStatus.FAILED and params.error_code:
        errors = (
            ErrorDetail(
                code=_int_or_none(params.error_code),
                title=status,
                message=params.error_message or None,
                details=None,
            ),
        )
    return StatusUpdate(
        idempotency_key=f"status:{sid}:{status}",
        channel=Channel.TWILIO,
        message_id=sid,
        status=mapped,
        raw_status=status,
        timestamp=received_at,
        contact=ContactRef(phone=phone) if phone else None,
        account=BusinessAccount(
            waba_id=None, phone_number_id=None, display_phone_number=_address(params.from_)
        ),
        errors=errors,
    )


def _int_or_none(value: str) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    return number if abs(number) < 2**63 else None
