"""Lifecycle and conversion events out to a Segment-compatible collector (docs/forwarding.md: Chatnation's
POST /v1/capture; Segment, RudderStack and PostHog take the same batch of `track` items).

Each bus event becomes one `track` item in the seed's shape, with the seed's property names; the
item's `messageId` is the bus event's stable id, which the collector dedupes on, so a repeat after an
unknown outcome is harmless. Several queued events go in one request, within the collector's size
limits; a refused batch is split in halves by the runner until the bad item stands alone.
Events that came in through POST /v1/capture are never sent back out (docs/forwarding.md).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ..config import CollectorSettings
from ..delivery.http import UnsendableError, encode_json
from ..delivery.outcome import Outcome, OutcomeKind, classify_exception, classify_response
from ..delivery.runner import Job, Planned, QueuedMessage, Skip
from ..errors import PermanentFailure
from ..models.events import LIBRARY, ConversionProperties, EventName, iso_timestamp

# Segment's HTTP API limits (docs/forwarding.md#collector): 32 KB per item, 500 KB per request.
MAX_ITEM_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
# What an event POST /v1/capture put on the bus carries as context.provider (analytics/track.py).
CAPTURE_PROVIDER = "capture"

# Bus event -> the properties the collector gets, by its names (docs/forwarding.md, docs/events.md).
LIFECYCLE_PROPERTIES: dict[str, tuple[str, ...]] = {
    EventName.MESSAGE_RECEIVED: (
        "messageId",
        "chatId",
        "direction",
        "contentType",
        "hasMedia",
        "countryCode",
        "fromAd",
    ),
    EventName.MESSAGE_SENT: (
        "messageId",
        "chatId",
        "direction",
        "contentType",
        "templateId",
        "agentId",
        "sentAt",
    ),
    EventName.MESSAGE_DELIVERED: ("messageId", "chatId", "direction", "deliveredAt"),
    EventName.MESSAGE_READ: ("messageId", "chatId", "direction", "readAt"),
    EventName.MESSAGE_FAILED: ("messageId", "chatId", "direction", "failedAt"),
    EventName.CONTACT_CREATED: ("chatId", "name", "source", "countryCode"),
}
# The conversions the collector gets: not the shipping stages.
CONVERSION_EVENTS = (
    EventName.CONVERSION_ATTRIBUTED,
    EventName.CONVERSION_UNATTRIBUTED,
    EventName.ORDER_PAID,
    EventName.ORDER_CANCELLED,
    EventName.REFUND_CREATED,
)
COLLECTOR_EVENTS = (*LIFECYCLE_PROPERTIES, *CONVERSION_EVENTS)


class _Context(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: str | None = None


class BusEvent(BaseModel):
    """The bus's track event (docs/events.md), read tolerantly."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_id: str = Field(alias="messageId", min_length=1)
    event: str = Field(min_length=1)
    user_id: str | None = Field(default=None, alias="userId")
    timestamp: AwareDatetime
    context: _Context = Field(default_factory=_Context)
    properties: dict[str, Any] = Field(default_factory=dict)


def parse_bus_event(message: Any) -> BusEvent:
    """From the queued body: an EventBridge event whose detail is the track event, or that detail."""
    if not isinstance(message, dict):
        raise PermanentFailure("the message is not a JSON object")
    detail = message["detail"] if isinstance(message.get("detail"), dict) else message
    try:
        return BusEvent.model_validate(detail)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PermanentFailure(f"not a bus event: {where}: {first['msg']}") from None


def _compact(properties: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in properties.items() if value is not None}


def conversion_properties(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        p = ConversionProperties.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PermanentFailure(f"not a conversion: properties.{where}: {first['msg']}") from None
    status = p.attribution.status if p.attribution else None
    return _compact(
        {
            "conversionId": p.conversion_id,
            "kind": p.kind,
            "chatId": p.contact_key,
            "orderId": p.order_id,
            "orderName": p.order_name,
            "shop": p.shop,
            "value": p.value,
            "currency": p.currency,
            "itemCount": sum(item.quantity for item in p.line_items) or None,
            "attributionStatus": status,
            "source": "ad" if status == "attributed" else None,
            "adSourceId": p.source_id,
            "refundId": p.refund_id,
            "action": p.action,
        }
    )


def lifecycle_properties(event: str, p: dict[str, Any]) -> dict[str, Any]:
    # The seed's chat is the contact: contact.created carries only its key on the bus.
    p = {"chatId": p.get("contactKey"), **{k: v for k, v in p.items() if v is not None}}
    properties = _compact({name: p.get(name) for name in LIFECYCLE_PROPERTIES[event]})
    if event == EventName.MESSAGE_FAILED and isinstance(p.get("errors"), list):
        # Codes and titles only: Meta's error text can quote the conversation.
        properties["errors"] = [
            _compact({"code": e.get("code"), "title": e.get("title")})
            for e in p["errors"]
            if isinstance(e, dict)
        ]
    return properties


def track_item(event: BusEvent) -> dict[str, Any] | str:
    """The collector's item for a bus event, or why it is not sent."""
    if event.context.provider == CAPTURE_PROVIDER:
        return "came in through POST /v1/capture: never echoed back to the collector"
    if event.event in LIFECYCLE_PROPERTIES:
        properties = lifecycle_properties(event.event, event.properties)
    elif event.event in CONVERSION_EVENTS:
        if event.properties.get("test"):
            return "test order: never forwarded"
        properties = conversion_properties(event.properties)
    else:
        return f"{event.event!r} is not an event the collector gets"
    if not event.user_id:
        return "no userId: the collector identifies contacts by phone or business-scoped user id"
    return {
        "type": "track",
        "event": event.event,
        "userId": event.user_id,
        "timestamp": iso_timestamp(event.timestamp.timestamp()),
        "messageId": event.message_id,
        "context": {"channel": "whatsapp", "library": dict(LIBRARY)},
        "properties": properties,
    }


@dataclass(frozen=True, slots=True)
class CollectorItem:
    item: dict[str, Any]
    at: datetime


def refused_items(body: Any) -> list[Any]:
    """A 2xx that still names refused items: the seed's collector answers per item (TrackResult)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors if isinstance(errors, list) else []


class CollectorDestination:
    name = "collector"
    # The collector dedupes on each item's messageId (as Segment does): an unknown outcome is retried.
    dedupes = True

    def __init__(
        self,
        settings: CollectorSettings,
        client_factory: Callable[[], httpx.Client],
        secret: Callable[[], str],
    ) -> None:
        self.settings = settings
        self.max_batch = settings.max_batch
        # Both lazy: a batch where everything is skipped never builds a client or reads SSM.
        self._client_factory = client_factory
        self._secret = secret

    def plan(self, message: QueuedMessage) -> Planned | Skip:
        event = parse_bus_event(message.json)
        p = event.properties
        facts = {
            "event_name": event.event,
            "kind": p.get("kind") if isinstance(p.get("kind"), str) else None,
            "conversion_id": p.get("conversionId") if isinstance(p.get("conversionId"), str) else None,
            "order_id": str(p["orderId"]) if isinstance(p.get("orderId"), str | int) else None,
        }
        item = track_item(event)
        if isinstance(item, str):
            return Skip(item, event_id=event.message_id, **facts)
        try:
            size = len(encode_json(item))
        except UnsendableError as error:
            raise PermanentFailure(str(error)) from None
        if size > MAX_ITEM_BYTES:
            raise PermanentFailure(f"the item is {size} bytes; the collector takes {MAX_ITEM_BYTES}")
        return Planned(event_id=event.message_id, request=CollectorItem(item, event.timestamp), **facts)

    def batch_key(self, planned: Planned) -> str:
        return ""

    def headers(self) -> dict[str, str]:
        key = self._secret()
        if self.settings.auth == "basic":
            # Segment's form: the Write Key as the user name, no password (RFC 7617).
            token = base64.b64encode(f"{key}:".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {self.settings.key_header: key}

    def send(self, jobs: Sequence[Job]) -> Outcome:
        requests: list[CollectorItem] = [job.planned.request for job in jobs]
        # In the order they happened: a batch holds a conversation's steps (received, sent, read).
        items = [r.item for r in sorted(requests, key=lambda r: r.at)]
        content = encode_json({"batch": items})
        if len(content) > MAX_BATCH_BYTES and len(items) > 1:
            # Refused before sending, so the runner halves the batch until each part fits.
            return Outcome.permanent(
                f"the batch is {len(content)} bytes; the collector takes {MAX_BATCH_BYTES}"
            )
        headers = {**self.headers(), "Content-Type": "application/json"}
        try:
            response = self._client_factory().post(self.settings.url, content=content, headers=headers)
        except httpx.HTTPError as error:
            return classify_exception(error)
        outcome = classify_response(response)
        refused = refused_items(outcome.body) if outcome.kind is OutcomeKind.DELIVERED else []
        if refused:
            # Split like a refused batch: the good items come again and the collector drops repeats.
            return Outcome.permanent(f"the collector refused {len(refused)} item(s): {refused[0]}")
        return outcome

    def on_delivered(self, job: Job, outcome: Outcome) -> None:
        return None
