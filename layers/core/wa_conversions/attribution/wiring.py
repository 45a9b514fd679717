"""The attribution functions' services (OrdersProcessor, AttributionApi), built once per execution
environment from the settings (wa_conversions.once); tests reset them with wa_conversions.reset() or
build their own with fakes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import once

if TYPE_CHECKING:
    from ..deadletter import DeadLetterQueue
    from ..publishing.eventbridge import EventBridgePublisher
    from ..store.attribution import AttributionRepository
    from .external import ExternalEventsService
    from .orders import OrdersService


@once
def repository() -> AttributionRepository:
    from .. import aws
    from ..config import AttributionSettings, load_settings
    from ..store.attribution import AttributionRepository

    settings = load_settings(AttributionSettings)
    return AttributionRepository(aws.dynamodb(), settings.table_name, retention=settings.retention())


def _publisher() -> EventBridgePublisher:
    from .. import aws
    from ..config import AttributionSettings, load_settings
    from ..publishing.eventbridge import EventBridgePublisher

    return EventBridgePublisher(aws.events(), load_settings(AttributionSettings).event_bus_name)


@once
def orders_service() -> OrdersService:
    from ..config import AttributionSettings, load_settings
    from ..tenants import load_tenants
    from .engine import Windows
    from .orders import OrdersService

    settings = load_settings(AttributionSettings)
    return OrdersService(
        repository(),
        _publisher(),
        windows=Windows.of_days(settings.click_window_days, settings.conversation_window_days),
        default_country=settings.default_country,
        tenants=lambda: load_tenants(settings),
    )


@once
def external_service() -> ExternalEventsService:
    from ..config import AttributionSettings, load_settings
    from .external import ExternalEventsService

    settings = load_settings(AttributionSettings)
    return ExternalEventsService(repository(), _publisher(), default_country=settings.default_country)


@once
def orders_dead_letters() -> DeadLetterQueue | None:
    from .. import aws
    from ..config import AttributionSettings, load_settings
    from ..deadletter import DeadLetterQueue

    url = load_settings(AttributionSettings).dead_letter_queue_url
    return DeadLetterQueue(aws.sqs(), url, "orders_processor") if url else None
