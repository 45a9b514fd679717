"""ConversionRulesFunction: bus events in (through its queue), the conversions their rules trigger out
to the Meta forwarder's queue (forwarding.rules). Idempotent: a redelivered event queues the same
event ids again, and Meta's delivery log sends each once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ..batch import process_batch
from ..errors import PermanentFailure
from .rules import ConversionRule, conversions_for

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

    from ..deadletter import DeadLetterQueue
    from ..store.capture import CaptureRepository

# Never the event's properties: they name the contact.
logger = Logger()


@dataclass
class RulesRunner:
    rules: tuple[ConversionRule, ...]
    capture: CaptureRepository
    sqs: SQSClient
    meta_queue_url: str
    dead_letters: DeadLetterQueue

    def referral_of(self, contact_key: str) -> dict[str, Any] | None:
        for referral in self.capture.list_referrals(contact_key):  # newest first
            if referral.get("ctwa_clid"):
                return referral
        return None

    def handle(self, event: Mapping[str, Any], context: Any = None) -> PartialItemFailureResponse:
        """One SQS batch, by the poison-message policy of every consumer (wa_conversions.batch)."""
        queued: list[int] = []
        response = process_batch(
            dict(event),
            context,
            lambda record: queued.append(self.apply(record.body)),
            dead_letters=lambda: self.dead_letters,
        )
        failed = len(response["batchItemFailures"])
        logger.info("conversion rules applied", extra={"queued": sum(queued), "failed": failed})
        return response

    def apply(self, body: str) -> int:
        """Queue the conversions one bus event's rules trigger; answers how many. A failed send fails
        the whole event, queued again: the ones that made it have the same event ids, sent once."""
        try:
            envelope = json.loads(body)
            detail = envelope.get("detail") if isinstance(envelope, dict) else None
            if not isinstance(detail, dict):
                raise ValueError("not an EventBridge event with a detail object")
            conversions = conversions_for(self.rules, detail, self.referral_of)
        except ValueError as error:
            # It will never read better: parked with the reason, not retried.
            raise PermanentFailure(f"conversion_rules: {error}") from error
        for start in range(0, len(conversions), 10):  # SQS takes ten entries per batch call
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "MessageBody": json.dumps(c)}
                for i, c in enumerate(conversions[start : start + 10])
            ]
            answer = self.sqs.send_message_batch(QueueUrl=self.meta_queue_url, Entries=entries)
            if answer.get("Failed"):
                raise RuntimeError(f"{len(answer['Failed'])} conversions not queued")
        return len(conversions)
