"""The processor's pipeline: one queued webhook in, every update in it applied once."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from ..aws_limits import sqs_text
from ..deadletter import DeadLetterQueue
from ..errors import PermanentFailure, failure_fields, validation_summary
from ..providers import meta
from .ingest import IngestQueue
from .service import BatchResult, CaptureService

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = Logger()

# What an invocation keeps in hand beyond its longest record so far: the response, the re-queueing.
RECORD_MARGIN_SECONDS = 2.0
# A record's time before one is timed: 1000 updates made 3,844 AWS calls under moto, 8 at a time,
# ~480 rounds of ~5-10 ms; a part holds at most 100 (capture/ingest.py), so this is a wide margin.
FIRST_RECORD_SECONDS = 10.0


@dataclass
class CapturePipeline:
    service: CaptureService
    dead_letters: DeadLetterQueue | None = None

    def process_meta_webhook(self, body: str) -> BatchResult:
        try:
            updates = meta.normalize(meta.parse_webhook(body))
        except ValidationError as error:
            salvaged = meta.salvage(body)
            if salvaged is None:
                raise PermanentFailure(
                    f"Not a valid WhatsApp webhook: {validation_summary(error)}"
                ) from error
            # The good updates are applied now; only the broken ones wait in the DLQ.
            result = self.service.apply_batch(meta.normalize(salvaged.valid))
            if not salvaged.reasons:
                return result  # what failed is in a change the product does not read (a call)
            raise PermanentFailure(
                f"Updates not valid, the others were applied: {'; '.join(salvaged.reasons[:3])}",
                # Escapes, not raw characters, for what SQS refuses (a lone surrogate, U+FFFE).
                body=sqs_text(json.dumps(salvaged.rejected, separators=(",", ":"), ensure_ascii=False)),
            ) from error
        return self.service.apply_batch(updates)

    def process_cm_webhook(self, body: str) -> BatchResult:
        from ..providers import cm

        try:
            updates = cm.parse_webhook(body)
        except ValidationError as error:
            raise PermanentFailure(f"Not a valid CM.com webhook: {validation_summary(error)}") from error
        except cm.CmFormatError as error:
            raise PermanentFailure(str(error)) from error
        return self.service.apply_batch(updates)

    def process_twilio_webhook(self, body: str) -> BatchResult:
        from ..providers import twilio

        try:
            updates = twilio.parse_webhook(body)
        except ValidationError as error:
            raise PermanentFailure(f"Not a valid Twilio webhook: {validation_summary(error)}") from error
        except twilio.TwilioFormatError as error:
            raise PermanentFailure(str(error)) from error
        return self.service.apply_batch(updates)

    def process(self, body: str, provider: str | None) -> BatchResult:
        """One queued webhook, by the provider that sent it: the queue message's `provider`
        attribute, absent for Meta (and 360dialog, which forwards Meta's format, and AWS End User
        Messaging Social, which wraps it)."""
        if provider == "cm":
            return self.process_cm_webhook(body)
        if provider == "twilio":
            return self.process_twilio_webhook(body)
        if provider in (None, "", "meta"):
            return self.process_meta_webhook(_direct_webhook(body))
        raise PermanentFailure(f"Unknown webhook provider {provider!r}")


def _direct_webhook(body: str) -> str:
    """Meta's webhook as it came, or as AWS End User Messaging Social relays it through SNS (which
    can set no provider attribute on what it delivers): the body of the direct webhook it stands for."""
    from ..providers import social

    try:
        relayed = social.meta_webhook(body)
    except social.SocialFormatError as error:
        raise PermanentFailure(f"Not a valid End User Messaging Social message: {error}") from error
    return body if relayed is None else relayed


class RecordClock:
    """Whether an invocation has time for one more record. Lambda stops an invocation at its timeout,
    and then every record of the batch comes back, those applied with the others; so a record is only
    started when the longest one so far would still end in time, and the first always is."""

    def __init__(self, remaining_millis: Callable[[], int] | None) -> None:
        self._remaining = remaining_millis
        self._longest = 0.0
        self._timed = 0

    def has_time(self) -> bool:
        if self._remaining is None or self._timed == 0:
            return True
        needed = max(self._longest, FIRST_RECORD_SECONDS) + RECORD_MARGIN_SECONDS
        return self._remaining() / 1000 > needed

    def took(self, seconds: float) -> None:
        self._timed += 1
        self._longest = max(self._longest, seconds)


def queue_url_of(queue_arn: str) -> str:
    """An SQS queue's URL from its ARN (arn:aws:sqs:<region>:<account>:<name>), as SQS spells it."""
    _, partition, _, region, account, name = queue_arn.split(":", 5)
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"


@dataclass(frozen=True, slots=True)
class Unstarted:
    """A record an invocation had no time left to start."""

    message_id: str
    queue_arn: str
    body: str
    provider: str | None


def requeue(sqs: SQSClient, records: Sequence[Unstarted]) -> list[str]:
    """Queue unstarted records again, as new messages, so that they are taken at once and a busy
    stretch does not use up their receives (after maxReceiveCount SQS moves a message to the DLQ).
    Returns the message ids that could not be queued again: those must be reported as failures."""
    groups: dict[tuple[str, str | None], list[Unstarted]] = {}
    for record in records:
        groups.setdefault((record.queue_arn, record.provider), []).append(record)
    not_queued: list[str] = []
    for (queue_arn, provider), group in groups.items():
        try:
            IngestQueue(sqs, queue_url_of(queue_arn)).send(
                [record.body for record in group], attributes={"provider": provider} if provider else None
            )
        except Exception as error:  # they come back after the queue's visibility timeout instead
            logger.warning("Unstarted records not queued again", extra=failure_fields(error))
            not_queued += [record.message_id for record in group]
    return not_queued
