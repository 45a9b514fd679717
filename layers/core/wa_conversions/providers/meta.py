"""Meta's WhatsApp Business Account webhook: from raw bytes to domain updates.

Every entry, change, message, status and automatic event is read: Meta batches up to 1000 updates in
one POST, and reading only the first silently drops the rest. Only the changes of the fields the
product is about are read (READ_FIELDS); the others, calls among them, are left out (docs/events.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

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
# A call's status webhook has a message status's shape (statuses[] with id, status, recipient_id) under
# field "calls": the field alone tells a message from a call, account updates or template reviews.
# smb_message_echoes and history are coexistence's (docs/events.md#coexistence).
ECHOES = "smb_message_echoes"
HISTORY = "history"
READ_FIELDS = frozenset({"messages", "automatic_events", ECHOES, HISTORY})


def parse_webhook(raw: bytes | str) -> wire.WebhookDocument:
    """Validate the webhook body. Raises pydantic.ValidationError for anything that is not one."""
    return wire.WEBHOOK_DOCUMENT.validate_json(raw)


@dataclass(frozen=True, slots=True)
class Salvaged:
    """A webhook that did not validate as a whole, cut in two: the updates that validate on their
    own, and a webhook of the same format holding the rest, with why."""

    valid: wire.WebhookDocument
    rejected: dict[str, Any]
    reasons: tuple[str, ...]


_UPDATE_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "messages": TypeAdapter(wire.MessageDoc),
    "statuses": TypeAdapter(wire.StatusDoc),
    "automatic_events": TypeAdapter(wire.AutomaticEventDoc),
    "message_echoes": TypeAdapter(wire.MessageDoc),
    "history": TypeAdapter(wire.HistoryChunkDoc),
}


def salvage(raw: bytes | str) -> Salvaged | None:
    """Meta batches up to 1000 updates: one malformed update must not hold the others back. Each
    update is checked on its own, from its JSON text as the whole was (so that a lone surrogate, which
    json.loads takes, is refused as the webhook's parser refuses it); None when what surrounds the
    updates is itself broken."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("entry"), list):
        return None
    good_entries: list[Any] = []
    bad_entries: list[Any] = []
    reasons: list[str] = []
    for entry in document["entry"]:
        if not isinstance(entry, dict):
            return None
        good_changes, bad_changes = [], []
        changes = entry.get("changes") or []
        if not isinstance(changes, list):
            return None
        for change in changes:
            if not isinstance(change, dict) or not isinstance(change.get("field"), str):
                return None
            if change["field"] not in READ_FIELDS:
                continue  # never read, so never rejected either
            value = change.get("value")
            if not isinstance(value, dict):
                return None
            shared = {k: v for k, v in value.items() if k not in _UPDATE_ADAPTERS}
            good, bad = dict(shared), dict(shared)
            for name, adapter in _UPDATE_ADAPTERS.items():
                updates = value.get(name) or []
                if not isinstance(updates, list):
                    return None
                for index, update in enumerate(updates):
                    try:
                        adapter.validate_json(json.dumps(update))
                    except (ValidationError, ValueError, RecursionError) as error:
                        bad.setdefault(name, []).append(update)
                        reasons.append(f"{name}[{index}]{_first_error(error)}")
                    else:
                        good.setdefault(name, []).append(update)
            good_changes.append({**change, "value": good})
            if any(name in bad for name in _UPDATE_ADAPTERS):
                bad_changes.append({**change, "value": bad})
        good_entries.append({**entry, "changes": good_changes})
        if bad_changes:
            bad_entries.append({**entry, "changes": bad_changes})
    try:
        valid = wire.WEBHOOK_DOCUMENT.validate_json(json.dumps({**document, "entry": good_entries}))
    except (ValidationError, ValueError, RecursionError):
        return None  # the envelope, a contact or the metadata is broken: nothing can be trusted
    return Salvaged(valid=valid, rejected={**document, "entry": bad_entries}, reasons=tuple(reasons))


def _first_error(error: Exception) -> str:
    """Where and why an update failed, without its values (which can be phones or message text)."""
    if not isinstance(error, ValidationError):
        return ": not valid JSON text"
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{'.' + where if where else ''}: {first['msg']}"


def normalize(payload: wire.WebhookDocument) -> list[Update]:
    return list(iter_updates(payload))


# The constructors below take their fields by position, in the order models/domain.py declares them:
# a NamedTuple built from keywords costs twice as much, and this runs once or twice per update.
def iter_updates(payload: wire.WebhookDocument) -> Iterator[Update]:
    for entry in payload["entry"]:
        for change in entry.get("changes", ()):
            if change["field"] not in READ_FIELDS:
                continue
            value = change.get("value") or {}
            metadata = value.get("metadata")
            account = BusinessAccount(
                entry["id"],
                metadata.get("phone_number_id") if metadata else None,
                metadata.get("display_phone_number") if metadata else None,
            )
            contacts = _ContactIndex(value.get("contacts", ()))
            for message in value.get("messages", ()):
                yield _inbound(message, contacts, account)
            for status in value.get("statuses", ()):
                yield _status(status, contacts, account)
            for event in value.get("automatic_events", ()):
                yield _automatic_event(event, account)
            for echo in value.get("message_echoes", ()):
                yield _sent_from_app(echo, contacts.ref(wa_digits(echo.get("to")), None), account)
            for chunk in value.get("history", ()):
                yield from _history(chunk, contacts, account)


# Enum(value) goes through EnumType.__call__ and costs ten dict lookups; these are the lookups.
_MESSAGE_TYPES: dict[str, MessageType] = {member.value: member for member in MessageType}
_MESSAGE_STATUSES: dict[str, MessageStatus] = {member.value: member for member in MessageStatus}


class _ContactIndex:
    """Finds the contact that a message or status belongs to.

    Meta lists the contacts of a change separately from its updates. Matching is by phone, then by
    user id, and a lone contact belongs to every update of its change. Each contact's ContactRef is
    built once, however many updates of the change name it.
    """

    __slots__ = ("_by_key", "_only")

    def __init__(self, contacts: Sequence[wire.ContactDoc]) -> None:
        self._by_key: dict[str, ContactRef] = {}
        only = None
        for contact in contacts:
            profile = contact.get("profile")
            only = ContactRef(
                wa_digits(contact.get("wa_id")),  # phone
                contact.get("user_id"),
                contact.get("parent_user_id"),
                profile.get("name") if profile else None,
                profile.get("username") if profile else None,
            )
            if only.phone:
                self._by_key[only.phone] = only
            if only.user_id:
                self._by_key[only.user_id] = only
        self._only = only if len(contacts) == 1 else None

    def ref(self, phone: str | None, user_id: str | None) -> ContactRef | None:
        found = (phone and self._by_key.get(phone)) or (user_id and self._by_key.get(user_id)) or self._only
        if found is None:
            if phone is None and user_id is None:
                return None
            return ContactRef(phone=phone, user_id=user_id)
        if (phone is None or phone == found.phone) and (user_id is None or user_id == found.user_id):
            return found
        # The update names the contact differently from contacts[]: its own identifiers win.
        return found._replace(phone=phone or found.phone, user_id=user_id or found.user_id)


def _inbound(message: wire.MessageDoc, contacts: _ContactIndex, account: BusinessAccount) -> InboundMessage:
    contact = contacts.ref(wa_digits(message.get("from")), message.get("from_user_id")) or ContactRef()
    if not contact.phone and (own := _requested_phone(message)):
        # The user's own number, asked for in the chat: the contact is now known by both ids.
        contact = contact._replace(phone=own, phone_source=CONTACT_REQUEST)
    referral = message.get("referral")
    text = message.get("text")
    body = text.get("body") if text else None
    raw_type = message.get("type", "unknown")
    return InboundMessage(
        f"msg:{message['id']}",  # idempotency_key
        Channel.META,
        message["id"],
        contact,
        account,
        _MESSAGE_TYPES.get(raw_type, MessageType.UNKNOWN),
        raw_type,
        message["timestamp"],
        # An empty referral object is still an ad click whose details Meta left out.
        ad_referral(referral) if referral is not None else None,
        True,  # referral_known: Meta always tells
        len(body) if body else None,  # text_length
        body or None,  # text: for the conversion rules only
        _moved_to(message) if raw_type == "system" else None,
    )


# Meta's current name and the older one (developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components)
NUMBER_CHANGES = frozenset({"user_changed_number", "customer_changed_number"})


CONTACT_REQUEST = "contact_request"


def _requested_phone(message: wire.MessageDoc) -> str | None:
    """The number in a `contacts` message sent in answer to REQUEST_CONTACT_INFO. A contact card
    the user merely shares may be anyone's, so only the answer to the request counts."""
    shared = message.get("contacts") or []
    for card in shared:
        if CONTACT_REQUEST not in (card.get("origin"), message.get("origin")):
            continue
        for phone in card.get("phones") or []:
            # wa_id is digits; the display form counts only with its country code ("+1 650 ...").
            raw = phone.get("wa_id") or (phone.get("phone") or "").strip()
            if raw and (raw.isdigit() or raw.startswith("+")) and (found := wa_digits(raw)):
                return found
    return None


def _moved_to(message: wire.MessageDoc) -> ContactRef | None:
    system = message.get("system")
    if not system or system.get("type") not in NUMBER_CHANGES:
        return None
    phone = wa_digits(system.get("wa_id") or system.get("new_wa_id"))
    return ContactRef(phone=phone, user_id=system.get("user_id")) if phone else None


def ad_referral(referral: wire.ReferralDoc) -> AdReferral:
    return AdReferral(
        ctwa_clid=referral.get("ctwa_clid"),
        source_id=referral.get("source_id"),
        source_type=referral.get("source_type"),
        source_url=referral.get("source_url"),
        headline=referral.get("headline"),
        body=referral.get("body"),
        media_type=referral.get("media_type"),
    )


def _status(status: wire.StatusDoc, contacts: _ContactIndex, account: BusinessAccount) -> StatusUpdate:
    # A group send reports the group id as recipient: it is not a contact.
    group = status.get("recipient_type") == "group"
    recipient = None if group else wa_digits(status.get("recipient_id"))
    raw_status = status.get("status", "unknown")
    conversation = status.get("conversation")
    pricing = status.get("pricing")
    errors = status.get("errors")
    return StatusUpdate(
        f"status:{status['id']}:{raw_status}",  # idempotency_key
        Channel.META,
        status["id"],
        _MESSAGE_STATUSES.get(raw_status, MessageStatus.UNKNOWN),
        raw_status,
        status["timestamp"],
        contacts.ref(recipient, status.get("recipient_user_id")),
        account,
        tuple(_error(error) for error in errors) if errors else (),
        conversation.get("id") if conversation else None,
        pricing.get("category") if pricing else None,
    )


def _sent_from_app(
    message: wire.MessageDoc,
    contact: ContactRef | None,
    account: BusinessAccount,
    status: MessageStatus = MessageStatus.SENT,
    *,
    backfill: bool = False,
) -> StatusUpdate:
    """A message the business sent from the WhatsApp Business app, as the status the API would have
    reported: the same idempotency key, so an echo delivered twice or also in history counts once."""
    return StatusUpdate(
        f"status:{message['id']}:{status.value}",  # idempotency_key
        Channel.META,
        message["id"],
        status,
        status.value,
        message["timestamp"],
        contact,
        account,
        service_mode=APP_MODE,
        backfill=backfill,
    )


APP_MODE = "app"
# history_context.status of a past message the business sent; the stages it implies besides "sent".
_HISTORY_STAGES: dict[str, tuple[MessageStatus, ...]] = {
    "delivered": (MessageStatus.DELIVERED,),
    "read": (MessageStatus.DELIVERED, MessageStatus.READ),
    "played": (MessageStatus.DELIVERED, MessageStatus.READ),
    "error": (MessageStatus.FAILED,),
    "failed": (MessageStatus.FAILED,),
}


def _history(
    chunk: wire.HistoryChunkDoc, contacts: _ContactIndex, account: BusinessAccount
) -> Iterator[Update]:
    """A chunk of the chats the business had in the app before onboarding: the customer's messages
    as inbound, the business's as sent (and delivered or read as far as history_context says). The
    keys are those of the live webhooks, so a replayed chunk, or one overlapping live traffic, adds
    nothing (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/history/)."""
    for thread in chunk.get("threads", ()):
        customer = wa_digits(thread.get("id"))
        for message in thread.get("messages", ()):
            sender = wa_digits(message.get("from"))
            if sender is not None and sender == customer:
                yield _inbound(message, contacts, account)._replace(backfill=True)
                continue
            contact = contacts.ref(customer or wa_digits(message.get("to")), None)
            yield _sent_from_app(message, contact, account, backfill=True)
            context = message.get("history_context")
            raw = ((context.get("status") if context else None) or "").lower()
            for stage in _HISTORY_STAGES.get(raw, ()):
                yield _sent_from_app(message, contact, account, stage, backfill=True)


def _error(error: wire.ErrorDoc) -> ErrorDetail:
    error_data = error.get("error_data")
    return ErrorDetail(
        code=error.get("code"),
        title=error.get("title"),
        message=error.get("message"),
        details=error_data.get("details") if error_data else None,
    )


def _automatic_event(event: wire.AutomaticEventDoc, account: BusinessAccount) -> AutomaticEvent:
    return AutomaticEvent(
        idempotency_key=f"auto:{event['id']}:{event['event_name']}",
        event_id=event["id"],
        event_name=event["event_name"],
        timestamp=event["timestamp"],
        ctwa_clid=event.get("ctwa_clid"),
        account=account,
        custom_data=dict(event.get("custom_data") or {}),
    )
