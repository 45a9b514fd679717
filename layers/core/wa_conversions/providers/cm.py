"""CM.com's WhatsApp webhooks: from raw bytes to the same domain updates as Meta's.

Two formats arrive on one URL: inbound (MO) messages and status reports. Both become
InboundMessage/StatusUpdate with channel CM, so storage, events and analytics do not care which
provider carried a message.

Identifiers, and what is assumed about them:
- An MO message is keyed on the WhatsApp message id (wamid) when CM's raw-payload option carries
  Meta's original message. Without it, CM's documented MO fields hold no id of the message itself
  (`reference` names the outgoing message replied to), so the key is a digest of the fields that
  identify it: sender, recipient, time, reference, context, channel and content. CM retries by
  resending the same message, so the digest is the same on every retry; two identical texts from the
  same user within the same second would collapse into one, which timeUtc's precision cannot avoid.
- A status report does not carry the wamid, only the `reference` the business set on the outgoing
  message. Status reports are joined on that reference: the message record is "MSG#<reference>", so
  every report about one outgoing message lands on one record, whichever system sent it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..jsontext import JsonTextError, loads
from ..models import cm_webhook as wire
from ..models import meta_webhook as meta_wire
from ..models.domain import (
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
from . import meta
from .cm_format import DERIVED_ID_PREFIX, international_digits, webhook_kind

WHATSAPP_CHANNEL = "whatsapp"
# Status report codes as CM's SMS reports use them [unconfirmed for WhatsApp]: the raw name is kept
# beside the mapped status, so a report means the same after the mapping is corrected.
STATUS_CODES: dict[str, tuple[str, MessageStatus]] = {
    "0": ("accepted", MessageStatus.SENT),
    "1": ("rejected", MessageStatus.FAILED),
    "2": ("delivered", MessageStatus.DELIVERED),
    "3": ("failed", MessageStatus.FAILED),
}


class CmFormatError(ValueError):
    """The body is not one of CM's webhook formats."""


def parse_webhook(raw: bytes | str) -> list[Update]:
    """The updates of one CM webhook. Raises CmFormatError for a body in neither format, and
    pydantic.ValidationError for one whose fields do not hold what they must."""
    try:
        document = loads(raw)
    except JsonTextError as error:
        raise CmFormatError(f"Body is not valid JSON: {error}") from None
    kind = webhook_kind(document)
    if kind == "status_report":
        return list(_status_updates(wire.StatusReportWebhook.model_validate(document)))
    if kind == "message":
        message = wire.InboundMessage.model_validate(document)
        if message.channel and message.channel.lower() != WHATSAPP_CHANNEL:
            return []  # an SMS or Viber MO on a shared CM webhook: not this product's business
        return [_inbound(message)]
    raise CmFormatError(
        'Not a CM.com webhook: expected an MO message ("from.number") or a status report ("messages.msg")'
    )


# -- inbound messages ------------------------------------------------------------------------------


def _inbound(message: wire.InboundMessage) -> InboundMessage:
    original = _meta_message(
        message.raw_payload, international_digits(message.from_.number), _epoch(message.time_utc)
    )
    message_id = original["id"] if original else _derived_id(message)
    message_type, raw_type = _type_of(message.message, original)
    referral = original.get("referral") if original else None
    text = message.message.text
    return InboundMessage(
        idempotency_key=f"msg:{message_id}",
        channel=Channel.CM,
        message_id=message_id,
        contact=ContactRef(
            phone=international_digits(message.from_.number),
            name=message.from_.name or None,
            user_id=message.from_.user_id or (original.get("from_user_id") if original else None),
            parent_user_id=message.from_.parent_user_id,
            username=message.from_.username,
        ),
        account=BusinessAccount(
            waba_id=None,
            phone_number_id=None,
            display_phone_number=international_digits(message.to.number) if message.to else None,
        ),
        type=message_type,
        raw_type=raw_type,
        timestamp=original["timestamp"] if original else _epoch(message.time_utc),
        referral=meta.ad_referral(referral) if referral else None,
        # Only Meta's own message can tell of an ad click; CM's format has no place for it.
        referral_known=original is not None,
        text_length=len(text) if text else None,
        text=text or None,  # for the conversion rules only
    )


def _derived_id(message: wire.InboundMessage) -> str:
    identity = {
        "from": international_digits(message.from_.number) or message.from_.user_id,
        "to": international_digits(message.to.number) if message.to else None,
        "time": message.time_utc,
        "reference": message.reference,
        "context": message.message_context,
        "channel": message.channel,
        "message": message.message.model_dump(mode="json", exclude_none=True),
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return DERIVED_ID_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def _type_of(content: wire.Content, original: meta_wire.MessageDoc | None) -> tuple[MessageType, str]:
    if original is not None:
        raw_type = original.get("type", "unknown")
        return MessageType(raw_type), raw_type
    if content.media is not None:
        mime = (content.media.mime_type or "").lower()
        if mime == "image/webp":
            return MessageType.STICKER, "media"
        for prefix, kind in (
            ("image/", MessageType.IMAGE),
            ("video/", MessageType.VIDEO),
            ("audio/", MessageType.AUDIO),
        ):
            if mime.startswith(prefix):
                return kind, "media"
        return MessageType.DOCUMENT, "media"
    if content.location is not None:
        return MessageType.LOCATION, "location"
    if content.contacts:
        return MessageType.CONTACTS, "contacts"
    if content.interactive is not None or content.suggestions:
        return MessageType.INTERACTIVE, "interactive"
    if content.text is not None:
        return MessageType.TEXT, "text"
    return MessageType.UNKNOWN, "unknown"


def _meta_message(raw: Any, sender: str | None, received_at: int) -> meta_wire.MessageDoc | None:
    """Meta's message inside CM's raw payload, whether it is the whole webhook, one change's value
    or the bare message, as an object or as a JSON string. Anything else: None."""
    if isinstance(raw, str):
        try:
            raw = loads(raw)
        except JsonTextError:
            return None
    if not isinstance(raw, dict):
        return None
    candidates: list[Any]
    if isinstance(raw.get("entry"), list):
        candidates = [
            message
            for entry in raw["entry"]
            if isinstance(entry, dict)
            for change in entry.get("changes") or []
            if isinstance(change, dict)
            for message in (change.get("value") or {}).get("messages") or []
        ]
    elif isinstance(raw.get("messages"), list):
        candidates = raw["messages"]
    else:
        candidates = [raw]
    messages = []
    for candidate in candidates:
        if isinstance(candidate, dict) and "timestamp" not in candidate:
            # A raw payload trimmed of Meta's time still names the message: CM's time stands in.
            candidate = {**candidate, "timestamp": received_at}
        try:
            messages.append(meta_wire.MESSAGE_DOCUMENT.validate_python(candidate))
        except ValidationError:
            continue
    for found in messages:
        if sender is None or international_digits(found.get("from")) in (None, sender):
            return found
    return None


# -- status reports --------------------------------------------------------------------------------


def _status_updates(report: wire.StatusReportWebhook) -> Iterator[StatusUpdate]:
    for msg in report.messages.msg:
        code = (msg.status.code or "").strip()
        raw_status, status = STATUS_CODES.get(code, (code.lower() or "unknown", MessageStatus(code.lower())))
        phone = international_digits(msg.to)
        errors: tuple[ErrorDetail, ...] = ()
        # CM fills errorDescription on success too ("Delivered"): only a failure carries an error.
        if status is MessageStatus.FAILED and (msg.status.error_code or msg.status.error_description):
            errors = (
                ErrorDetail(
                    code=_int_or_none(msg.status.error_code),
                    title=raw_status,
                    message=msg.status.error_description,
                    details=None,
                ),
            )
        yield StatusUpdate(
            idempotency_key=f"status:{msg.reference}:{raw_status}",
            channel=Channel.CM,
            message_id=msg.reference,
            status=status,
            raw_status=raw_status,
            timestamp=_epoch(msg.received),
            contact=ContactRef(phone=phone) if phone else None,
            account=BusinessAccount(waba_id=None, phone_number_id=None, display_phone_number=None),
            errors=errors,
        )


def _int_or_none(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    # An error code too large for a 64-bit integer is no code CM sends, and DynamoDB could not hold it.
    return number if number is not None and abs(number) < 2**63 else None


def _epoch(value: str | int | None) -> int:
    """CM's times: "yyyy-MM-ddTHH:mm:ss" in UTC without a zone (MO timeUtc), possibly with fractions
    or a zone, or Unix seconds. A time that cannot be read is the time of processing: the update's
    identity does not depend on it, so a retry still finds the first one applied."""
    if isinstance(value, int) and 0 <= value <= meta_wire.MAX_EPOCH_SECONDS:
        return value
    if isinstance(value, str) and value:
        text = value.strip()
        if text.isdigit():
            # A time no date can show is unreadable, not a key too long for DynamoDB.
            fits = len(text) <= 12 and int(text) <= meta_wire.MAX_EPOCH_SECONDS
            return int(text) if fits else int(time.time())
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return max(0, int(parsed.timestamp()))
    return int(time.time())
