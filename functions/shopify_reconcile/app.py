"""Scheduled hourly (and `make reconcile [SHOP=] [SINCE=]`): each shop's orders and refunds updated since
its cursor, read from the Admin GraphQL API and handed to the orders queue as the webhooks would have
been, so a missed webhook still becomes its conversion, once (docs/shopify.md, "Reconciliation").

The event may name one shop and where to start: {"shop": "x.myshopify.com", "since": "2026-12-01"};
by default every ShopifyShops shop from its cursor. A shop that failed fails the run after the others
are done, so the schedule's retry reads it again; its cursor stays where its last queued page left it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


class ReconcileRunError(Exception):
    """Some shops were not reconciled; the run is retried (each from its own cursor)."""


class ReconcileRequestError(ValueError):
    """The on-demand event names a shop that is not configured or a `since` that is not a time."""


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from datetime import timedelta

    from wa_conversions import aws
    from wa_conversions.attribution.reconcile import OrdersQueue, Reconciler, ShopResult, parse_request
    from wa_conversions.config import ShopifyReconcileSettings, load_settings
    from wa_conversions.delivery.http import client_for
    from wa_conversions.providers.shopify_admin import AdminClient
    from wa_conversions.secret_store import get_optional_secret
    from wa_conversions.store.cursors import ReconcileCursors
    from wa_conversions.tenants import load_tenants

    settings = load_settings(ShopifyReconcileSettings)
    # ShopifyShops, and the tenants' shops (docs/tenants.md): a multi-brand deployment lists them once
    shops = list(dict.fromkeys([*settings.shop_list(), *load_tenants(settings).shops]))
    request = parse_request(event, shops)
    if request.errors:
        raise ReconcileRequestError("; ".join(request.errors))

    def seconds_left() -> float:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return remaining() / 1000 if callable(remaining) else float("inf")

    reconciler = Reconciler(
        ReconcileCursors(aws.dynamodb(), settings.table_name),
        OrdersQueue(aws.sqs(), settings.orders_queue_url),
        lookback=timedelta(days=settings.lookback_days),
        deadline=seconds_left,
    )
    http = client_for("shopify_admin", settings.admin_base_url, settings.http_timeout_seconds)
    results: list[dict[str, Any]] = []
    for shop in request.shops:
        token = get_optional_secret(settings, f"shopify/{shop}/admin-token")
        if not token:
            name = settings.parameter_name(f"shopify/{shop}/admin-token")
            result = ShopResult(shop=shop, status="skipped", reason=f"no Admin API token at {name}")
        else:
            client = AdminClient(
                http,
                shop=shop,
                token=token,
                base_url=settings.admin_base_url,
                api_version=settings.api_version,
                deadline=seconds_left,
            )
            result = reconciler.run(shop, client, request.since)
        logger.info("Shop reconciled", extra=result.as_record())
        results.append(result.as_record())
    failed = [r for r in results if r["status"] == "failed"]
    if failed:
        raise ReconcileRunError(
            "shops not reconciled: " + "; ".join(f"{r['shop']}: {r.get('reason')}" for r in failed)
        )
    return {"shops": results}
