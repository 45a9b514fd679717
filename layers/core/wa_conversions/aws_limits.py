"""What SQS and EventBridge accept in one call, and batches cut to fit it.

A SendMessageBatch or PutEvents call over either the entry count or the total size is refused whole
(BatchRequestTooLong, or a ValidationException), so every batch call is cut by `batches`, with each
entry's size counted as the service counts it. SQS also refuses text outside XML's character set
(InvalidMessageContents), which `sqs_text` keeps out of JSON bodies. Standard library only: the
webhook receivers import this on their cold path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html
SQS_MAX_ENTRIES: Final = 10
SQS_MAX_MESSAGE_BYTES: Final = 1_048_576  # one message: body and attributes
SQS_MAX_BATCH_BYTES: Final = 1_048_576  # one SendMessageBatch call: all of its messages together
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
EVENTS_MAX_ENTRIES: Final = 10
EVENTS_MAX_BATCH_BYTES: Final = 262_144
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html, _BatchWriteItem
DYNAMODB_BATCH_GET_MAX: Final = 100
DYNAMODB_BATCH_WRITE_MAX: Final = 25
_EVENT_TIME_BYTES: Final = 14

# The characters SQS takes (XML 1.0's Char production); anything else is refused.
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class EntryTooLargeError(ValueError):
    """One entry alone is over the limit of a whole call: no batching can send it."""


def batches[T](
    items: Sequence[T], size_of: Callable[[T], int], *, max_entries: int, max_bytes: int
) -> Iterator[list[T]]:
    """`items` in order, in consecutive batches of at most `max_entries` and `max_bytes` in all."""
    batch: list[T] = []
    total = 0
    for item in items:
        size = size_of(item)
        if size > max_bytes:
            raise EntryTooLargeError(f"An entry of {size} bytes is over the {max_bytes}-byte limit")
        if batch and (len(batch) == max_entries or total + size > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += size
    if batch:
        yield batch


def sqs_message_size(entry: Mapping[str, Any]) -> int:
    """A SendMessage(Batch) entry's size as SQS counts it: the body and, per message attribute, its
    name, data type and value, all in UTF-8 bytes."""
    size = len(str(entry.get("MessageBody", "")).encode("utf-8"))
    attributes: Mapping[str, Mapping[str, Any]] = entry.get("MessageAttributes") or {}
    for name, attribute in attributes.items():
        size += len(name.encode("utf-8")) + len(str(attribute.get("DataType", "")).encode("utf-8"))
        if "StringValue" in attribute:
            size += len(str(attribute["StringValue"]).encode("utf-8"))
        if "BinaryValue" in attribute:
            size += len(attribute["BinaryValue"])
    return size


def put_events_entry_size(entry: Mapping[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge documents it: 14 bytes for a Time, then Source,
    DetailType, Detail and each of Resources in UTF-8 bytes (EventBusName does not count)."""
    size = _EVENT_TIME_BYTES if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        if entry.get(name):
            size += len(str(entry[name]).encode("utf-8"))
    for resource in entry.get("Resources") or ():
        size += len(str(resource).encode("utf-8"))
    return size


def sqs_text(json_text: str) -> str:
    """JSON text as SQS takes it: each character SQS refuses (a lone surrogate, U+FFFE, U+FFFF, a
    raw control character) becomes its JSON escape, which reads back as the same string. Such
    characters can only stand inside a JSON string, where the escape means the same."""
    return _NOT_SQS_TEXT.sub(_escape, json_text)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def invalid_sqs_character(text: str) -> str | None:
    """The first character SQS would refuse in `text`, or None."""
    found = _NOT_SQS_TEXT.search(text)
    return found.group() if found else None
