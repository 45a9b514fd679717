"""POST /v1/capture: the collectors' batch `track` format (docs/forwarding.md), checked item by item.

Good items become lifecycle events on the bus (provider "capture"), so the aggregator counts them
exactly like the ones capture derives from webhooks; a bad item gets its own error and does not stop
the rest. An item's event id comes from its messageId when it has one, else from a hash of the item,
so the same item sent twice is one event and is counted once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ..errors import UnprocessableError
from ..models.domain import user_contact_key
from ..models.events import PROPERTIES, EventContext, EventName, LifecycleEvent, event_id_for, iso_timestamp
from ..phones import country_of
from ..publishing.eventbridge import EventPublisher

MAX_BATCH = 100
PROVIDER = "capture"
# Clocks drift; a timestamp further ahead than this is a client bug, not a fact.
MAX_CLOCK_SKEW = timedelta(hours=1)

# event -> properties it must carry
TRACK_EVENTS: dict[str, tuple[str, ...]] = {
    EventName.MESSAGE_RECEIVED: ("messageId",),
    EventName.MESSAGE_SENT: ("messageId",),
    EventName.MESSAGE_DELIVERED: ("messageId",),
    EventName.MESSAGE_READ: ("messageId",),
    EventName.MESSAGE_FAILED: ("messageId",),
    EventName.CONTACT_CREATED: (),
    # The CRM learned a contact's email: attribution by email (docs/shopify.md); not counted in metrics.
    EventName.CONTACT_UPDATED: (),
    EventName.CHAT_ASSIGNED: ("agentId",),
    EventName.CHAT_RESOLVED: (),
    EventName.AGENT_HANDOFF: ("toMode",),
}
MODE_PROPERTIES = ("serviceMode", "toMode", "fromMode")
SERVICE_MODES = ("bot", "agent")


class TrackContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    channel: Literal["whatsapp"]


class TrackItem(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["track"] = "track"
    event: str = Field(min_length=1, max_length=100)
    # "+<E.164>", or the business-scoped user id our events name a contact without a phone by
    # (docs/events.md), e.g. "US.13491208655302741918".
    user_id: str = Field(alias="userId", pattern=r"^(\+?[1-9][0-9]{6,14}|[A-Z]{2}\.[A-Za-z0-9._-]{1,128})$")
    timestamp: AwareDatetime
    message_id: str | None = Field(default=None, alias="messageId", min_length=1, max_length=200)
    context: TrackContext
    properties: dict[str, Any] = Field(default_factory=dict)


class ItemError(BaseModel):
    index: int
    error: str
    field: str | None
    message: str


class TrackResult(BaseModel):
    accepted: int
    duplicates: int
    errors: list[ItemError]


def _item_error(index: int, message: str, field: str | None, code: str = "validation_error") -> ItemError:
    return ItemError(index=index, error=code, field=field, message=message)


def validate_item(index: int, raw: Any, now: datetime) -> TrackItem | ItemError:
    if not isinstance(raw, dict):
        return _item_error(index, "An item must be a JSON object", None)
    try:
        item = TrackItem.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        return _item_error(index, f"{field}: {first['msg']}" if field else first["msg"], field)
    required = TRACK_EVENTS.get(item.event)
    if required is None:
        return _item_error(
            index,
            f"Unsupported event {item.event!r}; supported: {', '.join(TRACK_EVENTS)}",
            "event",
            code="unsupported_event",
        )
    for name in required:
        value = item.properties.get(name)
        if not isinstance(value, str) or not value:
            return _item_error(index, f"{item.event} needs properties.{name}", f"properties.{name}")
    try:
        # What the bus's model of the event says its properties are (models/events.py).
        PROPERTIES[EventName(item.event)].model_validate(item.properties)
    except ValidationError as error:
        first = error.errors()[0]
        where = "properties." + ".".join(str(part) for part in first["loc"])
        return _item_error(index, f"{where}: {first['msg']}", where)
    for name in MODE_PROPERTIES:
        mode = item.properties.get(name)
        if mode is not None and mode not in SERVICE_MODES:
            return _item_error(index, f"properties.{name} must be 'bot' or 'agent'", f"properties.{name}")
    phone = item.properties.get("phone")
    if item.event in IDENTITY_EVENTS and phone is not None and phone_property(phone) is None:
        return _item_error(index, "properties.phone must be an E.164 number", "properties.phone")
    if item.timestamp > now + MAX_CLOCK_SKEW:
        return _item_error(index, "timestamp is in the future", "timestamp")
    return item


def to_event(item: TrackItem, raw: dict[str, Any]) -> LifecycleEvent:
    if item.message_id:
        key = f"capture:{item.message_id}"
    else:
        canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        key = f"capture-item:{hashlib.sha256(canonical.encode()).hexdigest()}"
    digits = item.user_id.removeprefix("+")
    is_phone = digits.isdigit()
    properties = dict(item.properties)
    properties["contactKey"] = digits if is_phone else user_contact_key(item.user_id)
    counted = item.event in (EventName.MESSAGE_RECEIVED, EventName.CONTACT_CREATED)
    if is_phone and counted and not properties.get("countryCode"):
        properties["countryCode"] = country_of(digits)
    return LifecycleEvent(
        message_id=event_id_for(key, item.event),
        event=item.event,
        user_id=f"+{digits}" if is_phone else item.user_id,
        timestamp=iso_timestamp(item.timestamp.timestamp()),
        context=EventContext(provider=PROVIDER),
        properties=properties,
    )


def batch_of(body: Any) -> list[Any]:
    if not isinstance(body, dict) or "batch" not in body:
        raise UnprocessableError("The body must be an object with a 'batch' list", field="batch")
    batch = body["batch"]
    if not isinstance(batch, list) or not batch:
        raise UnprocessableError("batch must be a non-empty list", field="batch")
    if len(batch) > MAX_BATCH:
        raise UnprocessableError(f"batch holds {len(batch)} items; at most {MAX_BATCH}", field="batch")
    return batch


# The CRM events whose `email` and `phone` properties are the contact's (attribution, one contact).
IDENTITY_EVENTS = frozenset({EventName.CONTACT_CREATED, EventName.CONTACT_UPDATED})
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path


def phone_property(raw: Any) -> str | None:
    """A CRM's `phone` property as E.164 digits: "+<digits>" or digits, 7 to 15 of them, spaces,
    dashes, dots and parentheses aside."""
    if not isinstance(raw, str):
        return None
    digits = "".join(ch for ch in raw.strip().removeprefix("+") if ch not in " -().")
    return digits if digits.isdigit() and 7 <= len(digits) <= 15 and digits[0] != "0" else None


class TrackIntake:
    def __init__(
        self,
        publisher: EventPublisher,
        emails: Callable[[list[tuple[str, str]]], None] | None = None,
        phones: Callable[[list[tuple[str, str]]], None] | None = None,
    ) -> None:
        self._publisher = publisher
        # Records (contact key, email) pairs for attribution (store.emails); written before publishing.
        self._emails = emails
        # Gives (contact key, phone digits) to contacts (store.capture.add_phone); before publishing.
        self._phones = phones

    def accept(self, body: Any, now: datetime | None = None) -> TrackResult:
        batch = batch_of(body)
        moment = now or datetime.now(tz=UTC)
        errors: list[ItemError] = []
        events: dict[str, LifecycleEvent] = {}
        duplicates = 0
        for index, raw in enumerate(batch):
            checked = validate_item(index, raw, moment)
            if isinstance(checked, ItemError):
                errors.append(checked)
                continue
            event = to_event(checked, raw)
            if event.message_id in events:
                duplicates += 1
            events[event.message_id] = event
        unique: Sequence[LifecycleEvent] = list(events.values())
        if self._phones is not None:
            phones = [
                (str(e.properties["contactKey"]), phone)
                for e in unique
                if e.event in IDENTITY_EVENTS and (phone := phone_property(e.properties.get("phone")))
            ]
            if phones:
                self._phones(phones)
        if self._emails is not None:
            emails = [
                (str(e.properties["contactKey"]), email.strip())
                for e in unique
                if e.event in IDENTITY_EVENTS
                and isinstance(email := e.properties.get("email"), str)
                and "@" in email
                and len(email) <= MAX_EMAIL_LENGTH
            ]
            if emails:
                self._emails(emails)
        if unique:
            self._publisher.publish(unique)
        return TrackResult(accepted=len(unique) + duplicates, duplicates=duplicates, errors=errors)
