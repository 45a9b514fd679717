"""Lambda's event source mappings for SQS, and async invocations from EventBridge, as polling threads."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from devstack.runtime import Invocation

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

log = logging.getLogger("devstack")

# Lambda retries a failed asynchronous invocation twice.
ASYNC_ATTEMPTS: Final = 3
_WAIT_SECONDS: Final = 1
# Lambda gathers a batch until its window passes, its size is reached or its payload reaches 6 MB
# (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-batching);
# each receive asks for no more messages than fit below it at SQS's largest (1 MiB), so none goes over.
BATCH_PAYLOAD_LIMIT: Final = 6 * 1024 * 1024
_LARGEST_MESSAGE: Final = 1024 * 1024


class Activity:
    """Counts work in progress, so that callers can tell when the stack has gone quiet."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._count


def _lambda_message_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    # Lambda's record uses camelCase keys and base64 text for binary values.
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
    ]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def sqs_record(message: MessageTypeDef, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda builds from an SQS message."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def failed_message_ids(result: Any, batch_ids: set[str]) -> set[str] | None:
    """Ids the handler reported in batchItemFailures; None when the reply fails the whole batch.

    Lambda treats an empty or missing list as full success, and a malformed one (an id that is not in
    the batch, a missing itemIdentifier) as a failure of every record.
    """
    if result is None or result == {} or result == []:
        return set()
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures")
    if failures is None or failures == []:
        return set()
    if not isinstance(failures, list):
        return None
    ids: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return None
        ids.add(identifier)
    return ids


@dataclass(frozen=True)
class PollerConfig:
    function: str
    queue_url: str
    queue_arn: str
    region: str
    label: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    filter_patterns: tuple[str, ...] = ()
    asynchronous: bool = False
    batching_window_seconds: float = 0.0


Invoker = Callable[[str, Any], Invocation]


class QueuePoller:
    """Receives from one queue and invokes one function, like an event source mapping.

    In asynchronous mode each message is one EventBridge event, invoked on its own and retried as
    Lambda retries async invocations; otherwise messages are delivered in batches of SQS records.
    """

    def __init__(self, config: PollerConfig, sqs: SQSClient, invoke: Invoker, activity: Activity) -> None:
        self.config = config
        self.sqs = sqs
        self.invoke = invoke
        self.activity = activity
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poll-{config.label}", daemon=True)
        self._last_error = ""
        self._filters = self._load_filters(config.filter_patterns)

    @staticmethod
    def _load_filters(patterns: tuple[str, ...]) -> list[Any]:
        if not patterns:
            return []
        # moto's matcher implements EventBridge pattern syntax, which is also Lambda's filter syntax.
        from moto.events.models import EventPattern

        return [EventPattern.load(pattern) for pattern in patterns]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.config.queue_url,
                    MaxNumberOfMessages=min(max(self.config.batch_size, 1), 10),
                    WaitTimeSeconds=_WAIT_SECONDS,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception as error:
                if self._stop.is_set():
                    return
                self._report_error(f"receiving from {self.config.queue_url} failed: {error}")
                self._stop.wait(1.0)
                continue
            self._last_error = ""
            if not messages:
                continue
            with self.activity.busy():
                try:
                    messages = self._gather(messages)
                    if self.config.asynchronous:
                        for message in messages:
                            self._invoke_async(message)
                    else:
                        self._invoke_batch(messages)
                except Exception as error:
                    # Keep polling: the messages come back after their visibility timeout.
                    self._report_error(f"handling a batch failed: {error}")

    def _gather(self, messages: list[MessageTypeDef]) -> list[MessageTypeDef]:
        """More messages for the batch while its window is open, as Lambda's poller does: a batch
        size over 10 needs a window, and the window is timed from the first message received."""
        config = self.config
        if config.asynchronous:
            return messages
        if config.batching_window_seconds <= 0:
            return self._fit(messages)
        deadline = time.monotonic() + config.batching_window_seconds
        size = sum(len(message.get("Body", "").encode("utf-8")) for message in messages)
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            room = min(
                config.batch_size - len(messages), 10, (BATCH_PAYLOAD_LIMIT - size) // _LARGEST_MESSAGE
            )
            if left <= 0 or room <= 0:
                break
            more = self.sqs.receive_message(
                QueueUrl=config.queue_url,
                MaxNumberOfMessages=room,
                WaitTimeSeconds=max(min(_WAIT_SECONDS, int(left)), 0),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not more and left < 1:
                self._stop.wait(left)  # a short poll found nothing: wait out the window's last moment
            messages += more
            size += sum(len(message.get("Body", "").encode("utf-8")) for message in more)
        return self._fit(messages)

    def _fit(self, messages: list[MessageTypeDef]) -> list[MessageTypeDef]:
        """The messages that fit in one invocation's payload; the rest go back to the queue at once
        (ten messages of 1 MiB are one receive, but no invocation)."""
        size, kept = 0, 0
        for message in messages:
            size += len(message.get("Body", "").encode("utf-8"))
            if size > BATCH_PAYLOAD_LIMIT and kept:
                break
            kept += 1
        back = messages[kept:]
        for start in range(0, len(back), 10):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.config.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, message in enumerate(back[start : start + 10])
                ],
            )
        return messages[:kept]

    def _report_error(self, text: str) -> None:
        # The same failure every second (moto gone, queue reset) is worth one line, not hundreds.
        if text != self._last_error:
            log.warning("%s: %s", self.config.label, text)
            self._last_error = text

    def _matches_filters(self, record: dict[str, Any]) -> bool:
        if not self._filters:
            return True
        subject = dict(record)
        with contextlib.suppress(TypeError, ValueError):
            subject["body"] = json.loads(record["body"])
        return any(pattern.matches_event(subject) for pattern in self._filters)

    def _delete(self, messages: list[MessageTypeDef]) -> None:
        if not messages:
            return
        response = self.sqs.delete_message_batch(
            QueueUrl=self.config.queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)
            ],
        )
        for failure in response.get("Failed", []):
            log.warning("%s: could not delete a message: %s", self.config.label, failure.get("Message"))

    def _invoke_batch(self, messages: list[MessageTypeDef]) -> None:
        config = self.config
        records = [sqs_record(message, config.queue_arn, config.region) for message in messages]
        wanted = [(m, r) for m, r in zip(messages, records, strict=True) if self._matches_filters(r)]
        # Lambda drops messages that match no filter, without invoking.
        self._delete([m for m, r in zip(messages, records, strict=True) if not self._matches_filters(r)])
        if not wanted:
            return
        invocation = self.invoke(config.function, {"Records": [record for _, record in wanted]})
        if not invocation.ok:
            log.warning(
                "%s: %s failed on a batch of %d (%s); the messages return after their visibility timeout",
                config.label,
                config.function,
                len(wanted),
                invocation.error_summary,
            )
            return
        batch_ids = {message["MessageId"] for message, _ in wanted}
        failed: set[str] = set()
        if config.report_batch_item_failures:
            reported = failed_message_ids(invocation.result, batch_ids)
            if reported is None:
                log.warning(
                    "%s: invalid batchItemFailures from %s, the whole batch of %d is retried",
                    config.label,
                    config.function,
                    len(wanted),
                )
                return
            failed = reported
        self._delete([message for message, _ in wanted if message["MessageId"] not in failed])
        log.info(
            "%s: %s handled %d record(s)%s (%.0f ms)",
            config.label,
            config.function,
            len(wanted),
            f", {len(failed)} reported failed" if failed else "",
            invocation.duration_ms,
        )

    def _invoke_async(self, message: MessageTypeDef) -> None:
        config = self.config
        body = message.get("Body", "")
        try:
            event: Any = json.loads(body)
        except ValueError:
            event = body
        invocation = self.invoke(config.function, event)
        if invocation.ok:
            self._delete([message])
            log.info(
                "%s: %s handled an event (%.0f ms)", config.label, config.function, invocation.duration_ms
            )
            return
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        if attempt >= ASYNC_ATTEMPTS:
            self._delete([message])
            log.error(
                "%s: %s failed %d times, event dropped (%s)",
                config.label,
                config.function,
                attempt,
                invocation.error_summary,
            )
            return
        # Lambda waits about a minute before a retry; locally a second or two keeps tests quick.
        self.sqs.change_message_visibility(
            QueueUrl=config.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=attempt
        )
        log.warning(
            "%s: %s failed (attempt %d of %d): %s",
            config.label,
            config.function,
            attempt,
            ASYNC_ATTEMPTS,
            invocation.error_summary,
        )
