"""The processor's pipeline: one queued webhook in, every update in it applied once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from pydantic import ValidationError

from ..deadletter import DeadLetterQueue
from ..providers import meta
from .service import BatchResult, CaptureService


class PermanentFailure(Exception):
    """The message can never be processed; it goes to the DLQ with this reason instead of retrying.
    `body` is what to park when only part of the message failed; by default, the whole message."""

    def __init__(self, reason: str, *, body: str | None = None) -> None:
        super().__init__(reason)
        self.body = body


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
            self.service.apply_batch(meta.normalize(salvaged.valid))
            raise PermanentFailure(
                f"Updates not valid, the others were applied: {'; '.join(salvaged.reasons[:3])}",
                body=json.dumps(salvaged.rejected, separators=(",", ":"), ensure_ascii=False),
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

    def process(self, body: str, provider: str | None) -> BatchResult:
        """One queued webhook, by the provider that sent it: the queue message's `provider`
        attribute, absent for Meta (and 360dialog, which forwards Meta's format)."""
        if provider == "cm":
            return self.process_cm_webhook(body)
        if provider in (None, "", "meta"):
            return self.process_meta_webhook(body)
        raise PermanentFailure(f"Unknown webhook provider {provider!r}")


def validation_summary(error: ValidationError, limit: int = 3) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:limit])


@cache
def default_pipeline() -> CapturePipeline:
    """Built on first use in a Lambda environment; tests build their own with fakes."""
    from .. import aws
    from ..config import CaptureSettings, load_settings
    from ..publishing.eventbridge import EventBridgePublisher
    from ..store.capture import CaptureRepository
    from ..store.ledger import UpdateLedger

    settings = load_settings(CaptureSettings)
    service = CaptureService(
        CaptureRepository(aws.dynamodb(), settings.table_name),
        EventBridgePublisher(aws.events(), settings.event_bus_name),
        UpdateLedger(
            aws.dynamodb(), settings.idempotency_table_name, ttl_seconds=settings.idempotency_ttl_seconds
        ),
        retention_days=settings.message_retention_days,
    )
    dead_letters = (
        DeadLetterQueue(aws.sqs(), settings.dead_letter_queue_url, "whatsapp_processor")
        if settings.dead_letter_queue_url
        else None
    )
    return CapturePipeline(service=service, dead_letters=dead_letters)
