"""publishing.eventbridge.EventBridgePublisher with a recording PutEvents: events go to the bus in
order, ten per call; any rejected entry is a PublishError naming why; one event too large for any
call is refused before anything is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wa_conversions.errors import PublishError
from wa_conversions.models.events import EVENT_SOURCE, LifecycleEvent
from wa_conversions.publishing.eventbridge import EventBridgePublisher, EventTooLargeError


class RecordingEvents:
    def __init__(self, *responses: dict[str, Any]) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self._responses = list(responses)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        return self._responses.pop(0) if self._responses else {"FailedEntryCount": 0, "Entries": []}


def event(n: int, **properties: Any) -> LifecycleEvent:
    return LifecycleEvent.build(
        update_key=f"u{n}",
        event="message.received",
        user_id="+16505551234",
        epoch_seconds=1_780_000_000 + n,
        provider="meta",
        properties={"n": n, **properties},
    )


def test_events_go_to_the_bus_in_order_ten_per_call() -> None:
    client = RecordingEvents()

    EventBridgePublisher(client, "bus").publish([event(n) for n in range(23)])  # type: ignore[arg-type]

    assert [len(call) for call in client.calls] == [10, 10, 3]
    entries = [entry for call in client.calls for entry in call]
    assert [json.loads(e["Detail"])["properties"]["n"] for e in entries] == list(range(23))
    assert {(e["EventBusName"], e["Source"], e["DetailType"]) for e in entries} == {
        ("bus", EVENT_SOURCE, "message.received")
    }


def test_a_rejected_entry_is_a_publish_error_naming_the_reasons() -> None:
    client = RecordingEvents(
        {"FailedEntryCount": 1, "Entries": [{"EventId": "1"}, {"ErrorCode": "ThrottlingException"}]}
    )

    with pytest.raises(PublishError, match=r"rejected 1 of 2 events: \['ThrottlingException'\]"):
        EventBridgePublisher(client, "bus").publish([event(1), event(2)])  # type: ignore[arg-type]


def test_an_event_too_large_for_any_call_is_refused_before_anything_is_sent() -> None:
    client = RecordingEvents()

    with pytest.raises(EventTooLargeError):
        EventBridgePublisher(client, "bus").publish([event(1), event(2, blob="x" * 300_000)])  # type: ignore[arg-type]
    assert client.calls == []


def test_no_events_make_no_call() -> None:
    client = RecordingEvents()
    EventBridgePublisher(client, "bus").publish([])  # type: ignore[arg-type]
    assert client.calls == []
