"""The batch loop every delivering function shares: plan, then for each request claim, send, and
record its outcome before the next one starts; settle each SQS record (delivered, retried through its
visibility, parked, skipped, or left ambiguous for the operator)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger

from ..batch import log_failed, log_parked
from ..errors import PermanentFailure
from .log import ClaimResult, DeliveryFacts, DeliveryLog, delivery_id_for
from .outcome import Outcome, OutcomeKind
from .retry import RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from ..deadletter import DeadLetterQueue

# Never log a message body or a destination's answer: both can hold phone numbers and emails.
logger = Logger()


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    json: Any


@dataclass(frozen=True, slots=True)
class Planned:
    """What to send for one message; `event_id` is the at-most-once key at this destination."""

    event_id: str
    request: Any
    event_name: str | None = None
    kind: str | None = None
    conversion_id: str | None = None
    order_id: str | None = None
    # Kept as the delivered record's reason: how it was sent, when that needs saying (Meta's opt_out).
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to send, and why; recorded as a `skipped` delivery when `event_id` is known."""

    reason: str
    event_id: str | None = None
    event_name: str | None = None
    kind: str | None = None
    conversion_id: str | None = None
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    message: QueuedMessage
    planned: Planned
    delivery_id: str
    attempt: int


class Destination(Protocol):
    name: str
    # A repeat is harmless there (Wax's unique_id): an unknown outcome is retried, not `ambiguous`.
    dedupes: bool
    # Events one request may carry; 1 sends them one by one.
    max_batch: int

    def plan(self, message: QueuedMessage) -> Planned | Skip: ...

    def batch_key(self, planned: Planned) -> str: ...

    def send(self, jobs: Sequence[Job]) -> Outcome: ...

    def on_delivered(self, job: Job, outcome: Outcome) -> None: ...


def _tenant_of(message: QueuedMessage) -> str | None:
    """The tenant a queued conversion names (an EventBridge event's detail, or the detail itself)."""
    body = message.json if isinstance(message.json, dict) else {}
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else body
    properties = detail.get("properties") if isinstance(detail, dict) else None
    tenant = properties.get("tenant") if isinstance(properties, dict) else None
    return tenant if isinstance(tenant, str) and tenant else None


def _facts(
    destination: str, decision: Planned | Skip, event_id: str, message: QueuedMessage
) -> DeliveryFacts:
    return DeliveryFacts(
        destination=destination,
        event_id=event_id,
        event_name=decision.event_name,
        kind=decision.kind,
        conversion_id=decision.conversion_id,
        order_id=decision.order_id,
        tenant=_tenant_of(message),
    )


@dataclass(frozen=True, slots=True)
class _Ready:
    """Planned, not claimed yet: the claim is taken right before its request."""

    message: QueuedMessage
    planned: Planned


@dataclass
class BatchResult:
    failed: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.failed]}


# Longer than any delivering function's Timeout: a lease that ran out means its attempt has stopped.
LEASE_SECONDS = 120
# Time kept in hand besides the request itself: the claims before it and the records after it.
SETTLE_SECONDS = 1.0
SETTLE_SECONDS_PER_EVENT = 0.03
# The metric the ambiguous-deliveries alarm watches (template.yaml, AmbiguousDeliveriesAlarm).
AMBIGUOUS_METRIC = "DeliveriesAmbiguous"

RemainingMillis = Callable[[], int]


def reserve_seconds(request_seconds: float, events: int) -> float:
    """What an invocation must still have to start one more request of `events` events."""
    return request_seconds + SETTLE_SECONDS + SETTLE_SECONDS_PER_EVENT * events


class DeliveryRunner:
    def __init__(
        self,
        destination: Destination,
        log: DeliveryLog,
        sqs: SQSClient,
        queue_url: str,
        dead_letters: DeadLetterQueue,
        retry: RetryPolicy,
        *,
        lease_seconds: int = LEASE_SECONDS,
        request_seconds: float | None = None,
    ) -> None:
        self.destination = destination
        self.log = log
        self._sqs = sqs
        self._queue_url = queue_url
        self._dead_letters = dead_letters
        self._retry = retry
        self._lease_seconds = lease_seconds
        if request_seconds is None:
            from .http import longest_request_seconds

            request_seconds = longest_request_seconds()
        self._request_seconds = request_seconds

    def handle(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        result = self.process(event.get("Records") or [], remaining if callable(remaining) else None)
        logger.info("delivery batch done", extra={"destination": self.destination.name, **result.counts})
        if result.counts.get("ambiguous"):
            _publish_ambiguous(result.counts["ambiguous"])
        return result.response()

    def process(
        self, records: Sequence[Mapping[str, Any]], remaining: RemainingMillis | None = None
    ) -> BatchResult:
        result = BatchResult()
        messages = [_queued(record) for record in records]
        prepare = getattr(self.destination, "prepare", None)
        if callable(prepare):
            try:
                # One look-up for the whole batch (Meta: the contacts' ads consent) instead of one each.
                prepare(messages)
            except Exception:
                # Each message is still planned; what was not fetched is looked up one by one.
                logger.exception("preparing the batch failed", extra={"destination": self.destination.name})
        ready = _first_copies(
            [item for item in (self._plan(message, result) for message in messages) if item], result
        )
        work: deque[Sequence[_Ready | Job]] = deque(self._batches(ready))
        while work:
            batch = work.popleft()
            if self._out_of_time(remaining, len(batch)):
                # Lambda would stop this invocation mid-request: leave the rest for the next one.
                self._defer([item for pending in (batch, *work) for item in pending], result)
                break
            jobs = [job for job in (self._claim(item, result) for item in batch) if job]
            if not jobs:
                continue
            outcome = self._send(jobs)
            if outcome.kind in (OutcomeKind.PERMANENT, OutcomeKind.SKIPPED) and len(jobs) > 1:
                # One bad event fails a whole batched request (Meta): halve it until it stands alone.
                middle = len(jobs) // 2
                work.appendleft(jobs[middle:])
                work.appendleft(jobs[:middle])
                continue
            for job in jobs:
                self._settle_safely(job, outcome, result)
        return result

    def _batches(self, ready: list[_Ready]) -> list[list[_Ready]]:
        groups: dict[str, list[_Ready]] = {}
        for item in ready:
            groups.setdefault(self.destination.batch_key(item.planned), []).append(item)
        size = max(1, self.destination.max_batch)
        return [group[i : i + size] for group in groups.values() for i in range(0, len(group), size)]

    def _out_of_time(self, remaining: RemainingMillis | None, events: int) -> bool:
        if remaining is None:
            return False
        return remaining() < reserve_seconds(self._request_seconds, events) * 1000

    def _plan(self, message: QueuedMessage, result: BatchResult) -> _Ready | None:
        name = self.destination.name
        try:
            if message.json is None:
                raise PermanentFailure("the message is not JSON")
            decision = self.destination.plan(message)
        except PermanentFailure as failure:
            # The message itself can never be delivered (malformed, missing what the destination
            # needs): parked at once, as every consumer does (wa_conversions.batch).
            self._dead_letters.park(
                failure.body or message.body, f"{name}: {failure.reason}", attributes=failure.attributes
            )
            log_parked(message.message_id, failure)
            result.count("parked")
            return None
        except Exception as error:
            # A bug or an outage while reading it: nothing was sent, so it is tried again later.
            self._retry_later(message, error, result)
            return None
        if isinstance(decision, Skip):
            if decision.event_id:
                self.log.mark_skipped(
                    _facts(name, decision, decision.event_id, message),
                    decision.reason,
                    message=message.body,
                    queue=name,
                )
            logger.info("delivery skipped", extra={"destination": name, "reason": decision.reason})
            result.count("skipped")
            return None
        return _Ready(message, decision)

    def _claim(self, item: _Ready | Job, result: BatchResult) -> Job | None:
        if isinstance(item, Job):
            return item  # claimed already, before its batch was split
        message, planned = item.message, item.planned
        name = self.destination.name
        claim = self.log.claim(
            _facts(name, planned, planned.event_id, message),
            message=message.body,
            queue=name,
            lease_seconds=self._lease_seconds,
            resend_interrupted=self.destination.dedupes,
        )
        if claim.result is ClaimResult.ALREADY_DELIVERED:
            result.count("already_delivered")
            return None
        if claim.result is ClaimResult.ERASED:
            result.count("erased")  # its person was erased meanwhile (docs/privacy.md): not sent
            return None
        if claim.result is ClaimResult.AMBIGUOUS:
            # Left for the operator (confirm or retry); the record itself is done.
            result.count("already_ambiguous")
            return None
        if claim.result is ClaimResult.INTERRUPTED:
            logger.warning(
                "delivery outcome unknown: an earlier attempt stopped after claiming it",
                extra={"destination": name, "delivery_id": claim.delivery_id},
            )
            result.count("ambiguous")
            return None
        if claim.result is ClaimResult.BUSY:
            # Another invocation holds this event right now; look again when its lease ends.
            self._postpone(message, claim.retry_in)
            result.failed.append(message.message_id)
            result.count("busy")
            return None
        return Job(message=message, planned=planned, delivery_id=claim.delivery_id, attempt=claim.attempts)

    def _send(self, jobs: Sequence[Job]) -> Outcome:
        try:
            return self.destination.send(jobs)
        except Exception as error:
            # A bug or an outage before the request (a secret, a client): retried, not parked.
            logger.exception("delivery failed unexpectedly", extra={"destination": self.destination.name})
            return Outcome.retry(f"{type(error).__name__}: {error}")

    def _settle_safely(self, job: Job, outcome: Outcome, result: BatchResult) -> None:
        try:
            self._settle(job, outcome, result)
        except Exception:
            # Back after the queue's visibility, past the claim's lease: the claim tells it was cut off.
            logger.exception(
                "could not record a delivery's outcome", extra={"destination": self.destination.name}
            )
            result.failed.append(job.message.message_id)
            result.count("unrecorded")

    def _settle(self, job: Job, outcome: Outcome, result: BatchResult) -> None:
        name = self.destination.name
        facts = _facts(name, job.planned, job.planned.event_id, job.message)
        if outcome.kind is OutcomeKind.DELIVERED:
            self.log.mark_delivered(
                job.delivery_id, facts, outcome.status_code, outcome.body, note=job.planned.note
            )
            try:
                self.destination.on_delivered(job, outcome)
            except Exception:
                # The destination has it; failing the record now would send it again.
                logger.exception("after-delivery step failed", extra={"destination": name})
            result.count("delivered")
            return
        error = outcome.error or "unknown error"
        if outcome.kind is OutcomeKind.SKIPPED:
            self.log.mark_skipped(facts, error, message=job.message.body, queue=name)
            logger.info("delivery skipped by the destination", extra={"destination": name})
            result.count("skipped")
            return
        if outcome.kind is OutcomeKind.AMBIGUOUS and not self.destination.dedupes:
            reason = (
                f"{error}; not sent again, as {name} does not dedupe: confirm it if it arrived "
                f"(POST /deliveries/{job.delivery_id}/confirm) or send it again (POST .../retry)"
            )
            self.log.mark_ambiguous(job.delivery_id, facts, outcome.status_code, reason)
            # Not the error's text: a 504's carries the answer, which may quote the request.
            logger.warning(
                "delivery outcome unknown: left for the operator",
                extra={
                    "destination": name,
                    "delivery_id": job.delivery_id,
                    "status_code": outcome.status_code,
                },
            )
            result.count("ambiguous")
            return
        if outcome.kind is OutcomeKind.PERMANENT:
            self.log.mark_failed(job.delivery_id, facts, outcome.status_code, error)
            self._dead_letters.park(job.message.body, f"{name}: {error}")
            log_parked(job.message.message_id, status_code=outcome.status_code)
            result.count("failed")
            return
        if self._retry.is_last(job.message.receive_count):
            reason = f"{name}: gave up after {job.message.receive_count} attempts: {error}"
            self.log.mark_failed(job.delivery_id, facts, outcome.status_code, reason)
            self._dead_letters.park(job.message.body, reason)
            log_parked(job.message.message_id, status_code=outcome.status_code)
            result.count("failed")
            return
        delay = self._retry.delay(job.message.receive_count, outcome.retry_after)
        self.log.mark_retrying(job.delivery_id, facts, outcome.status_code, error, delay)
        log_failed(job.message.message_id, None, job.message.receive_count, status_code=outcome.status_code)
        self._postpone(job.message, delay)
        result.failed.append(job.message.message_id)
        result.count("retrying")

    def _retry_later(self, message: QueuedMessage, error: Exception, result: BatchResult) -> None:
        name = self.destination.name
        if self._retry.is_last(message.receive_count):
            self._dead_letters.park(
                message.body,
                f"{name}: gave up after {message.receive_count} attempts: {type(error).__name__}: {error}",
            )
            log_parked(message.message_id, error)
            result.count("parked")
            return
        log_failed(message.message_id, error, message.receive_count)
        self._postpone(message, self._retry.delay(message.receive_count))
        result.failed.append(message.message_id)
        result.count("retrying")

    def _defer(self, items: Sequence[_Ready | Job], result: BatchResult) -> None:
        """Records not started for want of time: back on the queue at once, their claims (if any)
        given back, so the attempt does not count; on the last allowed receive, parked instead."""
        name = self.destination.name
        again: list[QueuedMessage] = []
        for item in items:
            facts = _facts(name, item.planned, item.planned.event_id, item.message)
            if isinstance(item, Job):
                self.log.release(item.delivery_id, facts)
            if self._retry.is_last(item.message.receive_count):
                reason = (
                    f"{name}: gave up after {item.message.receive_count} attempts: the function "
                    "ran out of time before sending it"
                )
                self.log.mark_failed(delivery_id_for(name, item.planned.event_id), facts, None, reason)
                self._dead_letters.park(item.message.body, reason)
                log_parked(item.message.message_id)
                result.count("failed")
                continue
            again.append(item.message)
            result.failed.append(item.message.message_id)
            result.count("deferred")
        for start in range(0, len(again), 10):  # SQS takes ten entries per batch call
            chunk = again[start : start + 10]
            try:
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": message.receipt_handle, "VisibilityTimeout": 0}
                        for index, message in enumerate(chunk)
                    ],
                )
            except Exception:
                # They still fail and come back after the queue's own visibility timeout.
                logger.exception("could not change the messages' visibility")

    def _postpone(self, message: QueuedMessage, seconds: int) -> None:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=seconds
            )
        except Exception:
            # The record still fails and comes back after the queue's own visibility timeout.
            logger.exception("could not change the message's visibility")


def _publish_ambiguous(count: int) -> None:
    """An EMF metric, so an alarm can tell the operator there are deliveries to decide on."""
    try:
        from aws_lambda_powertools import Metrics
        from aws_lambda_powertools.metrics import MetricUnit

        metrics = Metrics()
        metrics.add_metric(name=AMBIGUOUS_METRIC, unit=MetricUnit.Count, value=count)
        metrics.flush_metrics()
    except Exception:
        logger.warning("could not publish the ambiguous deliveries metric", exc_info=True)


def _first_copies(ready: list[_Ready], result: BatchResult) -> list[_Ready]:
    """The bus and SQS deliver at least once, so a batch can hold one event twice: the first copy's
    record carries it (and its retries); the others are done, not left to wait out its claim."""
    seen: set[str] = set()
    first: list[_Ready] = []
    for item in ready:
        if item.planned.event_id in seen:
            result.count("duplicate")
            continue
        seen.add(item.planned.event_id)
        first.append(item)
    return first


def _queued(record: Mapping[str, Any]) -> QueuedMessage:
    body = str(record.get("body") or "")
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    attributes = record.get("attributes") or {}
    try:
        receive_count = int(attributes.get("ApproximateReceiveCount", "1"))
    except (TypeError, ValueError):
        receive_count = 1
    return QueuedMessage(
        message_id=str(record.get("messageId", "")),
        receipt_handle=str(record.get("receiptHandle", "")),
        body=body,
        receive_count=receive_count,
        json=parsed,
    )
