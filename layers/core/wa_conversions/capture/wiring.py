"""The capture functions' objects, built once per execution environment from their settings
(wa_conversions.once): the WhatsAppProcessor's pipeline, the OperatorApi's contacts and their consent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import once

if TYPE_CHECKING:
    from ..store.capture import CaptureRepository
    from ..store.consent import ContactConsent
    from .pipeline import CapturePipeline


@once
def pipeline() -> CapturePipeline:
    """The processor's; tests build their own with fakes."""
    from functools import partial

    from .. import aws
    from ..analytics.wiring import aggregator
    from ..config import CaptureSettings, load_settings
    from ..deadletter import DeadLetterQueue
    from ..publishing.eventbridge import EventBridgePublisher
    from ..store.capture import CaptureRepository
    from ..store.keys import ERASED_MESSAGES
    from ..store.ledger import UpdateLedger
    from ..tenants import load_tenants
    from .pipeline import CapturePipeline
    from .service import CaptureService

    settings = load_settings(CaptureSettings)
    text_rules = None
    if settings.conversion_rules.strip() not in ("", "[]"):
        from ..forwarding.rules import matched_message_rules, parse_rules

        rules = parse_rules(settings.conversion_rules)
        text_rules = partial(matched_message_rules, rules)
    service = CaptureService(
        CaptureRepository(aws.dynamodb(), settings.table_name, retention=settings.retention()),
        EventBridgePublisher(aws.events(), settings.event_bus_name),
        UpdateLedger(
            aws.dynamodb(), settings.idempotency_table_name, ttl_seconds=settings.idempotency_ttl_seconds
        ),
        retention_days=settings.message_retention_days,
        text_rules=text_rules,
        tenants=lambda: load_tenants(settings),
        erased=UpdateLedger(
            aws.dynamodb(),
            settings.idempotency_table_name,
            ttl_seconds=settings.message_retention_days * 86_400,
            namespace=ERASED_MESSAGES,
        ),
        counter=aggregator().count_batch,
    )
    dead_letters = (
        DeadLetterQueue(aws.sqs(), settings.dead_letter_queue_url, "whatsapp_processor")
        if settings.dead_letter_queue_url
        else None
    )
    return CapturePipeline(service=service, dead_letters=dead_letters)


@once
def operator_contacts() -> CaptureRepository:
    from .. import aws
    from ..config import OperatorSettings, load_settings
    from ..store.capture import CaptureRepository

    settings = load_settings(OperatorSettings)
    return CaptureRepository(aws.dynamodb(), settings.table_name, retention=settings.retention())


@once
def operator_consent() -> ContactConsent:
    from .. import aws
    from ..config import OperatorSettings, load_settings
    from ..store.consent import ContactConsent

    return ContactConsent(aws.dynamodb(), load_settings(OperatorSettings).table_name)
