"""The forwarding functions' objects, built once per execution environment on first use
(wa_conversions.once): each forwarder's runner, the ConversionRules runner and the Delivery API's
service. Each factory imports only what it builds, so a forwarder loads its own destination alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import once

if TYPE_CHECKING:
    from ..config import DeliverySettings
    from ..delivery.log import DeliveryLog
    from ..delivery.runner import DeliveryRunner, Destination
    from .api import ConversionService
    from .rules_runner import RulesRunner


def _log(settings: DeliverySettings) -> DeliveryLog:
    from .. import aws
    from ..delivery.log import DeliveryLog

    return DeliveryLog(aws.dynamodb(), settings.table_name, retention=settings.retention())


def _runner(destination: Destination, settings: DeliverySettings) -> DeliveryRunner:
    from .. import aws
    from ..deadletter import DeadLetterQueue
    from ..delivery import http
    from ..delivery.retry import RetryPolicy
    from ..delivery.runner import DeliveryRunner

    sqs = aws.sqs()
    return DeliveryRunner(
        destination,
        _log(settings),
        sqs,
        settings.delivery_queue_url,
        DeadLetterQueue(sqs, settings.delivery_dlq_url, f"{destination.name}_forwarder"),
        RetryPolicy(base_seconds=settings.retry_base_seconds, max_attempts=settings.max_attempts),
        request_seconds=http.longest_request_seconds(settings.http_timeout_seconds),
    )


@once
def wax_runner() -> DeliveryRunner:
    from ..config import WaxSettings, load_settings
    from ..delivery import http
    from ..secret_store import get_secret
    from ..tenants import load_tenants, tenant_secret
    from .wax import WaxDestination

    s = load_settings(WaxSettings)
    destination = WaxDestination(
        s,
        lambda: http.client_for("wax", s.base_url, s.http_timeout_seconds),
        lambda: get_secret(s, "WAX_API_TOKEN"),
        tenants=lambda: load_tenants(s),
        tenant_secret=lambda name: tenant_secret(s, name, "wax"),
    )
    return _runner(destination, s)


@once
def meta_runner() -> DeliveryRunner:
    from .. import aws
    from ..config import MetaCapiSettings, load_settings
    from ..delivery import http
    from ..secret_store import get_secret
    from ..store.consent import ContactConsent
    from ..tenants import load_tenants, tenant_secret
    from .meta_capi import MetaCapiDestination

    s = load_settings(MetaCapiSettings)
    consent = ContactConsent(aws.dynamodb(), s.table_name)
    destination = MetaCapiDestination(
        s,
        lambda: http.client_for("meta", s.graph_base_url, s.http_timeout_seconds),
        lambda: get_secret(s, "META_ACCESS_TOKEN"),
        consent=consent.get,
        prefetch=consent.prefetch,
        tenants=lambda: load_tenants(s),
        tenant_secret=lambda name: tenant_secret(s, name, "meta"),
    )
    return _runner(destination, s)


@once
def cm_runner() -> DeliveryRunner:
    from ..config import CmConversionsSettings, load_settings
    from ..delivery import http
    from ..secret_store import get_secret
    from ..tenants import load_tenants, tenant_secret
    from .cm import CmConversionsDestination

    s = load_settings(CmConversionsSettings)
    destination = CmConversionsDestination(
        s,
        lambda: http.client_for("cm", "", s.http_timeout_seconds),
        lambda: get_secret(s, "CM_PRODUCT_TOKEN"),
        tenants=lambda: load_tenants(s),
        tenant_secret=lambda name: tenant_secret(s, name, "cm"),
    )
    return _runner(destination, s)


@once
def dialog360_runner() -> DeliveryRunner:
    from ..config import Dialog360Settings, load_settings
    from ..delivery import http
    from ..secret_store import get_secret
    from ..tenants import load_tenants, tenant_secret
    from .dialog360 import Dialog360Destination

    s = load_settings(Dialog360Settings)
    destination = Dialog360Destination(
        s,
        lambda: http.client_for("dialog360", s.base_url, s.http_timeout_seconds),
        lambda: get_secret(s, "DIALOG360_API_KEY"),
        _log(s),
        tenants=lambda: load_tenants(s),
        tenant_secret=lambda name: tenant_secret(s, name, "dialog360"),
    )
    return _runner(destination, s)


@once
def collector_runner() -> DeliveryRunner:
    from ..config import CollectorSettings, load_settings
    from ..delivery import http
    from ..secret_store import get_secret
    from .collector import CollectorDestination

    s = load_settings(CollectorSettings)
    destination = CollectorDestination(
        s,
        lambda: http.client_for("collector", "", s.http_timeout_seconds),
        lambda: get_secret(s, "COLLECTOR_WRITE_KEY"),
    )
    return _runner(destination, s)


@once
def rules_runner() -> RulesRunner:
    from .. import aws
    from ..config import ConversionRulesSettings, load_settings
    from ..deadletter import DeadLetterQueue
    from ..store.capture import CaptureRepository
    from .rules import parse_rules
    from .rules_runner import RulesRunner

    s = load_settings(ConversionRulesSettings)
    sqs = aws.sqs()
    return RulesRunner(
        rules=parse_rules(s.conversion_rules),
        capture=CaptureRepository(aws.dynamodb(), s.table_name, retention=s.retention()),
        sqs=sqs,
        meta_queue_url=s.meta_queue_url,
        dead_letters=DeadLetterQueue(sqs, s.dead_letter_queue_url, "conversion_rules"),
    )


@once
def conversion_service() -> ConversionService:
    from .. import aws
    from ..config import DeliveryApiSettings, load_settings
    from ..delivery.log import DeliveryLog
    from ..store.capture import CaptureRepository
    from .api import ConversionService

    settings = load_settings(DeliveryApiSettings)
    dynamodb = aws.dynamodb()
    return ConversionService(
        CaptureRepository(dynamodb, settings.table_name, retention=settings.retention()),
        DeliveryLog(dynamodb, settings.table_name, retention=settings.retention()),
        aws.sqs(),
        settings.queue_urls(),
        settings.click_window_days,
    )
