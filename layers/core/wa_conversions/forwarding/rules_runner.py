"""ConversionRulesFunction: bus events in (through its queue), the conversions their rules trigger out
to the Meta forwarder's queue (forwarding.rules). Idempotent: a redelivered event queues the same
event ids again, and Meta's delivery log sends each once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from .rules import ConversionRule, conversions_for, parse_rules

if TYPE_CHECKING:
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

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        failed: list[str] = []
        queued = 0
        for record in event.get("Records") or []:
            message_id = str(record.get("messageId", ""))
            body = str(record.get("body") or "")
            try:
                envelope = json.loads(body)
                detail = envelope.get("detail") if isinstance(envelope, dict) else None
                if not isinstance(detail, dict):
                    raise ValueError("not an EventBridge event with a detail object")
                conversions = conversions_for(self.rules, detail, self.referral_of)
            except ValueError as error:
                # It will never read better: parked with the reason, not retried.
                self.dead_letters.park(body, f"conversion_rules: {error}")
                continue
            except Exception:
                logger.exception("evaluating the conversion rules failed")
                failed.append(message_id)
                continue
            try:
                for start in range(0, len(conversions), 10):  # SQS takes ten entries per batch call
                    entries: list[SendMessageBatchRequestEntryTypeDef] = [
                        {"Id": str(i), "MessageBody": json.dumps(c)}
                        for i, c in enumerate(conversions[start : start + 10])
                    ]
                    answer = self.sqs.send_message_batch(QueueUrl=self.meta_queue_url, Entries=entries)
                    if answer.get("Failed"):
                        raise RuntimeError(f"{len(answer['Failed'])} conversions not queued")
                queued += len(conversions)
            except Exception:
                # Queued again whole: the ones that made it have the same event ids, sent once.
                logger.exception("queueing the rules' conversions failed")
                failed.append(message_id)
        logger.info("conversion rules applied", extra={"queued": queued, "failed": len(failed)})
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}


@cache
def rules_runner() -> RulesRunner:
    from .. import aws
    from ..config import ConversionRulesSettings, load_settings
    from ..deadletter import DeadLetterQueue
    from ..store.capture import CaptureRepository

    s = load_settings(ConversionRulesSettings)
    sqs = aws.sqs()
    return RulesRunner(
        rules=parse_rules(s.conversion_rules),
        capture=CaptureRepository(aws.dynamodb(), s.table_name, retention=s.retention()),
        sqs=sqs,
        meta_queue_url=s.meta_queue_url,
        dead_letters=DeadLetterQueue(sqs, s.dead_letter_queue_url, "conversion_rules"),
    )
