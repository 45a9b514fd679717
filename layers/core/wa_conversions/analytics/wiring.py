"""The analytics functions' objects (AnalyticsAggregator, MetricsApi, CaptureApi's intake of the CRM's
track events, AdInsights), built once per execution environment from their settings
(wa_conversions.once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import once

if TYPE_CHECKING:
    import httpx

    from ..deadletter import DeadLetterQueue
    from ..store.ad_spend import AdSpendReader
    from ..store.analytics import AnalyticsReader
    from .aggregator import Aggregator
    from .track import TrackIntake


@once
def aggregator() -> Aggregator:
    from .. import aws
    from ..config import AnalyticsSettings, load_settings
    from ..store.analytics import AnalyticsRepository
    from .aggregator import Aggregator

    settings = load_settings(AnalyticsSettings)
    return Aggregator(
        AnalyticsRepository(
            aws.dynamodb(),
            settings.table_name,
            settings.idempotency_table_name,
            marker_ttl_seconds=settings.dedupe_days * 86_400,
            retention=settings.retention(),
        )
    )


@once
def aggregator_dead_letters() -> DeadLetterQueue | None:
    from .. import aws
    from ..config import AnalyticsSettings, load_settings
    from ..deadletter import DeadLetterQueue

    url = load_settings(AnalyticsSettings).dead_letter_queue_url
    return DeadLetterQueue(aws.sqs(), url, "analytics_aggregator") if url else None


@once
def metrics_reader() -> AnalyticsReader:
    from .. import aws
    from ..config import MetricsApiSettings, load_settings
    from ..store.analytics import AnalyticsReader

    return AnalyticsReader(aws.dynamodb(), load_settings(MetricsApiSettings).table_name)


@once
def spend_reader() -> AdSpendReader:
    from .. import aws
    from ..config import MetricsApiSettings, load_settings
    from ..store.ad_spend import AdSpendReader

    return AdSpendReader(aws.dynamodb(), load_settings(MetricsApiSettings).table_name)


@once
def insights_http() -> httpx.Client:
    # kept for the execution environment; insights pages of 500 ads can take Meta several seconds
    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(60.0, connect=5.0), headers={"User-Agent": "wa-conversions/0.1"}
    )


@once
def track_intake() -> TrackIntake:
    import time

    from .. import aws
    from ..config import TrackApiSettings, load_settings
    from ..errors import PublishError
    from ..models.domain import user_id_of_key
    from ..models.events import contact_merged
    from ..publishing.eventbridge import EventBridgePublisher
    from ..store.capture import CaptureRepository, followed_key
    from ..store.emails import ContactEmails
    from .track import TrackIntake

    settings = load_settings(TrackApiSettings)
    emails = ContactEmails(aws.dynamodb(), settings.table_name, retention=settings.retention())
    contacts = CaptureRepository(aws.dynamodb(), settings.table_name, retention=settings.retention())
    publisher = EventBridgePublisher(aws.events(), settings.event_bus_name)

    def live(contact_key: str) -> str:
        # A user id the CRM names may be a contact stored under its phone: the email goes there.
        user_id = user_id_of_key(contact_key)
        if user_id is None:
            return contact_key
        return followed_key(contacts, contacts.contact_key_of_user(user_id)) or contact_key

    def add_phones(pairs: list[tuple[str, str]]) -> None:
        try:
            merges: list[tuple[str, str]] = []
            for contact_key, phone in pairs:
                contacts.add_phone(contact_key, phone, source="crm", merges=merges)
            if merges:  # the aggregator folds the merged contact's counts too (docs/events.md)
                publisher.publish([contact_merged(s, t, time.time(), "capture") for s, t in merges])
                contacts.mark_announced(s for s, _ in merges)
        except Exception as error:  # DynamoDB down or throttling: the client retries the batch (503)
            raise PublishError("contact phones not stored") from error

    def remember(pairs: list[tuple[str, str]]) -> None:
        try:
            emails.remember([(live(key), email) for key, email in pairs], source="crm")
        except Exception as error:  # DynamoDB down or throttling: the client retries the batch (503)
            raise PublishError("contact emails not stored") from error

    return TrackIntake(publisher, remember, add_phones)
