"""The batch loop every delivering function shares: plan, claim, send, then record and settle each
SQS record (delivered, retried through its visibility, parked, or skipped)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger

from .log import ClaimResult, DeliveryFacts, DeliveryLog
from .outcome import Outcome, OutcomeKind
from .retry import RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from ..deadletter import DeadLetterQueue

# Never log a message body or a destination's answer: both can hold phone numbers and emails.
logger = Logger()


class PermanentMessageError(Exception):
    """The message itself can never be delivered (malformed, missing what the destination needs)."""


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

    def plan(self, message: QueuedMessage) -> Planned | Skip: ...

    def deliver(self, jobs: Sequence[Job]) -> Sequence[Outcome]: ...

    def on_delivered(self, job: Job, outcome: Outcome) -> None: ...


def _facts(destination: str, decision: Planned | Skip, event_id: str) -> DeliveryFacts:
    return DeliveryFacts(
        destination=destination,
        event_id=event_id,
        event_name=decision.event_name,
        kind=decision.kind,
        conversion_id=decision.conversion_id,
        order_id=decision.order_id,
    )


@dataclass
class BatchResult:
    failed: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.failed]}


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
        lease_seconds: int = 120,
    ) -> None:
        self.destination = destination
        self.log = log
        self._sqs = sqs
        self._queue_url = queue_url
        self._dead_letters = dead_letters
        self._retry = retry
        self._lease_seconds = lease_seconds

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        result = self.process(event.get("Records") or [])
        logger.info("delivery batch done", extra={"destination": self.destination.name, **result.counts})
        return result.response()

    def process(self, records: Sequence[Mapping[str, Any]]) -> BatchResult:
        result = BatchResult()
        jobs: list[Job] = []
        for record in records:
            message = _queued(record)
            job = self._prepare(message, result)
            if job is not None:
                jobs.append(job)
        if not jobs:
            return result
        try:
            outcomes = list(self.destination.deliver(jobs))
        except Exception as error:
            # A bug or an unexpected failure in a client: nothing is known to have arrived, so retry.
            logger.exception("delivery failed unexpectedly", extra={"destination": self.destination.name})
            outcomes = [Outcome.retry(f"{type(error).__name__}: {error}")] * len(jobs)
        if len(outcomes) != len(jobs):
            outcomes = [Outcome.retry("destination returned a wrong number of outcomes")] * len(jobs)
        for job, outcome in zip(jobs, outcomes, strict=True):
            self._settle(job, outcome, result)
        return result

    def _prepare(self, message: QueuedMessage, result: BatchResult) -> Job | None:
        name = self.destination.name
        if message.json is None:
            self._dead_letters.park(message.body, f"{name}: the message is not JSON")
            result.count("parked")
            return None
        try:
            decision = self.destination.plan(message)
        except PermanentMessageError as error:
            self._dead_letters.park(message.body, f"{name}: {error}")
            result.count("parked")
            return None
        if isinstance(decision, Skip):
            if decision.event_id:
                self.log.mark_skipped(
                    _facts(name, decision, decision.event_id),
                    decision.reason,
                    message=message.body,
                    queue=name,
                )
            logger.info("delivery skipped", extra={"destination": name, "reason": decision.reason})
            result.count("skipped")
            return None
        facts = _facts(name, decision, decision.event_id)
        claim = self.log.claim(facts, message=message.body, queue=name, lease_seconds=self._lease_seconds)
        if claim.result is ClaimResult.ALREADY_DELIVERED:
            result.count("already_delivered")
            return None
        if claim.result is ClaimResult.BUSY:
            # Another invocation holds this event right now; look again when its lease ends.
            self._postpone(message, claim.retry_in)
            result.failed.append(message.message_id)
            result.count("busy")
            return None
        return Job(message=message, planned=decision, delivery_id=claim.delivery_id, attempt=claim.attempts)

    def _settle(self, job: Job, outcome: Outcome, result: BatchResult) -> None:
        name = self.destination.name
        facts = _facts(name, job.planned, job.planned.event_id)
        if outcome.kind is OutcomeKind.DELIVERED:
            self.log.mark_delivered(job.delivery_id, facts, outcome.status_code, outcome.body)
            try:
                self.destination.on_delivered(job, outcome)
            except Exception:
                # The destination has it; failing the record now would send it again.
                logger.exception("after-delivery step failed", extra={"destination": name})
            result.count("delivered")
            return
        error = outcome.error or "unknown error"
        if outcome.kind is OutcomeKind.PERMANENT:
            self.log.mark_failed(job.delivery_id, facts, outcome.status_code, error)
            self._dead_letters.park(job.message.body, f"{name}: {error}")
            result.count("failed")
            return
        if self._retry.is_last(job.message.receive_count):
            reason = f"{name}: gave up after {job.message.receive_count} attempts: {error}"
            self.log.mark_failed(job.delivery_id, facts, outcome.status_code, reason)
            self._dead_letters.park(job.message.body, reason)
            result.count("failed")
            return
        delay = self._retry.delay(job.message.receive_count, outcome.retry_after)
        self.log.mark_retrying(job.delivery_id, facts, outcome.status_code, error, delay)
        self._postpone(job.message, delay)
        result.failed.append(job.message.message_id)
        result.count("retrying")

    def _postpone(self, message: QueuedMessage, seconds: int) -> None:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=seconds
            )
        except Exception:
            # The record still fails and comes back after the queue's own visibility timeout.
            logger.exception("could not change the message's visibility")


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
