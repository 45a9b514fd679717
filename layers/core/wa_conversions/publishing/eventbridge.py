"""Publishing events to EventBridge in batches of ten (PutEvents' limit), failing loudly on any
rejected entry so the caller's update is retried rather than half-published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ..errors import PublishError
from ..models.events import EVENT_SOURCE, LifecycleEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

PUT_EVENTS_BATCH = 10


class EventPublisher(Protocol):
    def publish(self, events: Sequence[LifecycleEvent]) -> None: ...


class EventBridgePublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str, source: str = EVENT_SOURCE) -> None:
        self._client = client
        self._bus_name = bus_name
        self._source = source

    def publish(self, events: Sequence[LifecycleEvent]) -> None:
        for start in range(0, len(events), PUT_EVENTS_BATCH):
            batch = events[start : start + PUT_EVENTS_BATCH]
            entries: list[PutEventsRequestEntryTypeDef] = [
                {
                    "EventBusName": self._bus_name,
                    "Source": self._source,
                    "DetailType": event.event,
                    "Detail": event.detail_json(),
                }
                for event in batch
            ]
            response = self._client.put_events(Entries=entries)
            failed = response.get("FailedEntryCount", 0)
            if failed:
                reasons = {e.get("ErrorCode", "?") for e in response.get("Entries", []) if e.get("ErrorCode")}
                raise PublishError(f"EventBridge rejected {failed} of {len(batch)} events: {sorted(reasons)}")
