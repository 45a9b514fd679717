"""The CM.com channel's objects (CmActionsApi, CmEvents), built once per execution environment from
their settings (wa_conversions.once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import once

if TYPE_CHECKING:
    from ..delivery.runner import DeliveryRunner
    from .actions import CmActions


@once
def actions() -> CmActions:
    from .. import aws
    from ..config import CmActionsSettings, load_settings
    from ..store.capture import CaptureRepository
    from ..store.cm_channel import CmChannelRepository
    from .actions import CmActions, EventQueue

    settings = load_settings(CmActionsSettings)
    return CmActions(
        CaptureRepository(aws.dynamodb(), settings.table_name, retention=settings.retention()),
        CmChannelRepository(aws.dynamodb(), settings.table_name),
        EventQueue(aws.sqs(), settings.cm_events_queue_url),
    )


@once
def events_runner() -> DeliveryRunner:
    from .. import aws
    from ..config import CmEventsSettings, load_settings
    from ..deadletter import DeadLetterQueue
    from ..delivery import DeliveryLog, DeliveryRunner, RetryPolicy, http
    from ..secret_store import get_secret
    from ..store.cm_channel import CmChannelRepository
    from .destination import CmEventsDestination

    settings = load_settings(CmEventsSettings)
    destination = CmEventsDestination(
        business_number=settings.business_number,
        event_url=settings.event_url,
        client_factory=lambda: http.client_for(
            "cm_events", settings.event_url, settings.http_timeout_seconds
        ),
        product_token=lambda: get_secret(settings, "CM_PRODUCT_TOKEN"),
        channel=CmChannelRepository(aws.dynamodb(), settings.table_name),
    )
    return DeliveryRunner(
        destination,
        DeliveryLog(aws.dynamodb(), settings.table_name, retention=settings.retention()),
        aws.sqs(),
        settings.delivery_queue_url,
        DeadLetterQueue(aws.sqs(), settings.delivery_dlq_url, "cm_events"),
        RetryPolicy(base_seconds=settings.retry_base_seconds, max_attempts=settings.max_attempts),
        request_seconds=http.longest_request_seconds(settings.http_timeout_seconds),
    )
