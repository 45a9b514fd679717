"""Meta's WhatsApp Business Account webhook: from raw bytes to domain updates.

Every entry, change, message, status and automatic event is read: Meta batches up to 1000 updates in
one POST, and reading only the first silently drops the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..models import meta_webhook as wire
from ..models.domain import (
    AdReferral,
    AutomaticEvent,
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

WHATSAPP_BUSINESS_ACCOUNT = "whatsapp_business_account"


def parse_webhook(raw: bytes | str) -> wire.WebhookPayload:
    """Validate the webhook body. Raises pydantic.ValidationError for anything that is not one."""
    return wire.WebhookPayload.model_validate_json(raw)


def normalize(payload: wire.WebhookPayload) -> list[Update]:
    return list(iter_updates(payload))


def iter_updates(payload: wire.WebhookPayload) -> Iterator[Update]:
    for entry in payload.entry:
        for change in entry.changes:
            value = change.value
            metadata = value.metadata
            account = BusinessAccount(
                waba_id=entry.id,
                phone_number_id=metadata.phone_number_id if metadata else None,
                display_phone_number=metadata.display_phone_number if metadata else None,
            )
            contacts = _ContactIndex(value.contacts)
            for message in value.messages:
                yield _inbound(message, contacts, account)
            for status in value.statuses:
                yield _status(status, contacts, account)
            for event in value.automatic_events:
                yield _automatic_event(event, account)


class _ContactIndex:
    """Finds the contacts[] entry that belongs to a message or status.

    Meta lists the contacts of a change separately from its messages. Matching is by phone, then by
    user id, and a lone contact belongs to every update of its change.
    """

    __slots__ = ("_by_key", "_only")

    def __init__(self, contacts: list[wire.Contact]) -> None:
        self._by_key: dict[str, wire.Contact] = {}
        for contact in contacts:
            if phone := wa_digits(contact.wa_id):
                self._by_key[phone] = contact
            if contact.user_id:
                self._by_key[contact.user_id] = contact
        self._only = contacts[0] if len(contacts) == 1 else None

    def find(self, phone: str | None, user_id: str | None) -> wire.Contact | None:
        if phone and (found := self._by_key.get(phone)):
            return found
        if user_id and (found := self._by_key.get(user_id)):
            return found
        return self._only

    def ref(self, phone: str | None, user_id: str | None) -> ContactRef | None:
        contact = self.find(phone, user_id)
        if contact is None:
            if phone is None and user_id is None:
                return None
            return ContactRef(phone=phone, user_id=user_id)
        profile = contact.profile
        return ContactRef(
            phone=phone or wa_digits(contact.wa_id),
            user_id=user_id or contact.user_id,
            parent_user_id=contact.parent_user_id,
            name=profile.name if profile else None,
            username=profile.username if profile else None,
        )


def _inbound(message: wire.Message, contacts: _ContactIndex, account: BusinessAccount) -> InboundMessage:
    contact = contacts.ref(wa_digits(message.from_), message.from_user_id) or ContactRef()
    referral = message.referral
    return InboundMessage(
        idempotency_key=f"msg:{message.id}",
        channel=Channel.META,
        message_id=message.id,
        contact=contact,
        account=account,
        type=MessageType(message.type),
        raw_type=message.type,
        timestamp=message.timestamp,
        referral=_referral(referral) if referral else None,
        text_length=len(message.text.body) if message.text and message.text.body else None,
    )


def _referral(referral: wire.Referral) -> AdReferral:
    return AdReferral(
        ctwa_clid=referral.ctwa_clid,
        source_id=referral.source_id,
        source_type=referral.source_type,
        source_url=referral.source_url,
        headline=referral.headline,
        body=referral.body,
        media_type=referral.media_type,
    )


def _status(status: wire.Status, contacts: _ContactIndex, account: BusinessAccount) -> StatusUpdate:
    # A group send reports the group id as recipient: it is not a contact.
    recipient = None if status.recipient_type == "group" else wa_digits(status.recipient_id)
    return StatusUpdate(
        idempotency_key=f"status:{status.id}:{status.status}",
        channel=Channel.META,
        message_id=status.id,
        status=MessageStatus(status.status),
        raw_status=status.status,
        timestamp=status.timestamp,
        contact=contacts.ref(recipient, status.recipient_user_id),
        account=account,
        errors=tuple(
            ErrorDetail(
                code=error.code,
                title=error.title,
                message=error.message,
                details=error.error_data.details if error.error_data else None,
            )
            for error in status.errors
        ),
        conversation_id=status.conversation.id if status.conversation else None,
        pricing_category=status.pricing.category if status.pricing else None,
    )


def _automatic_event(event: wire.AutomaticEvent, account: BusinessAccount) -> AutomaticEvent:
    return AutomaticEvent(
        idempotency_key=f"auto:{event.id}:{event.event_name}",
        event_id=event.id,
        event_name=event.event_name,
        timestamp=event.timestamp,
        ctwa_clid=event.ctwa_clid,
        account=account,
        custom_data=dict(event.custom_data or {}),
    )
