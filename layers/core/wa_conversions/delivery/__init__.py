"""Delivery machinery: send each queued message to one HTTP destination at most once, lose none.

Any SQS-fed function that calls an outside HTTP API (the conversion forwarders, CM.com's channel
events) plugs a `Destination` into a `DeliveryRunner`; the runner does the rest.

Interface
---------
    class Destination(Protocol):
        name: str                                   # "wax", "meta", "cm", ...: the delivery log's key
        def plan(self, message: QueuedMessage) -> Planned | Skip
            # Pure: read the message (message.json), decide what to send. Skip(reason) records a
            # `skipped` delivery and sends nothing; raise PermanentMessageError for a message that
            # can never be sent (it is parked in the DLQ with the reason).
        def deliver(self, jobs: Sequence[Job]) -> Sequence[Outcome]
            # Send the claimed jobs (one request each, or batched) and return one Outcome per job,
            # in order. Use `http.send(...)` to get classified outcomes.
        def on_delivered(self, job: Job, outcome: Outcome) -> None
            # Optional follow-up once accepted, e.g. remembering an id the destination returned.

    runner = DeliveryRunner(destination, DeliveryLog(dynamodb, table), sqs, queue_url,
                            DeadLetterQueue(sqs, dlq_url, source), RetryPolicy(base_seconds, max_attempts))
    return runner.handle(event)           # the Lambda response with batchItemFailures

What the runner guarantees, per record:
- at most once per destination: before sending, it claims `Planned.event_id` in the delivery log
  (store/keys.py, "delivery"); a delivery already `delivered` is skipped, across retries, SQS
  redeliveries and operator replays; a claim held by a concurrent invocation is retried later.
- outcome classification (delivery.outcome): 2xx delivered; 409 delivered where the destination says
  a conflict means "already have it" (Wax); 429, 5xx, timeouts and connection errors retryable,
  honouring Retry-After; any other 4xx permanent.
- retries never sleep: the record's visibility is changed to an exponential backoff with jitter
  (from ApproximateReceiveCount, capped at 12 h, never earlier than Retry-After) and the record is
  reported failed; the last allowed attempt parks it in the DLQ with the reason instead.
- permanent errors are parked in the DLQ at once with the reason, and the record reported done.
- every attempt is logged: attempts, last status code and error, delivered_at, status
  pending / delivered / failed / skipped (with reason).
"""

from __future__ import annotations

from .log import DeliveryLog, DeliveryStatus, delivery_id_for
from .outcome import Outcome, OutcomeKind
from .retry import RetryPolicy
from .runner import DeliveryRunner, Destination, Job, PermanentMessageError, Planned, QueuedMessage, Skip

__all__ = [
    "DeliveryLog",
    "DeliveryRunner",
    "DeliveryStatus",
    "Destination",
    "Job",
    "Outcome",
    "OutcomeKind",
    "PermanentMessageError",
    "Planned",
    "QueuedMessage",
    "RetryPolicy",
    "Skip",
    "delivery_id_for",
]
