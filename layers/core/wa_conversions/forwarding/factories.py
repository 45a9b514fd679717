"""Each forwarding function's runner, built once per execution environment on first use."""

from __future__ import annotations

from functools import cache

from .. import aws
from ..config import (
    CmConversionsSettings,
    CollectorSettings,
    DeliverySettings,
    Dialog360Settings,
    MetaCapiSettings,
    WaxSettings,
    load_settings,
)
from ..deadletter import DeadLetterQueue
from ..delivery import http
from ..delivery.log import DeliveryLog
from ..delivery.retry import RetryPolicy
from ..delivery.runner import DeliveryRunner, Destination
from ..secret_store import get_secret
from ..store.consent import ContactConsent
from ..tenants import load_tenants, tenant_secret
from .cm import CmConversionsDestination
from .collector import CollectorDestination
from .dialog360 import Dialog360Destination
from .meta_capi import MetaCapiDestination
from .wax import WaxDestination


def _log(settings: DeliverySettings) -> DeliveryLog:
    return DeliveryLog(aws.dynamodb(), settings.table_name, retention=settings.retention())


def _runner(destination: Destination, settings: DeliverySettings) -> DeliveryRunner:
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


@cache
def wax_runner() -> DeliveryRunner:
    s = load_settings(WaxSettings)
    destination = WaxDestination(
        s,
        lambda: http.client_for("wax", s.base_url, s.http_timeout_seconds),
        lambda: get_secret(s, "WAX_API_TOKEN"),
        tenants=lambda: load_tenants(s),
        tenant_secret=lambda name: tenant_secret(s, name, "wax"),
    )
    return _runner(destination, s)


@cache
def meta_runner() -> DeliveryRunner:
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


@cache
def cm_runner() -> DeliveryRunner:
    s = load_settings(CmConversionsSettings)
    destination = CmConversionsDestination(
        s,
        lambda: http.client_for("cm", "", s.http_timeout_seconds),
        lambda: get_secret(s, "CM_PRODUCT_TOKEN"),
        tenants=lambda: load_tenants(s),
        tenant_secret=lambda name: tenant_secret(s, name, "cm"),
    )
    return _runner(destination, s)


@cache
def dialog360_runner() -> DeliveryRunner:
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


@cache
def collector_runner() -> DeliveryRunner:
    s = load_settings(CollectorSettings)
    destination = CollectorDestination(
        s,
        lambda: http.client_for("collector", "", s.http_timeout_seconds),
        lambda: get_secret(s, "COLLECTOR_WRITE_KEY"),
    )
    return _runner(destination, s)


def reset() -> None:
    """Forget every runner and client: tests that change settings call this."""
    for factory in (wax_runner, meta_runner, cm_runner, dialog360_runner, collector_runner):
        factory.cache_clear()
    http.close_all()
