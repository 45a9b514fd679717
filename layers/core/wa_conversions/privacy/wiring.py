"""The privacy objects, built once per execution environment (wa_conversions.once): the
ErasureFunction's from PrivacySettings, the OperatorApi's erasure requests from OperatorSettings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import once

if TYPE_CHECKING:
    from ..deadletter import DeadLetterQueue
    from ..store.capture import CaptureRepository
    from .erasure import Eraser
    from .requests import ErasureQueue, ErasureRequests


@once
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


@once
def contacts() -> CaptureRepository:
    from .. import aws
    from ..config import PrivacySettings, load_settings
    from ..store.capture import CaptureRepository

    return CaptureRepository(aws.dynamodb(), load_settings(PrivacySettings).table_name)


@once
def dead_letters() -> DeadLetterQueue | None:
    from .. import aws
    from ..config import PrivacySettings, load_settings
    from ..deadletter import DeadLetterQueue

    url = load_settings(PrivacySettings).dead_letter_queue_url
    return DeadLetterQueue(aws.sqs(), url, "erasure") if url else None


def region() -> str | None:
    from ..config import PrivacySettings, load_settings

    return load_settings(PrivacySettings).default_country or None


@once
def erasure_requests() -> ErasureRequests:
    from .. import aws
    from ..config import OperatorSettings, load_settings
    from ..secret_store import get_secret
    from .requests import ErasureRequests

    settings = load_settings(OperatorSettings)
    return ErasureRequests(
        aws.dynamodb(),
        settings.table_name,
        hash_key=get_secret(settings, "ERASURE_HASH_KEY"),
        ttl_seconds=settings.message_retention_days * 86_400,
    )


@once
def erasure_queue() -> ErasureQueue:
    from .. import aws
    from ..config import OperatorSettings, load_settings
    from .requests import ErasureQueue

    return ErasureQueue(aws.sqs(), load_settings(OperatorSettings).erasure_queue_url)
