"""The ErasureFunction's privacy objects, built once per Lambda environment from PrivacySettings."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..deadletter import DeadLetterQueue
    from ..store.capture import CaptureRepository
    from .erasure import Eraser


@cache
def eraser() -> Eraser:
    from .. import aws
    from ..config import PrivacySettings, load_settings
    from ..secret_store import get_secret
    from ..tenants import load_tenants
    from .erasure import Eraser

    settings = load_settings(PrivacySettings)
    return Eraser(
        aws.dynamodb(),
        settings.table_name,
        settings.idempotency_table_name,
        hash_key=get_secret(settings, "ERASURE_HASH_KEY"),
        tombstone_ttl_seconds=settings.message_retention_days * 86_400,
        tenants=lambda: load_tenants(settings),
    )


@cache
def contacts() -> CaptureRepository:
    from .. import aws
    from ..config import PrivacySettings, load_settings
    from ..store.capture import CaptureRepository

    return CaptureRepository(aws.dynamodb(), load_settings(PrivacySettings).table_name)


@cache
def dead_letters() -> DeadLetterQueue | None:
    from .. import aws
    from ..config import PrivacySettings, load_settings
    from ..deadletter import DeadLetterQueue

    url = load_settings(PrivacySettings).dead_letter_queue_url
    return DeadLetterQueue(aws.sqs(), url, "erasure") if url else None


def region() -> str | None:
    from ..config import PrivacySettings, load_settings

    return load_settings(PrivacySettings).default_country or None


def reset() -> None:
    for factory in (eraser, contacts, dead_letters):
        factory.cache_clear()
