"""The lifecycle events of applied WhatsApp updates (docs/events.md), built from the models of
models/events.py: the shape of the bus lives there, the order of writes in capture/service.py."""

from __future__ import annotations

from ..models.domain import MEDIA_TYPES, AutomaticEvent, ContactRef, Direction, InboundMessage, StatusUpdate
from ..models.events import (
    AutomaticEventReceived,
    ContactCreated,
    EventName,
    LifecycleEvent,
    MessageError,
    MessageReceived,
    MessageStatus,
    ReferralCaptured,
    iso_timestamp,
)
from ..phones import country_of

STATUS_EVENTS = {
    "sent": EventName.MESSAGE_SENT,
    "delivered": EventName.MESSAGE_DELIVERED,
    "read": EventName.MESSAGE_READ,
    "played": EventName.MESSAGE_PLAYED,
    "failed": EventName.MESSAGE_FAILED,
}


def contact_created(
    update: InboundMessage | StatusUpdate, contact: ContactRef, contact_key: str, source: str
) -> LifecycleEvent:
    return LifecycleEvent.build(
        update_key=update.idempotency_key,
        event=EventName.CONTACT_CREATED,
        user_id=contact.public_id,
        epoch_seconds=update.timestamp,
        provider=update.channel.value,
        properties=ContactCreated(
            contact_key=contact_key,
            user_id_business_scoped=contact.user_id,
            name=contact.name,
            source=source,
            country_code=country_of(contact.phone),
        ),
    )


def referral_captured(update: InboundMessage, contact_key: str) -> LifecycleEvent:
    referral = update.referral
    assert referral is not None
    return LifecycleEvent.build(
        update_key=update.idempotency_key,
        event=EventName.REFERRAL_CAPTURED,
        user_id=update.contact.public_id,
        epoch_seconds=update.timestamp,
        provider=update.channel.value,
        properties=ReferralCaptured(
            contact_key=contact_key,
            message_id=update.message_id,
            ctwa_clid=referral.ctwa_clid,
            source_id=referral.source_id,
            source_type=referral.source_type,
            source_url=referral.source_url,
            headline=referral.headline,
            media_type=referral.media_type,
        ),
    )


def message_received(
    update: InboundMessage, contact_key: str | None, rules_matched: list[str]
) -> LifecycleEvent:
    """`rules_matched`: the conversion rules' names the text matched (never the text); a backfilled
    message is counted, not acted on, so it carries none."""
    properties = MessageReceived(
        contact_key=contact_key,
        message_id=update.message_id,
        chat_id=contact_key,
        direction=Direction.INBOUND.value,
        content_type=update.type.value,
        has_media=update.type in MEDIA_TYPES,
        from_ad=update.referral is not None,
        referral_known=update.referral_known,
        country_code=country_of(update.contact.phone),
        phone_number_id=update.account.phone_number_id,
    )
    if update.backfill:
        properties.backfill = True
    elif rules_matched:
        properties.rules_matched = rules_matched
    return LifecycleEvent.build(
        update_key=update.idempotency_key,
        event=EventName.MESSAGE_RECEIVED,
        user_id=update.contact.public_id,
        epoch_seconds=update.timestamp,
        provider=update.channel.value,
        properties=properties,
    )


def message_status(update: StatusUpdate, contact_key: str | None) -> LifecycleEvent | None:
    """The status's event, or None for a status that has none."""
    event_name = STATUS_EVENTS.get(update.status.value)
    if event_name is None:
        return None
    properties = MessageStatus(
        contact_key=contact_key,
        message_id=update.message_id,
        chat_id=contact_key,
        direction=Direction.OUTBOUND.value,
        pricing_category=update.pricing_category,
        phone_number_id=update.account.phone_number_id,
    )
    setattr(properties, MessageStatus.STATUS_AT[update.status.value], iso_timestamp(update.timestamp))
    if update.service_mode:
        properties.service_mode = update.service_mode
    if update.backfill:
        properties.backfill = True
    if update.errors:
        properties.errors = [
            MessageError(code=e.code, title=e.title, message=e.message) for e in update.errors
        ]
    return LifecycleEvent.build(
        update_key=update.idempotency_key,
        event=event_name,
        user_id=update.contact.public_id if update.contact else None,
        epoch_seconds=update.timestamp,
        provider=update.channel.value,
        properties=properties,
    )


def automatic_event_received(update: AutomaticEvent) -> LifecycleEvent:
    return LifecycleEvent.build(
        update_key=update.idempotency_key,
        event=EventName.AUTOMATIC_EVENT_RECEIVED,
        user_id=None,
        epoch_seconds=update.timestamp,
        provider="meta",
        properties=AutomaticEventReceived(
            event_id=update.event_id,
            event_name=update.event_name,
            ctwa_clid=update.ctwa_clid,
            custom_data=update.custom_data,
            waba_id=update.account.waba_id,
        ),
    )
