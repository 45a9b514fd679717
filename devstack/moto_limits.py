"""The size and character limits AWS enforces and moto does not, so the local stack refuses what AWS
refuses: a local stack kinder than AWS hides the bugs that only show in production.

moto counts an SQS body in characters, not UTF-8 bytes, leaves message attributes out of the size,
takes characters SQS refuses (a lone surrogate, U+FFFE, most control characters) and has no total
size limit for PutEvents. Here SendMessage, SendMessageBatch and PutEvents check what AWS checks,
with the limits and entry sizes of wa_conversions.aws_limits, and answer with AWS's error codes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from wa_conversions.aws_limits import (
    EVENTS_MAX_BATCH_BYTES,
    SQS_MAX_BATCH_BYTES,
    invalid_sqs_character,
    put_events_entry_size,
    sqs_message_size,
)

_lock = threading.Lock()
_installed = 0
_originals: dict[str, Callable[..., Any]] = {}


def _sqs_error(code: str, message: str) -> Exception:
    from moto.sqs.exceptions import SQSException

    return SQSException(code, message)


def _check_message(queue: Any, body: str, attributes: dict[str, Any] | None) -> int:
    found = invalid_sqs_character(body)
    if found is not None:
        raise _sqs_error(
            "InvalidMessageContents", f"Invalid characters found. Unicode character U+{ord(found):04X}"
        )
    for name, attribute in (attributes or {}).items():
        value = attribute.get("StringValue")
        if isinstance(value, str) and invalid_sqs_character(value) is not None:
            raise _sqs_error(
                "InvalidParameterValue", f"Message attribute {name} holds characters SQS does not allow"
            )
    size = sqs_message_size({"MessageBody": body, "MessageAttributes": attributes or {}})
    limit = int(queue.maximum_message_size)
    if size > limit:
        raise _sqs_error(
            "InvalidParameterValue",
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes.",
        )
    return size


def _send_message(self: Any, queue_name: str, message_body: str, *args: Any, **kwargs: Any) -> Any:
    _check_message(self.get_queue(queue_name), message_body, kwargs.get("message_attributes"))
    return _originals["send_message"](self, queue_name, message_body, *args, **kwargs)


def _send_message_batch(self: Any, queue_name: str, entries: dict[str, dict[str, Any]]) -> Any:
    queue = self.get_queue(queue_name)
    # Every entry is checked before any is sent, as SQS refuses such a batch whole.
    total = sum(
        _check_message(queue, entry["MessageBody"], entry.get("MessageAttributes"))
        for entry in entries.values()
    )
    if total > SQS_MAX_BATCH_BYTES:
        raise _sqs_error(
            "AWS.SimpleQueueService.BatchRequestTooLong",
            f"Batch requests cannot be longer than {SQS_MAX_BATCH_BYTES} bytes. You have sent {total} bytes.",
        )
    return _originals["send_message_batch"](self, queue_name, entries)


def _put_events(self: Any, events: list[dict[str, Any]]) -> Any:
    from moto.events.exceptions import ValidationException

    if sum(put_events_entry_size(event) for event in events) > EVENTS_MAX_BATCH_BYTES:
        raise ValidationException("Total size of the entries in the request is over the limit.")
    return _originals["put_events"](self, events)


def install() -> None:
    """Patches moto's back ends in this process, for as long as it runs (the local stack's moto
    server). Idempotent."""
    global _installed
    from moto.events.models import EventsBackend
    from moto.sqs.models import SQSBackend

    with _lock:
        _installed += 1
        if _installed > 1:
            return
        _originals["send_message"] = SQSBackend.send_message
        _originals["send_message_batch"] = SQSBackend.send_message_batch
        _originals["put_events"] = EventsBackend.put_events
        SQSBackend.send_message = _send_message  # type: ignore[method-assign]
        SQSBackend.send_message_batch = _send_message_batch  # type: ignore[method-assign]
        EventsBackend.put_events = _put_events  # type: ignore[method-assign]


def uninstall() -> None:
    global _installed
    from moto.events.models import EventsBackend
    from moto.sqs.models import SQSBackend

    with _lock:
        _installed -= 1
        if _installed > 0:
            return
        SQSBackend.send_message = _originals["send_message"]  # type: ignore[method-assign]
        SQSBackend.send_message_batch = _originals["send_message_batch"]  # type: ignore[method-assign]
        EventsBackend.put_events = _originals["put_events"]  # type: ignore[method-assign]


@contextmanager
def enforced() -> Iterator[None]:
    """AWS's limits for the duration of a block: for tests that use moto in process (mock_aws)."""
    install()
    try:
        yield
    finally:
        uninstall()
