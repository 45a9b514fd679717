"""Batch calls cut to the services' limits (count and total size), as the services count sizes, and
bodies kept to the characters SQS takes: PutEvents, SendMessageBatch and the DLQ."""

from __future__ import annotations

import json

import pytest

from wa_conversions.aws_limits import (
    EVENTS_MAX_BATCH_BYTES,
    EntryTooLargeError,
    batches,
    invalid_sqs_character,
    put_events_entry_size,
    sqs_message_size,
    sqs_text,
)
from wa_conversions.deadletter import DeadLetterQueue
from wa_conversions.errors import PublishError
from wa_conversions.models.events import LifecycleEvent
from wa_conversions.publishing.eventbridge import EventBridgePublisher, EventTooLargeError


def test_batches_keep_order_and_both_limits() -> None:
    sizes = [4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9]
    cut = list(batches(sizes, lambda n: n, max_entries=10, max_bytes=10))
    assert [n for batch in cut for n in batch] == sizes
    assert cut == [[4, 4], [4, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1], [9]]
    assert list(batches([], len, max_entries=10, max_bytes=10)) == []
    with pytest.raises(EntryTooLargeError):
        list(batches([11], lambda n: n, max_entries=10, max_bytes=10))


def test_sizes_are_counted_in_utf8_bytes_as_the_services_count_them() -> None:
    entry = {
        "MessageBody": "é€",
        "MessageAttributes": {"provider": {"DataType": "String", "StringValue": "cm"}},
    }
    assert sqs_message_size(entry) == 5 + len("provider") + len("String") + len("cm")
    event = {"EventBusName": "not counted", "Source": "s", "DetailType": "dt", "Detail": '{"a":"é"}'}
    assert put_events_entry_size(event) == 1 + 2 + 10
    assert put_events_entry_size({**event, "Time": "2025-01-01", "Resources": ["arn:x"]}) == 13 + 14 + 5


def test_sqs_text_escapes_only_what_sqs_refuses_and_reads_back_the_same() -> None:
    value = {"text": "tab\t nl\n é € 😀 nul\x00 \ufffe\uffff lone\ud800"}
    raw = json.dumps(value, ensure_ascii=False)
    assert invalid_sqs_character(raw) is not None
    safe = sqs_text(raw)
    assert invalid_sqs_character(safe) is None
    assert json.loads(safe) == value
    assert "é € 😀" in safe  # what SQS takes stays as it is
    already = json.dumps({"a": "plain"})
    assert sqs_text(already) == already


class RecordingEvents:
    def __init__(self) -> None:
        self.calls: list[list[dict]] = []

    def put_events(self, Entries: list) -> dict:
        self.calls.append(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i, _ in enumerate(Entries)]}


def event(i: int, padding: int) -> LifecycleEvent:
    return LifecycleEvent.build(
        update_key=f"k{i}",
        event="message.received",
        user_id=None,
        epoch_seconds=1750000000,
        provider="meta",
        properties={"padding": "ü" * padding},
    )


def test_put_events_calls_stay_under_256_kib_and_ten_entries() -> None:
    client = RecordingEvents()
    # 100 kB each in two-byte characters: three are over 256 KiB in bytes, not in characters.
    events = [event(i, 50_000) for i in range(7)] + [event(100 + i, 10) for i in range(12)]
    EventBridgePublisher(client, "bus").publish(events)  # type: ignore[arg-type]
    published = [json.loads(entry["Detail"])["messageId"] for call in client.calls for entry in call]
    assert published == [e.message_id for e in events]
    for call in client.calls:
        assert len(call) <= 10
        assert sum(put_events_entry_size(entry) for entry in call) <= EVENTS_MAX_BATCH_BYTES
    assert [len(call) for call in client.calls] == [2, 2, 2, 10, 3]


def test_an_event_too_large_for_any_call_is_a_publish_error_that_says_so() -> None:
    with pytest.raises(EventTooLargeError) as raised:
        EventBridgePublisher(RecordingEvents(), "bus").publish([event(1, 140_000)])  # type: ignore[arg-type]
    assert isinstance(raised.value, PublishError)


class RecordingSqs:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send_message(self, **request: object) -> dict:
        self.sent.append(request)
        return {"MessageId": "1"}


def test_a_parked_body_and_its_reason_are_valid_sqs_text() -> None:
    client = RecordingSqs()
    body = json.dumps({"text": "\ufffe lone\udc00"}, ensure_ascii=False)
    DeadLetterQueue(client, "url", "test").park(body, "bad value \uffff")  # type: ignore[arg-type]
    [request] = client.sent
    assert invalid_sqs_character(str(request["MessageBody"])) is None
    assert json.loads(str(request["MessageBody"])) == json.loads(body)
    reason = request["MessageAttributes"]["reason"]["StringValue"]  # type: ignore[index]
    assert invalid_sqs_character(reason) is None
