"""Publishing events to EventBridge in batches within PutEvents' limits (ten entries, 256 KiB in all),
failing loudly on any rejected entry so the caller's update is retried rather than half-published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ..aws_limits import (
    EVENTS_MAX_BATCH_BYTES,
    EVENTS_MAX_ENTRIES,
    EntryTooLargeError,
    batches,
    put_events_entry_size,
)
from ..errors import PublishError
from ..models.events import EVENT_SOURCE, LifecycleEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef


class EventTooLargeError(PublishError):
    """One event alone is over PutEvents' limit: no retry can publish it."""


class EventPublisher(Protocol):
    def publish(self, events: Sequence[LifecycleEvent]) -> None: ...


class EventBridgePublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str, source: str = EVENT_SOURCE) -> None:
        self._client = client
        self._bus_name = bus_name
        self._source = source

    def publish(self, events: Sequence[LifecycleEvent]) -> None:
        entries: list[PutEventsRequestEntryTypeDef] = [
            {
                "EventBusName": self._bus_name,
                "Source": self._source,
                "DetailType": event.event,
                "Detail": event.detail_json(),
            }
            for event in events
        ]
        try:
            cut = list(
                batches(
                    entries,
                    put_events_entry_size,
                    max_entries=EVENTS_MAX_ENTRIES,
                    max_bytes=EVENTS_MAX_BATCH_BYTES,
                )
            )
        except EntryTooLargeError as error:
            raise EventTooLargeError(str(error)) from error
        for batch in cut:
            response = self._client.put_events(Entries=batch)
            failed = response.get("FailedEntryCount", 0)
            if failed:
                reasons = {e.get("ErrorCode", "?") for e in response.get("Entries", []) if e.get("ErrorCode")}
                raise PublishError(f"EventBridge rejected {failed} of {len(batch)} events: {sorted(reasons)}")
