"""Delivery machinery: send each queued message to one HTTP destination at most once, lose none.

Any SQS-fed function that calls an outside HTTP API (the conversion forwarders, CM.com's channel
events) plugs a `Destination` into a `DeliveryRunner`; the runner does the rest.

Interface
---------
    class Destination(Protocol):
        name: str                                   # "wax", "meta", "cm", ...: the delivery log's key
        dedupes: bool                               # a repeat is harmless there (Wax's unique_id)
        max_batch: int                              # events per request; 1 sends them one by one
        def plan(self, message: QueuedMessage) -> Planned | Skip
            # Pure: read the message (message.json), decide what to send. Skip(reason) records a
            # `skipped` delivery and sends nothing; raise errors.PermanentFailure for a message
            # that can never be sent (it is parked in the DLQ with the reason, wa_conversions.batch).
        def batch_key(self, planned: Planned) -> str
            # Only events with the same key share a request (Meta: the test_event_code).
        def send(self, jobs: Sequence[Job]) -> Outcome
            # One request carrying these jobs; use `http.send(...)` to get a classified outcome.
        def on_delivered(self, job: Job, outcome: Outcome) -> None
            # Optional follow-up once accepted, e.g. remembering an id the destination returned.

    runner = DeliveryRunner(destination, DeliveryLog(dynamodb, table), sqs, queue_url,
                            DeadLetterQueue(sqs, dlq_url, source), RetryPolicy(base_seconds, max_attempts),
                            request_seconds=http.longest_request_seconds(timeout))
    return runner.handle(event, context)  # the Lambda response with batchItemFailures

What the runner guarantees, per record:
- at most once per destination: right before a request, it claims each of its events'
  `Planned.event_id` in the delivery log (store/keys.py, "delivery") with a lease longer than the
  function's timeout; a delivery already `delivered` (or `ambiguous`) is not sent, across retries,
  SQS redeliveries and operator replays; a claim held by a concurrent invocation is retried later.
- each request's outcome is recorded before the next request starts, so a function stopped by its
  timeout never has delivered-but-unrecorded batch-mates; and it starts no request when the time
  left (the Lambda context's) is less than the longest a request can take plus the recording: the
  records not started go back on the queue at once, their attempt not counted.
- outcome classification (delivery.outcome): 2xx delivered; 409 delivered where the destination says
  a conflict means "already have it" (Wax); 429, 5xx, and failures before the request left (no
  connection, DNS, refused, connect or pool timeout) retryable, honouring Retry-After; a request sent
  with no answer (read or write timeout, reset, 504) ambiguous; any other 4xx, and a body that cannot
  be written as JSON, permanent.
- ambiguous, at a destination that cannot dedupe (Meta, CM.com, 360dialog): recorded `ambiguous`
  with the reason, the record settled, nothing resent; so is a claim whose lease ran out (its
  attempt stopped after claiming, maybe after sending). The operator confirms or retries it
  (POST /deliveries/{id}/confirm, /retry); the `DeliveriesAmbiguous` metric raises an alarm. A
  destination that dedupes gets it again, as a retry.
- a batched request refused as a whole is split in halves until the bad event stands alone.
- retries never sleep: the record's visibility is changed to an exponential backoff with jitter
  (from ApproximateReceiveCount, capped at 12 h, never earlier than Retry-After) and the record is
  reported failed; the last allowed attempt parks it in the DLQ with the reason instead.
- permanent errors are parked in the DLQ at once with the reason, and the record reported done.
- every attempt is logged: attempts, last status code and error, delivered_at, status
  pending / delivered / failed / skipped / ambiguous (with reason).
"""

from __future__ import annotations

from .log import DeliveryLog, DeliveryStatus, delivery_id_for
from .outcome import Outcome, OutcomeKind
from .retry import RetryPolicy
from .runner import DeliveryRunner, Destination, Job, Planned, QueuedMessage, Skip

__all__ = [
    "DeliveryLog",
    "DeliveryRunner",
    "DeliveryStatus",
    "Destination",
    "Job",
    "Outcome",
    "OutcomeKind",
    "Planned",
    "QueuedMessage",
    "RetryPolicy",
    "Skip",
    "delivery_id_for",
]
